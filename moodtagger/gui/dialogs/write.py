"""The batch write dialog: per-file diff (dry run), then the write with progress and cancel,
then a summary. Runs ``moodtagger.core.metadata.write_choices`` on the writer lane, which opens
its own catalog connection and owns the exiftool process; failed files stay pending with their
reason (the writer records it in the catalog)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from moodtagger.core.catalog import Catalog
from moodtagger.core.moods import display_name
from moodtagger.gui.errors import CrashReporter, is_expected
from moodtagger.gui.jobs import Job, JobRunner
from moodtagger.gui.settings import AppSettings

if TYPE_CHECKING:
    from moodtagger.core.metadata.exiftool import ExifToolService
    from moodtagger.core.metadata.fields import WriteSettings


def diff_text(diff) -> str:
    lines = []
    for target, field, before, after in diff:
        where = f" ({os.path.basename(target)})" if target.endswith(".xmp") else ""
        lines.append(f"{field}{where}: {'; '.join(before) or '-'} → {'; '.join(after) or '-'}")
    return "\n".join(lines)


def moods_text(moods, empty: str = "—") -> str:
    return ", ".join(display_name(m) for m in moods) or empty


class Column(IntEnum):
    """The dialog's table: where each file is, its moods and its whole keyword change."""

    FILE = 0
    FOLDER = 1
    BEFORE = 2  # mood keywords now
    AFTER = 3  # mood keywords after
    KEYWORDS = 4  # all flat keywords: now → after (tooltip: the change per field)
    STATUS = 5


HEADERS = ["File", "Folder", "Moods now", "Moods after", "Keywords: now → after", "Status"]


def keywords_text(before: Sequence[str], after: Sequence[str]) -> str:
    """``Beach, Norway → Beach, Norway, Awe`` (the file's flat keywords, from the dry run)."""
    return f"{', '.join(before) or '—'} → {', '.join(after) or '—'}"


def folder_names(paths: Sequence[str]) -> dict[str, str]:
    """Each file's folder as shown: relative to the folder all of them share (its own name
    when they share one folder), so two ``photo_000.jpg`` in different folders differ."""
    dirs = sorted({os.path.dirname(p) for p in paths})
    if not dirs:
        return {}
    try:
        common = os.path.commonpath(dirs)
    except ValueError:  # different drives
        common = ""
    out = {}
    for d in dirs:
        rel = os.path.relpath(d, common) if common else d
        out[d] = os.path.basename(d) or d if rel == "." else rel
    return out


STATUS_TEXT = {
    "planned": "to write",
    "written": "written",
    "unchanged": "unchanged",
    "failed": "failed",
}


def metadata_available() -> bool:
    try:
        return importlib.util.find_spec("moodtagger.core.metadata") is not None
    except (ImportError, ValueError):
        return False


class BatchWriteDialog(QDialog):
    """``selection``: photo ids the user selected (may be empty: then only "everything pending")."""

    written = Signal(object)  # list of photo ids whose catalog state changed

    def __init__(
        self,
        catalog_path: str,
        runner: JobRunner,
        settings: AppSettings,
        selection: list[int],
        pending_count: int,
        reporter: CrashReporter | None = None,
        parent: QWidget | None = None,
        *,
        shown: list[int] | None = None,
        failed_count: int = 0,
        exiftool: Callable[[WriteSettings], ExifToolService] | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Write moods into files")
        # the Library's exiftool for a write (Library.writing_exiftool); None: one per batch
        self.exiftool = exiftool
        self.catalog_path = catalog_path
        self.runner = runner
        self.settings = settings
        self.selection = selection
        self.shown = list(shown or [])  # pending photos the grid shows (folder, filter, search)
        self.reporter = reporter
        self._job: Job | None = None
        self._phase = "idle"  # idle | planning | planned | writing | done
        self.summary_result = None

        layout = QVBoxLayout(self)
        scope = QHBoxLayout()
        self.scope_selection = QRadioButton(f"Selected photos ({len(selection)})")
        # the states' names are the CLI's (`moodtagger list --state chosen|failed`)
        self.scope_shown = QRadioButton(f"Photos shown ({len(self.shown)} not written)")
        self.scope_shown.setToolTip(
            "Only the photos the grid shows now: the folder, filters and search"
        )
        self.scope_shown.setEnabled(bool(self.shown))
        chosen = pending_count - failed_count
        self.scope_all = QRadioButton(
            f"Everything not written: {chosen} chosen"
            + (f", {failed_count} failed" if failed_count else "")
        )
        group = QButtonGroup(self)
        group.addButton(self.scope_selection)
        group.addButton(self.scope_shown)
        group.addButton(self.scope_all)
        self.scope_selection.setEnabled(bool(selection))
        if len(selection) > 1:
            self.scope_selection.setChecked(True)
        elif self.shown and len(self.shown) < pending_count:  # a folder, filter or search is active
            self.scope_shown.setChecked(True)
        else:
            self.scope_all.setChecked(True)
        self._replan = False
        group.buttonToggled.connect(lambda _b, on: on and self.plan())
        scope.addWidget(self.scope_selection)
        scope.addWidget(self.scope_shown)
        scope.addWidget(self.scope_all)
        scope.addStretch(1)
        layout.addLayout(scope)

        self.info = QLabel("Reading the files' current keywords…")
        self.info.setWordWrap(True)
        layout.addWidget(self.info)
        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setHeaderLabels(HEADERS)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for c in Column:
            self.table.header().setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table.header().setSectionResizeMode(Column.KEYWORDS, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        layout.addWidget(self.progress)

        self.buttons = QDialogButtonBox()
        self.write_button = QPushButton("Write")
        self.write_button.setDefault(True)
        self.write_button.setEnabled(False)
        self.write_button.clicked.connect(self.write)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel_or_close)
        self.buttons.addButton(self.write_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        layout.addWidget(self.buttons)
        self.resize(1000, 480)
        self._items: dict[int, QTreeWidgetItem] = {}

    # -- scope -----------------------------------------------------------------------------------
    def photo_ids(self) -> list[int] | None:
        if self.scope_selection.isChecked():
            return list(self.selection)
        if self.scope_shown.isChecked():
            return list(self.shown)
        return None

    # -- dry run ---------------------------------------------------------------------------------
    def plan(self) -> None:
        if self._phase == "planning":  # the scope changed meanwhile: plan again when this one ends
            self._replan = True
            return
        if self._phase == "writing":
            return
        self._phase = "planning"
        self.write_button.setEnabled(False)
        self.table.clear()
        self._items.clear()
        self.info.setText("Reading the files' current keywords…")
        self._submit(dry_run=True, on_done=self._planned, label="write dry run")

    def _submit(self, *, dry_run: bool, on_done, label: str) -> None:
        """The scope's choices through ``write_choices`` on the dialog's lane (a dry run plans)."""
        ids, ws, path = self.photo_ids(), self.settings.write_settings(), self.catalog_path
        exiftool = self.exiftool

        def work(job: Job):
            from moodtagger.core.metadata import write_choices

            with Catalog(path) as cat:
                return write_choices(
                    cat,
                    ids,
                    settings=ws,
                    dry_run=dry_run,
                    progress=job.progress,
                    cancel=job.cancel,
                    service=exiftool(ws) if exiftool else None,
                )

        self._job = self.runner.submit(
            work, on_done=on_done, on_progress=self._on_progress, label=label
        )

    def _planned(self, summary, error) -> None:
        self._job = None
        if self._replan:
            self._replan = False
            self._phase = "idle"
            self.plan()
            return
        self.progress.setVisible(False)
        if error is not None:
            self._phase = "idle"
            self._show_error(error)
            return
        self._phase = "planned"
        results = list(summary.results)
        folders = folder_names([r.path for r in results])
        for r in results:
            item = self._item(r, folders)
            if r.error:
                item.setToolTip(Column.STATUS, r.error)
                item.setText(Column.STATUS, f"{STATUS_TEXT.get(r.status, r.status)}: {r.error}")
            self.table.addTopLevelItem(item)
            self._items[r.photo_id] = item
        todo = sum(1 for r in results if r.status == "planned")
        same = sum(1 for r in results if r.status == "unchanged")
        if not results:
            self.info.setText("Nothing to write: no chosen moods are waiting.")
        else:
            self.info.setText(
                f"{todo} file{'s' * (todo != 1)} will change"
                + (f", {same} already have these moods" if same else "")
                + "."
            )
        self.write_button.setEnabled(bool(results))

    @staticmethod
    def _item(r, folders: dict[str, str]) -> QTreeWidgetItem:
        """One file's row of the dry run: name, folder, moods and the whole keyword change."""
        folder = os.path.dirname(r.path)
        item = QTreeWidgetItem(
            [
                os.path.basename(r.path),
                folders.get(folder, os.path.basename(folder)),
                moods_text(r.before),
                moods_text(r.after, "(remove)"),
                keywords_text(r.keywords_before, r.keywords) if r.status != "failed" else "",
                STATUS_TEXT.get(r.status, r.status),
            ]
        )
        item.setToolTip(Column.FILE, r.path)
        item.setToolTip(Column.FOLDER, folder)
        if r.diff:  # the keyword change per field, as `moodtagger write --dry-run` prints it
            item.setToolTip(Column.KEYWORDS, diff_text(r.diff))
            item.setToolTip(Column.AFTER, diff_text(r.diff))
        return item

    # -- write -----------------------------------------------------------------------------------
    def write(self) -> None:
        if self._phase != "planned":
            return
        self._phase = "writing"
        self.write_button.setEnabled(False)
        self.scope_selection.setEnabled(False)
        self.scope_shown.setEnabled(False)
        self.scope_all.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.info.setText(
            "Writing… (Cancel stops after the current file; written files stay written)"
        )
        self._submit(dry_run=False, on_done=self._done, label="write")

    def _done(self, summary, error) -> None:
        self._job = None
        self.progress.setVisible(False)
        self._phase = "done"
        self.cancel_button.setText("Close")
        if error is not None:
            self._show_error(error)
            self.written.emit(self.photo_ids() or [])
            return
        self.summary_result = summary
        changed = []
        folders = folder_names([r.path for r in summary.results])
        for r in summary.results:
            changed.append(r.photo_id)
            item = self._items.get(r.photo_id)
            if item is None:
                item = self._item(r, folders)
                self.table.addTopLevelItem(item)
                self._items[r.photo_id] = item
            text = STATUS_TEXT.get(r.status, r.status)
            item.setText(Column.STATUS, f"{text}: {r.error}" if r.error else text)
            if r.status == "failed":
                for c in Column:
                    item.setForeground(c, QBrush(QColor("#CC3311")))
        line = f"{summary.written} written, {summary.unchanged} unchanged, {summary.failed} failed"
        if summary.cancelled:
            line += " — cancelled (the rest stay chosen, not written)"
        if summary.stopped:  # exiftool hung again after a restart
            line += f" — {summary.stopped}"
        if summary.failed:
            line += (
                ". Failed files keep their choice with the reason shown; fix it and write again."
            )
        self.info.setText(line)
        self.written.emit(changed)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _show_error(self, error: BaseException) -> None:
        if is_expected(error) or self.reporter is None:
            self.info.setText(f"Could not write: {error}")
        else:
            self.info.setText(f"Unexpected error: {error}")
            self.reporter.report(error)

    def _cancel_or_close(self) -> None:
        if self._job is not None:
            self._job.cancel.set()
            self.info.setText("Cancelling…")
            return
        self.reject()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._phase == "idle":
            self.plan()

    def closeEvent(self, event) -> None:
        if self._job is not None:
            self._job.cancel.set()
        super().closeEvent(event)

    def done(self, result: int) -> None:  # Esc / reject while working: cancel first
        if self._job is not None:
            self._job.cancel.set()
        super().done(result)


def no_metadata_message() -> str:
    return (
        "Writing keywords into files needs the metadata writer (moodtagger.core.metadata), "
        "which is not part of this installation yet. Your choices are kept in the catalog."
    )
