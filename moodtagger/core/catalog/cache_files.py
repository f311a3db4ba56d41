"""Copies of catalog data kept in the user's cache folder (issue 29): the memory-mapped
embeddings (:mod:`~moodtagger.core.catalog.embedding_cache`) and the grid rows
(:mod:`~moodtagger.core.catalog.row_cache`) share these rules.

A copy lives in ``CACHE/<kind>/<catalog key>/``: a JSON file per model names the catalog (its
random id, schema step 10), the change-log entry the copy is current at, and the array files.
Array files are written under a new name, flushed to disk, and only then named by the JSON
(replaced atomically); files it no longer names are removed. A kill at any moment leaves the
old copy or the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from moodtagger.core import paths


def folder(kind: str, catalog_path: Path) -> Path:
    """Where ``kind``'s copies of the catalog at ``catalog_path`` live."""
    key = hashlib.sha256(os.fsencode(os.path.realpath(catalog_path))).hexdigest()[:16]
    return paths.cache_dir() / kind / key


def stem(model_id: str) -> str:
    """A file-name-safe and unique stem for ``model_id``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", model_id)
    return f"{safe}-{hashlib.sha256(model_id.encode()).hexdigest()[:8]}"


def new_tag() -> str:
    """A name part no other writer (process or earlier call) uses."""
    return f"{os.getpid()}-{time.time_ns()}"


def catalog_uuid(conn: sqlite3.Connection) -> str | None:
    """The catalog's random id (None: a catalog older than schema step 10, opened read-only)."""
    try:
        row = conn.execute("SELECT value FROM catalog_meta WHERE key='uuid'").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


class snapshot:
    """One read transaction (unless the caller already holds one)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.own = not conn.in_transaction

    def __enter__(self) -> None:
        if self.own:
            self.conn.execute("BEGIN")

    def __exit__(self, *exc: object) -> None:
        if self.own:
            self.conn.execute("COMMIT")


def fsync(files: Iterable[Path]) -> None:
    """The files' contents on disk before a JSON names them."""
    for f in files:
        with open(f, "rb+") as fh:
            os.fsync(fh.fileno())


def publish(target: Path, meta: dict) -> None:
    """Write the JSON ``target`` atomically."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta) + "\n")
    os.replace(tmp, target)


def remove_others(where: Path, pattern: str, keep: set[str], grace: float = 60.0) -> None:
    """Files matching ``pattern`` the JSON no longer names (another process may still be
    writing a newer copy: only files older than ``grace`` seconds, and this process's own, go)."""
    now = time.time()
    mine = f".{os.getpid()}-"
    for f in where.glob(pattern):
        if f.name in keep:
            continue
        try:
            if mine in f.name or now - f.stat().st_mtime > grace:
                f.unlink()
        except OSError:
            pass
