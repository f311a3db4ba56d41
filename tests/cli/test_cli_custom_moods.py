"""Issue 27 item 1: custom moods -- `mood add/list/remove`, choose/list/sort/export/write/accept,
the import of an unknown Mood|Name, `learn` giving every photo a probability.

Real catalog, real model (the ImageNet sample: 8 dog photos are the "Good Boy" concept), real
exiftool reading back what was written."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import SCHEMA_VERSION, Catalog
from moodtagger.core.catalog.migrations import _MIGRATIONS
from moodtagger.core.moods import CSV_COLUMNS, custom_name_problem

DOGS = [f"{i:03d}" for i in (151, 160, 170, 180, 190, 200, 210, 220)]  # ImageNet dog classes
OTHERS = [f"{i:03d}" for i in (1, 30, 90, 330, 400, 450, 500, 550, 600, 700, 800, 900)]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, imagenet_sample: Path) -> tuple[Path, Path]:
    """(photo folder, catalog): 8 dogs + 12 other ImageNet photos, scanned once."""
    base = tmp_path_factory.mktemp("custom")
    lib = base / "lib"
    lib.mkdir()
    files = sorted(imagenet_sample.glob("*.JPEG"))
    for i in DOGS:
        shutil.copy(files[int(i)], lib / f"dog{i}.jpg")
    for i in OTHERS:
        shutil.copy(files[int(i)], lib / f"other{i}.jpg")
    db = base / "catalog.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOODTAGGER_CACHE", str(base / "cache"))
        assert main(["scan", "-q", "--device", "cpu", "--catalog", str(db), str(lib)]) == 0
    return lib, db


@pytest.fixture
def lib(library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A private copy of the photos and the catalog (paths inside are rewritten by a rescan)."""
    folder, db = library
    copy = tmp_path / "catalog.sqlite3"
    shutil.copy(db, copy)
    monkeypatch.setenv("MOODTAGGER_PERSONAL_MODELS", str(tmp_path / "models"))
    return folder, str(copy)


# -- the name rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, problem",
    [
        ("Stormy Sky", None),
        ("Café-au-lait 2", None),
        ("sad", "one of the eight"),
        ("Awe", "one of the eight"),
        ("valence", "column name"),
        ("Probability", "column name"),
        ("a_b", "only letters"),
        ("a  b", "only letters"),
        ("x" * 33, "longer than 32"),
        ("", "empty"),
    ],
)
def test_the_one_name_rule(name: str, problem: str | None) -> None:
    got = custom_name_problem(name)
    assert (got is None) if problem is None else (problem in (got or ""))


def test_mood_add_list_remove_and_their_errors(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "c.db")
    rc, _out, err = _run(capsys, "mood", "add", "Stormy Sky", "--catalog", db)
    assert rc == 0 and "added the mood Stormy Sky" in err
    for bad, words in [
        ("stormy SKY", "exists already"),
        ("Sad", "one of the eight"),
        ("chosen", "column name"),
        ("a/b", "only letters"),
    ]:
        rc, _out, err = _run(capsys, "mood", "add", bad, "--catalog", db)
        assert rc == 2 and words in err and err.count("\n") == 1, err
    rc, out, _ = _run(capsys, "mood", "list", "--json", "--catalog", db)
    assert rc == 0 and json.loads(out) == [{"name": "Stormy Sky", "chosen": 0, "scored": 0}]
    rc, _out, err = _run(capsys, "mood", "remove", "STORMY sky", "--catalog", db)
    assert rc == 0 and "removed the mood Stormy Sky" in err
    rc, out, _ = _run(capsys, "mood", "list", "--json", "--catalog", db)
    assert json.loads(out) == []
    rc, _out, err = _run(capsys, "mood", "remove", "Stormy Sky", "--catalog", db)
    assert rc == 2 and "no custom mood" in err
    rc, _out, err = _run(capsys, "list", "--mood", "Stormy Sky", "--catalog", db)
    assert rc == 2 and "unknown mood" in err


def test_migration_from_schema_6_keeps_choices(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in _MIGRATIONS[:6]:
        conn.executescript(step)
    conn.execute("PRAGMA user_version=6")
    conn.execute(
        "INSERT INTO photos(path, status, added_at, updated_at) VALUES (x'2f61', 'ok', 0, 0)"
    )
    conn.execute(
        "INSERT INTO choices(photo_id, moods, state, updated_at) VALUES (1, '[\"awe\"]', 'written', 0)"
    )
    conn.close()
    with Catalog(path) as cat:
        assert cat.schema_version == SCHEMA_VERSION == 10
        assert cat.choices.get(1).moods == ["awe"]
        assert cat.moods.all() == []
        cat.moods.add("Cozy")
        assert cat.moods.names() == ["Cozy"]


# -- choose, learn, list, sort, export, accept -----------------------------------------------


def test_custom_mood_is_learnt_listed_sorted_exported_and_accepted(lib, capsys) -> None:
    folder, db = lib
    assert _run(capsys, "mood", "add", "Good Boy", "--catalog", db)[0] == 0
    taught = [str(folder / f"dog{i}.jpg") for i in DOGS[:6]]
    rc, _o, err = _run(capsys, "choose", "--mood", "good boy", *taught, "--catalog", db)
    assert rc == 0 and "chose Good Boy for 6 photos" in err
    # the eight are taught too (the personal model), from other photos
    awe = [str(folder / f"other{i}.jpg") for i in OTHERS[:2]]
    assert _run(capsys, "choose", "--mood", "awe", *awe, "--catalog", db)[0] == 0

    rc, _o, err = _run(capsys, "learn", "--catalog", db)
    assert rc == 0 and "custom mood Good Boy: learnt from 6 examples" in err, err

    # export: the agreed columns in their order, then one column per custom mood
    rc, out, _ = _run(capsys, "export", "--catalog", db)
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [*CSV_COLUMNS, "Good Boy"]
    p = {Path(r[0]).name: float(r[-1]) for r in rows[1:]}
    assert len(p) == 20 and all(0.0 <= x <= 1.0 for x in p.values())  # every photo has one
    # the eight still sum to 1
    for r in rows[1:]:
        assert abs(sum(float(x) for x in r[3:11]) - 1.0) < 1e-4
    held_out = [p[f"dog{i}.jpg"] for i in DOGS[6:]]
    others = [p[f"other{i}.jpg"] for i in OTHERS]
    assert min(held_out) > sorted(others)[-3], str(sorted(p.items(), key=lambda x: -x[1]))

    # --sort NAME: the dogs first
    rc, out, _ = _run(capsys, "list", "--sort", "Good Boy", "--desc", "--json", "--catalog", db)
    assert rc == 0
    order = [Path(r["path"]).name for r in json.loads(out)]
    assert set(order[:6]) <= {f"dog{i}.jpg" for i in DOGS} | {f"other{i}.jpg" for i in OTHERS}
    assert sum(n.startswith("dog") for n in order[:8]) >= 7, order
    assert json.loads(out)[0]["custom"]["Good Boy"] == max(p.values())

    # list --mood NAME [--min P]: chosen with it, or p >= P (default 0.5)
    rc, out, _ = _run(capsys, "list", "--mood", "Good Boy", "--json", "--catalog", db)
    listed = {Path(r["path"]).name for r in json.loads(out)}
    expect = {n for n, x in p.items() if x >= 0.5} | {Path(t).name for t in taught}
    assert listed == expect
    rc, out, _ = _run(capsys, "list", "--mood", "Good Boy", "--min", "1", "--json", "--catalog", db)
    assert {Path(r["path"]).name for r in json.loads(out)} == {Path(t).name for t in taught}

    # accept --min P: unchosen photos get the custom mood where its p >= P
    rc, out, _ = _run(capsys, "accept", "--min", "0.5", "--json", "--catalog", db)
    assert rc == 0
    got = [a for a in json.loads(out)["accepted"] if a["mood"] == "Good Boy"]
    unchosen_yes = {n for n, x in p.items() if x >= 0.5} - {Path(t).name for t in taught + awe}
    assert len(got) == len(unchosen_yes) and all(a["probability"] >= 0.5 for a in got)
    with Catalog(db) as cat:
        for a in got:
            assert "Good Boy" in cat.choices.get(a["photo_id"]).moods


def test_photos_scanned_after_learn_get_a_probability(lib, tmp_path, imagenet_sample, capsys):
    folder, db = lib
    _run(capsys, "mood", "add", "Good Boy", "--catalog", db)
    taught = [str(folder / f"dog{i}.jpg") for i in DOGS[:6]]
    _run(capsys, "choose", "--mood", "Good Boy", *taught, "--catalog", db)
    assert _run(capsys, "learn", "--catalog", db)[0] == 0
    new = tmp_path / "new"
    new.mkdir()
    files = sorted(imagenet_sample.glob("*.JPEG"))
    shutil.copy(files[230], new / "dog230.jpg")
    shutil.copy(files[950], new / "other950.jpg")
    assert _run(capsys, "scan", "-q", "--device", "cpu", "--catalog", db, str(new))[0] == 0
    rc, out, _ = _run(capsys, "export", "--format", "json", "--catalog", db)
    p = {Path(r["path"]).name: r["custom"]["Good Boy"] for r in json.loads(out)}
    assert len(p) == 22 and all(x is not None for x in p.values())
    assert p["dog230.jpg"] > p["other950.jpg"]


def test_learn_with_too_few_examples_says_so(lib, capsys) -> None:
    folder, db = lib
    _run(capsys, "mood", "add", "Cozy", "--catalog", db)
    _run(capsys, "choose", "--mood", "Cozy", str(folder / "dog151.jpg"), "--catalog", db)
    rc, _o, err = _run(capsys, "learn", "--catalog", db)
    assert rc == 2 and "no chosen moods" in err  # the eight: nothing; Cozy: 1 example
    _run(capsys, "choose", "--mood", "awe", str(folder / "other001.jpg"), "--catalog", db)
    rc, _o, err = _run(capsys, "learn", "--catalog", db)
    assert rc == 0 and "custom mood Cozy: 1 example, needs 5" in err


# -- write, read back, clear; import; remove --------------------------------------------------


def _tags(exiftool: str, path: Path) -> dict:
    out = subprocess.run(
        [
            exiftool,
            "-j",
            "-G1",
            "-XMP-dc:Subject",
            "-XMP-lr:HierarchicalSubject",
            "-XMP-digiKam:TagsList",
            "-IPTC:Keywords",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rec = json.loads(out)[0]
    rec.pop("SourceFile")
    return {k: v if isinstance(v, list) else [v] for k, v in rec.items()}


def test_write_reads_back_and_clear_is_exact(tmp_path, make_image, exiftool, capsys) -> None:
    photo = make_image("p/a.jpg", size=(320, 240), seed=3)
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-XMP-dc:Subject=holiday",
            "-XMP-lr:HierarchicalSubject=Places|Beach",
            "-IPTC:Keywords=holiday",
            str(photo),
        ],
        check=True,
    )
    before = _tags(exiftool, photo)
    db = str(tmp_path / "c.db")
    assert _run(capsys, "scan", "-q", "--no-predict", "--catalog", db, str(tmp_path / "p"))[0] == 0
    _run(capsys, "mood", "add", "Stormy Sky", "--catalog", db)
    rc, out, err = _run(
        capsys, "write", str(photo), "--mood", "stormy sky", "--mood", "awe", "--catalog", db
    )
    assert rc == 0, err
    after = _tags(exiftool, photo)
    assert set(after["XMP-dc:Subject"]) == {"holiday", "Beach", "Awe", "Stormy Sky"}  # MWG sync
    assert set(after["XMP-lr:HierarchicalSubject"]) == {
        "Places|Beach",
        "Mood|Awe",
        "Mood|Stormy Sky",
    }
    assert set(after["XMP-digiKam:TagsList"]) >= {"Mood/Awe", "Mood/Stormy Sky"}
    assert set(after["IPTC:Keywords"]) == {"holiday", "Awe", "Stormy Sky", "Beach"}
    rc, out, _ = _run(capsys, "read", "--json", str(photo))
    assert json.loads(out)[0]["moods"] == ["awe", "Stormy Sky"]
    rc, _o, err = _run(capsys, "write", str(photo), "--clear", "--catalog", db)
    assert rc == 0, err
    assert _tags(exiftool, photo) == before


def test_unknown_mood_in_a_file_is_imported_unless_removed_here(
    tmp_path, make_image, exiftool, capsys
) -> None:
    photo = make_image("p/a.jpg", size=(320, 240), seed=4)
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-XMP-dc:Subject=Cozy",
            "-XMP-lr:HierarchicalSubject=Mood|Cozy",
            str(photo),
        ],
        check=True,
    )
    db = str(tmp_path / "c.db")
    assert _run(capsys, "scan", "-q", "--no-predict", "--catalog", db, str(tmp_path / "p"))[0] == 0
    rc, out, _ = _run(capsys, "mood", "list", "--json", "--catalog", db)
    assert json.loads(out) == [{"name": "Cozy", "chosen": 1, "scored": 0}]
    rc, out, _ = _run(capsys, "list", "--mood", "cozy", "--json", "--catalog", db)
    assert [r["chosen"] for r in json.loads(out)] == [["Cozy"]]
    assert [r["state"] for r in json.loads(out)] == ["written"]

    # removed here: the file keeps it, and a rescan does not bring it back
    rc, _o, err = _run(capsys, "mood", "remove", "Cozy", "--catalog", db)
    assert rc == 0 and "the files keep its keywords" in err
    assert "Mood|Cozy" in _tags(exiftool, photo)["XMP-lr:HierarchicalSubject"]
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", "-XMP-dc:Subject+=other", str(photo)], check=True
    )
    assert _run(capsys, "scan", "-q", "--no-predict", "--catalog", db, str(tmp_path / "p"))[0] == 0
    rc, out, _ = _run(capsys, "mood", "list", "--json", "--catalog", db)
    assert json.loads(out) == []
    rc, out, _ = _run(capsys, "list", "--json", "--catalog", db)
    assert json.loads(out)[0]["chosen"] is None or json.loads(out)[0].get("chosen") == []


def test_remove_with_clear_files_takes_it_out_of_the_files(
    tmp_path, make_image, exiftool, capsys
) -> None:
    photo = make_image("p/a.jpg", size=(320, 240), seed=5)
    db = str(tmp_path / "c.db")
    _run(capsys, "mood", "add", "Rainy", "--catalog", db)
    assert (
        _run(capsys, "write", str(photo), "--mood", "Rainy", "--mood", "fear", "--catalog", db)[0]
        == 0
    )
    assert "Mood|Rainy" in _tags(exiftool, photo)["XMP-lr:HierarchicalSubject"]
    other = make_image("p/b.jpg", size=(320, 240), seed=6)  # chosen, never written
    assert (
        _run(capsys, "choose", "--mood", "Rainy", "--mood", "awe", str(other), "--catalog", db)[0]
        == 0
    )
    rc, _o, err = _run(capsys, "mood", "remove", "rainy", "--clear-files", "--catalog", db)
    assert rc == 0 and "from 2 photos; files written 1" in err, err
    assert _tags(exiftool, other) == {}  # only files that hold the mood are written
    with Catalog(db) as cat:
        b = cat.photos.by_path(other)
        assert cat.choices.get(b.id) == (["awe"], "pending", None)
    tags = _tags(exiftool, photo)
    assert tags["XMP-lr:HierarchicalSubject"] == ["Mood|Fear"]
    assert tags["XMP-dc:Subject"] == ["Fear"]


def test_the_catalog_named_before_the_action_is_the_one_used(lib, capsys, tmp_path, monkeypatch):
    """`mood --catalog C add NAME` (the form `mood --help` shows) added the mood to the default
    catalog instead of C: the action's own --catalog default overwrote the one given before it."""
    _folder, db = lib
    default = tmp_path / "default.sqlite3"
    monkeypatch.setenv("MOODTAGGER_CATALOG", str(default))
    assert _run(capsys, "mood", "--catalog", db, "add", "Cozy")[0] == 0
    assert _run(capsys, "mood", "-q", "--catalog", db, "add", "Rainy")[0] == 0
    with Catalog(db) as cat:
        assert cat.moods.names() == ["Cozy", "Rainy"]
    rc, out, _ = _run(capsys, "mood", "--catalog", db, "list", "--json")
    assert rc == 0 and [m["name"] for m in json.loads(out)] == ["Cozy", "Rainy"]
    rc, out, _ = _run(capsys, "mood", "list", "--catalog", db, "--json")  # after it, as before
    assert rc == 0 and [m["name"] for m in json.loads(out)] == ["Cozy", "Rainy"]
    assert _run(capsys, "mood", "--catalog", db, "remove", "Rainy")[0] == 0
    with Catalog(db) as cat:
        assert cat.moods.names() == ["Cozy"]
    assert not default.exists()
