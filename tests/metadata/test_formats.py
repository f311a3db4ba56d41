"""One round-trip battery over every format moodtagger writes into (Picard's formats/common.py
idea): real exiftool writes, exiftool *and* exiv2 read back, pixels compared, other data kept."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from moodtagger.core.metadata import WriteItem, WriteSettings, read_moods, write_files

from .conftest import FULL, KEYWORD_TAGS, et_read, exiv2_read, pixels

FORMATS = ["photo.jpg", "photo.tif", "photo.png", "photo.webp", "photo.heic"]


def seed_user_metadata(exiftool: str, path: os.PathLike[str]) -> None:
    """What a photographer's file already holds: their own keywords and an artist tag."""
    ext = os.path.splitext(os.fspath(path))[1]
    args = [
        "-XMP-dc:Subject=Holiday",
        "-XMP-dc:Subject=Zürich",
        "-XMP-lr:HierarchicalSubject=Places|Zürich",
        "-XMP-dc:Creator=Ansel",
    ]
    if ext in FULL:
        args += [
            "-IPTC:Keywords=Holiday",
            "-IPTC:Keywords=Zürich",
            "-IPTC:CodedCharacterSet=UTF8",
            "-EXIF:XPKeywords=Holiday;Zürich",
            "-EXIF:Artist=Ansel",
        ]
    subprocess.run([exiftool, "-q", "-overwrite_original", *args, os.fspath(path)], check=True)


def expected(ext: str, moods: list[str], user: bool = True) -> dict[str, list[str]]:
    flat = (["Holiday", "Zürich"] if user else []) + moods
    out = {  # no flat keyword becomes an entry of a tree (issue 23); the digiKam field is
        # created from the Lightroom tree while moods are written, and goes with the last mood
        "XMP-dc:Subject": flat,
        "XMP-lr:HierarchicalSubject": (["Places|Zürich"] if user else [])
        + [f"Mood|{m}" for m in moods],
        "XMP-digiKam:TagsList": (["Places/Zürich"] if user and moods else [])
        + [f"Mood/{m}" for m in moods],
    }
    if ext in FULL:
        out["IPTC:Keywords"] = flat
        out["EXIF:XPKeywords"] = flat
    return out


def check(path, want: dict[str, list[str]]) -> None:
    et = et_read(
        path,
        "XMP-dc:Subject",
        "IPTC:Keywords",
        "XMP-lr:HierarchicalSubject",
        "XMP-digiKam:TagsList",
        "EXIF:XPKeywords",
    )
    et_fields = {
        "XMP-dc:Subject": et.get("XMP-dc:Subject", []),
        "XMP-lr:HierarchicalSubject": et.get("XMP-lr:HierarchicalSubject", []),
        "XMP-digiKam:TagsList": et.get("XMP-digiKam:TagsList", []),
        "IPTC:Keywords": et.get("IPTC:Keywords", []),
        "EXIF:XPKeywords": [
            k for v in et.get("IFD0:XPKeywords", []) for k in str(v).split(";") if k
        ],
    }
    ex = exiv2_read(path)
    for field, values in want.items():
        assert sorted(map(str, et_fields[field])) == sorted(values), (
            field,
            "exiftool",
            et_fields[field],
        )
        assert sorted(ex[field]) == sorted(values), (field, "exiv2", ex[field])


@pytest.mark.parametrize("name", FORMATS)
def test_round_trip(name, make_image, exiftool, service):
    path = make_image(name, size=(96, 64), seed=3)
    ext = os.path.splitext(name)[1]
    seed_user_metadata(exiftool, path)
    before_pixels = pixels(path)

    before = et_read(path, *KEYWORD_TAGS)
    res = write_files([WriteItem(str(path), ["awe"])], service=service)
    assert (res.written, res.failed) == (1, 0), res.results[0].error
    added = res.results[0].added  # what moodtagger added (a catalog keeps this record)
    check(path, expected(ext, ["Awe"]))
    assert np.array_equal(pixels(path), before_pixels), "pixels changed"
    assert et_read(path, "XMP-dc:Creator")["XMP-dc:Creator"] == ["Ansel"]
    if ext in FULL:
        assert et_read(path, "EXIF:Artist")["IFD0:Artist"] == ["Ansel"]
        assert et_read(path, "IPTC:CodedCharacterSet")["IPTC:CodedCharacterSet"] == ["UTF8"]

    # idempotent: the same choice again writes nothing and leaves no duplicates
    stat = os.stat(path)
    for _ in range(3):
        again = write_files([WriteItem(str(path), ["awe"], added=added)], service=service)
        assert again.unchanged == 1 and again.written == 0
        assert again.results[0].added == added
    assert os.stat(path).st_mtime_ns == stat.st_mtime_ns
    check(path, expected(ext, ["Awe"]))

    # a new choice replaces our moods only
    res = write_files([WriteItem(str(path), ["fear", "contentment"], added=added)], service=service)
    added = res.results[0].added
    check(path, expected(ext, ["Contentment", "Fear"]))
    assert [f.moods for f in read_moods([path], service=service)] == [["contentment", "fear"]]

    # clearing removes every mood and all moodtagger added: the keyword fields are as before
    cleared = write_files([WriteItem(str(path), [], added=added)], service=service)
    assert cleared.written == 1
    check(path, expected(ext, [], user=True))
    assert et_read(path, *KEYWORD_TAGS) == before
    assert np.array_equal(pixels(path), before_pixels)
    assert not [f for f in os.listdir(path.parent) if f.startswith(".")], (
        "temporary file left behind"
    )


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png"])
def test_pixel_check_without_image_hash(name, make_image, exiftool):
    """exiftool older than 12.58 has no ImageDataHash: the writer compares decoded pixels."""
    from moodtagger.core.metadata import ExifToolService
    from moodtagger.core.metadata.reader import supports_image_hash

    path = make_image(name, seed=5)
    with ExifToolService(exiftool) as svc:  # version unknown -> no hash support assumed
        assert not supports_image_hash(svc)
        res = write_files([WriteItem(str(path), ["sadness"])], service=svc)
    assert res.written == 1, res.results[0].error
    assert read_moods([path])[0].moods == ["sadness"]


def test_unicode_names_and_keywords(make_image, service):
    path = make_image("Fotos/Größe 北京 café.jpg")
    res = write_files(
        [WriteItem(str(path), ["amusement"])], WriteSettings(root="Stimmung·情绪"), service=service
    )
    assert res.written == 1, res.results[0].error
    ex = exiv2_read(path)
    assert ex["XMP-lr:HierarchicalSubject"] == ["Stimmung·情绪|Amusement"]
    assert ex["XMP-digiKam:TagsList"] == ["Stimmung·情绪/Amusement"]
    assert read_moods([path], WriteSettings(root="Stimmung·情绪"))[0].moods == ["amusement"]


def test_user_typed_mood_word_is_never_removed(make_image, exiftool, service):
    """A flat keyword 'Fear' the user typed (no Mood|Fear entry) is theirs, not ours."""
    path = make_image("own.jpg")
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-XMP-dc:Subject=Fear",
            "-IPTC:Keywords=Fear",
            os.fspath(path),
        ],
        check=True,
    )
    res = write_files([WriteItem(str(path), ["awe"])], service=service)
    write_files([WriteItem(str(path), [], added=res.results[0].added)], service=service)
    ex = exiv2_read(path)
    assert ex["XMP-dc:Subject"] == ["Fear"] and ex["IPTC:Keywords"] == ["Fear"]
    assert ex["XMP-lr:HierarchicalSubject"] == []  # no marker added to remember it (issue 23)


def test_latin1_iptc_is_converted_not_garbled(make_image, exiftool, service):
    path = make_image("latin.jpg")
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-charset",
            "iptc=Latin",
            "-IPTC:Keywords=Café",
            "-IPTC:Caption-Abstract=Crème brûlée",
            os.fspath(path),
        ],
        check=True,
    )
    res = write_files([WriteItem(str(path), ["awe"])], service=service)
    assert res.written == 1, res.results[0].error
    import pyexiv2

    img = pyexiv2.Image(os.fspath(path))  # exiv2 decodes IPTC as UTF-8: it must be valid now
    iptc = img.read_iptc()
    img.close()
    assert iptc["Iptc.Application2.Keywords"] == ["Café", "Awe"]
    assert iptc["Iptc.Application2.Caption"] == "Crème brûlée"


def test_fields_are_a_setting(make_image, service):
    path = make_image("only-xmp.jpg")
    res = write_files(
        [WriteItem(str(path), ["awe"])],
        WriteSettings(fields=("XMP-dc:Subject", "XMP-lr:HierarchicalSubject")),
        service=service,
    )
    assert res.written == 1
    ex = exiv2_read(path)
    assert (
        ex["XMP-dc:Subject"] == ["Awe"]
        and ex["IPTC:Keywords"] == []
        and ex["EXIF:XPKeywords"] == []
    )


def test_dry_run_changes_nothing(make_image, service):
    from .conftest import sha256

    path = make_image("dry.jpg")
    digest = sha256(path)
    res = write_files([WriteItem(str(path), ["awe"])], dry_run=True, service=service)
    assert res.planned == 1
    r = res.results[0]
    assert ("XMP-dc:Subject", [], ["Awe"]) in [(f, b, a) for _, f, b, a in r.diff]
    assert sha256(path) == digest


def test_preserve_mtime_setting(make_image, service):
    path = make_image("old.jpg")
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    res = write_files(
        [WriteItem(str(path), ["awe"])], WriteSettings(preserve_mtime=True), service=service
    )
    assert res.written == 1
    assert os.stat(path).st_mtime_ns == 1_600_000_000_000_000_000
    assert exiv2_read(path)["XMP-dc:Subject"] == ["Awe"]
