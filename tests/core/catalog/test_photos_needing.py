"""Which photos need a prediction (issue 29): at a million photos looking at every photo on
every open took 1-2 s, so once none needs one that is remembered with the change-log entry it
was true at; every later answer must still be exactly what looking at every photo says."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from moodtagger.core.catalog import Catalog, Prediction, changes
from moodtagger.testing import synthesize_catalog

MODEL = "m-need"


@pytest.fixture
def cat_path(tmp_path) -> Path:
    path = tmp_path / "cat.sqlite3"
    synthesize_catalog(path, 300, MODEL, chosen_fraction=0.0)
    return path


def _truth(cat: Catalog) -> list[str]:
    rows = cat.predictions._needing(MODEL, None)
    return [os.fsdecode(r[1]) for r in sorted(rows, key=lambda r: r[1])]


def _answer(cat: Catalog) -> list[str]:
    return [p.path for p in cat.predictions.photos_needing(MODEL)]


def _remembered(cat: Catalog) -> int | None:
    row = cat.conn.execute(
        "SELECT value FROM catalog_meta WHERE key LIKE 'no photo needs%' || ?", (MODEL,)
    ).fetchone()
    return None if row is None else int(row[0])


def test_none_needing_is_remembered_and_every_change_after_it_is_seen(cat_path, monkeypatch):
    with Catalog(cat_path) as cat:
        assert _answer(cat) == [] and _remembered(cat) == cat.changes.latest()
        looked_at: list[object] = []
        real = cat.predictions._needing
        monkeypatch.setattr(
            cat.predictions, "_needing", lambda m, ids: looked_at.append(ids) or real(m, ids)
        )
        assert _answer(cat) == [] and looked_at == [[]]  # nothing changed: no photo looked at
        with cat.transaction() as c:
            c.execute("DELETE FROM predictions WHERE photo_id=5")  # a prediction removed
            c.execute("UPDATE photos SET identity='new' WHERE id=7")  # new pixels
            c.execute("UPDATE photos SET status='error' WHERE id=9")
            c.execute(  # a new photo, sorting first
                "INSERT INTO photos(id, path, root_id, size, mtime_ns, identity, status, "
                "added_at, updated_at) VALUES (400, CAST('/a.jpg' AS BLOB), 1, 1, 1, 'i', 'ok', 0, 0)"
            )
        got = _answer(cat)
        assert looked_at[-1] == [5, 7, 9, 400]  # only the photos the log names
        assert got == _truth(cat) and len(got) == 3 and got[0] == "/a.jpg"
        cat.predictions.save(MODEL, [(i, Prediction((1 / 8,) * 8)) for i in (5, 7, 400)])
        with cat.transaction() as c:
            c.execute("UPDATE photos SET status='ok' WHERE id=9")  # readable again: no prediction?
        assert _answer(cat) == _truth(cat) == []


def test_another_process_change_and_a_pruned_log_are_seen(cat_path):
    with Catalog(cat_path) as cat:
        assert _answer(cat) == []
    other = sqlite3.connect(cat_path)
    with other:
        other.execute("DELETE FROM predictions WHERE photo_id IN (11, 12)")
    other.close()
    with Catalog(cat_path, readonly=True) as cat:  # read-only: answers, remembers nothing
        assert _answer(cat) == _truth(cat) and len(_truth(cat)) == 2
    with Catalog(cat_path) as cat:
        with cat.transaction() as c:
            for _ in range(4):
                c.execute("UPDATE photos SET size=size+1")  # 1,200 entries
        changes.prune_log(cat.conn, changes.TABLE, 100)
        cat.conn.commit()
        with cat.transaction() as c:
            c.execute("DELETE FROM predictions WHERE photo_id=13")
        assert _answer(cat) == _truth(cat) and len(_truth(cat)) == 3


def test_each_model_has_its_own_answer(cat_path):
    with Catalog(cat_path) as cat:
        assert _answer(cat) == []
        assert len(cat.predictions.photos_needing("another-model")) == 300
        np.testing.assert_equal(_remembered(cat), cat.changes.latest())


def test_photos_without_a_custom_moods_score_are_found_after_any_change(cat_path):
    with Catalog(cat_path) as cat:
        rng = np.random.default_rng(0)
        cat.embeddings.save(MODEL, [(i, rng.normal(size=8)) for i in range(1, 291)])
        cozy = cat.moods.add("Cozy")
        cat.moods.save_scores(cozy.id, list(range(1, 291)), [0.5] * 290)
        assert cat.moods.unscored_embedded(cozy.id, MODEL) == []  # remembered from here
        cat.embeddings.save(MODEL, [(295, rng.normal(size=8))])  # only the embeddings' log
        assert cat.moods.unscored_embedded(cozy.id, MODEL) == [295]
        cat.moods.add_scores(cozy.id, [295], [0.5])
        other = sqlite3.connect(cat_path)  # another program: a new embedding, a score removed
        with other:
            other.execute(
                "INSERT INTO photos(id, path, root_id, size, mtime_ns, identity, status, "
                "added_at, updated_at) VALUES (400, CAST('/n.jpg' AS BLOB), 1, 1, 1, 'i', 'ok', 0, 0)"
            )
            other.execute("DELETE FROM custom_scores WHERE photo_id=20")
        other.close()
        cat.embeddings.save(MODEL, [(400, rng.normal(size=8))])
        assert cat.moods.unscored_embedded(cozy.id, MODEL) == [20, 400]
        with cat.transaction() as c:  # an embedding stored again for other pixels' photo
            c.execute("UPDATE photos SET identity='new' WHERE id=30")
        cat.embeddings.save(MODEL, [(30, rng.normal(size=8))])
        assert cat.moods.unscored_embedded(cozy.id, MODEL) == [20, 30, 400]
        cat.moods.add_scores(cozy.id, [20, 30, 400], [0.1, 0.2, 0.3])
        assert cat.moods.unscored_embedded(cozy.id, MODEL) == []
