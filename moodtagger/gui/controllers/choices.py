"""Choosing moods: every change is one undoable command that writes the catalog and the model.

The GUI thread's catalog connection owns choice edits (tiny single-transaction writes); workers
never touch choices except the writer, whose results are merged back into the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtGui import QUndoCommand, QUndoStack

from moodtagger.core import rows as R
from moodtagger.core.catalog import Catalog
from moodtagger.core.choices import suggested_mood
from moodtagger.core.moods import MOODS, display_name
from moodtagger.gui.photomodel import PhotoModel

ChoiceValue = tuple[tuple[str, ...] | None, str, str | None]  # (moods or None, state, error)


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
    """Toggle / accept / clear choices for sets of photos, through a ``QUndoStack``."""

    def __init__(self, catalog: Catalog, model: PhotoModel, undo_stack: QUndoStack):
        self.catalog = catalog
        self.model = model
        self.undo_stack = undo_stack

    # -- primitive -----------------------------------------------------------------------------
    def apply(self, values: dict[int, ChoiceValue], sources: dict[int, str] | None = None) -> None:
        """Store ``values`` (whose choice each is: ``sources``, default 'user') and show them."""
        values = {pid: self._against_file(pid, v) for pid, v in values.items()}
        sources = sources or {}
        with self.catalog.transaction():
            for pid, (moods, state, error) in values.items():
                R.restore_choice(
                    self.catalog, pid, moods, state, error, source=sources.get(pid, "user")
                )
        self.model.set_choice_values(values)

    def _against_file(self, pid: int, value: ChoiceValue) -> ChoiceValue:
        """A photo whose moods are written into its file keeps them there until the next write:
        changing its choice (an undo included) is a change still to be written, never a silent
        "forget" that would leave the catalog and the file disagreeing."""
        if self.model.row_of(pid) is None:
            return value
        cur_moods, cur_state, _err = self.model.choice_value(pid)
        moods, state, error = value
        if (
            cur_state == "written"
            and cur_moods is not None
            and tuple(moods or ()) != tuple(cur_moods)
        ):
            return (tuple(moods or ()), "pending", None)
        return value

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
                before_sources=self.catalog.choice_sources(before),
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
            after[pid] = (_ordered(new), "pending", None)
        verb = "Remove" if remove else "Add"
        return self._push(
            after, f"{verb} {display_name(mood)} ({len(ids)} photo{'s' * (len(ids) != 1)})"
        )

    def set_moods(self, ids: Sequence[int], moods: Iterable[str]) -> int:
        ids = self._known(ids)
        chosen = _ordered(set(moods))
        return self._push(
            {pid: (chosen, "pending", None) for pid in ids},
            f"Choose {', '.join(display_name(m) for m in chosen) or 'no mood'}",
        )

    def accept_top(
        self, ids: Sequence[int], *, min_prob: float = 0.0, only_unconfirmed: bool = False
    ) -> int:
        """Choose each photo's top suggestion with p >= ``min_prob``: the core's accept rule
        (:func:`moodtagger.core.choices.suggested_mood`, as ``moodtagger accept``). Photos
        without a prediction are skipped; a choice is replaced unless ``only_unconfirmed``."""
        after: dict[int, ChoiceValue] = {}
        rows = self.model.rows
        for pid in self._known(ids):
            r = self.model.row_of(pid)
            assert r is not None
            suggestion = suggested_mood(
                rows.prediction(r), rows.choice(r), min_prob, replace=not only_unconfirmed
            )
            if suggestion is not None:
                after[pid] = ((suggestion[0],), "pending", None)
        label = "Accept suggestion" if min_prob <= 0 else f"Accept all at or above {min_prob:.0%}"
        # an accepted suggestion is the model's word, not the user's taste: `learn` skips it
        return self._push(
            after, f"{label} ({len(after)} photo{'s' * (len(after) != 1)})", source="model"
        )

    def clear(self, ids: Sequence[int]) -> int:
        """Forget the user's choice (back to the model's suggestion only)."""
        return self._push(
            {pid: (None, "pending", None) for pid in self._known(ids)}, "Clear choice"
        )


def _ordered(moods: set[str]) -> tuple[str, ...]:
    return tuple(m for m in MOODS if m in moods)
