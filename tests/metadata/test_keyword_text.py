"""Issue 23 item 1: keywords are text, byte for byte.

exiftool's ``-j`` prints ``1.50``, ``1E3``, ``-0`` as JSON numbers and lowercases ``True``; read
as JSON they came back as ``1.5``, ``1000.0``, ``0``, ``true`` — through read, the write's
"before", the verification, the import and ``--clear``. Every exiftool on the machine is tried
(13.x reads with ``-api StructFormat=JSONQ``, older ones such as Debian's 12.57 another way).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from moodtagger.cli import main
from moodtagger.core.metadata import ExifToolService, read_moods
from moodtagger.core.metadata.fields import FileTags
from moodtagger.core.metadata.reader import read_tags

from .conftest import EVERY_EXIFTOOL, et_text, exiv2_read

TRICKY = [
    "1.50",
    "007",
    "1E3",
    "-0",
    "+5",
    "2.50",
    "True",
    "false",
    "null",
    "2024:01:01 10:00:00",
    "0x10",
    "1e-3",
    "TRUE",
]
FIELDS = ("XMP-dc:Subject", "IPTC:Keywords", "XMP-lr:HierarchicalSubject", "XMP-digiKam:TagsList")


def seed(exe: str, path: os.PathLike[str], keywords: list[str] = TRICKY) -> None:
    args = [f"-XMP-dc:Subject={k}" for k in keywords]
    args += [f"-IPTC:Keywords={k}" for k in keywords]
    args += ["-IPTC:CodedCharacterSet=UTF8", "-XMP-dc:Title=3.0", "-EXIF:XPKeywords=1.50;007;True"]
    subprocess.run([exe, "-q", "-overwrite_original", *args, os.fspath(path)], check=True)


@pytest.mark.parametrize("exe", EVERY_EXIFTOOL)
def test_every_read_is_exiftools_text(exe, make_image):
    path = make_image("n.jpg")
    seed(exe, path)
    with ExifToolService(exe) as svc:
        records, _ = svc.execute_json("-G1", "-XMP:all", "-IPTC:all", "-XPKeywords", str(path))
        tags = read_tags(svc, [str(path)])[str(path)]
    rec = records[0]
    assert rec["XMP-dc:Subject"] == TRICKY
    assert rec["IPTC:Keywords"] == TRICKY
    assert rec["XMP-dc:Title"] == "3.0"
    assert rec["IFD0:XPKeywords"] == "1.50;007;True"
    assert rec["IPTC:ApplicationRecordVersion"] == "4"
    assert tags.get("XMP-dc:Subject") == TRICKY and tags.get("IPTC:Keywords") == TRICKY
    assert tags.get("EXIF:XPKeywords") == ["1.50", "007", "True"]
    assert isinstance(tags, FileTags) and tags.other["XMP-dc:Title"] == "3.0"


@pytest.mark.parametrize("exe", EVERY_EXIFTOOL)
def test_binary_and_odd_text_survive_the_reader(exe, make_image):
    """Commas, semicolons, quotes, backslashes, $, tabs and non-ASCII keep their bytes; -b data
    comes back as exiftool's base64 either way."""
    path = make_image("odd.jpg")
    odd = ['a, b;c "q" é', "back\\slash $HOME", "tab\there", "北京", "true"]
    subprocess.run(
        [exe, "-q", "-overwrite_original", *[f"-XMP-dc:Subject={k}" for k in odd], str(path)],
        check=True,
    )
    with ExifToolService(exe) as svc:
        rec = svc.execute_json("-G1", "-XMP-dc:Subject", str(path))[0][0]
        thumb = svc.execute_json("-b", "-ExifTool:ExifToolVersion", "-FileSize#", str(path))[0][0]
    assert rec["XMP-dc:Subject"] == odd
    assert str(thumb["FileSize"]) == str(os.path.getsize(path))


@pytest.mark.parametrize("exe", EVERY_EXIFTOOL)
def test_write_dry_run_and_clear_keep_numeric_keywords(exe, use_exiftool, make_image, tmp_path):
    """The user's report: 1.50, 1E3, -0, 2.50 became 1.5, 1000.0, 0, 2.5 after `write --mood awe`,
    the dry run showed the wrong "before" and --clear did not restore them."""
    use_exiftool(exe)
    path = make_image("nums.jpg")
    seed(exe, path)
    before = et_text(path, *FIELDS)
    db = str(tmp_path / "c.db")
    assert main(["write", "--catalog", db, "--dry-run", "--json", str(path), "--mood", "awe"]) == 0
    assert main(["write", "--catalog", db, str(path), "--mood", "awe"]) == 0
    for reader in (et_text(path, *FIELDS), exiv2_read(path)):
        assert reader["XMP-dc:Subject"] == TRICKY + ["Awe"]
        assert reader["IPTC:Keywords"] == TRICKY + ["Awe"]
    xp = exiv2_read(path)["EXIF:XPKeywords"]  # kept in step: holds every keyword (MWG)
    assert xp[:3] == ["1.50", "007", "True"] and sorted(xp) == sorted(TRICKY + ["Awe"])
    assert read_moods([path])[0].keywords[: len(TRICKY)] == TRICKY
    assert main(["write", "--catalog", db, "--clear", str(path)]) == 0
    assert et_text(path, *FIELDS) == before
    ex = exiv2_read(path)
    assert ex["XMP-dc:Subject"] == TRICKY and ex["IPTC:Keywords"] == TRICKY
    assert ex["EXIF:XPKeywords"] == ["1.50", "007", "True"]


def test_dry_run_shows_the_true_before(use_exiftool, make_image, tmp_path, capsys):
    use_exiftool(EVERY_EXIFTOOL[-1])
    path = make_image("dry.jpg")
    seed(EVERY_EXIFTOOL[-1], path)
    capsys.readouterr()
    db = str(tmp_path / "c.db")
    assert main(["write", "--catalog", db, "--dry-run", "--json", str(path), "--mood", "awe"]) == 0
    out = json.loads(capsys.readouterr().out)
    diff = {d["field"]: d for d in out["files"][0]["diff"]}
    assert diff["XMP-dc:Subject"]["before"] == TRICKY
    assert diff["XMP-dc:Subject"]["after"] == TRICKY + ["Awe"]
    assert diff["IPTC:Keywords"]["before"] == TRICKY


def test_scan_import_keeps_the_text(use_exiftool, make_image, tmp_path, catalog):
    """What the catalog stores from the file (the GUI's "keywords in the file", search) is text."""
    from moodtagger.core.metadata import import_file_moods
    from moodtagger.core.scanner import photos_by_ids, scan

    use_exiftool(EVERY_EXIFTOOL[-1])
    lib = tmp_path / "lib"
    path = make_image("imp.jpg", root=lib)
    seed(EVERY_EXIFTOOL[-1], path)
    summary = scan(catalog, [lib], thumbnails=False)
    import_file_moods(catalog, photos_by_ids(catalog, summary.updated_ids))
    kws, _moods = catalog.file_keywords.get(catalog.photos.by_path(path).id)
    assert kws == TRICKY


@pytest.mark.parametrize("exe", EVERY_EXIFTOOL)
def test_php_output_reads_as_the_json_records(exe, make_image):
    """The older-exiftool path (-php) gives the same records as -j, binary data as base64."""
    from moodtagger.core.metadata.exiftool import parse_json, parse_php

    path = make_image("php.jpg")
    thumb = make_image("thumb.jpg", size=(16, 12))
    seed(exe, path, TRICKY + ['q "x" \\ $y', "tab\there", "é"])
    subprocess.run(
        [exe, "-q", "-overwrite_original", f"-ThumbnailImage<={thumb}", str(path)], check=True
    )
    args = ["-b", "-G1", "-ThumbnailImage", "-XMP-dc:Subject", "-IPTC:all", str(path)]
    php = parse_php(
        subprocess.run([exe, "-php", *args], capture_output=True).stdout.decode(
            "utf-8", "surrogateescape"
        ),
        binary=True,
    )
    js = parse_json(
        subprocess.run(
            [exe, "-j", "-api", "StructFormat=JSONQ", *args], capture_output=True
        ).stdout.decode()
    )
    assert php[0]["XMP-dc:Subject"] == TRICKY + ['q "x" \\ $y', "tab\there", "é"]
    assert php[0]["IFD1:ThumbnailImage"].startswith("base64:/9j/")
    assert php[0]["IFD1:ThumbnailImage"] == js[0]["IFD1:ThumbnailImage"]
    assert php[0]["IPTC:Keywords"] == TRICKY + ['q "x" \\ $y', "tab\there", "é"]
    keys = ("XMP-dc:Subject", "IPTC:Keywords")  # -j lowercases True before exiftool 12.88
    assert {k: v for k, v in php[0].items() if k not in keys} == {
        k: v for k, v in js[0].items() if k not in keys
    }
