"""Never stale (issue 26.3): the window follows what other programs change, without a restart.

The core does the finding (:mod:`moodtagger.core.watch`); this adapts it to the window:

* every :attr:`LiveUpdates.POLL_MS` the GUI thread asks its catalog connection whether anyone
  else committed (``PRAGMA data_version``: microseconds). Only then the ``live`` lane (its own
  thread and catalog connection) reads the rows changed since the last look
  (:func:`~moodtagger.core.watch.read_changes`: O(changed rows)) and :meth:`LiveUpdates.apply`
  merges them into the grid's model: ``dataChanged`` for just those rows, new rows inserted,
  missing ones removed, their file keywords (search) updated;
* a :class:`~moodtagger.core.watch.FolderWatcher` (started on the lane: adding the watches
  walks the folders) hands the files other programs changed to the GUI thread through a
  queued signal; the library lane then scans just those (``Library.refresh(files=...)``),
  and the rows it changed arrive as for any refresh;
* F5 (:meth:`LiveUpdates.poll` with ``force``) reads the catalog's changes too, watching or not.

Nothing here blocks the GUI thread: the only work on it is the pragma and the merge.
"""

from __future__ import annotations

import logging
from functools import partial

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from moodtagger.core.catalog import Catalog
from moodtagger.core.watch import Changes, FolderWatcher, read_changes
from moodtagger.gui.jobs import Job, JobRunner

log = logging.getLogger(__name__)


def _read(job: Job, catalog_path: str, seq: int, model_id: str | None) -> Changes | None:
    with Catalog(catalog_path, readonly=True) as cat:
        return read_changes(cat, seq, model_id)


def _watch(job: Job, watcher: FolderWatcher) -> str | None:
    return watcher.start()


class LiveUpdates(QObject):
    """Keeps the grid's rows current with other programs' changes (see the module doc)."""

    changed = Signal(object, int)  # Changes (merged into the model), how many rows are new
    reloadNeeded = Signal()  # too far behind the catalog's change log: read every row again
    filesChanged = Signal(object)  # paths a watcher saw change (the library lane scans them)
    message = Signal(str)  # one line for the status bar
    _files = Signal(object)  # from the watcher's thread, delivered on the GUI thread

    POLL_MS = 500

    def __init__(self, catalog_path: str, catalog: Catalog, model, model_id, parent=None):
        super().__init__(parent)
        self.catalog_path = catalog_path
        self.catalog = catalog  # the GUI thread's connection: only the pragma and the log's end
        self.model = model
        self.model_id = model_id  # callable: the model whose suggestions the grid shows
        self.lane = JobRunner("live", 1, nice=5, parent=self)
        self.timer = QTimer(self, interval=self.POLL_MS, timeout=self.poll)
        self.seq: int | None = None
        self._version = -1
        self._job: Job | None = None
        self._again = False
        self.watcher: FolderWatcher | None = None
        self._watchers: list[FolderWatcher] = []  # every one made (each stopped on closing)
        self._watch_job: Job | None = None
        self._said_why = False
        self.closed = False
        self._files.connect(self._on_files)

    @property
    def watching(self) -> bool:
        return self.watcher is not None and self.watcher.watching

    def begin(self) -> None:
        """Mark where the catalog stands before the rows are read (every change after this is
        read again once they are in)."""
        self.seq = self.catalog.changes.latest()
        self._version = self.catalog.changes.data_version()

    def start(self, roots: list[str]) -> None:
        """Follow the catalog and watch ``roots`` (the rows are in the model)."""
        if self.closed:
            return
        if not self.timer.isActive():
            self.timer.start()
        if not self._watchers:  # not again when the rows are read again (learning)
            self.watch(roots)

    def watch(self, roots: list[str]) -> None:
        """Watch these library folders (instead of any watched before), on the lane."""
        self._stop_watching()
        if self.closed or not roots:
            return
        watcher = FolderWatcher(roots, self._files.emit)
        self._watchers.append(watcher)
        self._watch_job = self.lane.submit(
            partial(_watch, watcher=watcher),
            on_done=partial(self._watching, watcher),
            label="watch folders",
        )

    def _watching(self, watcher: FolderWatcher, why: str | None, error) -> None:
        self._watch_job = None
        if error is not None or why is not None:
            watcher.stop()
            if not self._said_why:  # said once, not at every folder added
                self._said_why = True
                self.message.emit(why or f"Library folders not watched: {error}")
            return
        if self.closed or watcher not in self._watchers:  # replaced or closed meanwhile
            watcher.stop()
            return
        self.watcher = watcher

    @Slot(object)
    def _on_files(self, paths: list[str]) -> None:
        if not self.closed and self.watcher is not None:
            self.filesChanged.emit(paths)

    # -- the catalog ------------------------------------------------------------------------------
    def poll(self, force: bool = False) -> None:
        """Read the rows another connection changed, if one committed (``force``: look anyway)."""
        if self.closed or self.seq is None:
            return
        version = self.catalog.changes.data_version()
        if version == self._version and not force:
            return
        self._version = version
        if self._job is not None:  # look again when this read is in
            self._again = True
            return
        self._job = self.lane.submit(
            partial(_read, catalog_path=self.catalog_path, seq=self.seq, model_id=self.model_id()),
            on_done=self._read,
            label="read changes",
        )

    def _read(self, changes: Changes | None, error: BaseException | None) -> None:
        self._job = None
        if error is not None:
            log.warning("reading the catalog's changes failed: %s", error)
        elif changes is not None:
            self.seq = changes.seq
            if changes.reload:
                self.reloadNeeded.emit()
            else:
                self.apply(changes)
        if self._again:
            self._again = False
            self.poll(force=True)

    def apply(self, changes: Changes) -> None:
        """Merge the changed rows into the model (only their roles are announced)."""
        model = self.model
        if changes.missing_ids:
            model.remove_ids(changes.missing_ids)
        new = sum(model.row_of(pid) is None for pid in changes.rows.ids.tolist())
        model.merge(changes.rows)
        kws = changes.keywords
        model.update_keywords({pid: kws.get(pid, []) for pid in changes.ids})
        self.changed.emit(changes, new)

    # -- closing ----------------------------------------------------------------------------------
    def _stop_watching(self) -> None:
        if self._watch_job is not None:
            self._watch_job.cancel.set()
        for watcher in self._watchers:  # one still starting stops when it has started
            watcher.stop()
        self._watchers.clear()
        self.watcher = None

    def stop(self) -> None:
        """No more looking by itself (F5 still reads the catalog's changes)."""
        self.timer.stop()
        self._stop_watching()

    def shutdown(self) -> None:
        self.closed = True
        self.timer.stop()
        self.lane.cancel_all()
        self.lane.shutdown()  # a watcher starting on it has started: now each one stops
        self._stop_watching()
