"""Building the main window's widgets: actions (menus, toolbar, shortcuts), the layout, the mood
map's page and the status bar. Nothing here decides what the app does: the window passes the
slots, the controllers fill the widgets."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QStatusBar,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from moodtagger.core.shipped import shipped_dir
from moodtagger.gui.views.mapview import MoodMap

RESOURCES = str(shipped_dir("resources"))  # package data when installed, resources/ in a checkout

# keys handled by the grid itself (not actions), for the shortcuts list
GRID_KEYS = (
    ("1 … 8", "Toggle a mood on the selected photos (positive 1–4, negative 5–8)"),
    ("Enter", "Accept the top suggestion and move on"),
    ("Space", "Preview the photo large"),
    ("Delete", "Clear the choice (back to the suggestion)"),
    ("Arrows, Home, End, Page Up/Down", "Move in the grid (Shift: extend the selection)"),
    ("Map: drag / Shift+drag", "Rectangle / lasso selection"),
    ("Map: Ctrl+drag, wheel", "Pan, zoom"),
)


def app_icon() -> QIcon:
    path = os.path.join(RESOURCES, "moodtagger.svg")
    return QIcon(path) if os.path.exists(path) else QIcon()


@dataclass
class Slots:
    """What the window's actions do (the window's methods)."""

    add_folder: Callable[[], None]
    rescan: Callable[[], None]
    accept: Callable[[], None]
    accept_all: Callable[[], None]
    write: Callable[[], None]
    settings: Callable[[], None]
    quit: Callable[[], None]
    view_grid: Callable[[], None]
    view_map: Callable[[], None]
    why: Callable[[], None]
    search: Callable[[], None]
    preview: Callable[[], None]
    clear: Callable[[], None]
    shortcuts: Callable[[], None]
    about: Callable[[], None]
    similar: Callable[[], None]
    learn: Callable[[], None]
    unlearn: Callable[[], None]


class MainActions:
    """Every action of the main window, added to it (so their shortcuts work everywhere)."""

    def __init__(self, win: QMainWindow, undo_stack: QUndoStack, do: Slots):
        self.win = win
        a = self._action
        self.add = a(
            "Add folder…",
            do.add_folder,
            QKeySequence.StandardKey.Open,
            "Add a folder to the library and scan it",
            "folder-new",
        )
        self.rescan = a(
            "Rescan",
            do.rescan,
            QKeySequence.StandardKey.Refresh,
            "Look for new and changed photos in the library folders",
            "view-refresh",
        )
        self.accept = a(
            "Accept",
            do.accept,
            None,
            "Choose the top suggestion for the selected photos (Enter)",
            "dialog-ok",
        )
        self.accept_all = a(
            "Accept all above…",
            do.accept_all,
            "Ctrl+Shift+A",
            "Choose the top suggestion for every shown, unconfirmed photo "
            "whose top probability is at least a threshold",
        )
        self.write = a(
            "Write…", do.write, "Ctrl+S", "Write the chosen moods into the files", "document-save"
        )
        self.undo = undo_stack.createUndoAction(win, "Undo")
        self.undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo = undo_stack.createRedoAction(win, "Redo")
        redo_keys = [*QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)]
        for extra in ("Ctrl+Shift+Z", "Ctrl+Y"):
            if QKeySequence(extra) not in redo_keys:
                redo_keys.append(QKeySequence(extra))
        self.redo.setShortcuts(redo_keys)
        win.addAction(self.undo)
        win.addAction(self.redo)
        self.settings = a(
            "Settings…",
            do.settings,
            QKeySequence.StandardKey.Preferences,
            "Catalog, model, fields to write, thumbnail size",
            "preferences-system",
        )
        self.quit = a("Quit", do.quit, QKeySequence.StandardKey.Quit)
        self.view_grid = a("Grid", do.view_grid, "Ctrl+1", "Show the photos as a grid")
        self.view_map = a(
            "Mood map", do.view_map, "Ctrl+2", "Show the photos in the valence–arousal plane"
        )
        group = QActionGroup(win)
        for act in (self.view_grid, self.view_map):
            act.setCheckable(True)
            group.addAction(act)
        self.view_grid.setChecked(True)
        self.why = a(
            "Why this mood?", do.why, "W", "Overlay a heat map of the regions that drive the mood"
        )
        self.search = a(
            "Search",
            do.search,
            QKeySequence.StandardKey.Find,
            "Search file names, folders and keywords",
        )
        self.preview = a("Preview", do.preview, None, "Show the photo large (Space)")
        self.clear = a(
            "Clear choice",
            do.clear,
            None,
            "Forget the chosen moods of the selected photos (Delete)",
        )
        self.shortcuts = a(
            "Keyboard shortcuts",
            do.shortcuts,
            QKeySequence.StandardKey.HelpContents,
            "Every key the app knows",
        )
        self.about = a("About moodtagger", do.about)
        self.similar = a(
            "More like this",
            do.similar,
            "M",
            "Show only the photos most like the selected ones, most similar first",
        )
        self.learn = a(
            "Learn from my choices",
            do.learn,
            "Ctrl+L",
            "Fit a personal model on the moods you chose (and those already in the files) "
            "and update every suggestion",
        )
        self.unlearn = a(
            "Back to the shipped model",
            do.unlearn,
            None,
            "Forget what was learnt from your choices: the shipped model's suggestions again",
        )

    def _action(
        self, text: str, slot, shortcut=None, tip: str = "", icon: str | None = None
    ) -> QAction:
        act = QAction(text, self.win)
        if icon:
            act.setIcon(QIcon.fromTheme(icon))
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setToolTip(tip or text)
        act.setStatusTip(tip or text)
        act.triggered.connect(lambda _checked=False: slot())
        self.win.addAction(act)
        return act

    def build_menus(self) -> dict[str, QMenu]:
        menus = {
            "&File": [
                self.add,
                self.rescan,
                None,
                self.write,
                None,
                self.settings,
                None,
                self.quit,
            ],
            "&Edit": [
                self.undo,
                self.redo,
                None,
                self.accept,
                self.accept_all,
                self.clear,
                None,
                self.learn,
                self.unlearn,
            ],
            "&View": [
                self.view_grid,
                self.view_map,
                None,
                self.similar,
                self.why,
                self.preview,
                self.search,
            ],
            "&Help": [self.shortcuts, self.about],
        }
        out = {}
        for title, actions in menus.items():
            m = self.win.menuBar().addMenu(title)
            for act in actions:
                m.addSeparator() if act is None else m.addAction(act)
            out[title.replace("&", "")] = m
        return out

    def build_toolbar(self) -> QToolBar:
        tb = QToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for act in (
            self.add,
            self.rescan,
            None,
            self.accept,
            self.accept_all,
            self.write,
            None,
            self.undo,
            self.redo,
            None,
            self.settings,
        ):
            tb.addSeparator() if act is None else tb.addAction(act)
        self.win.addToolBar(tb)
        return tb

    def shortcut_rows(self) -> list[tuple[str, str]]:
        rows = list(GRID_KEYS)
        for act in self.win.actions():
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in act.shortcuts()]
            if keys and act.text():
                rows.append((", ".join(keys), act.text().replace("&", "").rstrip(".…")))
        return rows


class MapPage(QWidget):
    """The mood map with its bar: rectangle or lasso, and what a selection does."""

    def __init__(self, mood_map: MoodMap, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        self.rect_button = QToolButton()
        self.rect_button.setText("Rectangle")
        self.lasso_button = QToolButton()
        self.lasso_button.setText("Lasso")
        for b in (self.rect_button, self.lasso_button):
            b.setCheckable(True)
            b.setAutoExclusive(True)
        self.rect_button.setChecked(True)
        self.lasso_button.toggled.connect(lambda on: setattr(mood_map, "lasso_mode", on))
        self.target = QComboBox()
        self.target.addItem("selects in the grid", "select")
        self.target.addItem("filters the grid", "filter")
        self.target.setToolTip("What a selection on the map does")
        fit = QToolButton()
        fit.setText("Whole plane")
        fit.clicked.connect(mood_map.fit)
        self.scale_button = QToolButton()
        self.scale_button.setText("Library scale")
        self.scale_button.setCheckable(True)
        self.scale_button.setChecked(mood_map.relative)
        self.scale_button.setToolTip(
            "Spread your library over the plane (its 2nd–98th percentiles of valence and "
            "arousal); off: the model's absolute 1–9 scale"
        )
        self.scale_button.toggled.connect(mood_map.set_relative)
        bar.addWidget(QLabel("Drag:"))
        bar.addWidget(self.rect_button)
        bar.addWidget(self.lasso_button)
        bar.addSpacing(12)
        bar.addWidget(QLabel("A selection"))
        bar.addWidget(self.target)
        bar.addStretch(1)
        bar.addWidget(self.scale_button)
        bar.addWidget(fit)
        lay.addLayout(bar)
        lay.addWidget(mood_map, 1)


class WorkStatus(QObject):
    """The status bar: one line of text, and a progress bar with Cancel while a lane works."""

    cancelRequested = Signal()

    def __init__(self, bar: QStatusBar):
        super().__init__(bar)
        self.label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop scanning / predicting (what is done is kept)")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancelRequested)
        bar.addWidget(self.label, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
        self._phase = "Working"

    def show(self, text: str) -> None:
        self.label.setText(text)

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy and text:
            self.set_phase(text)

    def set_phase(self, text: str) -> None:
        self._phase = text
        self.label.setText(f"{text}…")
        self.progress.setRange(0, 0)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.label.setText(f"{self._phase}: {done} / {total}")


def build_splitter(
    left_parts: list[QWidget], top_bar: QWidget, pages: list[QWidget], detail: QWidget
) -> tuple[QSplitter, QStackedWidget]:
    """folders and filters | top bar over the grid/map pages | detail panel."""
    left = QWidget()
    ll = QVBoxLayout(left)
    ll.setContentsMargins(4, 0, 0, 0)
    ll.addWidget(QLabel("Library folders"))
    for i, w in enumerate(left_parts):
        ll.addWidget(w, 1 if i == 0 else 0)
    middle = QWidget()
    ml = QVBoxLayout(middle)
    ml.setContentsMargins(0, 0, 0, 0)
    ml.setSpacing(0)
    ml.addWidget(top_bar)
    stack = QStackedWidget()
    for page in pages:
        stack.addWidget(page)
    ml.addWidget(stack, 1)
    splitter = QSplitter()
    splitter.setObjectName("main-splitter")
    splitter.addWidget(left)
    splitter.addWidget(middle)
    splitter.addWidget(detail)
    splitter.setStretchFactor(0, 0)
    splitter.setStretchFactor(1, 1)
    splitter.setStretchFactor(2, 0)
    splitter.setSizes([230, 900, 320])
    return splitter, stack
