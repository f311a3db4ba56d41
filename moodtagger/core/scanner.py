"""Incremental library scanner.

A rescan of an unchanged library costs one ``stat`` per file plus one batched catalog read per
root: nothing is opened or decoded. New and changed files are decoded in a thread pool (Pillow
releases the GIL while decoding) to get dimensions, orientation, a content identity and the
grid thumbnail. Files that vanished are marked ``missing`` and found again when they come back;
a file that moved keeps its predictions and choices (matched by content identity).
When the caller predicts next (``Library.refresh``), the same decode also yields the model input
(``scan(model=..., on_inputs=...)``): each new photo is decoded once, not once per use.

Paths are bytes end to end, so names that are not valid UTF-8 or contain newlines survive.
Bad files become per-file errors in the catalog; they never stop a scan.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from moodtagger.core import catalog as C
from moodtagger.core import imaging
from moodtagger.core.catalog import Catalog, KnownPhoto, PhotoRow, ProgressFn, ScannedFile
from moodtagger.core.catalog.records import outermost
from moodtagger.core.errors import FileError
from moodtagger.core.walk import _os_error, same_file_state, sidecar_signature, walk

if TYPE_CHECKING:
    from moodtagger.core.metadata.exiftool import ExifToolService

BATCH = 256
INPUT_BATCH = 32  # with model inputs (decode once): committed and handed on this often
STORE_INTERVAL = 0.3  # with on_stored: commit (and report) at least this often, in seconds
PERMISSION_DENIED = "permission denied"
VANISHED = "file vanished before it could be read"


@dataclass
class ScanSummary:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    missing: int = 0
    moved: int = 0
    found_again: int = 0
    metadata_changed: int = 0  # same image data, new metadata (or sidecar): keywords re-read
    errors: list[FileError] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)  # new/changed/moved photos, decoded ok
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def nothing_changed(self) -> bool:
        return not (
            self.new
            or self.changed
            or self.missing
            or self.moved
            or self.found_again
            or self.metadata_changed
            or self.errors
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "missing": self.missing,
            "moved": self.moved,
            "found_again": self.found_again,
            "metadata_changed": self.metadata_changed,
            "errors": [{"path": p, "error": e} for p, e in self.errors],
            "seconds": round(self.seconds, 3),
            "cancelled": self.cancelled,
        }


# ------------------------------------------------------------------------------------------


_TRANSIENT = (PERMISSION_DENIED, VANISHED, "cannot read file")


def _transient(error: str | None) -> bool:
    """Errors that may go away without the file changing (fixed permissions, a remount)."""
    return error is not None and error.startswith(_TRANSIENT)


def _collect(into: list[tuple[bytes, str]]) -> Callable[[bytes, str], None]:
    return lambda path, error: into.append((path, error))


def content_identity(path: bytes | str, size: int) -> str | None:
    """The identity from the image data alone (JPEG scan data, PNG IDAT, WebP VP8), or None for
    formats whose data is not read directly (then :func:`inspect_file` hashes the pixels)."""
    with imaging.open_regular(path) as fh:
        return imaging.data_fingerprint(fh, size)


def _identity(data_fp: str | None, info: imaging.OpenedImage) -> str:
    """The photo's identity: its image data plus the orientation it is shown in (a rotation
    is a change of what the model sees; a keyword edit is not)."""
    return _identity_of(data_fp or imaging.pixel_fingerprint(info.image), info.orientation)


def _identity_of(fingerprint: str, orientation: int) -> str:
    return hashlib.blake2b(f"{fingerprint}:{orientation}".encode(), digest_size=16).hexdigest()


def still_scanned(path: str | bytes, photo: PhotoRow) -> bool:
    """Whether the file at ``path`` is still the photo the catalog scanned as ``photo`` — the
    scanner's identity rule: the fingerprint of its image data where the format has one (JPEG,
    PNG, WebP; a keyword edit by any tool keeps it), else its size, mtime and ctime. Reads a few
    hundred KiB at most, no decoding; raises OSError when the file cannot be read."""
    st = os.stat(path)
    if photo.identity and not imaging.is_raw(os.fsdecode(path)):
        try:
            fp = content_identity(path, st.st_size)
        except imaging.ImageError:
            fp = None
        if fp is not None:
            return _identity_of(fp, photo.orientation or 1) == photo.identity
    return same_file_state(photo.size, photo.mtime_ns, photo.ctime_ns, st)


_Result = ScannedFile  # what inspect_file returns (stored by Catalog.photos.store_scanned)


def inspect_file(
    path: bytes,
    size: int,
    mtime_ns: int,
    *,
    thumbnails: bool = True,
    exiftool: ExifToolService | None = None,
) -> _Result:
    """Decode one file: identity, dimensions, orientation, thumbnail (cached). Never raises."""
    return inspect_with_model_input(path, size, mtime_ns, thumbnails=thumbnails, exiftool=exiftool)[
        0
    ]


def inspect_with_model_input(
    path: bytes,
    size: int,
    mtime_ns: int,
    *,
    thumbnails: bool = True,
    model: imaging.Preprocess | None = None,
    exiftool: ExifToolService | None = None,
) -> tuple[_Result, np.ndarray | None]:
    """:func:`inspect_file`, and from the same decode the model input for ``model`` (its
    registry preprocessing), pixel for pixel what ``engine.prepare_file`` gives. Never raises;
    the input is None when the file could not be decoded or no ``model`` was asked for.
    ``exiftool`` reads RAW previews (the Library's long-lived one)."""
    res = _Result(path, size, mtime_ns)
    model_input = None
    try:
        if size == 0:
            raise imaging.ImageError("empty file (0 bytes)")
        data_fp = None if imaging.is_raw(os.fsdecode(path)) else content_identity(path, size)
        decoded = imaging.decode(
            os.fsdecode(path), model=model, make_thumbnail=thumbnails, exiftool=exiftool
        )
        info = decoded.info
        res.identity = _identity(data_fp, info)
        res.width, res.height, res.orientation, res.format = (
            info.width,
            info.height,
            info.orientation,
            info.format,
        )
        res.taken_at, res.taken_from = info.taken_at, info.taken_from
        model_input = decoded.model_input
        if decoded.thumb is not None:
            try:
                imaging.save_thumbnail(res.identity, decoded.thumb)
            except OSError:
                pass  # an unwritable cache costs speed, not correctness
    except imaging.ImageError as exc:
        res.error = str(exc)
    except FileNotFoundError:
        res.error = VANISHED
    except PermissionError:
        res.error = PERMISSION_DENIED
    except OSError as exc:
        res.error = f"cannot read file: {_os_error(exc)}"
    except Exception as exc:  # a decoder bug must not stop the scan
        res.error = f"unexpected error while decoding: {exc!r}"
    return res, (model_input if res.error is None else None)


# ------------------------------------------------------------------------------------------
def scan(
    catalog: Catalog,
    roots: Iterable[str | os.PathLike[str] | bytes],
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    workers: int | None = None,
    thumbnails: bool = True,
    on_stored: Callable[[list[int]], None] | None = None,
    model: imaging.Preprocess | None = None,
    on_inputs: Callable[[list[tuple[int, np.ndarray]]], None] | None = None,
    exiftool: ExifToolService | None = None,
) -> ScanSummary:
    """Index ``roots`` into ``catalog`` incrementally; see the module docstring.

    ``on_stored(ids)`` is called after each committed batch with the ids of the photos it
    added or changed (errors included), so a front end can refresh exactly those rows.

    With ``model`` (a model's registry preprocessing) and ``on_inputs``, the decode that makes
    each thumbnail also makes the model input, and ``on_inputs([(photo_id, input), ...])``
    gets them after each committed batch (decode once: the caller predicts from them; nothing
    holds them afterwards, so memory stays bounded by a batch). ``exiftool`` reads RAW
    previews (without one, each RAW file starts an exiftool of its own).

    Holds the catalog's writer lock (one scan or write per catalog at a time, across
    processes: a second one waits)."""
    with catalog.writer_lock():
        return _scan(
            catalog,
            roots,
            progress=progress,
            cancel=cancel,
            workers=workers,
            thumbnails=thumbnails,
            on_stored=on_stored,
            model=model if on_inputs is not None else None,
            on_inputs=on_inputs,
            exiftool=exiftool,
        )


@dataclass
class _Listing:
    """What the walk of the roots found, before anything is decoded."""

    # path, size, mtime_ns, id, sidecar sig, ctime_ns: new or changed files, to decode
    todo: list[tuple[bytes, int, int, int | None, str | None, int]] = field(default_factory=list)
    ctimes: list[tuple[int, int]] = field(default_factory=list)  # (ctime_ns, id): older catalog
    sidecar_changed: list[tuple[str | None, int]] = field(default_factory=list)  # only the XMP
    vanished: list[int] = field(default_factory=list)
    root_prefixes: list[tuple[int, bytes]] = field(default_factory=list)  # filed after storing


def _scan(
    catalog: Catalog,
    roots: Iterable[str | os.PathLike[str] | bytes],
    *,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
    workers: int | None,
    thumbnails: bool,
    on_stored: Callable[[list[int]], None] | None = None,
    model: imaging.Preprocess | None = None,
    on_inputs: Callable[[list[tuple[int, np.ndarray]]], None] | None = None,
    exiftool: ExifToolService | None = None,
) -> ScanSummary:
    """The scan in three steps: list the roots against the catalog, record what needs no
    decode (ctimes, edited sidecars, vanished files), then decode and store the rest."""
    t0 = time.perf_counter()
    summary = ScanSummary()
    found = _list_roots(catalog, roots, cancel, summary)
    return _store_listing(
        catalog,
        found,
        summary,
        t0,
        progress=progress,
        cancel=cancel,
        workers=workers,
        thumbnails=thumbnails,
        on_stored=on_stored,
        model=model,
        on_inputs=on_inputs,
        exiftool=exiftool,
    )


def _store_listing(
    catalog: Catalog,
    found: _Listing,
    summary: ScanSummary,
    t0: float,
    *,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
    workers: int | None,
    thumbnails: bool,
    on_stored: Callable[[list[int]], None] | None,
    model: imaging.Preprocess | None,
    on_inputs: Callable[[list[tuple[int, np.ndarray]]], None] | None,
    exiftool: ExifToolService | None,
) -> ScanSummary:
    """Steps two and three of a scan, for a listing of roots (:func:`_list_roots`) or of
    single paths (``core/rescan.py``): record what needs no decode, decode and store the rest."""
    _record_undecoded(catalog, found, summary, on_stored)
    if found.todo:
        _decode_and_store(
            catalog,
            found,
            summary,
            progress=progress,
            cancel=cancel,
            workers=workers,
            thumbnails=thumbnails,
            on_stored=on_stored,
            model=model,
            on_inputs=on_inputs,
            exiftool=exiftool,
        )
    elif progress:
        progress(0, 0)
    for root_id, prefix in found.root_prefixes:  # a root with nothing new: its old unfiled photos
        catalog.photos.assign_root(root_id, prefix)
    summary.missing = max(0, len(found.vanished) - summary.moved)
    summary.seconds = time.perf_counter() - t0
    return summary


def _list_roots(
    catalog: Catalog,
    roots: Iterable[str | os.PathLike[str] | bytes],
    cancel: threading.Event | None,
    summary: ScanSummary,
) -> _Listing:
    """Walk ``roots`` and sort every file against what the catalog knows under it: new or
    changed (to decode), unchanged, only its sidecar changed, or vanished."""
    found = _Listing()
    todo, ctimes, sidecar_changed = found.todo, found.ctimes, found.sidecar_changed
    vanished, root_prefixes = found.vanished, found.root_prefixes
    walked = [
        os.fsencode(os.path.abspath(os.fsdecode(root) if isinstance(root, bytes) else root))
        for root in roots
    ]
    for root_b in outermost(walked):  # a folder inside another one is walked once, with it
        if not os.path.isdir(root_b):
            summary.errors.append(FileError(os.fsdecode(root_b), "not a folder, or not readable"))
            continue
        root_id = catalog.photos.add_root(os.fsdecode(root_b))
        prefix = root_b.rstrip(b"/") + b"/"
        # one batched read of everything the catalog knows under this root
        known: dict[bytes, KnownPhoto] = {
            r.path: r._replace(status="retry") if r.status == "error" and _transient(r.error) else r
            for r in catalog.photos.known_under(prefix)
        }
        folder_errors: list[tuple[bytes, str]] = []
        sidecars: dict[bytes, os.stat_result] = {}
        for path, st in walk(root_b, on_error=_collect(folder_errors), sidecars=sidecars):
            if cancel is not None and cancel.is_set():
                summary.cancelled = True
                break
            row = known.pop(path, None)
            sig = sidecar_signature(path, sidecars) if sidecars else None
            if row is None:
                todo.append((path, st.st_size, st.st_mtime_ns, None, sig, st.st_ctime_ns))
            elif same_file_state(row.size, row.mtime_ns, row.ctime_ns, st) and row.status in (
                "ok",
                "error",
            ):
                if row.ctime_ns is None:
                    ctimes.append((st.st_ctime_ns, row.id))
                if sig != row.sidecar_sig and row.status == "ok":
                    sidecar_changed.append((sig, row.id))  # another tool edited the sidecar
                else:
                    summary.unchanged += 1
            else:
                todo.append((path, st.st_size, st.st_mtime_ns, row.id, sig, st.st_ctime_ns))
        for p, e in folder_errors:
            summary.errors.append(FileError(os.fsdecode(p), e))
        if not summary.cancelled:
            # photos under a folder we could not list are not gone, just unreachable right now
            blocked = tuple(p.rstrip(b"/") + b"/" for p, _ in folder_errors)
            vanished.extend(
                r.id
                for path, r in known.items()
                if r.status != "missing" and not (blocked and path.startswith(blocked))
            )
        root_prefixes.append((root_id, prefix))
    return found


def _record_undecoded(
    catalog: Catalog,
    found: _Listing,
    summary: ScanSummary,
    on_stored: Callable[[list[int]], None] | None,
) -> None:
    """Store what needs no decode: ctimes of an older catalog, sidecars another tool edited,
    vanished files (marked missing; they may turn out to be moves)."""
    ctimes, sidecar_changed, vanished = found.ctimes, found.sidecar_changed, found.vanished
    if ctimes:
        catalog.photos.set_ctimes(ctimes)
    if sidecar_changed:
        catalog.photos.set_sidecar_sigs(sidecar_changed)
        if on_stored is not None:
            on_stored([i for _, i in sidecar_changed])
        summary.metadata_changed += len(sidecar_changed)
        summary.updated_ids.extend(i for _, i in sidecar_changed)

    # vanished files: mark missing (they may turn out to be moves below)
    if vanished:
        catalog.photos.mark_missing(vanished)
        summary.missing = len(vanished)


def _decode_and_store(
    catalog: Catalog,
    found: _Listing,
    summary: ScanSummary,
    *,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
    workers: int | None,
    thumbnails: bool,
    on_stored: Callable[[list[int]], None] | None,
    model: imaging.Preprocess | None,
    on_inputs: Callable[[list[tuple[int, np.ndarray]]], None] | None,
    exiftool: ExifToolService | None,
) -> None:
    """Decode the new and changed files in a thread pool (bounded look-ahead) and store them
    in batches, handing on each batch's ids (``on_stored``) and model inputs (``on_inputs``)."""
    todo, root_prefixes = found.todo, found.root_prefixes
    total = len(todo)
    if progress:
        progress(0, total)
    if total:
        n_workers = workers or min(8, (os.cpu_count() or 2) + 2)
        with ThreadPoolExecutor(n_workers, thread_name_prefix="moodtagger-scan") as pool:
            pending: list[tuple[_Result, int | None]] = []
            inputs: list[np.ndarray | None] = []
            done = 0
            # with model inputs, hand them on in small batches: the model works while the
            # pool decodes ahead, and few inputs are held at once
            flush_at = INPUT_BATCH if on_inputs is not None else BATCH

            def results() -> Iterator[tuple[tuple[_Result, np.ndarray | None], int | None]]:
                # bounded look-ahead keeps memory flat and lets cancel act quickly
                window = n_workers * 4
                futures = []
                it = iter(todo)
                for item in it:
                    futures.append(
                        (pool.submit(_inspect, item, thumbnails, model, exiftool), item[3])
                    )
                    if len(futures) >= window:
                        break
                while futures:
                    fut, existing = futures.pop(0)
                    yield fut.result(), existing
                    if cancel is not None and cancel.is_set():
                        for f, _ in futures:
                            f.cancel()
                        return
                    nxt = next(it, None)
                    if nxt is not None:
                        futures.append(
                            (pool.submit(_inspect, nxt, thumbnails, model, exiftool), nxt[3])
                        )

            def store(batch: list[tuple[_Result, int | None]]) -> list[int]:
                ids = _store(catalog, batch, summary)
                for root_id, prefix in root_prefixes:  # new photos belong to their folder at once
                    catalog.photos.assign_root(root_id, prefix)
                if on_inputs is not None:
                    ready = [(i, x) for i, x in zip(ids, inputs, strict=True) if x is not None]
                    inputs.clear()
                    if ready:
                        on_inputs(ready)
                return ids

            last_store = time.monotonic()
            for (res, model_input), existing in results():
                pending.append((res, existing))
                inputs.append(model_input)
                done += 1
                if len(pending) >= flush_at or (
                    on_stored is not None and time.monotonic() - last_store >= STORE_INTERVAL
                ):
                    last_store = time.monotonic()
                    stored = store(pending)
                    if on_stored is not None:
                        on_stored(stored)
                    pending = []
                if progress:
                    progress(done, total)
            stored = store(pending)
            if on_stored is not None and stored:
                on_stored(stored)
            if cancel is not None and cancel.is_set() and done < total:
                summary.cancelled = True


def _inspect(
    item: tuple[bytes, int, int, int | None, str | None, int],
    thumbnails: bool,
    model: imaging.Preprocess | None,
    exiftool: ExifToolService | None = None,
) -> tuple[_Result, np.ndarray | None]:
    res, model_input = inspect_with_model_input(
        item[0], item[1], item[2], thumbnails=thumbnails, model=model, exiftool=exiftool
    )
    res.sidecar_sig = item[4]
    res.ctime_ns = item[5]
    return res, model_input


def _store(
    catalog: Catalog, batch: list[tuple[_Result, int | None]], summary: ScanSummary
) -> list[int]:
    """Store one batch; count what happened in ``summary``; return every photo id stored."""
    if not batch:
        return []
    stored = catalog.photos.store_scanned(batch)
    for (res, _existing), (photo_id, what) in zip(batch, stored, strict=True):
        if what == C.MOVED:
            summary.moved += 1
            summary.updated_ids.append(photo_id)
            continue
        if what == C.NEW:
            summary.new += 1
        elif what == C.FOUND_AGAIN:
            summary.found_again += 1
        elif what == C.METADATA_CHANGED:
            # only the metadata changed (a keyword edit, our own write): the current
            # prediction stays current; the keywords are read again
            summary.metadata_changed += 1
        else:
            summary.changed += 1
        if res.error:
            summary.errors.append(FileError(os.fsdecode(res.path), res.error))
        else:
            summary.updated_ids.append(photo_id)
    return [pid for pid, _ in stored]


def photos_by_ids(catalog: Catalog, ids: list[int]) -> list[PhotoRow]:
    out: list[PhotoRow] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        out.extend(p for p in (catalog.photos.by_id(x) for x in chunk) if p is not None)
    return out


def add_files(
    catalog: Catalog,
    paths: Iterable[str | os.PathLike[str]],
    *,
    exiftool: ExifToolService | None = None,
) -> tuple[list[PhotoRow], list[FileError]]:
    """Make sure single files are in the catalog (index them if new or changed, no folder walk).
    ``exiftool`` reads RAW previews.

    Returns the photo rows (in input order, for files that exist) and (path, error) pairs.
    """
    rows: list[PhotoRow] = []
    errors: list[FileError] = []
    summary = ScanSummary()
    for p in paths:
        path = os.path.abspath(os.fspath(p))
        try:
            st = os.stat(path)
        except OSError as exc:
            errors.append(
                FileError(
                    path, "file not found" if isinstance(exc, FileNotFoundError) else _os_error(exc)
                )
            )
            continue
        if not os.path.isfile(path):
            errors.append(FileError(path, "not a regular file"))
            continue
        known = catalog.photos.by_path(path)
        if known is None or not same_file_state(known.size, known.mtime_ns, known.ctime_ns, st):
            res = inspect_file(os.fsencode(path), st.st_size, st.st_mtime_ns, exiftool=exiftool)
            res.sidecar_sig = sidecar_signature(os.fsencode(path), None)
            res.ctime_ns = st.st_ctime_ns
            _store(catalog, [(res, known.id if known else None)], summary)
            known = catalog.photos.by_path(path)
        if known is not None:
            rows.append(known)
    return rows, errors
