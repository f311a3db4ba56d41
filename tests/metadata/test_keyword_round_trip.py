"""Issue 23 item 2: `write` then `write --clear` gives back exactly the keyword fields the file had.

Lightroom's trees stay as they were: no flat keyword becomes a new top-level entry of
lr:HierarchicalSubject / digiKam's TagsList, and no marker is added to remember a keyword the
user typed. moodtagger owns its ``Mood|M`` / ``Mood/M`` entries and what the catalog recorded
that it added; without a record, ``--clear`` removes the ``Mood|M`` entries and leaves flat
keywords alone. Allowed differences: IPTC's UTF-8 marker and digest (not keyword fields).
Real exiftool writes (the CLI with a real catalog), exiftool and exiv2 read back.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata import WriteItem, write_files

from .conftest import EVERY_EXIFTOOL, FULL, KEYWORD_TAGS, et_text, exiv2_read


def seed_args(case: str, ext: str) -> list[str] | None:
    """exiftool arguments that give the file the case's keywords (None: not for this format)."""
    full = ext in FULL
    if case == "numbers":
        kws = ["1.50", "007", "1E3", "-0", "+5", "2.50", "True", "false", "null", "0x10"]
        args = [f"-XMP-dc:Subject={k}" for k in kws]
        return args + (
            [f"-IPTC:Keywords={k}" for k in kws] + ["-XPKeywords=1.50;007"] if full else []
        )
    if case == "lightroom":  # Lightroom exports the ancestors too
        flat = ["Lighthouse", "Norway", "Places", "Sea"]
        args = [f"-XMP-dc:Subject={k}" for k in flat]
        args += ["-XMP-lr:HierarchicalSubject=Places|Norway|Lighthouse"]
        args += ["-XMP-lr:HierarchicalSubject=Sea"]
        return args + ([f"-IPTC:Keywords={k}" for k in flat] if full else [])
    if case == "iptc-only":
        return [f"-IPTC:Keywords={k}" for k in ("ExifTool", "Test", "IPTC")] if full else None
    if case == "xmp-only":
        return ["-XMP-dc:Subject=Sky", "-XMP-dc:Subject=Sea"]
    if case == "xp-only":
        return ["-XPKeywords=Rain;Wind"] if full else None
    if case == "hierarchical-only":
        return ["-XMP-lr:HierarchicalSubject=Places|Paris", "-XMP-lr:HierarchicalSubject=Ann"]
    if case == "digikam-only":
        return ["-XMP-digiKam:TagsList=Places/Rome"]
    if case == "own-awe":  # the user typed the mood word themselves
        args = ["-XMP-dc:Subject=Awe", "-XMP-dc:Subject=Sea"]
        return args + (["-IPTC:Keywords=Awe", "-IPTC:Keywords=Sea"] if full else [])
    if case == "latin1":
        if not full:
            return None
        return ["-charset", "iptc=Latin", "-IPTC:Keywords=Café", "-IPTC:Keywords=Crème"]
    if case == "other-catalog":  # another moodtagger catalog (or tool) wrote Mood|Fear
        return [
            "-XMP-dc:Subject=Fear",
            "-XMP-dc:Subject=Oslo",
            "-XMP-lr:HierarchicalSubject=Mood|Fear",
            "-XMP-lr:HierarchicalSubject=Places|Oslo",
            "-XMP-digiKam:TagsList=Mood/Fear",
            "-XMP-digiKam:TagsList=Places/Oslo",
        ]
    raise AssertionError(case)


CASES = [
    "numbers",
    "lightroom",
    "iptc-only",
    "xmp-only",
    "xp-only",
    "hierarchical-only",
    "digikam-only",
    "own-awe",
    "latin1",
    "other-catalog",
]
PARAMS = [
    (case, name)
    for case in CASES
    for name in ("photo.jpg", "photo.png", "photo.tif")
    if seed_args(case, os.path.splitext(name)[1]) is not None
]


def keyword_fields(path, *, exe: str | None = None) -> dict[str, list[str]]:
    """Every keyword field as exiftool's exact text (absent field = no entry)."""
    rec = et_text(path, *KEYWORD_TAGS, exe=exe)
    out = {k: v for k, v in rec.items() if k != "IFD0:XPKeywords"}
    if "IFD0:XPKeywords" in rec:
        out["EXIF:XPKeywords"] = [k for k in rec["IFD0:XPKeywords"][0].split(";") if k]
    return out


def without_moods(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    out = {}
    for k, v in fields.items():
        kept = [e for e in v if not e.startswith(("Mood|", "Mood/"))]
        if kept:
            out[k] = kept
    return out


def exiv2_fields(path) -> dict[str, list[str]]:
    ex = exiv2_read(path)
    return {k: ex[k] for k in KEYWORD_TAGS if ex[k]}


@pytest.mark.parametrize(("case", "name"), PARAMS)
def test_write_then_clear_gives_back_the_keyword_fields(case, name, make_image, exiftool, tmp_path):
    path = make_image(name, size=(64, 48), seed=7)
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", *seed_args(case, path.suffix), str(path)],
        check=True,
    )
    before = keyword_fields(path)
    before_exiv2 = exiv2_fields(path)
    db = str(tmp_path / "c.db")

    assert main(["write", "-q", "--catalog", db, str(path), "--mood", "awe"]) == 0
    after = keyword_fields(path)
    # the user's trees gained nothing but our entry: no flat keyword became a new root
    for tree, mood in (
        ("XMP-lr:HierarchicalSubject", "Mood|Awe"),
        ("XMP-digiKam:TagsList", "Mood/Awe"),
    ):
        if tree in before:
            assert sorted(after[tree]) == sorted(without_moods(before).get(tree, []) + [mood])
    assert "Awe" in after["XMP-dc:Subject"]

    assert main(["write", "-q", "--catalog", db, str(path), "--clear"]) == 0
    expected = without_moods(before) if case == "other-catalog" else before
    assert keyword_fields(path) == expected
    if case != "latin1":  # exiv2 reads IPTC as UTF-8: the Latin-1 original is not text to it
        assert exiv2_fields(path) == without_moods(before_exiv2)
    else:
        assert exiv2_read(path)["IPTC:Keywords"] == ["Café", "Crème"]


@pytest.mark.parametrize("exe", EVERY_EXIFTOOL)
def test_round_trip_with_every_exiftool(exe, make_image, tmp_path, use_exiftool):
    """The Lightroom export and the numbers, with exiftool 13 and an older one (12.57)."""
    use_exiftool(exe)
    for case in ("lightroom", "numbers"):
        path = make_image(f"{case}.jpg")
        subprocess.run(
            [exe, "-q", "-overwrite_original", *seed_args(case, ".jpg"), str(path)], check=True
        )
        before = keyword_fields(path, exe=exe)
        db = str(tmp_path / "c.db")
        assert main(["write", "-q", "--catalog", db, str(path), "--mood", "awe"]) == 0
        assert main(["write", "-q", "--catalog", db, str(path), "--mood", "fear"]) == 0
        assert main(["write", "-q", "--catalog", db, str(path), "--clear"]) == 0
        assert keyword_fields(path, exe=exe) == before, case


def test_lightroom_ancestors_are_covered_by_the_tree(make_image, exiftool, tmp_path):
    """The issue's example: Lighthouse, Norway, Places + Places|Norway|Lighthouse gain no roots,
    in Lightroom's tree nor in the digiKam tree the write creates from it."""
    path = make_image("lr.jpg")
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", *seed_args("lightroom", ".jpg"), str(path)],
        check=True,
    )
    assert (
        main(["write", "-q", "--catalog", str(tmp_path / "c.db"), str(path), "--mood", "awe"]) == 0
    )
    for fields in (keyword_fields(path), exiv2_fields(path)):
        assert fields["XMP-lr:HierarchicalSubject"] == [
            "Places|Norway|Lighthouse",
            "Sea",
            "Mood|Awe",
        ]
        assert fields["XMP-digiKam:TagsList"] == ["Places/Norway/Lighthouse", "Sea", "Mood/Awe"]
        assert fields["XMP-dc:Subject"] == ["Lighthouse", "Norway", "Places", "Sea", "Awe"]


def test_a_mood_change_replaces_only_the_words_moodtagger_added(make_image, exiftool, tmp_path):
    """The record, not a marker in the user's tree, says which flat words are ours."""
    path = make_image("own.jpg")
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", *seed_args("own-awe", ".jpg"), str(path)],
        check=True,
    )
    db = str(tmp_path / "c.db")
    assert (
        main(["write", "-q", "--catalog", db, str(path), "--mood", "awe", "--mood", "amusement"])
        == 0
    )
    assert main(["write", "-q", "--catalog", db, str(path), "--mood", "fear"]) == 0
    f = keyword_fields(path)
    assert f["XMP-dc:Subject"] == ["Awe", "Sea", "Fear"]  # the user's Awe stays, our Amusement went
    assert f["XMP-lr:HierarchicalSubject"] == ["Mood|Fear"]
    with Catalog(db) as cat:  # the record lives in the catalog
        pid = cat.photos.by_path(path).id
        assert cat.keyword_additions.get(pid)[""]["XMP-dc:Subject"] == ["Fear"]


def test_without_a_record_clear_leaves_flat_keywords_alone(make_image, exiftool, tmp_path):
    """A file tagged elsewhere (no record in this catalog): --clear removes the Mood|M entries
    only; the flat words may be the user's own."""
    path = make_image("elsewhere.jpg")
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-XMP-dc:Subject=Awe",
            "-XMP-dc:Subject=Sea",
            "-XMP-lr:HierarchicalSubject=Mood|Awe",
            str(path),
        ],
        check=True,
    )
    assert main(["write", "-q", "--catalog", str(tmp_path / "c.db"), str(path), "--clear"]) == 0
    assert keyword_fields(path) == {"XMP-dc:Subject": ["Awe", "Sea"]}


def test_write_files_without_catalog_adds_no_roots(make_image, exiftool, service):
    path = make_image("nocat.jpg")
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", *seed_args("own-awe", ".jpg"), str(path)],
        check=True,
    )
    assert write_files([WriteItem(str(path), ["awe"])], service=service).written == 1
    assert keyword_fields(path)["XMP-lr:HierarchicalSubject"] == ["Mood|Awe"]
    assert write_files([WriteItem(str(path), [])], service=service).written == 1
    assert keyword_fields(path) == {
        "XMP-dc:Subject": ["Awe", "Sea"],
        "IPTC:Keywords": ["Awe", "Sea"],
    }


def test_dry_run_of_clear_shows_what_clear_does(make_image, exiftool, tmp_path, capsys):
    """`write --clear --dry-run PATH` plans with the catalog's record, like the real clear."""
    import json

    path = make_image("dry.jpg")
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", *seed_args("iptc-only", ".jpg"), str(path)],
        check=True,
    )
    db = str(tmp_path / "c.db")
    assert main(["write", "-q", "--catalog", db, str(path), "--mood", "awe"]) == 0
    capsys.readouterr()
    assert main(["write", "--catalog", db, "--dry-run", "--json", "--clear", str(path)]) == 0
    diff = {d["field"]: d["after"] for d in json.loads(capsys.readouterr().out)["files"][0]["diff"]}
    assert diff["XMP-dc:Subject"] == [] and diff["IPTC:Keywords"] == ["ExifTool", "Test", "IPTC"]


@pytest.mark.parametrize("typed", [False, True])
def test_photos_written_before_records_were_kept(typed, make_image, exiftool, tmp_path):
    """A catalog upgraded from schema 4 has no record for what it wrote, but its write journal
    says which moods it wrote: their flat words count as added unless the user's tree has the
    word as a leaf (how earlier versions marked a word the user typed)."""
    path = make_image("old.jpg")
    db = str(tmp_path / "c.db")
    assert main(["write", "-q", "--catalog", db, str(path), "--mood", "awe"]) == 0
    # what earlier versions left: no record; the file as they wrote it
    with Catalog(db) as cat:
        cat.conn.execute("DELETE FROM keyword_additions")
    old = ["-XMP-dc:Subject=Sea", "-XMP-dc:Subject=Awe", "-XMP-lr:HierarchicalSubject=Mood|Awe"]
    if typed:  # the user had typed Awe: earlier versions kept it as a top-level entry
        old = ["-XMP-dc:Subject=Awe", "-XMP-dc:Subject=Sea", "-XMP-lr:HierarchicalSubject=Awe"]
        old.append("-XMP-lr:HierarchicalSubject=Mood|Awe")
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", "-XMP:all=", *old, str(path)], check=True
    )
    assert main(["write", "-q", "--catalog", db, str(path), "--clear"]) == 0
    f = keyword_fields(path)
    if typed:
        assert f == {"XMP-dc:Subject": ["Awe", "Sea"], "XMP-lr:HierarchicalSubject": ["Awe"]}
    else:
        assert f == {"XMP-dc:Subject": ["Sea"]}
