"""Choosing moods: every change is one undoable command, carried out by the core's Library.

The grid's edits (a number key, Enter, "accept all", Delete) and their undo/redo all go through
:class:`moodtagger.core.library.Library` (:meth:`~moodtagger.core.library.Library.suggest`,
:meth:`~moodtagger.core.library.Library.restore`), Anki's ``operations`` idea: the rules are the
CLI's (``moodtagger accept`` skips a file changed since the scan; a choice changed on a photo
whose moods are written stays a change to write). This module only keeps the undo stack and
shows what the Library stored. The GUI thread's catalog connection makes these tiny
single-transaction writes; workers never touch choices except the writer, whose results are
merged back into the model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QInputDialog

from moodtagger.core.choices import ChoiceValue
from moodtagger.core.library import Library
from moodtagger.core.moods import DISPLAY_ORDER, display_name, ordered
from moodtagger.gui.controllers.host import Window
from moodtagger.gui.models.photomodel import PhotoModel, Roles


class SetChoicesCommand(QUndoCommand):
    """``after`` made by ``source`` ('user'; 'model': accepted suggestions); undo restores
    ``before`` with the sources it had (``before_sources``)."""

    def __init__(
        self,
        controller: ChoiceController,
        before: dict[int, ChoiceValue],
        after: dict[int, ChoiceValue],
        text: str,
        *,
        source: str = "user",
        before_sources: dict[int, str] | None = None,
    ):
        super().__init__(text)
        self.controller = controller
        self.before = before
        self.after = after
        self.source = source
        self.before_sources = before_sources or {}

    def redo(self) -> None:
        self.controller.apply(self.after, {pid: self.source for pid in self.after})

    def undo(self) -> None:
        self.controller.apply(self.before, self.before_sources)


class ChoiceController:
    """Toggle / accept / clear choices for sets of photos, through a ``QUndoStack``.

    ``library()``: the GUI thread's :class:`~moodtagger.core.library.Library` (its model id
    follows learning). ``stale``: the files the last accept skipped (changed since the scan)."""

    def __init__(self, library: Callable[[], Library], model: PhotoModel, undo_stack: QUndoStack):
        self.library = library
        self.model = model
        self.undo_stack = undo_stack
        self.stale: list[str] = []

    # -- primitive -----------------------------------------------------------------------------
    def apply(self, values: dict[int, ChoiceValue], sources: dict[int, str] | None = None) -> None:
        """Store ``values`` through the Library (whose choice each is: ``sources``, default
        'user') and show what it stored."""
        self.model.set_choice_values(self.library().restore(values, sources))

    def _push(self, after: dict[int, ChoiceValue], text: str, *, source: str = "user") -> int:
        before = {pid: self.model.choice_value(pid) for pid in after}
        after = {pid: v for pid, v in after.items() if v != before[pid]}
        if not after:
            return 0
        before = {pid: before[pid] for pid in after}
        self.undo_stack.push(
            SetChoicesCommand(
                self,
                before,
                after,
                text,
                source=source,
                before_sources=self.library().choice_sources(list(before)),
            )
        )
        return len(after)

    def _known(self, ids: Iterable[int]) -> list[int]:
        return [pid for pid in ids if self.model.row_of(pid) is not None]

    # -- user actions ----------------------------------------------------------------------------
    def toggle(self, ids: Sequence[int], mood: str) -> int:
        """Add ``mood`` to every photo in ``ids``; if all of them have it already, remove it."""
        ids = self._known(ids)
        if not ids:
            return 0
        current = {pid: set(self.model.choice_value(pid)[0] or ()) for pid in ids}
        remove = all(mood in c for c in current.values())
        after: dict[int, ChoiceValue] = {}
        for pid, moods in current.items():
            new = moods - {mood} if remove else moods | {mood}
            after[pid] = ChoiceValue(_ordered(new))
        verb = "Remove" if remove else "Add"
        return self._push(
            after, f"{verb} {display_name(mood)} ({len(ids)} photo{'s' * (len(ids) != 1)})"
        )

    def set_moods(self, ids: Sequence[int], moods: Iterable[str]) -> int:
        ids = self._known(ids)
        chosen = _ordered(set(moods))
        return self._push(
            {pid: ChoiceValue(chosen) for pid in ids},
            f"Choose {', '.join(display_name(m) for m in chosen) or 'no mood'}",
        )

    def accept_top(
        self, ids: Sequence[int], *, min_prob: float = 0.0, only_unconfirmed: bool = False
    ) -> int:
        """Choose each photo's top suggestion with p >= ``min_prob``: the Library's accept rule
        (as ``moodtagger accept``; a file changed since the scan is skipped, see ``stale``).
        Photos without a prediction are skipped; a choice is replaced unless
        ``only_unconfirmed``."""
        plan = self.library().suggest(self._known(ids), min_prob, replace=not only_unconfirmed)
        self.stale = plan.stale
        after = {pid: ChoiceValue((mood,)) for pid, mood, _p in plan.accepted}
        label = "Accept suggestion" if min_prob <= 0 else f"Accept all at or above {min_prob:.0%}"
        # an accepted suggestion is the model's word, not the user's taste: `learn` skips it
        return self._push(
            after, f"{label} ({len(after)} photo{'s' * (len(after) != 1)})", source="model"
        )

    def clear(self, ids: Sequence[int]) -> int:
        """Forget the user's choice (back to the model's suggestion only)."""
        return self._push({pid: ChoiceValue(None) for pid in self._known(ids)}, "Clear choice")


def _ordered(moods: set[str]) -> tuple[str, ...]:
    return tuple(ordered(moods))  # the eight, then custom moods (issue 27)


class ChoiceActions(QObject):
    """The window's choice keys and actions (1-8, Enter, "Accept all above…"): they act on the
    grid's selection through the :class:`ChoiceController` and say what they did."""

    def __init__(self, window: Window, choices: ChoiceController):
        super().__init__(window)
        self.window = window
        self.choices = choices

    def toggle_mood(self, mood: str) -> None:
        """A digit (or a toggle): says on the status bar what it did and how to take it back."""
        w = self.window
        ids = w.grid.selected_ids()
        if not self.choices.toggle(ids, mood):
            return
        # a custom mood's key (9, 0, or none) is the custom-moods menu's: say "toggle" then
        again = f"press {DISPLAY_ORDER.index(mood) + 1}" if mood in DISPLAY_ORDER else "toggle it"
        has = mood in (self.choices.model.choice_value(ids[0])[0] or ())
        what = (
            f"chose {display_name(mood)} ({again} again to undo)"
            if has
            else f"removed {display_name(mood)} ({again} again to choose it)"
        )
        w.show_status(f"{self._subject(ids)}: {what}")

    def _subject(self, ids: Sequence[int]) -> str:
        """The photo's file name, or how many photos."""
        if len(ids) == 1:
            idx = self.choices.model.index_of(ids[0])
            if idx.isValid():
                return str(idx.data())
        return f"{len(ids)} photos"

    def clear(self) -> None:
        self.choices.clear(self.window.grid.selected_ids())

    def accept_selected(self) -> None:
        """Enter: the top suggestion becomes the choice (the Library's accept rule)."""
        w = self.window
        ids = w.grid.selected_ids()
        n = self.choices.accept_top(ids)
        if self._said_stale():
            return
        if n:
            w.show_status(f"Accepted the suggestion for {n} photo{'s' * (n != 1)}")
        elif len(ids) == 1 and self._has_top_mood(ids[0]):
            state = self.choices.model.choice_value(ids[0])[1]
            top = display_name(self.choices.model.index_of(ids[0]).data(Roles.TopMoodRole)[0])
            w.show_status(
                f"{self._subject(ids)}: already {'written' if state == 'written' else 'chosen'} "
                f"with its top mood {top}; nothing changed"
            )
        else:
            return
        if len(ids) == 1:  # photographer's flow: accept and move on
            w.grid.next_photo()

    def _has_top_mood(self, pid: int) -> bool:
        """The photo's choice is its top suggestion already (Enter changes nothing)."""
        idx = self.choices.model.index_of(pid)
        top = idx.data(Roles.TopMoodRole) if idx.isValid() else None
        return top is not None and self.choices.model.choice_value(pid)[0] == (top[0],)

    def accept_all_dialog(self) -> None:
        w = self.window
        value, ok = QInputDialog.getDouble(
            w,
            "Accept all above threshold",
            "Choose the top suggestion for every shown photo nobody chose yet,\n"
            "when its probability is at least:",
            w.settings.accept_threshold,
            0.0,
            1.0,
            2,
        )
        if ok:
            w.settings.accept_threshold = value
            self.accept_all_above(value)

    def accept_all_above(self, threshold: float) -> int:
        n = self.choices.accept_top(
            self.window.proxy.visible_ids(), min_prob=threshold, only_unconfirmed=True
        )
        if not self._said_stale(n):
            self.window.show_status(
                f"Accepted {n} suggestion{'s' * (n != 1)} at or above {threshold:.0%} "
                "(undo: Ctrl+Z)"
            )
        return n

    def _said_stale(self, accepted: int = 0) -> bool:
        """Say which files an accept skipped because they changed since the scan (as
        ``moodtagger accept`` does); False when none did."""
        stale = self.choices.stale
        if not stale:
            return False
        what = os.path.basename(stale[0]) if len(stale) == 1 else f"{len(stale)} files"
        done = f"Accepted {accepted}; " if accepted else ""
        self.window.show_status(
            f"{done}skipped {what}: changed since the last scan; rescan before accepting"
        )
        return True
