"""Issue 24 items 3 and 4: `import-predictions` checks every row (bad numbers are per-row
errors, good rows are stored), survives hostile JSON (deep nesting, a file larger than memory
should hold) and keeps each prediction with the model that made it.

Real catalogs, real image files, the real CLI through ``main()``; no model runs here (the
predict files are written by hand in the format ``moodtagger predict`` writes)."""

from __future__ import annotations

import csv
import json
import math
import tracemalloc
from pathlib import Path

import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.import_predictions import import_predictions
from moodtagger.core.model.registry import available, entry
from moodtagger.core.moods import CSV_COLUMNS, MOODS

V1 = "moodtagger-lite0-mlp256-v1"
GOOD = (0.05, 0.05, 0.6, 0.1, 0.05, 0.05, 0.05, 0.05)  # top: awe 0.6


@pytest.fixture
def scanned(make_image, tmp_path: Path) -> tuple[list[str], str]:
    """Ten photos indexed with ``scan --no-predict`` (no prediction yet)."""
    lib = tmp_path / "lib"
    paths = [str(make_image(f"p{i}.jpg", root=lib, seed=i)) for i in range(10)]
    db = str(tmp_path / "c.db")
    assert main(["scan", "-q", "--no-predict", "--catalog", db, str(lib)]) == 0
    return paths, db


def _rows(paths: list[str]) -> list[dict[str, object]]:
    """Four good rows and one of each kind of bad row, as (path, probabilities, valence)."""
    bad = [
        ("awe", math.inf),  # inf
        ("awe", -0.1),  # negative
        ("awe", "abc"),  # text
        ("awe", math.nan),  # NaN (aborted the whole file before)
    ]
    rows: list[dict[str, object]] = []
    for p, (mood, value) in zip(paths[:4], bad, strict=True):
        probs: dict[str, object] = dict(zip(MOODS, GOOD, strict=True))
        probs[mood] = value
        rows.append({"path": p, "probabilities": probs, "valence": 5.0, "arousal": 5.0})
    rows.append(  # do not sum to 1
        {"path": paths[4], "probabilities": dict.fromkeys(MOODS, 0.2), "valence": 5.0}
    )
    rows.append(  # valence outside 1-9
        {
            "path": paths[5],
            "probabilities": dict(zip(MOODS, GOOD, strict=True)),
            "valence": 12.0,
            "arousal": 5.0,
        }
    )
    for p in paths[6:]:
        rows.append(
            {
                "path": p,
                "probabilities": dict(zip(MOODS, GOOD, strict=True)),
                "valence": 6.5,
                "arousal": 3.25,
            }
        )
    return rows


def _write(rows: list[dict[str, object]], out: Path, *, model: str | None) -> None:
    """``rows`` in predict's own format (CSV by extension, else JSON); ``model=None``: an older
    file without the model column/field."""
    if out.suffix == ".json":
        recs = []
        for r in rows:
            rec = {"path": r["path"], "mood": "awe", "probability": 0.6, **r}
            if model is not None:
                rec["model"] = model
            recs.append(rec)
        out.write_text(json.dumps(recs, indent=1))  # NaN/Infinity as Python writes them
        return
    header = list(CSV_COLUMNS[: CSV_COLUMNS.index("state") + 1])
    if model is not None:
        header.append("model")
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            probs = r["probabilities"]
            assert isinstance(probs, dict)
            line = [r["path"], "awe", "0.6", *(probs[m] for m in MOODS)]
            line += [r.get("valence", ""), r.get("arousal", ""), "", ""]
            w.writerow(line + ([model] if model is not None else []))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_bad_rows_are_per_row_errors_and_good_rows_are_stored(
    scanned, tmp_path: Path, capsys, fmt: str
) -> None:
    paths, db = scanned
    model_id = entry().id
    out = tmp_path / f"preds.{fmt}"
    _write(_rows(paths), out, model=model_id)
    capsys.readouterr()
    assert main(["import-predictions", "--catalog", db, str(out)]) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 6, err
    why = {ln.split(": ", 2)[1]: ln.split(": ", 2)[2] for ln in lines}
    assert set(why) == set(paths[:6])
    assert "awe" in why[paths[0]] and "inf" in why[paths[0]]
    assert "awe" in why[paths[1]] and "-0.1" in why[paths[1]]
    assert "awe" in why[paths[2]] and "not a number" in why[paths[2]]
    assert "awe" in why[paths[3]] and "nan" in why[paths[3]].lower()
    assert "sum to 1.6" in why[paths[4]]
    assert "valence 12" in why[paths[5]] and "1-9" in why[paths[5]]
    assert "imported 4 predictions" in err
    with Catalog(db) as cat:
        for p in paths[:6]:
            assert cat.predictions.get(cat.photos.by_path(p).id, model_id) is None, p
        for p in paths[6:]:
            got = cat.predictions.get(cat.photos.by_path(p).id, model_id)
            assert got is not None and got.probs == pytest.approx(GOOD)
            assert (got.valence, got.arousal) == (6.5, 3.25)
    # what the user sees afterwards: strict JSON, and `accept --min 0.95` takes no bad row
    assert main(["list", "--json", "--catalog", db]) == 0
    listed = json.loads(
        capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"list --json wrote {c}")
    )
    assert {r["path"] for r in listed if r["mood"]} == set(paths[6:])
    assert main(["accept", "--min", "0.95", "--catalog", db]) == 0
    with Catalog(db) as cat:
        assert all(cat.choices.get(cat.photos.by_path(p).id) is None for p in paths)


def test_deeply_nested_json_is_one_sentence(scanned, tmp_path: Path, capsys) -> None:
    _paths, db = scanned
    for name, text in [
        ("deep.json", "[" * 100_000 + "]" * 100_000),
        ("deep-record.json", '[{"path": "x", "probabilities": ' + "[" * 100_000 + "]" * 100_000),
    ]:
        f = tmp_path / name
        f.write_text(text)
        capsys.readouterr()
        assert main(["import-predictions", "--catalog", db, str(f)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"moodtagger: {f}") and err.count("\n") == 1, err
        assert "nested too deeply" in err and "Traceback" not in err


def test_large_json_is_read_as_a_stream(scanned, tmp_path: Path) -> None:
    """A predict JSON of a million photos is ~400 MB: the import must not hold it whole
    (neither the text nor the parsed list) nor every good row before storing."""
    paths, db = scanned
    model_id = entry().id
    rec = {
        "mood": "awe",
        "probability": 0.6,
        "probabilities": dict(zip(MOODS, GOOD, strict=True)),
        "valence": 6.5,
        "arousal": 3.25,
        "model": model_id,
    }
    n = 30_000
    big = tmp_path / "big.json"
    with big.open("w") as fh:
        fh.write("[\n")
        for i in range(n):
            fh.write((",\n" if i else "") + json.dumps({"path": paths[i % 10], **rec}, indent=1))
        fh.write("\n]\n")
    size = big.stat().st_size
    assert size > 10_000_000
    with Catalog(db) as cat:
        tracemalloc.start()
        try:
            summary = import_predictions(cat, str(big), model_id)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert (summary.imported, summary.errors) == (n, [])
        assert all(cat.predictions.get(cat.photos.by_path(p).id, model_id) for p in paths)
    assert peak < size / 4, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"


@pytest.mark.skipif(V1 not in available(), reason="the v1 model is not installed")
def test_rows_of_another_model_are_refused_unless_named(scanned, tmp_path: Path, capsys) -> None:
    paths, db = scanned
    rows = _rows(paths)[6:]
    out = tmp_path / "v1.csv"
    _write(rows, out, model=V1)
    capsys.readouterr()
    assert main(["import-predictions", "--catalog", db, str(out)]) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 4 and all(f"predicted with {V1}" in ln for ln in lines), err
    assert f"--model {V1}" in lines[0]
    with Catalog(db) as cat:
        assert cat.conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 0
    assert main(["import-predictions", "--catalog", db, "--model", V1, str(out)]) == 0
    with Catalog(db) as cat:
        stored = cat.conn.execute("SELECT DISTINCT model_id FROM predictions").fetchall()
    assert stored == [(V1,)]


def test_older_csv_without_model_column_is_read_as_the_default_model(
    scanned, tmp_path: Path, capsys
) -> None:
    paths, db = scanned
    model_id = entry().id
    out = tmp_path / "old.csv"
    _write(_rows(paths)[6:], out, model=None)
    capsys.readouterr()
    assert main(["import-predictions", "--catalog", db, str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    notes = [ln for ln in err if "model column" in ln]
    assert len(notes) == 1 and model_id in notes[0] and "--model" in notes[0], err
    with Catalog(db) as cat:
        assert all(cat.predictions.get(cat.photos.by_path(p).id, model_id) for p in paths[6:])
    # -q: no note, and --json carries it as data
    assert main(["import-predictions", "-q", "--catalog", db, str(out)]) == 0
    assert capsys.readouterr().err == ""
    assert main(["import-predictions", "--json", "--catalog", db, str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["imported"] == 4 and "model column" in summary["note"]


def test_list_json_never_writes_infinity(scanned, capsys) -> None:
    """Defence in depth: a catalog that already holds an infinite value (imported before
    rows were checked) still gives strict JSON."""
    paths, db = scanned
    with Catalog(db) as cat:
        probs = (0.0, 0.0, math.inf, 0.0, 0.0, 0.0, 0.0, 0.0)
        cat.predictions.save(
            entry().id, [(cat.photos.by_path(paths[0]).id, Prediction(probs, math.inf, 5.0))]
        )
    capsys.readouterr()
    assert main(["list", "--json", "--catalog", db]) == 0
    out = capsys.readouterr().out
    listed = json.loads(out, parse_constant=lambda c: pytest.fail(f"list --json wrote {c}"))
    (item,) = [r for r in listed if r["path"] == paths[0]]
    assert item["probabilities"]["awe"] is None and item["valence"] is None
