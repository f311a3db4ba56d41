"""Library and queue control: the ``library`` lane's work for the window.

One lane (one low-priority thread, see :mod:`moodtagger.gui.jobs`) runs, in order: refreshes
(:meth:`moodtagger.core.library.Library.refresh`: scan -> keywords -> predict, the call behind
``moodtagger scan``) and learning (``moodtagger learn``). The lane's thread owns the mood model
(:class:`~moodtagger.gui.controllers.pipeline.ModelOwner`). A scan asked for while one runs is
queued and merged with any other queued folders. Opening the catalog (every row) runs on a lane
of its own beside it; what a refresh reports while rows load is held until they are shown.

:class:`LibraryController` knows which models count (:attr:`base_model_id` decodes and predicts,
:attr:`model_id` is the one whose suggestions the grid shows: the personal model learnt on top of
it, when one is in use) and reports through signals; the window shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QObject, Signal

from moodtagger.core.catalog import Catalog
from moodtagger.core.library import Library, LibraryError, RefreshResult
from moodtagger.core.moods import display_name
from moodtagger.core.rows import Rows, load_rows
from moodtagger.gui.controllers.pipeline import (
    LearnOutcome,
    LoadedRows,
    ModelOwner,
    learn,
    load_all,
    run_pipeline,
    warm_up,
)
from moodtagger.gui.errors import is_expected
from moodtagger.gui.jobs import Job, JobRunner
from moodtagger.gui.settings import AppSettings

log = logging.getLogger(__name__)


class LibraryController(QObject):
    rowsLoaded = Signal(object)  # Rows: every row (the catalog opened, or reloaded)
    rowsChanged = Signal(object)  # Rows: a refresh batch (new photos, predictions ...)
    rowsMissing = Signal(object)  # photo ids now missing
    busyChanged = Signal(bool, str)  # busy, what it does
    phase = Signal(str)  # a refresh stage starts ("Scanning", "Predicting moods" ...)
    progress = Signal(int, int)  # done, total within the stage
    message = Signal(str)  # one line for the status bar
    crashed = Signal(object)  # an unexpected error (a bug: the crash reporter)
    refreshed = Signal(object)  # RefreshResult, or None when it failed (after any queued scan)
    learnt = Signal(
        object, str, bool
    )  # LearnOutcome or None, why nothing was learnt (or ""), reset

    def __init__(
        self,
        catalog_path: str,
        catalog: Catalog,
        settings: Callable[[], AppSettings],
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.catalog_path = catalog_path
        self.catalog = catalog  # the GUI thread's connection (rows, choices: see ``facade``)
        self.settings = settings
        self.lane = JobRunner("library", 1, nice=10, parent=self)
        # opening the catalog reads every row on a lane of its own, beside the library lane's
        # first refresh (issue 29.3: at 1,000,000 photos each takes seconds); what a refresh
        # reports meanwhile is held and follows the rows, in the order one lane gave
        self.open_lane = JobRunner("open", 1, nice=10, parent=self)
        self._loading = 0  # loads submitted and not done
        self._held: list[Callable[[], None]] = []
        self.prepared: LoadedRows | None = None  # while rowsLoaded is emitted: its extras
        self.model_owner = ModelOwner()
        self.closed = False
        self.last_result: RefreshResult | None = None
        self._refresh_job: Job | None = None
        self._learn_job: Job | None = None
        self._queued_roots: list[str] | None = None
        self._queued_files: set[str] = set()  # changed files a watcher reported meanwhile
        self.last_files = False  # the running (or last) refresh scanned a watcher's files only
        self.resolve_models()

    # -- models ----------------------------------------------------------------------------------
    def resolve_models(self) -> None:
        from moodtagger.core.model import registry

        s = self.settings()
        if s.model_id:
            base = s.model_id
        else:
            try:
                base = registry.default_model_id()
            except (
                registry.ModelError
            ):  # no models folder: grid still works, predictions will say why
                base = registry.DEFAULT_MODEL
        self.base_model_id: str = base
        # the GUI thread's Library (its catalog connection): rows, and every change of choices
        self.facade = Library(self.catalog, base)
        self.facade.model_id = self.facade.model_id or base

    @property
    def model_id(self) -> str:
        """The model whose suggestions the grid shows and Enter accepts."""
        return self.facade.model_id or self.base_model_id

    @model_id.setter
    def model_id(self, value: str) -> None:
        self.facade.model_id = value

    @property
    def learning(self) -> bool:
        """A personal model (learnt from the user's choices) is in use."""
        return self.model_id != self.base_model_id

    @property
    def busy(self) -> bool:
        return self.lane.busy or self.open_lane.busy

    @property
    def refreshing(self) -> bool:
        return self._refresh_job is not None

    # -- rows ------------------------------------------------------------------------------------
    def rows(self, ids=None) -> Rows:
        """Rows read on the GUI thread (a few, after a write; or all: :meth:`reload`)."""
        return load_rows(self.catalog, self.model_id, ids=ids)

    def warm_up(self) -> None:
        s = self.settings()
        self.lane.submit(
            partial(warm_up, model_id=s.model_id or None, device=s.device),
            on_done=self._warmed_up,
            label="warm up",
        )

    def _warmed_up(self, _result, error) -> None:
        if error is not None:  # e.g. torch missing: predicting will say so plainly
            log.warning("warming up the model failed: %s", error)

    def load_async(self) -> None:
        """Every row, read on the lane (scans queue behind it)."""
        self.message.emit("Opening the catalog…")
        self._loading += 1
        self.open_lane.submit(
            partial(load_all, catalog_path=self.catalog_path, model_id=self.model_id),
            on_done=self._loaded,
            label="open catalog",
        )

    def _loaded(self, rows, error) -> None:
        self._loading -= 1
        if error is not None:
            self.message.emit(f"Cannot read the catalog: {error}")
            if not is_expected(error):
                self.crashed.emit(error)
        else:
            self.prepared = rows
            self.rowsLoaded.emit(rows.rows)
            self.prepared = None
        if not self._loading:
            held, self._held = self._held, []
            for report in held:
                report()

    def _after_load(self, report: Callable[[], None]) -> None:
        """Run ``report`` (a refresh's batch or end) now, or after the rows being loaded."""
        if self._loading:
            self._held.append(report)
        else:
            report()

    # -- refresh: scan -> keywords -> predict --------------------------------------------------------
    def scan(
        self, roots: list[str], *, predict: bool = True, files: list[str] | None = None
    ) -> None:
        """Scan ``roots`` (may be empty: just predict what is missing) on the lane; ``files``:
        scan just these paths (a folder watcher's, see :mod:`moodtagger.core.watch`)."""
        if self.closed:
            return
        if self._refresh_job is not None:  # run again when the current one ends
            if files:
                self._queued_files.update(files)
            else:
                self._queued_roots = sorted(set(self._queued_roots or []) | set(roots))
            return
        s = self.settings()
        self.last_files = bool(files)
        self.busyChanged.emit(True, "Reading changed files" if files else "Scanning")
        fn = partial(
            run_pipeline,
            catalog_path=self.catalog_path,
            roots=list(roots),
            files=list(files) if files else None,
            model_id=self.base_model_id,
            device=s.device,
            owner=self.model_owner,
            predict=predict,
            settings=s.write_settings(),
            exiftool=self.facade.exiftool_if_installed(),  # the facade owns it; the lane borrows
        )
        self._refresh_job = self.lane.submit(
            lambda job: fn(job),
            on_batch=lambda item: self._after_load(partial(self._batch, item)),
            on_progress=self.progress.emit,
            on_done=lambda r, e: self._after_load(partial(self._refreshed, r, e)),
            label="scan+predict",
        )

    def _batch(self, item) -> None:
        kind, payload = item
        if kind == "rows":
            self.rowsChanged.emit(payload)
        elif kind == "missing":
            self.rowsMissing.emit(payload)
        elif kind == "phase":
            self.phase.emit(payload)

    def _refreshed(self, result: RefreshResult | None, error: BaseException | None) -> None:
        self._refresh_job = None
        self.last_result = result
        if error is not None:
            if is_expected(error):
                self.message.emit(f"Stopped: {error}")
            else:
                self.message.emit(f"Unexpected error: {error}")
                self.crashed.emit(error)
        elif result is not None:
            self.message.emit(summary_text(result))
        if self._queued_roots is not None and not self.closed:
            roots, self._queued_roots = self._queued_roots, None
            self.scan(roots)
            return
        if self._queued_files and not self.closed:
            files, self._queued_files = sorted(self._queued_files), set()
            self.scan([], files=files)
            return
        self.busyChanged.emit(self._learn_job is not None, "")
        self.refreshed.emit(result)

    def cancel(self) -> None:
        self._queued_roots = None
        self._queued_files = set()
        if self._refresh_job is not None:
            self._refresh_job.cancel.set()
            self.message.emit("Cancelling…")

    # -- learning from the user's choices ----------------------------------------------------------
    def learn(self, *, reset: bool = False) -> bool:
        """``moodtagger learn`` (``--reset``) on the lane, after any scan; False if one runs."""
        if self.closed or self._learn_job is not None:
            return False
        self.busyChanged.emit(
            True, "Going back to the shipped model" if reset else "Learning from your choices"
        )
        self._learn_job = self.lane.submit(
            partial(
                learn, catalog_path=self.catalog_path, base_model_id=self.base_model_id, reset=reset
            ),
            on_progress=self.progress.emit,
            on_done=partial(self._learnt, reset),
            label="learn",
        )
        return True

    def _learnt(
        self, reset: bool, outcome: LearnOutcome | None, error: BaseException | None
    ) -> None:
        self._learn_job = None
        self.busyChanged.emit(self._refresh_job is not None, "")
        why = ""
        if isinstance(error, LibraryError):  # nothing to learn from, no model: said plainly
            why = str(error)
            self.message.emit(why)
        elif error is not None:
            self.message.emit(f"Unexpected error: {error}")
            self.crashed.emit(error)
        if error is None and outcome is not None:
            self.model_id = outcome.model_id or self.base_model_id
            self.message.emit(learn_summary_text(outcome.summary, reset))
        self.learnt.emit(outcome if error is None else None, why, reset)

    def shutdown(self) -> None:
        self.closed = True
        self._held = []
        for lane in (self.open_lane, self.lane):
            lane.cancel_all()
            lane.shutdown()
        self.model_owner.drop()


def summary_text(r: RefreshResult) -> str:
    """One status line: what a refresh did."""
    parts = []
    s = r.scan
    if s is not None:
        if s.nothing_changed:
            parts.append(f"{s.unchanged} photos, nothing changed")
        else:
            parts.append(f"{s.new} new, {s.changed} changed, {s.missing} missing")
    if r.imported:
        parts.append(f"{r.imported} with moods already in the file")
    if r.predict is not None and (r.predict.predicted or r.predict.failed):
        parts.append(f"moods predicted for {r.predict.predicted} in {r.predict.seconds:.1f} s")
    if r.errors:
        parts.append(
            f"{len(r.errors)} file{'s' * (len(r.errors) != 1)} could not be read (filter: Errors)"
        )
    if r.predict_error:
        parts.append(f"moods not predicted: {r.predict_error}")
    if r.import_error:
        parts.append(f"keywords not read: {r.import_error}")
    if r.model_problem:
        parts.append(r.model_problem)
    if r.cancelled:
        parts.append("cancelled")
    return "; ".join(parts) or "Done"


def learn_summary_text(summary, reset: bool) -> str:
    """One line: what learning (or going back) did, in the user's words."""
    n = summary.changed
    changed = f"{n} suggestion{'s' * (n != 1)} changed"
    if reset:
        return f"Back to the shipped model: {changed} back"
    ex = sum(summary.examples.values())
    return (
        f"Learnt from {ex} choice{'s' * (ex != 1)}: {changed} "
        f"(of {summary.predicted:,} photos, {summary.seconds:.1f} s)"
    )


def learn_changes_text(summary, limit: int = 8) -> str:
    """What the suggestions changed to (``Now Awe: 5 …``) and the largest moves (``Fear → Awe: 3``)."""
    lines = []
    if summary.changed:
        lines.append(
            "Now "
            + ", ".join(
                f"{display_name(m)}: {n}"
                for m, n in sorted(summary.changed_to().items(), key=lambda kv: -kv[1])
            )
        )
    lines += [
        f"{display_name(a)} → {display_name(b)}: {n}"
        for (a, b), n in list(summary.changes.items())[:limit]
    ]
    if summary.skipped:
        lines.append(
            f"{summary.skipped} chosen photo{'s' * (summary.skipped != 1)} had no embedding yet "
            "and taught nothing (rescan them)"
        )
    return "\n".join(lines)
