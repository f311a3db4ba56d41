"""Writing the chosen moods into the files, from the window: the batch write dialog (one at a
time, on the ``writer`` lane) and the question asked before quitting with moods not written.

The write itself is the core's (:func:`moodtagger.core.metadata.journal.write_choices`, the call
behind ``moodtagger write``), run by :class:`~moodtagger.gui.dialogs.write.BatchWriteDialog`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox

from moodtagger.core import rows as R
from moodtagger.gui.controllers.host import Window
from moodtagger.gui.dialogs.write import BatchWriteDialog, metadata_available, no_metadata_message


class WriteFlow(QObject):
    """The window's "Write moods…" action and its quit question."""

    def __init__(self, window: Window):
        super().__init__(window)
        self.window = window
        self.dialog: BatchWriteDialog | None = None
        self.quit_box: QMessageBox | None = None

    def pending_count(self) -> int:
        """How many photos have chosen moods not written yet (pending or failed)."""
        cs = self.window.model.rows.choice_state
        return int(np.count_nonzero((cs == R.PENDING) | (cs == R.FAILED)))

    def shown_pending_ids(self) -> list[int]:
        """Photos the grid shows (folder, filter, search) whose chosen moods wait to be written."""
        w = self.window
        d = w.model.rows
        mask = w.model.filter_mask(w.proxy.filter)
        mask &= (d.choice_state == R.PENDING) | (d.choice_state == R.FAILED)
        return d.ids[mask].tolist()

    def open_dialog(self) -> BatchWriteDialog | None:
        """The batch write dialog (window-modal; raised if it is open already)."""
        w = self.window
        if not metadata_available():
            QMessageBox.information(w, "Write moods", no_metadata_message())
            return None
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        dlg = BatchWriteDialog(
            w.catalog_path,
            w.writer_jobs,
            w.settings,
            w.grid.selected_ids(),
            self.pending_count(),
            w.reporter,
            w,
            shown=self.shown_pending_ids(),
            failed_count=int(np.count_nonzero(w.model.rows.choice_state == R.FAILED)),
            exiftool=w.library.facade.writing_exiftool,
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.written.connect(self._written)
        dlg.finished.connect(lambda _r: setattr(self, "dialog", None))
        self.dialog = dlg
        dlg.open()
        return dlg

    def _written(self, ids) -> None:
        w = self.window
        if ids:
            w.model.merge(w.library.rows(list(ids)))
            w.reload_keywords()
        w.details.schedule()

    def ask_before_quit(self) -> str:
        """'quit', 'write' or 'cancel'; asks only when chosen moods are not written yet."""
        n = self.pending_count()
        if not self.window.confirm_quit or n == 0:
            return "quit"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Quit moodtagger",
            f"{n} photo{'s have' if n != 1 else ' has'} chosen moods that are not written "
            "into the files yet.",
            parent=self.window,
        )
        box.setInformativeText(
            "They stay in the catalog either way; other photo tools only see them "
            "once they are written."
        )
        write = box.addButton("Write…", QMessageBox.ButtonRole.AcceptRole)
        quit_ = box.addButton("Quit without writing", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(write)
        self.quit_box = box
        box.exec()
        self.quit_box = None
        clicked = box.clickedButton()
        return "write" if clicked is write else "quit" if clicked is quit_ else "cancel"
