"""`moodtagger predict/train/eval` front ends (run in-process through main())."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog
from moodtagger.core.model.registry import available, entry
from moodtagger.core.moods import CSV_COLUMNS, MOODS


@pytest.mark.parametrize("sub", ["predict", "train", "eval"])
def test_help(sub: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([sub, "--help"])
    assert exc.value.code == 0


def test_predict_csv_has_export_columns(make_image, tmp_path: Path, capsys) -> None:
    lib = tmp_path / "lib"
    for i in range(2):
        make_image(f"p{i}.jpg", root=lib, size=(300, 200), seed=i)
    out = tmp_path / "out.csv"
    assert main(["predict", "-q", "--device", "cpu", str(lib), "-o", str(out)]) == 0
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 3
    for r in rows[1:]:
        assert r[1] in MOODS
        assert abs(sum(float(v) for v in r[3:11]) - 1) < 1e-3  # the 8 moods
        assert r[13:15] == ["", ""]  # chosen, state: no catalog
        assert r[15] == entry().id  # model: which model made it


def test_predict_reports_bad_files_and_exits_1(make_image, tmp_path: Path, capsys) -> None:
    good = make_image("ok.jpg", size=(300, 200))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 nope")
    assert main(["predict", "-q", "--json", "--device", "cpu", str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    recs = json.loads(captured.out)
    assert [Path(r["path"]).name for r in recs] == ["ok.jpg", "bad.jpg"]
    assert "error" in recs[1] and "error" not in recs[0]
    assert recs[0]["model"] == entry().id and recs[1]["model"] is None
    assert "bad.jpg" in captured.err


V1 = "moodtagger-lite0-mlp256-v1"


@pytest.mark.skipif(V1 not in available(), reason="the v1 model is not installed")
def test_v1_predictions_are_not_imported_as_the_default_models(
    make_image, tmp_path: Path, capsys
) -> None:
    """Issue 24 item 4: a CSV from `predict --model v1` was stored as v2's predictions."""
    lib = tmp_path / "lib"
    for i in range(2):
        make_image(f"p{i}.jpg", root=lib, size=(300, 200), seed=i)
    db, out = str(tmp_path / "c.db"), tmp_path / "v1.csv"
    assert main(["scan", "-q", "--no-predict", "--catalog", db, str(lib)]) == 0
    assert main(["predict", "-q", "--device", "cpu", "--model", V1, str(lib), "-o", str(out)]) == 0
    assert {r["model"] for r in csv.DictReader(out.open())} == {V1}
    capsys.readouterr()
    assert main(["import-predictions", "--catalog", db, str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count(f"predicted with {V1}, not {entry().id}") == 2
    with Catalog(db) as cat:
        assert cat.conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 0
    assert main(["import-predictions", "-q", "--model", V1, "--catalog", db, str(out)]) == 0
    with Catalog(db) as cat:
        assert cat.conn.execute("SELECT model_id, COUNT(*) FROM predictions").fetchall() == [
            (V1, 2)
        ]
