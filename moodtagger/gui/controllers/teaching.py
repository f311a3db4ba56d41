""" "Teach me" in the app (issue 27): a queue of the photos whose moods would teach the model
most, shown one after another; a mood key labels the current one and moves on, and every
``batch`` labels (and when the queue ends) the personal model is learnt again on the library
lane, the status line saying how many suggestions changed.

The photos are the core's (:meth:`moodtagger.core.library.Library.teach`, what ``moodtagger
teach`` lists), picked on the library lane. Labelling is the window's choice path (keys 1-8,
the detail panel's mood buttons, Enter, any key a custom mood gets): every change of choices
is an undoable command, and when the current photo has a choice afterwards the queue moves
on. Learning is :class:`~moodtagger.gui.controllers.learning.LearnFlow`'s, without its box.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence

from moodtagger.core.catalog import Catalog
from moodtagger.core.library import Library, LibraryError
from moodtagger.core.moods import display_name
from moodtagger.core.teach import Pick
from moodtagger.gui.controllers.host import Window
from moodtagger.gui.controllers.learning import LearnFlow
from moodtagger.gui.jobs import Job

QUEUE = 20  # photos per queue
BATCH = 5  # labels between two learns


def pick_photos(job: Job, catalog_path: str, base_model_id: str, n: int) -> list[Pick]:
    """``moodtagger teach -n N`` on the library lane (its own catalog connection)."""
    with Catalog(catalog_path) as cat:
        return Library(cat, base_model_id).teach(n)


class TeachFlow(QObject):
    """The queue: :attr:`queue` (photo ids still to label, the current one first)."""

    queueChanged = Signal()  # the queue started, moved on or ended
    learnt = Signal(object)  # LearnSummary of a learn the queue asked for (None: nothing learnt)

    def __init__(
        self, window: Window, learning: LearnFlow, *, size: int = QUEUE, batch: int = BATCH
    ):
        super().__init__(window)
        self.window = window
        self.learning = learning
        self.size = size
        self.batch = batch
        self.active = False
        self.queue: list[int] = []
        self.picks: dict[int, Pick] = {}
        self.total = 0
        self.labelled = 0  # photos of this queue labelled
        self.unlearnt = 0  # labelled since the last learn
        self._learning = False
        self._learn_again = False
        self._job: Job | None = None
        self.action = QAction("Teach me", window)  # type: ignore[arg-type]
        self.action.setShortcut(QKeySequence("T"))
        tip = (
            "Show, one after another, the photos whose moods would teach the model most; "
            "press a mood key for each (T again: stop)"
        )
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)
        self.action.triggered.connect(lambda _c=False: self.toggle())
        window.addAction(self.action)  # type: ignore[attr-defined]
        edit = getattr(window, "menus", {}).get("Edit")
        if edit is not None:
            edit.insertAction(window.acts.unlearn, self.action)
        window.undo_stack.indexChanged.connect(self._choices_changed)
        window.filters.clearOnlyRequested.connect(self._cleared)
        learning.finished.connect(self._learnt)

    @property
    def busy(self) -> bool:
        """A learn the queue asked for runs or waits."""
        return self._job is not None or self._learning or self._learn_again

    # -- the queue ----------------------------------------------------------------------------
    def toggle(self) -> None:
        if self.active:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        """Pick the photos on the library lane; the queue starts when they come."""
        w = self.window
        if self._job is not None or w.closed:
            return
        w.show_status("Teach me: finding the photos that would teach the model most…")
        self._job = w.library.lane.submit(
            partial(
                pick_photos,
                catalog_path=w.catalog_path,
                base_model_id=w.library.base_model_id,
                n=self.size,
            ),
            on_done=self._picked,
            label="teach",
        )

    def _picked(self, picks: list[Pick] | None, error: BaseException | None) -> None:
        self._job = None
        w = self.window
        if isinstance(error, LibraryError):
            w.show_status(f"Teach me: {error}")
            return
        if error is not None:
            w.show_status(f"Unexpected error: {error}")
            w.reporter.report(error)
            return
        picks = [p for p in picks or [] if w.model.row_of(p.photo_id) is not None]
        if not picks:
            w.show_status("Teach me: nothing to teach — every photo has a choice")
            return
        self.active = True
        self.picks = {p.photo_id: p for p in picks}
        self.queue = [p.photo_id for p in picks]
        self.total = len(self.queue)
        self.labelled = self.unlearnt = 0
        w.like_this.end()
        w.filters.set_only(
            self.queue,
            f"Teach me: {self.total} ✕",
            "The photos whose moods would teach the model most; click to show all",
        )
        shown = [pid for pid in self.queue if self._shown(pid)]  # a folder or filter may hide some
        if not shown:
            self._end()
            w.show_status("Teach me: the filters hide every photo picked; show all photos first")
            return
        self.queue = shown
        self.total = len(shown)
        self._show_current()

    def _shown(self, pid: int) -> bool:
        w = self.window
        return w.proxy.mapFromSource(w.model.index_of(pid)).isValid()

    def _show_current(self) -> None:
        w = self.window
        if not self.queue:
            return
        pid = self.queue[0]
        w.grid.select_ids([pid])
        w.details.schedule()
        p = self.picks[pid]
        w.show_status(
            f"Teach me: photo {self.labelled + 1} of {self.total} — press its mood (1–8). "
            f"The model is unsure: {display_name(p.mood)} {p.probability:.0%} or "
            f"{display_name(p.second)} {p.second_probability:.0%}"
        )
        self.queueChanged.emit()

    def _choices_changed(self, _index: int = 0) -> None:
        if not self.active or not self.queue:
            return
        pid = self.queue[0]
        if self.window.model.row_of(pid) is None:
            return
        moods, _state, _error = self.window.model.choice_value(pid)
        if moods is None:  # not chosen (yet)
            return
        # after the command that chose it has said what it did (ChoiceActions' status line)
        QTimer.singleShot(0, partial(self._next, pid))

    def _next(self, pid: int) -> None:
        if not self.active or not self.queue or self.queue[0] != pid:
            return
        self.queue.pop(0)
        self.labelled += 1
        self.unlearnt += 1
        if self.unlearnt >= self.batch or not self.queue:
            self._learn()
        if self.queue:
            self._show_current()
        else:
            self._end()

    def _cleared(self) -> None:
        """The ✕ on the queue's filter button: the queue ends too."""
        if self.active:
            self.stop()

    def stop(self) -> None:
        """End the queue now (what was labelled and not learnt yet is learnt)."""
        if self.active and self.unlearnt:
            self._learn()
        self._end()

    def _end(self) -> None:
        was = self.active
        self.active = False
        self.queue = []
        if was:
            self.window.filters.set_only(None)
            if not self._learning:
                self.window.show_status(
                    f"Teach me: {self.labelled} of {self.total} photos labelled (T: more)"
                )
            self.queueChanged.emit()

    # -- learning after each batch -----------------------------------------------------------
    def _learn(self) -> None:
        self.unlearnt = 0
        if self._learning:
            self._learn_again = True  # one learn runs: another when it is done
            return
        if self.learning.learn(quiet=True):
            self._learning = True
        else:
            self._learn_again = True

    def _learnt(self, summary) -> None:
        if not self._learning:
            return
        self._learning = False
        w = self.window
        if summary is not None:
            n = sum(summary.examples.values())
            c = summary.changed
            w.show_status(
                f"Teach me: learnt from {n} photo{'s' * (n != 1)}: "
                f"{c:,} suggestion{'s' * (c != 1)} changed"
                + (f" — photo {self.labelled + 1} of {self.total} next" if self.queue else "")
            )
        if self._learn_again:
            self._learn_again = False
            self._learn()
        self.learnt.emit(summary)
