"""Never stale (issue 26.3): what another program changed, found cheaply, for a front end that
stays open. Qt-free; the app adapts it (``gui/controllers/live.py``).

* :class:`CatalogChanges` / :func:`read_changes`: another process's commits (``moodtagger
  choose`` or ``write`` in a terminal). ``PRAGMA data_version`` says whether anyone else
  committed (next to free, so it can be asked twice a second); then only the photos in the
  catalog's change log past the last entry seen are read (:mod:`moodtagger.core.catalog.changes`):
  O(changed rows), at any library size.
* :class:`FolderWatcher`: the library folders (digiKam editing keywords, a copy of new photos),
  watched with ``watchdog`` (inotify on Linux: one watch per folder). Events are folded over a
  short quiet time and handed on as paths (photos, sidecars, folders) from the watcher's own
  thread; the caller scans just those (``Library.refresh(files=...)``). moodtagger's own temp
  files and the rename of one over a photo (a write, by this or another moodtagger process) are
  ignored: the catalog already says what that write changed. At the system's watch limit (or
  ``MOODTAGGER_WATCH_LIMIT`` folders) nothing is watched and :meth:`FolderWatcher.start` says so
  in one sentence: the caller still follows the catalog.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from moodtagger.core import imaging, paths
from moodtagger.core import rows as R
from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata.safefile import TEMP_MARK
from moodtagger.core.walk import SKIP_DIRS

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.3  # quiet time that ends a burst of file events
MAX_DELAY_S = 1.0  # a long burst (a big copy) is still handed on this often
EXIFTOOL_TEMP = "_exiftool_tmp"  # exiftool's own temp file while it edits in place


# --------------------------------------------------------------------------------------------
# the catalog: another process's commits
# --------------------------------------------------------------------------------------------
@dataclass
class Changes:
    """What changed in the catalog since the last look."""

    seq: int  # the newest change-log entry read (the next look starts after it)
    rows: R.Rows = field(default_factory=R.Rows.empty)  # changed photos still shown
    missing_ids: list[int] = field(default_factory=list)  # photos now missing (or gone)
    keywords: dict[int, list[str]] = field(default_factory=dict)  # changed photos' file keywords
    reload: bool = False  # too far behind the log: read every row again

    @property
    def ids(self) -> list[int]:
        return self.rows.ids.tolist() + self.missing_ids


def read_changes(catalog: Catalog, seq: int, model_id: str | None) -> Changes | None:
    """The rows of the photos changed after change-log entry ``seq`` (with ``model_id``'s
    suggestions, as :func:`moodtagger.core.rows.load_rows`), or None when nothing changed."""
    last, ids = catalog.changes.since(seq)
    if ids is None:
        return Changes(last, reload=True)
    if not ids:
        return None if last == seq else Changes(last)
    rows = R.load_rows(catalog, model_id, ids=ids, include_missing=True)
    shown = rows.status != R.MISSING
    gone = set(ids) - set(rows.ids.tolist())
    missing = sorted(set(rows.ids[~shown].tolist()) | gone)
    return Changes(
        last,
        rows.take(np.nonzero(shown)[0]),
        missing,
        catalog.file_keywords.for_ids(ids),
    )


class CatalogChanges:
    """Another process's commits to ``catalog``, looked at on the catalog's own thread."""

    def __init__(self, catalog: Catalog, seq: int | None = None):
        self.catalog = catalog
        self._version = catalog.changes.data_version()
        self.seq = catalog.changes.latest() if seq is None else seq

    def committed(self) -> bool:
        """Whether another connection committed since the last call (PRAGMA data_version)."""
        version = self.catalog.changes.data_version()
        changed, self._version = version != self._version, version
        return changed

    def poll(self, model_id: str | None, *, force: bool = False) -> Changes | None:
        """The changes since the last poll, or None (then nothing was read but one pragma)."""
        if not self.committed() and not force:
            return None
        found = read_changes(self.catalog, self.seq, model_id)
        if found is not None:
            self.seq = found.seq
        return found


# --------------------------------------------------------------------------------------------
# the folders: other programs' file changes
# --------------------------------------------------------------------------------------------
def is_own_temp(path: str) -> bool:
    """A temp file of moodtagger's writer (``.moodtagger-…``) or of exiftool."""
    name = os.path.basename(path)
    return TEMP_MARK in name or name.endswith(EXIFTOOL_TEMP)


def _hidden(path: str, roots: Sequence[str]) -> bool:
    """In a folder the scan skips (hidden, system), or a hidden file."""
    for root in roots:
        if path.startswith(root.rstrip(os.sep) + os.sep):
            rel = os.path.relpath(path, root).split(os.sep)
            return any(part.startswith(".") or os.fsencode(part) in SKIP_DIRS for part in rel)
    return os.path.basename(path).startswith(".")


def _wanted(path: str, is_dir: bool) -> bool:
    if is_dir:
        return True
    return imaging.is_image_path(path) or path.lower().endswith(".xmp")


def watch_limit() -> int | None:
    """``MOODTAGGER_WATCH_LIMIT`` (folders), if set."""
    raw = paths.env(paths.WATCH_LIMIT)
    try:
        return None if raw is None else max(0, int(raw))
    except ValueError:
        return None


def _count_folders(roots: Iterable[str], stop_after: int) -> int:
    n = 0
    stack = list(roots)
    while stack and n <= stop_after:
        folder = stack.pop()
        n += 1
        try:
            with os.scandir(folder) as it:
                stack.extend(
                    e.path
                    for e in it
                    if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
                )
        except OSError:
            continue
    return n


class FolderWatcher:
    """Watch ``roots`` (recursively); ``on_change(paths)`` gets the photos, sidecars and
    folders that changed, folded over ``debounce`` seconds of quiet (at most ``max_delay``
    apart), on the watcher's own thread."""

    def __init__(
        self,
        roots: Iterable[str],
        on_change: Callable[[list[str]], None],
        *,
        debounce: float = DEBOUNCE_S,
        max_delay: float = MAX_DELAY_S,
        limit: int | None = None,
    ):
        self.roots = sorted({os.path.abspath(r) for r in roots}, key=len, reverse=True)
        self.on_change = on_change
        self.debounce = debounce
        self.max_delay = max_delay
        self.limit = watch_limit() if limit is None else limit
        self._observer: Any = None  # watchdog's Observer (imported when watching starts)
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._life = threading.Lock()  # start and stop, one at a time
        self._pending: set[str] = set()
        self._first = self._last = 0.0
        self._stopped = False

    @property
    def watching(self) -> bool:
        return self._observer is not None

    def start(self) -> str | None:
        """Start watching; None, or why the folders are not watched (one sentence). May take
        a while on a big library (a watch per folder): call it off the GUI thread."""
        with self._life:
            if self._stopped:  # stopped before it started (thread-safe with stop())
                return None
            return self._start()

    def _start(self) -> str | None:
        roots = [r for r in self.roots if os.path.isdir(r)]
        if self.limit is not None and _count_folders(roots, self.limit) > self.limit:
            return self._refuse(f"more than {self.limit} folders (MOODTAGGER_WATCH_LIMIT)")
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            return self._refuse("the watchdog package is not installed")
        observer = Observer()
        handler = type("Handler", (_Handler, FileSystemEventHandler), {})(self)
        try:
            for root in roots:
                observer.schedule(handler, root, recursive=True)
            observer.start()
        except OSError as exc:
            try:
                observer.stop()
            except Exception:  # pragma: no cover - it never started
                pass
            if exc.errno in (errno.ENOSPC, errno.EMFILE):
                return self._refuse("the system's limit of watched folders (inotify) is reached")
            return self._refuse(f"watching failed: {exc.strerror or exc}")
        self._observer = observer
        self._thread = threading.Thread(target=self._run, name="moodtagger-watch", daemon=True)
        self._thread.start()
        return None

    def _refuse(self, why: str) -> str:
        text = (
            f"Library folders not watched ({why}): changes by other programs to the catalog "
            "still show; press F5 after changing files"
        )
        log.info("%s", text)
        return text

    def stop(self) -> None:
        """Stop watching and join the threads. Idempotent."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        with self._life:
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(5.0)
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    # -- events (the observer's thread) -> batches (the watcher's thread) -----------------------
    def add(self, path: str, is_dir: bool) -> None:
        if is_own_temp(path) or _hidden(path, self.roots) or not _wanted(path, is_dir):
            return
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._last = now
            self._pending.add(path)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                while not self._stopped:
                    deadline = min(self._last + self.debounce, self._first + self.max_delay)
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopped:
                    return
                batch = sorted(self._pending)
                self._pending.clear()
            try:
                self.on_change(batch)
            except Exception:  # a broken receiver must not stop the watching
                log.exception("handing on changed files")


class _Handler:
    """Turns watchdog's events into paths (mixed into watchdog's FileSystemEventHandler when
    watching starts: the module imports without watchdog)."""

    def __init__(self, watcher: FolderWatcher):
        self.watcher = watcher

    def dispatch(self, event) -> None:
        kind = event.event_type
        src = os.fsdecode(event.src_path)
        if kind == "moved":
            if TEMP_MARK in os.path.basename(src):  # moodtagger renamed its verified temp file
                return  # over the photo: the catalog already says what that write changed
            self.watcher.add(src, event.is_directory)
            self.watcher.add(os.fsdecode(event.dest_path), event.is_directory)
        elif kind in ("created", "deleted") or (
            kind in ("modified", "closed") and not event.is_directory
        ):
            self.watcher.add(src, event.is_directory)
