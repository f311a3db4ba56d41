"""Learning from the user's choices, from the window: the two actions ("Learn from my
choices", "Back to the shipped model") and the summary shown when the ``library`` lane is done.

The work is the core's (``moodtagger learn`` / ``learn --reset``), run by
:meth:`~moodtagger.gui.controllers.library.LibraryController.learn` after any scan.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QAbstractButton, QMessageBox

from moodtagger.gui.controllers.host import Window
from moodtagger.gui.controllers.library import learn_changes_text, learn_summary_text
from moodtagger.gui.controllers.pipeline import LearnOutcome


class LearnFlow(QObject):
    """``box``: the summary (or why nothing was learnt) shown now, window-modal, never
    ``exec()``; ``back_button``: its "Back to the shipped model" button."""

    finished = Signal(object)  # LearnSummary, or None when nothing was learnt

    def __init__(self, window: Window):
        super().__init__(window)
        self.window = window
        self.box: QMessageBox | None = None
        self.back_button: QAbstractButton | None = None
        self._quiet = False  # the learn running says what it did on the status line only
        window.library.learnt.connect(self._learnt)

    def learn(self, *, quiet: bool = False) -> bool:
        """``quiet``: no summary box (the Teach me queue's learns); False if one runs."""
        started = self._run(reset=False)
        if started:
            self._quiet = quiet
        return started

    def back_to_shipped_model(self) -> None:
        self._run(reset=True)

    def _run(self, *, reset: bool) -> bool:
        """On the library lane (after any scan), like the CLI's ``learn`` (``--reset``)."""
        acts = self.window.acts
        if self.window.library.learn(reset=reset):
            acts.learn.setEnabled(False)
            acts.unlearn.setEnabled(False)
            self._quiet = False
            return True
        return False

    def _learnt(self, outcome: LearnOutcome | None, why: str, reset: bool) -> None:
        w = self.window
        w.acts.learn.setEnabled(True)
        w.acts.unlearn.setEnabled(w.library.learning)
        quiet, self._quiet = self._quiet, False
        if outcome is None:
            if why and not quiet:  # nothing to learn from, no model: said plainly
                self._open(
                    QMessageBox(
                        QMessageBox.Icon.Information,
                        "Learn from my choices",
                        why,
                        QMessageBox.StandardButton.Ok,
                        w,
                    )
                )
            self.finished.emit(None)
            return
        w.model.merge(outcome.rows)
        w.model.resort()
        w.details.schedule()
        if not quiet:
            self._show_summary(outcome.summary, reset)
        self.finished.emit(outcome.summary)

    def _show_summary(self, summary, reset: bool) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Back to the shipped model" if reset else "Learnt from your choices",
            learn_summary_text(summary, reset),
            parent=self.window,
        )
        changes = learn_changes_text(summary)
        if changes:
            box.setInformativeText(changes)
        box.addButton(QMessageBox.StandardButton.Ok)
        self.back_button = None
        if not reset:
            back = box.addButton("Back to the shipped model", QMessageBox.ButtonRole.ResetRole)
            back.clicked.connect(self.back_to_shipped_model)
            self.back_button = back
        self._open(box)

    def _open(self, box: QMessageBox) -> None:
        """Window-modal, never ``exec()``: the app keeps running while it is shown."""
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r: setattr(self, "box", None) if self.box is box else None)
        if self.box is not None:
            self.box.close()
        self.box = box
        box.open()
