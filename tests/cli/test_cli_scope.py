"""Issue 11 items 6, 7: scope (accept/write/forget PATH...), forget, --clear leaves photos
unconfirmed, chosen/state in list --json and in the CSV. Real files, real exiftool, real SQLite."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.library import current_model_id
from moodtagger.core.metadata import read_moods

AWE = (0.05, 0.05, 0.6, 0.1, 0.05, 0.05, 0.05, 0.05)


@pytest.fixture
def lib(make_image, tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "lib"
    for sub in ("a", "b"):
        for i in range(2):
            make_image(f"{sub}/p{i}.jpg", root=root, seed=hash((sub, i)) % 1000, size=(200, 150))
    db = str(tmp_path / "c.db")
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(root)]) == 0
    with Catalog(db) as cat:
        cat.predictions.save(
            current_model_id(), [(p.id, Prediction(AWE, 6.5, 4.25)) for p in cat.photos.all()]
        )
    return root, db


def _listed(db: str, capsys) -> dict[str, dict]:
    capsys.readouterr()
    assert main(["list", "--json", "--catalog", db]) == 0
    return {
        Path(r["path"]).relative_to(Path(r["path"]).parents[1]).as_posix(): r
        for r in json.loads(capsys.readouterr().out)
    }


def test_accept_write_and_forget_take_paths(lib, capsys) -> None:
    root, db = lib
    assert main(["accept", "-q", "--catalog", db, "--", str(root / "a")]) == 0
    rows = _listed(db, capsys)
    assert {k: (r["chosen"], r["state"]) for k, r in rows.items()} == {
        "a/p0.jpg": (["awe"], "chosen"),
        "a/p1.jpg": (["awe"], "chosen"),
        "b/p0.jpg": ([], "unconfirmed"),
        "b/p1.jpg": ([], "unconfirmed"),
    }
    assert main(["accept", "-q", "--catalog", db, str(root / "b" / "p1.jpg")]) == 0
    # write only what is under a/
    assert main(["write", "-q", "--catalog", db, "--", str(root / "a")]) == 0
    rows = _listed(db, capsys)
    assert [rows[k]["state"] for k in sorted(rows)] == [
        "written",
        "written",
        "unconfirmed",
        "chosen",
    ]
    assert [f.moods for f in read_moods([root / "a" / "p0.jpg", root / "b" / "p1.jpg"])] == [
        ["awe"],
        [],
    ]
    # forget drops a choice without touching the file
    before = (root / "b" / "p1.jpg").read_bytes()
    assert main(["forget", "-q", "--catalog", db, str(root / "b" / "p1.jpg")]) == 0
    assert (root / "b" / "p1.jpg").read_bytes() == before
    assert _listed(db, capsys)["b/p1.jpg"]["state"] == "unconfirmed"
    assert main(["forget", "--catalog", db, str(root / "nowhere.jpg")]) == 1
    assert "error: " in capsys.readouterr().err


def test_write_clear_leaves_photos_unconfirmed_so_accept_works_again(lib, capsys) -> None:
    root, db = lib
    photo = root / "a" / "p0.jpg"
    assert main(["write", "-q", "--catalog", db, str(photo), "--mood", "fear"]) == 0
    assert _listed(db, capsys)["a/p0.jpg"]["state"] == "written"
    assert main(["write", "-q", "--catalog", db, str(photo), "--clear"]) == 0
    assert read_moods([photo])[0].moods == []
    row = _listed(db, capsys)["a/p0.jpg"]
    assert (row["chosen"], row["state"]) == ([], "unconfirmed")
    assert main(["accept", "--catalog", db, str(photo)]) == 0
    assert "accepted 1 suggestion " in capsys.readouterr().err
    assert _listed(db, capsys)["a/p0.jpg"]["chosen"] == ["awe"]


def test_csv_appends_valence_arousal_chosen_state(lib, capsys, tmp_path: Path) -> None:
    root, db = lib
    assert main(["accept", "-q", "--catalog", db, str(root / "a" / "p1.jpg")]) == 0
    capsys.readouterr()
    assert main(["export", "--catalog", db, "-o", "-"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by = {Path(r["path"]).name + Path(r["path"]).parent.name: r for r in rows}
    assert list(rows[0])[-5:] == ["valence", "arousal", "chosen", "state", "model"]
    assert (by["p1.jpga"]["valence"], by["p1.jpga"]["arousal"]) == ("6.500", "4.250")
    assert (by["p1.jpga"]["chosen"], by["p1.jpga"]["state"]) == ("awe", "chosen")
    assert (by["p0.jpgb"]["chosen"], by["p0.jpgb"]["state"]) == ("", "unconfirmed")
    out = tmp_path / "x.json"
    assert main(["export", "-q", "--catalog", db, "-o", str(out)]) == 0
    items = json.loads(out.read_text())  # -o x.json writes JSON
    assert {i["state"] for i in items} == {"chosen", "unconfirmed"}


def test_list_state_filter_shows_missing_photos(lib, capsys) -> None:
    root, db = lib
    (root / "b" / "p0.jpg").unlink()
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(root)]) == 0
    capsys.readouterr()
    assert main(["list", "--json", "--state", "missing", "--catalog", db]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["path"].endswith("b/p0.jpg") and row["state"] == "missing"
