"""The memory-mapped copy of a model's embeddings (issue 29): what ``embeddings.all`` answers
from it is always what the catalog itself holds, after any change, any damage, any swap."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from moodtagger.core.catalog import Catalog, changes, embedding_cache
from moodtagger.testing import synthesize_catalog

MODEL = "m-test"
D = 16


@pytest.fixture
def big(tmp_path, monkeypatch) -> Path:
    """A catalog of 300 photos with embeddings, counted as a large library."""
    monkeypatch.setattr(embedding_cache, "MIN_ROWS", 50)
    path = tmp_path / "cat.sqlite3"
    synthesize_catalog(path, 300, MODEL, chosen_fraction=0.0)
    rng = np.random.default_rng(1)
    with Catalog(path) as cat:
        cat.embeddings.save(MODEL, [(i, rng.normal(size=D)) for i in range(1, 301)])
    return path


def _truth(cat: Catalog) -> tuple[np.ndarray, np.ndarray]:
    return cat.embeddings._read(MODEL, None)


def _same(got, want) -> None:
    assert np.array_equal(got[0], want[0])
    assert np.array_equal(np.asarray(got[1]), want[1])


def _files(path: Path) -> set[str]:
    return {f.name for f in embedding_cache.folder(path).glob("*.npy")}


def test_a_large_library_is_answered_from_a_memory_mapped_copy(big):
    with Catalog(big) as cat:
        first = cat.embeddings.all(MODEL)  # reads the catalog, writes the copy
        _same(first, _truth(cat))
        assert len(_files(big)) == 2
    with Catalog(big, readonly=True) as cat:
        ids, vectors = cat.embeddings.all(MODEL)
        assert isinstance(vectors, np.memmap) and not vectors.flags.writeable
        _same((ids, vectors), _truth(cat))
        assert len(ids) == 300


def test_every_change_to_what_it_holds_is_seen(big):
    rng = np.random.default_rng(2)
    with Catalog(big) as cat:
        cat.embeddings.all(MODEL)
        cat.embeddings.save(MODEL, [(5, rng.normal(size=D))])  # a new embedding
        _same(cat.embeddings.all(MODEL), _truth(cat))
        with cat.transaction() as c:  # new pixels: the stored embedding is no longer current
            c.execute("UPDATE photos SET identity='new' WHERE id=7")
            c.execute("UPDATE photos SET status='missing' WHERE id=9")  # gone from disk
            c.execute("DELETE FROM photos WHERE id=11")
        got = cat.embeddings.all(MODEL)
        _same(got, _truth(cat))
        assert not {7, 9, 11} & set(got[0].tolist())
        with cat.transaction() as c:  # a photo added with an embedding
            c.execute(
                "INSERT INTO photos(id, path, root_id, size, mtime_ns, identity, status, "
                "added_at, updated_at) VALUES (400, x'2f782e6a7067', 1, 1, 1, 'i400', 'ok', 0, 0)"
            )
        cat.embeddings.save(MODEL, [(400, rng.normal(size=D))])
        got = cat.embeddings.all(MODEL)
        _same(got, _truth(cat))
        assert got[0][-1] == 400 and len(_files(big)) == 2  # the old pair was removed


def test_another_process_change_is_seen(big):
    with Catalog(big) as reader:
        reader.embeddings.all(MODEL)
        with Catalog(big) as writer:
            writer.embeddings.save(MODEL, [(3, np.full(D, 0.5))])
        ids, vectors = reader.embeddings.all(MODEL)
        assert np.all(np.asarray(vectors[ids.tolist().index(3)]) == np.float16(0.5))


def test_a_choice_rewrites_nothing(big):
    with Catalog(big) as cat:
        cat.embeddings.all(MODEL)
        before = _files(big)
        cat.choices.set(4, ["awe"], source="user")
        _same(cat.embeddings.all(MODEL), _truth(cat))
        assert _files(big) == before


@pytest.mark.parametrize("damage", ["json", "truncate", "delete", "foreign"])
def test_a_damaged_or_foreign_copy_is_rebuilt(big, damage):
    with Catalog(big) as cat:
        cat.embeddings.all(MODEL)
    where = embedding_cache.folder(big)
    meta = next(where.glob("*.json"))
    vec = next(where.glob("*.vec.npy"))
    if damage == "json":
        meta.write_text("{not json")
    elif damage == "truncate":
        vec.write_bytes(vec.read_bytes()[:200])
    elif damage == "delete":
        vec.unlink()
    else:  # another catalog copied over this one: same path, another catalog id
        other = big.with_name("other.sqlite3")
        synthesize_catalog(other, 60, MODEL, chosen_fraction=0.0)
        with Catalog(other) as cat:
            cat.embeddings.save(MODEL, [(i, np.full(D, float(i))) for i in range(1, 61)])
        shutil.copyfile(other, big)
        for suffix in ("-wal", "-shm"):
            Path(f"{big}{suffix}").unlink(missing_ok=True)
    with Catalog(big) as cat:
        got = cat.embeddings.all(MODEL)
        _same(got, _truth(cat))
        assert len(got[0]) == (60 if damage == "foreign" else 300)
    assert json.loads(meta.read_text())["uuid"]  # a good copy again


def test_a_pruned_change_log_means_a_fresh_copy(big):
    with Catalog(big) as cat:
        cat.embeddings.all(MODEL)
        cat.embeddings.save(MODEL, [(8, np.zeros(D))])
        conn = sqlite3.connect(big)
        conn.execute("DELETE FROM embedding_changes")  # as pruning does, past the copy's entry
        conn.execute("INSERT INTO embedding_changes(seq, photo_id) VALUES (1000000, 1)")
        conn.commit()
        conn.close()
        got = cat.embeddings.all(MODEL)
        _same(got, _truth(cat))
        assert not np.asarray(got[1][got[0].tolist().index(8)]).any()


def test_small_libraries_keep_no_copy(tmp_path):
    path = tmp_path / "small.sqlite3"
    synthesize_catalog(path, 30, MODEL, chosen_fraction=0.0)
    with Catalog(path) as cat:
        cat.embeddings.save(MODEL, [(i, np.ones(D)) for i in range(1, 31)])
        ids, vectors = cat.embeddings.all(MODEL)
        assert len(ids) == 30 and not isinstance(vectors, np.memmap)
    assert not embedding_cache.folder(path).exists()


def test_new_predictions_for_every_photo_leave_the_copy_alone(big):
    """A learn re-predicts every photo: the copy's log must not fill up with that."""
    from moodtagger.core.catalog import Prediction

    with Catalog(big) as cat:
        cat.embeddings.all(MODEL)
        before = _files(big)
        seq = cat.conn.execute("SELECT MAX(seq) FROM embedding_changes").fetchone()[0]
        cat.predictions.save(
            "other", [(i, Prediction((0.125,) * 8, 5.0, 5.0)) for i in range(1, 301)]
        )
        assert cat.conn.execute("SELECT MAX(seq) FROM embedding_changes").fetchone()[0] == seq
        _same(cat.embeddings.all(MODEL), _truth(cat))
        assert _files(big) == before


def test_the_log_is_pruned_and_an_older_copy_rebuilt(big):
    with Catalog(big) as cat:
        cat.embeddings.all(MODEL)
        for k in range(3):
            cat.embeddings.save(MODEL, [(i, np.full(D, k)) for i in range(1, 301)])
        changes.prune_log(cat.conn, embedding_cache.LOG, keep=100)
        n = cat.conn.execute("SELECT count(*) FROM embedding_changes").fetchone()[0]
        assert n == 100
        got = cat.embeddings.all(MODEL)
        _same(got, _truth(cat))
        assert np.all(np.asarray(got[1]) == 2)
