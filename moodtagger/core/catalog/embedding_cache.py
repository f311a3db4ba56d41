"""A memory-mapped copy of a model's embeddings (issue 29): a million 1,280-d float16 vectors
are 2.5 GB, and reading them out of SQLite row by row took 20-50 s and held all of it in the
process; the copy opens in milliseconds and the pages are the operating system's to share
and drop.

The copy lives in the user's cache folder (``CACHE/embeddings/<catalog key>/``), three files
per model: ``<model>.json`` says which catalog (its random id, schema step 10) and which
change-log entry the arrays are current at, and names ``<model>.<tag>.ids.npy`` (int64 photo
ids, ascending) and ``<model>.<tag>.vec.npy`` (float16, one row per id). It is what
``catalog.embeddings.all(model)`` returns: every readable photo with a current embedding.

Opening it reads the photos the catalog's ``embedding_changes`` log names since that entry (its
triggers take every change of an embedding and of what makes one current: a photo's pixels,
its status, the photo deleted), in one read snapshot with their current rows; if any row differs, a merged copy is written to new files (flushed), then the
JSON is replaced (atomically), then the old files go. A kill at any moment leaves the old copy
or the new one. A missing, damaged or foreign copy, a change log pruned past its entry, or any
error is answered from the catalog itself (and a new copy written when the library is large).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from moodtagger.core.catalog import cache_files, changes

FORMAT = 1
MIN_ROWS = 20_000  # smaller libraries are read from the catalog (as fast; no copy to keep)
_CHUNK = 65_536

Arrays = tuple[np.ndarray, np.ndarray]
# read_rows(photo_ids or None) -> (ids, vectors) of the current embeddings, in id order; with
# ``alloc`` the vectors go into the array it returns for (n, d) (a file for a full read)
Reader = Callable[..., Arrays]


def folder(catalog_path: Path) -> Path:
    return cache_files.folder("embeddings", catalog_path)


def load(conn: sqlite3.Connection, catalog_path: Path, model_id: str, read: Reader) -> Arrays:
    """Every readable photo's current embedding by ``model_id``: (ids, vectors), from the copy
    when there is one (memory-mapped, read-only), else from the catalog (``read``)."""
    uuid = cache_files.catalog_uuid(conn) if str(catalog_path) != ":memory:" else None
    if uuid is None:
        return read(None)
    where = folder(catalog_path)
    meta_path = where / f"{cache_files.stem(model_id)}.json"
    try:
        meta = json.loads(meta_path.read_text())
        if (meta.get("format"), meta.get("uuid"), meta.get("model")) != (FORMAT, uuid, model_id):
            raise ValueError("another catalog's or model's copy")
        ids = np.load(where / meta["ids"], mmap_mode="r")
        vectors = np.load(where / meta["vectors"], mmap_mode="r")
        if ids.dtype != np.int64 or vectors.dtype != np.float16 or len(ids) != len(vectors):
            raise ValueError("damaged")
        seq = int(meta["seq"])
    except (OSError, ValueError, KeyError, TypeError):
        return _rebuild(conn, where, model_id, uuid, read)
    fresh: Arrays = (np.zeros(0, np.int64), np.zeros((0, 0), np.float16))
    try:
        with cache_files.snapshot(conn):
            last, changed = changes.changed_since(conn, LOG, seq)
            if changed:
                fresh = read(changed)
        if changed is None:
            return _rebuild(conn, where, model_id, uuid, read)
        if not changed:
            return ids, vectors
        merged = _merge(ids, vectors, np.asarray(changed, np.int64), fresh)
        if merged is None:  # nothing these arrays hold changed (a choice, a prediction...)
            _publish(where, model_id, uuid, last, meta["ids"], meta["vectors"])
            return ids, vectors
        return _write(where, model_id, uuid, last, (ids, vectors), merged)
    except (OSError, sqlite3.Error, ValueError):
        return read(None)


LOG = "embedding_changes"


def prune(conn: sqlite3.Connection) -> None:
    """Keep the log short, as the change log is (a copy older than its entries is rebuilt)."""
    changes.prune_log(conn, LOG)


def _rebuild(
    conn: sqlite3.Connection, where: Path, model_id: str, uuid: str, read: Reader
) -> Arrays:
    """Everything read from the catalog; kept as a new copy when the library is large."""
    tag = cache_files.new_tag()
    stem = cache_files.stem(model_id)
    files: dict[str, Path] = {}
    rows: list[int] = []

    def alloc(n: int, d: int) -> np.ndarray:
        if n < MIN_ROWS:
            return np.empty((n, d), np.float16)
        where.mkdir(parents=True, exist_ok=True)
        files["vectors"] = where / f"{stem}.{tag}.vec.npy"
        rows.append(n)
        return np.lib.format.open_memmap(files["vectors"], "w+", np.float16, (n, d))

    try:
        with cache_files.snapshot(conn):
            last = int(changes.log_ends(conn, LOG)[1] or 0)
            ids, vectors = read(None, alloc=alloc)
        if "vectors" not in files:
            return ids, vectors
        if [len(ids)] != rows:  # a commit between the count and the read
            raise ValueError("the catalog changed while it was read")
        files["ids"] = where / f"{stem}.{tag}.ids.npy"
        np.save(files["ids"], np.asarray(ids, np.int64))
        assert isinstance(vectors, np.memmap)
        vectors.flush()
        del vectors
        return _finish(where, model_id, uuid, last, files)
    except (OSError, ValueError):
        for f in files.values():
            f.unlink(missing_ok=True)
        return read(None)


def _merge(
    ids: np.ndarray, vectors: np.ndarray, changed: np.ndarray, fresh: Arrays
) -> tuple | None:
    """What to write after the change: (old rows kept, the changed photos' current ids and
    rows), or None when those rows are exactly what the copy holds."""
    f_ids, f_vec = fresh
    if len(ids):
        pos = np.minimum(np.searchsorted(ids, changed), len(ids) - 1)
        held = ids[pos] == changed
    else:
        pos, held = np.zeros(len(changed), np.int64), np.zeros(len(changed), bool)
    old_rows = pos[held]
    if np.array_equal(changed[held], f_ids) and (
        len(f_ids) == 0 or np.array_equal(np.asarray(vectors[old_rows]), f_vec)
    ):
        return None
    keep = np.ones(len(ids), bool)
    keep[old_rows] = False
    return np.flatnonzero(keep), np.asarray(f_ids, np.int64), np.asarray(f_vec, np.float16)


def _write(where: Path, model_id: str, uuid: str, last: int, old: Arrays, merged: tuple) -> Arrays:
    old_ids, old_vec = old
    kept, f_ids, f_vec = merged
    new_ids = np.concatenate([np.asarray(old_ids)[kept], f_ids])
    order = np.argsort(new_ids, kind="stable")
    new_ids = new_ids[order]
    d = old_vec.shape[1] if len(old_vec) else f_vec.shape[1]
    tag = cache_files.new_tag()
    stem = cache_files.stem(model_id)
    files = {"vectors": where / f"{stem}.{tag}.vec.npy", "ids": where / f"{stem}.{tag}.ids.npy"}
    try:
        out = np.lib.format.open_memmap(files["vectors"], "w+", np.float16, (len(new_ids), d))
        n_kept = len(kept)
        for s in range(0, len(order), _CHUNK):  # in chunks: never all of it in memory
            src = order[s : s + _CHUNK]
            from_old = src < n_kept
            block = np.empty((len(src), d), np.float16)
            block[from_old] = old_vec[kept[src[from_old]]]
            block[~from_old] = f_vec[src[~from_old] - n_kept]
            out[s : s + len(src)] = block
        out.flush()
        del out
        np.save(files["ids"], new_ids)
        return _finish(where, model_id, uuid, last, files)
    except (OSError, ValueError):
        for f in files.values():
            f.unlink(missing_ok=True)
        raise


def _finish(where: Path, model_id: str, uuid: str, last: int, files: dict[str, Path]) -> Arrays:
    cache_files.fsync(files.values())
    _publish(where, model_id, uuid, last, files["ids"].name, files["vectors"].name)
    _remove_others(where, model_id, {files["ids"].name, files["vectors"].name})
    return np.load(files["ids"], mmap_mode="r"), np.load(files["vectors"], mmap_mode="r")


def _publish(where: Path, model_id: str, uuid: str, last: int, ids: str, vectors: str) -> None:
    meta = {"format": FORMAT, "uuid": uuid, "model": model_id, "seq": last}
    meta.update(ids=ids, vectors=vectors)
    cache_files.publish(where / f"{cache_files.stem(model_id)}.json", meta)


def _remove_others(where: Path, model_id: str, keep: set[str]) -> None:
    """This model's arrays the JSON no longer names."""
    cache_files.remove_others(where, f"{cache_files.stem(model_id)}.*.npy", keep)
