"""The user's own moods in the app (issue 27): keys 9 and 0 toggle the first two, the Edit
menu's "Custom moods" submenu toggles any of them and adds or removes one (the core's one name
rule, :mod:`moodtagger.core.custom_moods`)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox, QWidget

from moodtagger.core import custom_moods
from moodtagger.core.library import Library
from moodtagger.core.moods import DISPLAY_ORDER

KEYS = ("9", "0")  # the first two custom moods; the others are in the menu


class CustomMoodActions(QObject):
    """The custom moods' menu and keys. ``library()``: the GUI thread's Library;
    ``toggle(mood)``: what a mood key does to the selection; ``changed`` after an add/remove
    (the window reloads its rows)."""

    changed = Signal()
    message = Signal(str)

    def __init__(
        self,
        parent: QWidget,
        library: Callable[[], Library],
        toggle: Callable[[str], None],
        menu: QMenu,
    ):
        super().__init__(parent)
        self.parent_widget = parent
        self.library = library
        self.toggle = toggle
        self.menu = menu.addMenu("Custom &moods")
        self.menu.setObjectName("custom-moods-menu")
        self.rebuild()

    def names(self) -> list[str]:
        try:
            return self.library().catalog.moods.names()
        except Exception:  # no catalog open yet
            return []

    def mood_for_key(self, index: int) -> str | None:
        """Key ``index`` (0..7: 1-8, the eight in display order; 8, 9: keys 9 and 0)."""
        if index < len(DISPLAY_ORDER):
            return DISPLAY_ORDER[index]
        names = self.names()
        j = index - len(DISPLAY_ORDER)
        return names[j] if j < len(names) else None

    def press(self, index: int) -> None:
        mood = self.mood_for_key(index)
        if mood is None:
            self.message.emit("No custom mood on this key yet: Edit > Custom moods > Add mood…")
            return
        self.toggle(mood)

    def rebuild(self) -> None:
        self.menu.clear()
        for i, name in enumerate(self.names()):
            act = QAction(name, self.menu)
            if i < len(KEYS):
                act.setText(f"{name}\t{KEYS[i]}")
            act.triggered.connect(lambda _c=False, n=name: self.toggle(n))
            self.menu.addAction(act)
        if self.menu.actions():
            self.menu.addSeparator()
        add = self.menu.addAction("&Add mood…")
        add.triggered.connect(lambda _c=False: self.add_dialog())
        remove = self.menu.addAction("&Remove mood…")
        remove.triggered.connect(lambda _c=False: self.remove_dialog())
        remove.setEnabled(bool(self.names()))

    def add(self, name: str) -> str | None:
        """Add ``name`` (the one name rule); returns why not (one sentence), or None."""
        try:
            mood = custom_moods.add(self.library().catalog, name)
        except custom_moods.MoodNameError as exc:
            return str(exc)
        self.rebuild()
        self.changed.emit()
        self.message.emit(f"Added the mood {mood.name}; choose it for 5 photos or more, then Learn")
        return None

    def remove(self, name: str) -> str | None:
        """Remove ``name`` from the catalog (the files keep its keywords); why not, or None."""
        try:
            mood, touched, _in_files = custom_moods.remove(self.library().catalog, name)
        except custom_moods.MoodNameError as exc:
            return str(exc)
        self.rebuild()
        self.changed.emit()
        self.message.emit(
            f"Removed the mood {mood.name} from {len(touched)} photo{'s' * (len(touched) != 1)} "
            "(the files keep its keywords)"
        )
        return None

    def add_dialog(self) -> None:
        name, ok = QInputDialog.getText(
            self.parent_widget,
            "Add mood",
            "Your own mood (letters, digits, spaces, hyphens; at most 32 characters):",
        )
        problem = self.add(name) if ok and name else None
        if problem:
            QMessageBox.warning(self.parent_widget, "Add mood", problem)

    def remove_dialog(self) -> None:
        names = self.names()
        if not names:
            return
        name, ok = QInputDialog.getItem(
            self.parent_widget,
            "Remove mood",
            "Remove this mood from every photo in the catalog (the files keep it):",
            names,
            0,
            False,
        )
        problem = self.remove(name) if ok and name else None
        if problem:
            QMessageBox.warning(self.parent_widget, "Remove mood", problem)
