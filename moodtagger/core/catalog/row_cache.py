"""A copy of the grid rows kept in the cache folder (issue 29): reading a million rows out of
SQLite makes one Python tuple per row (about 5 s); the copy is a few arrays read in a fraction
of that, then brought up to date from the change log.

What is kept is exactly what :meth:`LibraryViews.grid_cursor` returns (with the missing photos),
as columns (name -> array; text columns are arrays of objects): ``CACHE/rows/<catalog key>/<model>.json`` names the catalog (its random id), the
model, the ``photo_changes`` entry the copy is current at, and one ``.npz`` file (uncompressed,
no pickles): the number columns as one structured array, each text column as a kind per row
(none, text, bytes) and its values joined by NUL. :mod:`cache_files` has the rules for writing
(new name, flushed, then the JSON replaced; a kill leaves the old copy or the new one).

Opening reads the copy and, in one read snapshot, the photos the change log names since its
entry (that log takes every change of a photo, its predictions and its choice, see
:mod:`~moodtagger.core.catalog.changes`) with their current rows: those rows replace the copy's,
in path order. Many changed photos are written back as a new copy; a change log pruned past the
copy, a copy of another catalog or model, a damaged copy or any error reads everything from the
catalog (and writes a new copy when the library is large).
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from moodtagger.core.catalog import cache_files, changes

FORMAT = 1
MIN_ROWS = 20_000  # smaller libraries are read from the catalog (as fast; no copy to keep)
REWRITE = 5_000  # changed photos from which the merged rows are written as a new copy
KEEP_MODELS = 2  # the copies of this many models (the last written) are kept per catalog
LOG = changes.TABLE
NONE, TEXT, BYTES = 0, 1, 2

Columns = dict[str, np.ndarray]  # one array per column, all of one length; text: dtype object
# read(photo ids or None: all) -> columns of GRID_COLUMNS, missing photos included, path order
Reader = Callable[[Sequence[int] | None], Columns]


def folder(catalog_path: Path) -> Path:
    return cache_files.folder("rows", catalog_path)


def load(
    conn: sqlite3.Connection,
    catalog_path: Path | None,
    model_id: str | None,
    read: Reader,
) -> Columns:
    """Every photo's grid columns (``read``'s), from the copy when there is a current one."""
    uuid = cache_files.catalog_uuid(conn) if catalog_path is not None else None
    if uuid is None or catalog_path is None:
        return read(None)
    where = folder(catalog_path)
    key = model_id or "(newest of any model)"
    meta_path = where / f"{cache_files.stem(key)}.json"
    try:
        meta = json.loads(meta_path.read_text())
        if (meta.get("format"), meta.get("uuid"), meta.get("model")) != (FORMAT, uuid, key):
            raise ValueError("another catalog's or model's copy")
        seq = int(meta["seq"])
        held = _read_copy(where / meta["file"], read)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return _rebuild(conn, where, key, uuid, read)
    try:
        with cache_files.snapshot(conn):
            last, changed = changes.changed_since(conn, LOG, seq)
            if changed is None or len(changed) > max(REWRITE, len(held) // 4):
                return _rebuild(conn, where, key, uuid, read)
            fresh = read(changed) if changed else {}
        if not changed:
            return held
        merged = _merge(held, np.asarray(changed, np.int64), fresh)
        if merged is None:
            return _rebuild(conn, where, key, uuid, read)
        if len(changed) >= REWRITE:
            _keep(where, key, uuid, last, merged)
        return merged
    except (OSError, sqlite3.Error, ValueError):
        return read(None)


def _rebuild(conn: sqlite3.Connection, where: Path, key: str, uuid: str, read: Reader) -> Columns:
    with cache_files.snapshot(conn):
        last = int(changes.log_ends(conn, LOG)[1] or 0)
        records = read(None)
    if _length(records) >= MIN_ROWS:
        _keep(where, key, uuid, last, records)
    return records


def _keep(where: Path, key: str, uuid: str, last: int, records: Columns) -> None:
    """Write the copy; when it cannot be (a full disk, a value no copy holds), the rows are
    still the answer and the next open reads the catalog again."""
    try:
        _write(where, key, uuid, last, records)
    except (OSError, ValueError):
        pass


def _length(columns: Columns) -> int:
    return len(next(iter(columns.values())))


def _merge(held: Columns, changed: np.ndarray, fresh: Columns) -> Columns | None:
    """``held`` with the changed photos' rows replaced by ``fresh`` (their current rows, path
    order), in path order; None when the paths are not all bytes (an old catalog's text
    paths sort differently in SQLite)."""
    paths = fresh["path"].tolist()
    if any(type(p) is not bytes for p in paths):
        return None
    keep = ~np.isin(held["id"], changed)
    keys = held["path"][keep].tolist()
    at = [bisect.bisect_left(keys, p) for p in paths]
    return {c: np.insert(v[keep], at, fresh[c]) for c, v in held.items()}


# --- the file -------------------------------------------------------------------------------


def _write(where: Path, key: str, uuid: str, last: int, records: Columns) -> None:
    arrays = _encode(records)
    where.mkdir(parents=True, exist_ok=True)
    stem = cache_files.stem(key)
    file = where / f"{stem}.{cache_files.new_tag()}.npz"
    try:
        np.savez(file, **arrays)  # type: ignore[arg-type]  # (numpy's stubs: allow_pickle)
        cache_files.fsync([file])
    except (OSError, ValueError):
        file.unlink(missing_ok=True)
        raise
    meta = {"format": FORMAT, "uuid": uuid, "model": key, "seq": last, "file": file.name}
    cache_files.publish(where / f"{stem}.json", meta)
    cache_files.remove_others(where, f"{stem}.*.npz", {file.name})
    _forget_old_models(where, keep=f"{stem}.json")


def _forget_old_models(where: Path, keep: str) -> None:
    """Only the copies of the KEEP_MODELS models written last stay (each `learn` makes a new
    personal model: without this, a copy of every earlier one would stay in the cache)."""
    try:
        metas = sorted(where.glob("*.json"), key=lambda f: f.stat().st_mtime, reverse=True)
    except OSError:
        return
    old = [f for f in metas if f.name != keep][KEEP_MODELS - 1 :]
    for meta in old:
        try:
            meta.unlink()
            for f in where.glob(f"{meta.stem}.*.npz"):
                f.unlink()
        except OSError:
            pass


def _encode(records: Columns) -> dict[str, np.ndarray]:
    """The number columns as they are; each text column as kinds and NUL-joined values (a
    value holding NUL, or neither text nor bytes, is refused: ValueError)."""
    out: dict[str, np.ndarray] = {}
    for c, column in records.items():
        if column.dtype != np.dtype(object):
            out[f"{c}.num"] = np.ascontiguousarray(column)
        else:
            out[f"{c}.kind"], out[f"{c}.text"], out[f"{c}.bytes"] = _encode_text(c, column)
    return out


def _encode_text(name: str, column: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = column.tolist()
    types = set(map(type, values))
    present = types - {type(None)}
    if len(present) <= 1 and present <= {str, bytes}:  # most columns: whole-array steps
        kind = np.where(column == None, NONE, TEXT if str in present else BYTES)  # noqa: E711
    elif present == {str, bytes}:  # paths of an old catalog: text and bytes
        kind = np.array([NONE if v is None else TEXT if type(v) is str else BYTES for v in values])
    else:
        raise ValueError(f"{name}: a value that is neither text nor bytes")

    def sieve(t: type) -> list:  # the values of type t, in order
        if types == {t}:
            return values
        if present == {t}:
            return [v for v in values if v is not None]
        return [v for v in values if type(v) is t]

    text = "\0".join(sieve(str)).encode("utf-8", "surrogatepass") if str in present else b""
    raw = b"\0".join(sieve(bytes)) if bytes in present else b""
    kind = kind.astype(np.int8)
    for k, blob in ((TEXT, text), (BYTES, raw)):
        if blob.count(b"\0") != max(int((kind == k).sum()) - 1, 0):
            raise ValueError(f"{name}: a value holding NUL")
    return kind, np.frombuffer(text, np.uint8), np.frombuffer(raw, np.uint8)


def _read_copy(file: Path, read: Reader) -> Columns:
    """The columns in ``file``, of the types of ``read``'s columns (ValueError: not those)."""
    types = {c: v.dtype for c, v in read([]).items()}  # no photo: only the types
    out: Columns = {}
    with np.load(file, allow_pickle=False) as z:
        for c, dtype in types.items():
            if dtype != np.dtype(object):
                out[c] = z[f"{c}.num"]
                if out[c].dtype != dtype or out[c].ndim != 1:
                    raise ValueError(f"{c}: another type")
                continue
            kind = z[f"{c}.kind"]
            column = out[c] = np.full(len(kind), None, object)
            for k, blob in ((TEXT, z[f"{c}.text"].tobytes()), (BYTES, z[f"{c}.bytes"].tobytes())):
                rows = np.flatnonzero(kind == k)
                if not len(rows):
                    continue
                values = (
                    blob.decode("utf-8", "surrogatepass").split("\0")
                    if k == TEXT
                    else blob.split(b"\0")
                )
                if len(values) != len(rows):
                    raise ValueError(f"{c}: damaged")
                if len(rows) == len(column):
                    column[:] = values
                else:
                    held = np.empty(len(rows), object)
                    held[:] = values
                    column[rows] = held
    if len({len(v) for v in out.values()}) != 1:
        raise ValueError("columns of different lengths")
    return out
