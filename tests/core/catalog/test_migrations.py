"""Catalog schema: creation, migrations from every earlier version, refusing what is not ours."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from moodtagger.core.catalog import PROB_COLUMNS, SCHEMA_VERSION, Catalog, CatalogError, Prediction
from moodtagger.core.catalog.migrations import _MIGRATIONS, _split_sql

PROBS = (0.05, 0.05, 0.4, 0.1, 0.1, 0.1, 0.1, 0.1)


def _db_at_version(path: Path, version: int) -> sqlite3.Connection:
    """A database as an older moodtagger left it: the first ``version`` migrations applied."""
    conn = sqlite3.connect(path, isolation_level=None)
    for step in _MIGRATIONS[:version]:
        conn.executescript(step)
    conn.execute(f"PRAGMA user_version={version}")
    return conn


def test_new_catalog_is_current_and_wal(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.db") as cat:
        assert cat.schema_version == SCHEMA_VERSION
        assert cat.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrates_empty_v0_database(tmp_path: Path) -> None:
    _db_at_version(tmp_path / "c.db", 0).close()
    with Catalog(tmp_path / "c.db") as cat:
        assert cat.schema_version == SCHEMA_VERSION
        assert cat.photos.count() == 0


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_migration_keeps_data(tmp_path: Path, version: int) -> None:
    conn = _db_at_version(tmp_path / "c.db", version)
    conn.execute("INSERT INTO roots(path, added_at) VALUES (?, 0)", (b"/photos",))
    conn.execute(
        "INSERT INTO photos(path, root_id, size, mtime_ns, identity, width, height, orientation, "
        "format, status, added_at, updated_at) VALUES (?, 1, 10, 20, 'abc', 640, 480, 6, 'JPEG', "
        "'ok', 0, 0)",
        (b"/photos/caf\xe9.jpg",),  # not valid UTF-8: must survive the migration
    )
    cols = ", ".join(PROB_COLUMNS)
    conn.execute(
        f"INSERT INTO predictions(photo_id, model_id, identity, {cols}, created_at) "
        f"VALUES (1, 'm1', 'abc', {', '.join(map(str, PROBS))}, 0)"
    )
    conn.close()

    with Catalog(tmp_path / "c.db") as cat:
        assert cat.schema_version == SCHEMA_VERSION
        photo = cat.photos.by_path(os.fsdecode(b"/photos/caf\xe9.jpg"))
        assert photo is not None
        assert (photo.width, photo.height, photo.orientation, photo.status) == (640, 480, 6, "ok")
        assert cat.predictions.get(photo.id, "m1") == Prediction(PROBS)
        assert cat.photos.roots() == [(1, "/photos")]
        cat.choices.set(photo.id, ["awe"])  # tables added by later migrations work
        assert cat.choices.get(photo.id) == (["awe"], "pending", None)


def test_newer_catalog_is_refused_with_a_sentence(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "c.db")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CatalogError, match="newer than this moodtagger"):
        Catalog(tmp_path / "c.db")


def test_not_a_database_is_a_catalog_error(tmp_path: Path) -> None:
    (tmp_path / "c.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogError, match="is damaged"):
        Catalog(tmp_path / "c.db")


def test_a_version_2_catalog_is_upgraded_in_place(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    for step in _MIGRATIONS[:2]:
        for stmt in _split_sql(step):
            conn.execute(stmt)
    conn.execute(
        "INSERT INTO photos(path, identity, status, added_at, updated_at) VALUES (x'2f612e6a7067', 'i', 'ok', 0, 0)"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION  # every later step ran too
        assert cat.photos.all()[0].path == "/a.jpg"
        cat.photos.set_sidecar_sig(cat.photos.all()[0].id, "a.xmp:1:2")


def test_a_version_3_catalog_gets_the_embeddings_table(tmp_path: Path) -> None:
    """Schema 4 (issue 14): a version 3 catalog keeps its photos and can store embeddings."""
    import numpy as np

    db = tmp_path / "v3.db"
    conn = sqlite3.connect(db)
    for step in _MIGRATIONS[:3]:
        for stmt in _split_sql(step):
            conn.execute(stmt)
    conn.execute(
        "INSERT INTO photos(path, identity, status, added_at, updated_at) VALUES (x'2f612e6a7067', 'i', 'ok', 0, 0)"
    )
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION
        pid = cat.photos.all()[0].id
        vec = np.linspace(-1, 1, 1280).astype(np.float16)
        cat.embeddings.save("m", [(pid, vec)])
        assert (cat.embeddings.get(pid, "m") == vec).all()
        assert cat.models_in_use.get("m") is None
        cat.models_in_use.set("m", "personal-m-1")
        assert cat.models_in_use.get("m") == "personal-m-1"


def test_opening_waits_for_a_catalog_another_process_is_creating(tmp_path: Path) -> None:
    """Two `scan`s at once on a new catalog: one failed with "busy in another process" when its
    switch to WAL met the other's lock (SQLite answers that pragma without waiting)."""
    import threading

    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # another process
    other.execute("BEGIN IMMEDIATE")  # a write under way in rollback-journal mode
    other.execute("CREATE TABLE scratch(x)")
    threading.Timer(0.5, lambda: other.execute("ROLLBACK")).start()
    with Catalog(path) as cat:
        assert cat.schema_version == SCHEMA_VERSION
        assert cat.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()
