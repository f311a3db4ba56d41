"""Issue 13 item 1: `moodtagger list --mood M --min P` and the grid's filter show the same photos,
and `list --sort` orders them as the grid does (real catalog, real files, the GUI model without
a window). PhotoModel calls core.rows.filter_mask / sort_order; this test keeps the two front
ends from drifting apart again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from moodtagger.cli import main
from moodtagger.core import rows as R
from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.library import current_model_id
from moodtagger.core.moods import MOODS
from moodtagger.gui.models.photomodel import Filter, PhotoModel

MODEL = current_model_id() or "test-model"


def _probs(**kw: float) -> tuple[float, ...]:
    rest = (1.0 - sum(kw.values())) / (len(MOODS) - len(kw))
    return tuple(kw.get(m, rest) for m in MOODS)


CASES = {  # name: (prediction or None, chosen moods or None)
    "a.jpg": (_probs(awe=0.8), None),
    "b.jpg": (_probs(awe=0.35, fear=0.3), None),
    "c.jpg": (_probs(fear=0.9), ["awe"]),
    "d.jpg": (_probs(awe=0.9), ["fear"]),
    "e.jpg": (_probs(awe=0.9), []),
    "f.jpg": (None, ["awe", "sadness"]),
    "g.jpg": (None, None),
    "h.jpg": (_probs(sadness=0.6), None),
}


@pytest.fixture
def db(make_image, tmp_path: Path) -> str:
    root = tmp_path / "lib"
    for i, name in enumerate(CASES):
        make_image(name, root=root, seed=i)
    (root / "broken.jpg").write_bytes(b"not a jpeg")
    path = str(tmp_path / "c.db")
    assert main(["scan", "--no-predict", "-q", "--catalog", path, str(root)]) == 1
    with Catalog(path) as cat:
        ids = {Path(p.path).name: p.id for p in cat.photos.all(status="ok")}
        cat.predictions.save(MODEL, [(ids[n], Prediction(c[0])) for n, c in CASES.items() if c[0]])
        with cat.transaction():
            for name, (_, chosen) in CASES.items():
                if chosen is not None:
                    cat.choices.set(ids[name], chosen)
    return path


def _model(db: str) -> PhotoModel:
    model = PhotoModel()
    with Catalog(db) as cat:
        model.set_rows(R.load_rows(cat, MODEL))
    return model


def _listed(capsys, db: str, *args: str) -> list[str]:
    capsys.readouterr()
    assert main(["list", "--json", "--catalog", db, *args]) == 0
    return [Path(r["path"]).name for r in json.loads(capsys.readouterr().out)]


@pytest.mark.parametrize("mood", ["awe", "fear", "sadness", None])
@pytest.mark.parametrize("min_p", [0.0, 0.5, 0.85])
def test_list_and_the_grid_filter_show_the_same_photos(db, capsys, qapp, mood, min_p) -> None:
    model = _model(db)
    flt = Filter(moods=frozenset([mood]) if mood else frozenset(), min_prob=min_p)
    grid = sorted(Path(model.rows.paths[i]).name for i in np.nonzero(model.filter_mask(flt))[0])
    args = (["--mood", mood] if mood else []) + ["--min", str(min_p)]
    assert sorted(_listed(capsys, db, *args)) == grid
    # and the core function gives the grid's answer on the grid's own rows
    assert (
        R.filter_mask(model.rows, R.Filter(moods=flt.moods, min_prob=min_p))
        == model.filter_mask(flt)
    ).all()


@pytest.mark.parametrize("key", ["name", "top", "awe"])
def test_list_sort_is_the_grid_order(db, capsys, qapp, key) -> None:
    model = _model(db)
    model.sort_by(key, True)  # the grid shows the rows in the model's order (issue 29.3)
    shown = [Path(model.rows.paths[r]).name for r in model.order()]
    assert _listed(capsys, db, "--sort", key, "--desc") == shown
