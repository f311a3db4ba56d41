"""The grid rows' copy in the cache folder (issue 29): what ``load_rows`` answers from it is
always exactly what the catalog itself holds, after any change, in any process, after damage."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from moodtagger.core import grid_columns
from moodtagger.core import rows as R
from moodtagger.core.catalog import Catalog, Prediction, changes, row_cache
from moodtagger.core.moods import MOODS
from moodtagger.testing import synthesize_catalog

MODEL = "m-rows"


@pytest.fixture
def big(tmp_path, monkeypatch) -> Path:
    """A catalog of 400 photos (20 chosen), counted as a large library."""
    monkeypatch.setattr(row_cache, "MIN_ROWS", 50)
    monkeypatch.setattr(row_cache, "REWRITE", 30)
    path = tmp_path / "cat.sqlite3"
    synthesize_catalog(path, 400, MODEL, chosen_fraction=0.05)
    return path


def _truth(cat: Catalog, include_missing: bool = False) -> dict:
    return grid_columns.read(cat, MODEL, None, None, include_missing)


def _same(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for name in want:
        a, b = got[name], want[name]
        assert a.dtype == b.dtype and len(a) == len(b), name
        if a.dtype == np.dtype(object):
            assert a.tolist() == b.tolist(), name
        else:
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name


def _loaded(cat: Catalog, include_missing: bool = False) -> dict:
    """What load_rows answers, by column (the copy's or the catalog's)."""
    got = row_cache.load(
        cat.conn, cat.path, MODEL, lambda ids: grid_columns.read(cat, MODEL, ids, None, True)
    )
    shown = got["status"] != "missing"
    return got if include_missing else {c: v[shown] for c, v in got.items()}


def _copies(path: Path) -> list[Path]:
    return sorted(row_cache.folder(path).glob("*.npz"))


def _rows_equal(a: R.Rows, b: R.Rows) -> None:
    for f in ("ids", "root_ids", "mtimes", "status", "choice_bits", "choice_state", "taken"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    for f in ("probs", "valence", "arousal"):
        assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True), f
    for f in ("paths", "errors", "identities", "choice_errors"):
        assert getattr(a, f) == getattr(b, f), f


def test_a_large_library_is_read_from_the_copy_and_it_is_the_catalog(big, monkeypatch):
    with Catalog(big) as cat:
        first = R.load_rows(cat, MODEL)  # reads the catalog, writes the copy
        assert len(_copies(big)) == 1
    reads: list[object] = []
    real = grid_columns.read

    def counting(cat, model_id, ids, after_id, include_missing):
        reads.append(ids)
        return real(cat, model_id, ids, after_id, include_missing)

    monkeypatch.setattr(grid_columns, "read", counting)
    with Catalog(big, readonly=True) as cat:
        again = R.load_rows(cat, MODEL)
    assert None not in reads  # not one full read of the catalog: the copy answered
    _rows_equal(again, first)
    assert len(first) == 400 and (first.choice_bits >= 0).sum() == 20


def test_every_kind_of_change_is_seen_in_path_order(big):
    with Catalog(big) as cat:
        R.load_rows(cat, MODEL)
        probs = np.full(len(MOODS), 1 / len(MOODS))
        with cat.transaction():
            cat.predictions.save(MODEL, [(3, Prediction(tuple(probs), valence=2.0, arousal=8.0))])
            cat.choices.set(5, ["awe", "fear"])
        with cat.transaction() as c:
            c.execute("UPDATE photos SET status='missing' WHERE id=9")
            c.execute("UPDATE photos SET status='error', error='bad\u00e9 file' WHERE id=10")
            c.execute("UPDATE photos SET identity='new' WHERE id=11")  # prediction not current
            c.execute("DELETE FROM photos WHERE id=12")
            c.execute("UPDATE photos SET path=x'2f612f666972737420c3a92e6a7067' WHERE id=13")
            c.execute("UPDATE photos SET path=x'2f7a2f6c6173742eff2e6a7067' WHERE id=14")
            c.execute(  # a new photo between others (not at the end)
                "INSERT INTO photos(id, path, root_id, size, mtime_ns, identity, status, "
                "added_at, updated_at, taken_at) VALUES (500, "
                "CAST('/synthetic/000/IMG_000003b.jpg' AS BLOB), 1, 1, 1, 'i500', 'ok', 0, 0, "
                "'2021-02-03T04:05:06')"
            )
        got = _loaded(cat, include_missing=True)
        _same(got, _truth(cat, include_missing=True))
        _same(_loaded(cat), _truth(cat))
        assert got["path"].tolist() == sorted(got["path"].tolist())
        assert 12 not in got["id"].tolist() and 500 in got["id"].tolist()


def test_many_changes_are_written_back_as_a_new_copy(big):
    with Catalog(big) as cat:
        R.load_rows(cat, MODEL)
        before = _copies(big)
        with cat.transaction() as c:  # 40 photos (REWRITE is 30 here)
            c.execute("UPDATE photos SET error='x' WHERE id <= 40")
        _same(_loaded(cat), _truth(cat))
        after = _copies(big)
        assert len(after) == 1 and after != before
        meta = json.loads(next(row_cache.folder(big).glob("*.json")).read_text())
        assert meta["seq"] == cat.changes.latest()


def test_another_process_change_is_seen(big):
    with Catalog(big) as cat:
        R.load_rows(cat, MODEL)
    other = sqlite3.connect(big)  # another program's commit, through the triggers
    with other:
        other.execute(
            "UPDATE choices SET state='written' "
            "WHERE photo_id IN (SELECT photo_id FROM choices LIMIT 3)"
        )
        other.execute("UPDATE predictions SET p_awe=0.5 WHERE photo_id=20")
    other.close()
    with Catalog(big, readonly=True) as cat:
        _same(_loaded(cat), _truth(cat))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong_json", "foreign", "gone"])
def test_a_damaged_or_foreign_copy_is_replaced_by_the_catalog(big, damage):
    with Catalog(big) as cat:
        R.load_rows(cat, MODEL)
    (copy,) = _copies(big)
    meta_file = next(row_cache.folder(big).glob("*.json"))
    if damage == "truncated":
        copy.write_bytes(copy.read_bytes()[: os.path.getsize(copy) // 2])
    elif damage == "garbage":
        copy.write_bytes(b"\0" * 1000)
    elif damage == "wrong_json":
        meta_file.write_text("{not json")
    elif damage == "foreign":
        meta = json.loads(meta_file.read_text())
        meta["uuid"] = "another catalog"
        meta_file.write_text(json.dumps(meta))
    else:
        copy.unlink()
    with Catalog(big) as cat:
        with cat.transaction():
            cat.choices.set(7, ["anger"])
        _same(_loaded(cat), _truth(cat))
        assert len(_copies(big)) == 1  # written again


def test_a_copy_older_than_the_pruned_log_is_not_trusted(big):
    with Catalog(big) as cat:
        R.load_rows(cat, MODEL)
        with cat.transaction() as c:
            c.execute("UPDATE photos SET error='e' WHERE id=30")
            for _ in range(3):
                c.execute("UPDATE photos SET size=size+1")  # 1,200 entries
        changes.prune_log(cat.conn, changes.TABLE, 100)
        cat.conn.commit()
        _same(_loaded(cat), _truth(cat))


def test_another_model_has_its_own_copy_and_small_libraries_none(big, tmp_path, monkeypatch):
    with Catalog(big) as cat:
        a = R.load_rows(cat, MODEL)
        b = R.load_rows(cat, "another-model")
        assert np.isnan(b.probs).all() and not np.isnan(a.probs).any()
        assert len(_copies(big)) == 2
    monkeypatch.setattr(row_cache, "MIN_ROWS", 1000)
    small = tmp_path / "small.sqlite3"
    synthesize_catalog(small, 100, MODEL)
    with Catalog(small) as cat:
        assert len(R.load_rows(cat, MODEL)) == 100
    assert not _copies(small)


def test_text_paths_of_old_catalogs_and_nul_in_a_message_are_still_exact(big):
    with Catalog(big) as cat:
        R.load_rows(cat, MODEL)
        with cat.transaction() as c:  # an old catalog's text path sorts before every blob
            c.execute("UPDATE photos SET path='/zz/text.jpg' WHERE id=20")
        _same(_loaded(cat), _truth(cat))
        with cat.transaction() as c:  # 40 changes: written back, with text and bytes paths
            c.execute("UPDATE photos SET error='x' WHERE id <= 40")
        _same(_loaded(cat), _truth(cat))
        with cat.transaction() as c:  # a message no copy can hold
            c.execute("UPDATE photos SET error='a' || char(0) || 'b' WHERE id <= 45")
        _same(_loaded(cat), _truth(cat))
        assert _loaded(cat)["error"].tolist().count("a\0b") == 45


def test_columns_of_every_shape_come_back_exactly(tmp_path):
    columns = {
        "id": np.arange(4, dtype=np.int64),
        "none": np.array([None] * 4, object),
        "text": np.array(["a", "", "é\udcff", "d"], object),
        "some": np.array([None, "x", None, ""], object),
        "bytes": np.array([b"/a", b"/b\xff", b"", b"/d"], object),
        "mixed": np.array([None, "t", b"b", ""], object),
    }
    row_cache._write(tmp_path, "k", "u", 1, columns)
    (file,) = tmp_path.glob("*.npz")
    got = row_cache._read_copy(file, lambda ids: {c: v[:0] for c, v in columns.items()})
    for c, v in columns.items():
        assert got[c].tolist() == v.tolist() and got[c].dtype == v.dtype, c
        assert [type(x) for x in got[c].tolist()] == [type(x) for x in v.tolist()], c


def test_only_the_last_models_copies_are_kept(big):
    with Catalog(big) as cat:
        for i in range(4):  # each `learn` makes a new personal model
            R.load_rows(cat, f"model-{i}")
    kept = sorted(json.loads(f.read_text())["model"] for f in row_cache.folder(big).glob("*.json"))
    assert kept == ["model-2", "model-3"] and len(_copies(big)) == 2


def test_custom_moods_scores_come_from_the_copy_and_stay_current(big):
    def custom(cat: Catalog) -> np.ndarray:
        return R.load_rows(cat, MODEL).custom_probs

    def truth(cat: Catalog) -> np.ndarray:
        ids = grid_columns.read(cat, MODEL, None, None, False)["id"].tolist()
        return cat.moods.scores(ids)

    with Catalog(big) as cat:
        cozy = cat.moods.add("Cozy")
        cat.moods.save_scores(cozy.id, list(range(1, 401)), [i / 400 for i in range(400)])
        assert np.array_equal(custom(cat), truth(cat), equal_nan=True)  # the copy written
        cat.moods.add_scores(cozy.id, [7, 8], [0.125, 0.875])  # changed scores
        assert np.array_equal(custom(cat), truth(cat), equal_nan=True)
        rainy = cat.moods.add("Rainy")  # a mood the copy has no column for
        got = custom(cat)
        assert got.shape == (400, 2) and np.isnan(got[:, 1]).all()
        cat.moods.save_scores(rainy.id, [3, 4], [0.5, 0.25])
        assert np.array_equal(custom(cat), truth(cat), equal_nan=True)
        cat.moods.mark_removed(cozy.id)  # its scores deleted
        got = custom(cat)
        assert got.shape == (400, 1) and np.array_equal(got, truth(cat), equal_nan=True)
        cat.moods.add("cozy")  # back, with no scores
        assert np.array_equal(custom(cat), truth(cat), equal_nan=True)
        assert np.isnan(custom(cat)[:, 0]).all()
