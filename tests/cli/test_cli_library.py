"""CLI front end for the library: scan, list, export (run in-process through main())."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.library import current_model_id
from moodtagger.core.moods import CSV_COLUMNS, MOODS


@pytest.mark.parametrize("sub", ["scan", "list", "export"])
def test_help_on_every_subcommand(sub: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([sub, "--help"])
    assert exc.value.code == 0
    assert "--catalog" in capsys.readouterr().out


@pytest.fixture
def library(make_image, tmp_path: Path) -> tuple[Path, str]:
    lib = tmp_path / "lib"
    for i in range(3):
        make_image(f"p{i}.jpg", root=lib, seed=i)
    return lib, str(tmp_path / "c.db")


def test_scan_then_rescan_reports_nothing_changed(library, capsys) -> None:
    lib, db = library
    assert main(["scan", "--no-predict", "--catalog", db, str(lib)]) == 0
    assert capsys.readouterr().out.startswith("3 new, 0 changed")
    assert main(["scan", "--no-predict", "--catalog", db, str(lib)]) == 0
    assert capsys.readouterr().out.startswith("nothing changed (3 photos unchanged)")
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["scan", "--no-predict", "--json", "--catalog", db, str(lib)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scan"]["unchanged"] == 3 and result["scan"]["errors"] == []


def test_scan_of_a_missing_folder_is_one_sentence(tmp_path: Path, capsys) -> None:
    assert (
        main(["scan", "--no-predict", "--catalog", str(tmp_path / "c.db"), str(tmp_path / "nope")])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("moodtagger: ") and "not a folder" in err and "Traceback" not in err


def test_broken_catalog_is_one_sentence(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "c.db"
    bad.write_bytes(b"garbage" * 1000)
    assert main(["list", "--catalog", str(bad)]) == 2
    assert "is damaged" in capsys.readouterr().err


def _predict_by_hand(db: str) -> dict[str, Prediction]:
    """Store predictions the way the model service does (one per photo)."""
    model_id = current_model_id() or "test-model"
    preds = {}
    with Catalog(db) as cat:
        rows = []
        for i, photo in enumerate(cat.photos.all()):
            probs = [0.02] * len(MOODS)
            probs[i % len(MOODS)] = 1 - 0.02 * (len(MOODS) - 1)
            pred = Prediction(tuple(probs))
            rows.append((photo.id, pred))
            preds[photo.path] = pred
        cat.predictions.save(model_id, rows)
    return preds


def test_export_csv_columns_and_values(library, capsys, tmp_path: Path) -> None:
    lib, db = library
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    assert main(["export", "--catalog", db]) == 0  # before any model ran: empty mood columns
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    # the contract: the first 11 columns never move; valence,arousal,chosen,state,model appended
    assert rows[0] == (
        "path,mood,probability,amusement,anger,awe,contentment,disgust,excitement,fear,sadness,"
        "valence,arousal,chosen,state,model"
    ).split(",")
    # no prediction yet: no model either
    assert len(rows) == 4 and all(r[1:] == [""] * 13 + ["unconfirmed", ""] for r in rows[1:])

    preds = _predict_by_hand(db)
    out = tmp_path / "moods.csv"
    assert main(["export", "--catalog", db, "--format", "csv", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 3
    for row in rows:
        pred = preds[row["path"]]
        assert row["mood"] == pred.top[0]
        assert float(row["probability"]) == pytest.approx(pred.top[1], abs=1e-6)
        assert sum(float(row[m]) for m in MOODS) == pytest.approx(1.0, abs=1e-5)
        assert row["model"] == current_model_id()  # which model made the prediction

    assert main(["export", "--catalog", db, "--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert {i["path"] for i in items} == set(preds)
    assert all(set(i["probabilities"]) == set(MOODS) for i in items)
    assert all(list(i)[-2:] == ["state", "model"] for i in items)
    assert {i["model"] for i in items} == {current_model_id()}

    # an exported file goes back in as the model it names, with no note
    capsys.readouterr()
    assert main(["import-predictions", "--catalog", db, str(out)]) == 0
    assert capsys.readouterr().err.startswith("imported 3 predictions by ")


def test_list_filters_by_mood_and_probability(library, capsys) -> None:
    lib, db = library
    main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)])
    preds = _predict_by_hand(db)
    capsys.readouterr()
    assert main(["list", "--catalog", db, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert main(["list", "--catalog", db, "--mood", "anger", "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["mood"] == "anger" and preds[item["path"]].top[0] == "anger"
    assert (
        main(["list", "--catalog", db, "--mood", "Angry", "--min", "0.99"]) == 0
    )  # alias, too high
    assert capsys.readouterr().out == ""
    assert main(["list", "--catalog", db, "--min", "0.5"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    # a name that could be a custom mood is looked up in the catalog (issue 27): exit 2
    assert main(["list", "--catalog", db, "--mood", "happiness"]) == 2
    assert "unknown mood" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one that cannot be a mood at all: a usage error
        main(["list", "--catalog", db, "--mood", "happi_ness"])
    assert "unknown mood" in capsys.readouterr().err


def test_scan_without_an_installed_model_indexes_and_says_so(
    library, capsys, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MOODTAGGER_MODELS", str(tmp_path / "no-models-here"))
    lib, db = library
    assert main(["scan", "--catalog", db, str(lib)]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith("3 new")
    assert "moods not predicted" in captured.err and "Traceback" not in captured.err
    with Catalog(db) as cat:
        assert cat.photos.count("ok") == 3
