"""Scanning just the paths a folder watcher saw change (issue 26.3): photos, XMP sidecars and
folders, instead of walking whole library roots. The same rules as :func:`moodtagger.core.scanner.scan`
(the identity rule, sidecar signatures, missing and moved photos, decode once), sorted against
the catalog path by path: the work is O(changed paths), whatever the library's size.

A photo path that exists is new or changed (or unchanged: nothing happens); one that does not is
missing; a sidecar stands for the photos beside it with its name; a folder is walked like a
small root (its photos and everything the catalog knows under it). Paths under no library root,
hidden or system folders, and files that are not photos are left alone.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from moodtagger.core import imaging
from moodtagger.core.catalog import Catalog, KnownPhoto, ProgressFn
from moodtagger.core.scanner import (
    ScanSummary,
    _Listing,
    _store_listing,
    _transient,
)
from moodtagger.core.walk import SKIP_DIRS, same_file_state, sidecar_signature, walk

if TYPE_CHECKING:
    from moodtagger.core.metadata.exiftool import ExifToolService


def scan_paths(
    catalog: Catalog,
    paths: Iterable[str | os.PathLike[str]],
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    on_stored: Callable[[list[int]], None] | None = None,
    model: imaging.Preprocess | None = None,
    on_inputs: Callable[[list[tuple[int, np.ndarray]]], None] | None = None,
    exiftool: ExifToolService | None = None,
) -> ScanSummary:
    """:func:`~moodtagger.core.scanner.scan` of just ``paths`` (see the module docstring);
    holds the catalog's writer lock like it."""
    with catalog.writer_lock():
        t0 = time.perf_counter()
        summary = ScanSummary()
        found = _list_paths(catalog, paths, summary)
        return _store_listing(
            catalog,
            found,
            summary,
            t0,
            progress=progress,
            cancel=cancel,
            workers=None,
            thumbnails=True,
            on_stored=on_stored,
            model=model if on_inputs is not None else None,
            on_inputs=on_inputs,
            exiftool=exiftool,
        )


def _root_of(roots: list[tuple[int, bytes]], path: bytes) -> tuple[int, bytes] | None:
    for rid, prefix in roots:  # longest first
        if path.startswith(prefix):
            return rid, prefix
    return None


def _skipped(path: bytes, prefix: bytes) -> bool:
    parts = path[len(prefix) :].split(b"/")
    return any(p.startswith(b".") or p in SKIP_DIRS for p in parts)


def _photos_of_sidecar(path: bytes) -> list[bytes]:
    """The photos an XMP sidecar belongs to: ``IMG_1.xmp`` -> ``IMG_1.*``, ``IMG_1.CR2.xmp`` ->
    ``IMG_1.CR2`` (those that exist, or that the catalog may know)."""
    base = path[: -len(b".xmp")]
    folder = os.path.dirname(base) or b"."
    stem = os.path.basename(base)
    out = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                name = e.name
                if imaging.is_image_path(name) and (
                    name == stem or os.path.splitext(name)[0].lower() == stem.lower()
                ):
                    out.append(e.path)
    except OSError:
        pass
    return out or [base]


def _list_paths(
    catalog: Catalog, paths: Iterable[str | os.PathLike[str]], summary: ScanSummary
) -> _Listing:
    found = _Listing()
    roots = sorted(
        ((rid, os.fsencode(p).rstrip(b"/") + b"/") for rid, p in catalog.photos.roots()),
        key=lambda r: len(r[1]),
        reverse=True,
    )
    files: dict[bytes, None] = {}
    folders: dict[bytes, None] = {}
    for p in paths:
        raw = os.fsencode(os.path.abspath(os.fspath(p)))
        if raw.lower().endswith(b".xmp"):
            files.update(dict.fromkeys(_photos_of_sidecar(raw)))
        elif os.path.isdir(raw):
            folders[raw.rstrip(b"/") + b"/"] = None
        elif imaging.is_image_path(raw):
            files[raw] = None
        else:  # a folder that vanished: everything the catalog knows under it
            folders[raw.rstrip(b"/") + b"/"] = None
    assigned: set[tuple[int, bytes]] = set()
    for folder in folders:
        where = _root_of(roots, folder)
        if where is None or _skipped(folder, where[1]):
            continue
        known = {r.path: r for r in catalog.photos.known_under(folder)}
        listed: set[bytes] = set()
        sidecars: dict[bytes, os.stat_result] = {}
        if os.path.isdir(folder):
            for path, st in walk(folder.rstrip(b"/"), sidecars=sidecars):
                listed.add(path)
                _sort(found, summary, path, st, known.get(path), sidecar_signature(path, sidecars))
        found.vanished.extend(
            r.id for path, r in known.items() if path not in listed and r.status != "missing"
        )
        files = {f: None for f in files if not f.startswith(folder)}
        assigned.add((where[0], folder))
    for path in files:
        where = _root_of(roots, path)
        if where is None or _skipped(path, where[1]):
            continue
        row = catalog.photos.known_at(path)
        try:
            st = os.stat(path)
        except OSError:
            if row is not None and row.status != "missing":
                found.vanished.append(row.id)
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        _sort(found, summary, path, st, row, sidecar_signature(path, None))
        folder = os.path.dirname(path) + b"/"
        assigned.add((where[0], folder))
    found.root_prefixes.extend(sorted(assigned))
    return found


def _sort(
    found: _Listing,
    summary: ScanSummary,
    path: bytes,
    st: os.stat_result,
    row: KnownPhoto | None,
    sig: str | None,
) -> None:
    """One file against what the catalog knows of it (or None): as the scan sorts it."""
    if row is None:
        found.todo.append((path, st.st_size, st.st_mtime_ns, None, sig, st.st_ctime_ns))
        return
    status = row.status
    if status == "error" and _transient(row.error):
        status = "retry"
    if same_file_state(row.size, row.mtime_ns, row.ctime_ns, st) and status in ("ok", "error"):
        if row.ctime_ns is None:
            found.ctimes.append((st.st_ctime_ns, row.id))
        if sig != row.sidecar_sig and status == "ok":
            found.sidecar_changed.append((sig, row.id))
        else:
            summary.unchanged += 1
    else:
        found.todo.append((path, st.st_size, st.st_mtime_ns, row.id, sig, st.st_ctime_ns))
