"""The main window: folders | grid | detail panel, toolbar, filter bar, status bar with progress.

Threads (one owner per resource):

* GUI thread: its own catalog connection for reading rows and editing choices.
* ``library`` lane (1 thread, low priority): scan -> import keywords -> predict; owns the model.
* ``images`` lane (2 threads): thumbnails and previews (decoding only, no catalog).
* ``writer`` lane (1 thread): the batch writer (its own connection; exiftool service).

Closing the window cancels every lane and joins its threads before the catalog is closed.
"""

from __future__ import annotations

import logging
import os
from functools import partial

import numpy as np
from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QColor,
    QGuiApplication,
    QIcon,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSizePolicy,
    QSlider,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from moodtagger.core import rows as R
from moodtagger.core.catalog import Catalog
from moodtagger.core.library import Library, LibraryError, RefreshResult
from moodtagger.core.moods import DISPLAY_ORDER, MOODS, display_name
from moodtagger.core.rows import load_rows
from moodtagger.gui.choices import ChoiceController
from moodtagger.gui.delegate import MOOD_COLORS, PhotoDelegate
from moodtagger.gui.detail import PREVIEW_SIDE, DetailPanel, PreviewDialog
from moodtagger.gui.errors import CrashReporter, is_expected
from moodtagger.gui.jobs import Job, JobRunner
from moodtagger.gui.mapview import MoodMap, mood_index_for
from moodtagger.gui.photomodel import (
    ASCENDING_KEYS,
    SORT_KEYS,
    Filter,
    PhotoModel,
    PhotoProxy,
    Roles,
    sort_key_label,
)
from moodtagger.gui.pipeline import (
    LearnOutcome,
    ModelOwner,
    learn,
    load_all,
    run_pipeline,
    warm_up,
)
from moodtagger.gui.settings import AppSettings, SettingsDialog, open_qsettings
from moodtagger.gui.similar import DEFAULT_K, SimilarResult, SimilarService
from moodtagger.gui.thumbs import ThumbnailLoader, load_preview
from moodtagger.gui.why import WhyService
from moodtagger.gui.writedialog import BatchWriteDialog, metadata_available, no_metadata_message

log = logging.getLogger(__name__)

RESOURCES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "resources")


def app_icon() -> QIcon:
    path = os.path.join(RESOURCES, "moodtagger.svg")
    return QIcon(path) if os.path.exists(path) else QIcon()


def learn_summary_text(summary, reset: bool) -> str:
    """One line: what learning (or going back) did, in the user's words."""
    n = summary.changed
    changed = f"{n} suggestion{'s' * (n != 1)} changed"
    if reset:
        return f"Back to the shipped model: {changed} back"
    ex = sum(summary.examples.values())
    return (f"Learnt from {ex} choice{'s' * (ex != 1)}: {changed} "
            f"(of {summary.predicted:,} photos, {summary.seconds:.1f} s)")


def learn_changes_text(summary, limit: int = 8) -> str:
    """What the suggestions changed to (``Now Awe: 5 …``) and the largest moves (``Fear → Awe: 3``)."""
    lines = []
    if summary.changed:
        lines.append("Now " + ", ".join(f"{display_name(m)}: {n}" for m, n in
                                 sorted(summary.changed_to().items(), key=lambda kv: -kv[1])))
    lines += [f"{display_name(a)} → {display_name(b)}: {n}" for (a, b), n in list(summary.changes.items())[:limit]]
    if summary.skipped:
        lines.append(f"{summary.skipped} chosen photo{'s' * (summary.skipped != 1)} had no embedding yet "
                     "and taught nothing (rescan them)")
    return "\n".join(lines)


class PhotoGrid(QListView):
    """Icon-mode list over the proxy. Keys: arrows move, 1-8 toggle moods (display order),
    Enter accepts the top suggestion, Space previews, Delete clears the choice."""

    moodKey = Signal(int)
    acceptRequested = Signal()
    previewRequested = Signal()
    clearRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setMouseTracking(True)
        self.setSpacing(0)
        # Always on: with "as needed", QListView keeps a scroll bar's width free on the right even
        # when no scroll bar is shown (an empty band right of the grid).
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.base_cell = QSize(160, 200)
        self.hover_bar: tuple[int, str] | None = None  # (photo id, mood) under the mouse

    def set_base_cell(self, size: QSize) -> None:
        """The smallest cell; the columns then share the viewport's width (no empty band)."""
        self.base_cell = QSize(size)
        self._fit_columns()

    def _fit_columns(self) -> None:
        avail = self.viewport().width() - 1
        cols = max(1, avail // max(1, self.base_cell.width()))
        width = max(self.base_cell.width(), avail // cols)
        delegate = self.itemDelegate()
        if hasattr(delegate, "cell_width"):
            delegate.cell_width = width
        if self.gridSize() != QSize(width, self.base_cell.height()):
            self.setGridSize(QSize(width, self.base_cell.height()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def mouseMoveEvent(self, event) -> None:
        super().mouseMoveEvent(event)
        idx = self.indexAt(event.position().toPoint())
        delegate = self.itemDelegate()
        hover = None
        if idx.isValid() and hasattr(delegate, "bar_at"):
            mood = delegate.bar_at(self.visualRect(idx), event.position())
            if mood is not None:
                hover = (int(idx.data(Roles.PhotoIdRole)), mood)
        if hover != self.hover_bar:
            self.hover_bar = hover
            if hasattr(delegate, "hover"):
                delegate.hover = hover
            self.viewport().update()

    def leaveEvent(self, event) -> None:
        super().leaveEvent(event)
        if self.hover_bar is not None:
            self.hover_bar = None
            if hasattr(self.itemDelegate(), "hover"):
                self.itemDelegate().hover = None
            self.viewport().update()

    def keyPressEvent(self, event) -> None:
        key = event.key()
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if mods == Qt.KeyboardModifier.NoModifier:
            if Qt.Key.Key_1 <= key <= Qt.Key.Key_8:
                self.moodKey.emit(int(key) - int(Qt.Key.Key_1))
                event.accept()
                return
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.acceptRequested.emit()
                event.accept()
                return
            if key == Qt.Key.Key_Space:
                self.previewRequested.emit()
                event.accept()
                return
            if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                self.clearRequested.emit()
                event.accept()
                return
        super().keyPressEvent(event)


class MainWindow(QMainWindow):
    pipelineFinished = Signal(object)  # RefreshResult (or None when it failed)
    learnFinished = Signal(object)  # LearnSummary (or None when nothing was learnt)
    catalogLoaded = Signal()
    busyChanged = Signal(bool)

    def __init__(self, catalog_path: str, settings: AppSettings | None = None,
                 reporter: CrashReporter | None = None, parent: QWidget | None = None, *,
                 load_async: bool = True, warm_up_model: bool = True):
        super().__init__(parent)
        self.settings = settings or AppSettings.load()
        self.reporter = reporter or CrashReporter(interactive=False)
        self.catalog_path = str(catalog_path)
        self.catalog = Catalog(self.catalog_path)
        self._resolve_models()
        self._closed = False
        self._pipeline_job: Job | None = None
        self._queued_roots: list[str] | None = None
        self._preview_job: Job | None = None
        self._preview_dialog: PreviewDialog | None = None
        self.write_dialog: BatchWriteDialog | None = None
        self.last_result: RefreshResult | None = None

        self.setWindowTitle("moodtagger")
        self.setWindowIcon(app_icon())
        self.library_jobs = JobRunner("library", 1, nice=10, parent=self)
        self.image_jobs = JobRunner("images", 2, nice=5, parent=self)
        self.why_jobs = JobRunner("why", 1, nice=5, parent=self)
        self.similar_jobs = JobRunner("similar", 1, nice=5, parent=self)
        self.similar = SimilarService(self.similar_jobs, self.catalog_path, lambda: self.settings.model_id or None, self)
        self.similar.found.connect(self._similar_found)
        self.similar.failed.connect(self.show_status)
        self.similar.crashed.connect(self.reporter.report)
        self._similar: SimilarResult | None = None
        self.similar_k = DEFAULT_K  # photos a "more like this" filter shows
        self._sort_before_similar: tuple[str, bool] | None = None
        self._learn_job: Job | None = None
        self.learn_box: QMessageBox | None = None
        self.confirm_quit = True  # ask before quitting with chosen moods not written yet
        self._only_ids: frozenset[int] | None = None
        self.writer_jobs = JobRunner("writer", 1, parent=self)
        self.model_owner = ModelOwner()

        # model / view -----------------------------------------------------------------------
        self.model = PhotoModel(self, margin=self.settings.ambiguity_margin)
        self.proxy = PhotoProxy(self)
        self.proxy.setSourceModel(self.model)
        self.delegate = PhotoDelegate(self, thumb_size=self.settings.thumb_size)
        self.grid = PhotoGrid()
        self.grid.setModel(self.proxy)
        self.grid.setItemDelegate(self.delegate)
        self.grid.set_base_cell(self.delegate.cell_size())
        self.loader = ThumbnailLoader(self.image_jobs, self._thumb_box(), self)
        self.model.thumbnailWanted.connect(self.loader.request)
        self.loader.loaded.connect(self.model.set_thumbnails)
        self.loader.dropped.connect(self.model.forget_wanted)
        self.undo_stack = QUndoStack(self)
        self.choices = ChoiceController(self.catalog, self.model, self.undo_stack)

        self.detail = DetailPanel()
        self.detail.moodToggled.connect(self.toggle_mood)
        self.why = WhyService(self.why_jobs, lambda: self.base_model_id, self)
        self.why.ready.connect(self.detail.set_why)
        self.why.failed.connect(self.detail.why_failed)
        self.detail.whyChanged.connect(self._request_why)
        self.map = MoodMap()
        self.map.thumbnail_for = self._map_thumbnail
        self.map.selected.connect(self._map_selected)
        self.map.activated.connect(self._map_activated)
        self.roots = QListWidget()
        self.roots.setMinimumWidth(150)
        self.roots.currentItemChanged.connect(self._root_changed)

        self._build_actions()
        self._build_filter_bar()
        self._build_layout()
        self._build_status_bar()

        self.grid.moodKey.connect(lambda i: self.toggle_mood(DISPLAY_ORDER[i]))
        self.grid.acceptRequested.connect(self.accept_selected)
        self.grid.previewRequested.connect(self.preview_current)
        self.grid.clearRequested.connect(lambda: self.choices.clear(self.selected_ids()))
        self.grid.doubleClicked.connect(lambda _i: self.preview_current())
        self._detail_timer = QTimer(self, singleShot=True, interval=0, timeout=self._refresh_detail)
        self._count_timer = QTimer(self, singleShot=True, interval=50, timeout=self._refresh_count)
        self.grid.selectionModel().selectionChanged.connect(self._schedule_detail)
        self.grid.selectionModel().currentChanged.connect(self._schedule_detail)
        self.model.dataChanged.connect(self._model_data_changed)
        for sig in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                    self.proxy.layoutChanged, self.proxy.filterChanged):
            sig.connect(self._count_timer.start)
        self._map_timer = QTimer(self, singleShot=True, interval=120, timeout=self._refresh_map)
        for sig in (self.proxy.modelReset, self.proxy.layoutChanged, self.proxy.filterChanged, self.model.rowsMerged,
                    self.model.rowsRemoved):
            sig.connect(self._map_timer.start)
        self._search_timer = QTimer(self, singleShot=True, interval=150, timeout=self._filter_changed)
        self.library_jobs.busyChanged.connect(self._lane_busy)
        self.writer_jobs.busyChanged.connect(self._lane_busy)
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda *_: self.grid.viewport().update())

        self._restore_window_state()
        self._refresh_roots()
        self.loaded = False
        if load_async:
            self.load_async()
        else:
            self.reload()
        if warm_up_model:
            self.library_jobs.submit(
                partial(warm_up, model_id=self.settings.model_id or None, device=self.settings.device),
                on_done=self._warmed_up, label="warm up")

    def _warmed_up(self, _result, error) -> None:
        if error is not None:  # e.g. torch missing: predicting will say so plainly
            log.warning("warming up the model failed: %s", error)


    # =========================================================================================
    # construction
    # =========================================================================================
    def _resolve_models(self) -> None:
        """``base_model_id`` decodes and predicts; ``model_id`` is the model whose suggestions
        the grid shows: the personal model learnt on top of the base one, when one is in use."""
        from moodtagger.core.model import registry

        if self.settings.model_id:
            base = self.settings.model_id
        else:
            try:
                base = registry.default_model_id()
            except registry.ModelError:  # no models folder: grid still works, predictions will say why
                base = registry.DEFAULT_MODEL
        self.base_model_id = base
        self.model_id = Library(self.catalog, base).model_id or base

    def _thumb_box(self) -> QSize:
        dpr = max(1.0, self.devicePixelRatioF())
        side = int(self.settings.thumb_size * dpr)
        return QSize(side, side)

    def _action(self, text: str, slot, shortcut=None, tip: str = "", icon: str | None = None) -> QAction:
        act = QAction(text, self)
        if icon:
            act.setIcon(QIcon.fromTheme(icon))
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setToolTip(tip or text)
        act.setStatusTip(tip or text)
        act.triggered.connect(lambda _checked=False: slot())
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        self.act_add = self._action("Add folder…", self.add_folder_dialog, QKeySequence.StandardKey.Open,
                                    "Add a folder to the library and scan it", "folder-new")
        self.act_rescan = self._action("Rescan", self.rescan, QKeySequence.StandardKey.Refresh,
                                       "Look for new and changed photos in the library folders", "view-refresh")
        self.act_accept = self._action("Accept", self.accept_selected, None,
                                       "Choose the top suggestion for the selected photos (Enter)", "dialog-ok")
        self.act_accept_all = self._action("Accept all above…", self.accept_all_dialog, "Ctrl+Shift+A",
                                           "Choose the top suggestion for every shown, unconfirmed photo "
                                           "whose top probability is at least a threshold")
        self.act_write = self._action("Write…", self.write_dialog_open, "Ctrl+S",
                                      "Write the chosen moods into the files", "document-save")
        self.act_undo = self.undo_stack.createUndoAction(self, "Undo")
        self.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.act_redo = self.undo_stack.createRedoAction(self, "Redo")
        redo_keys = [*QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)]
        for extra in ("Ctrl+Shift+Z", "Ctrl+Y"):
            if QKeySequence(extra) not in redo_keys:
                redo_keys.append(QKeySequence(extra))
        self.act_redo.setShortcuts(redo_keys)
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)
        self.act_settings = self._action("Settings…", self.settings_dialog, QKeySequence.StandardKey.Preferences,
                                         "Catalog, model, fields to write, thumbnail size", "preferences-system")
        self.act_quit = self._action("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_view_grid = self._action("Grid", lambda: self.set_view("grid"), "Ctrl+1", "Show the photos as a grid")
        self.act_view_map = self._action("Mood map", lambda: self.set_view("map"), "Ctrl+2",
                                         "Show the photos in the valence–arousal plane")
        group = QActionGroup(self)
        for a in (self.act_view_grid, self.act_view_map):
            a.setCheckable(True)
            group.addAction(a)
        self.act_view_grid.setChecked(True)
        self.act_why = self._action("Why this mood?", lambda: self.detail.why_button.toggle(), "W",
                                    "Overlay a heat map of the regions that drive the mood")
        self.act_search = self._action("Search", self._focus_search, QKeySequence.StandardKey.Find,
                                       "Search file names, folders and keywords")
        self.act_preview = self._action("Preview", self.preview_current, None, "Show the photo large (Space)")
        self.act_clear = self._action("Clear choice", lambda: self.choices.clear(self.selected_ids()), None,
                                      "Forget the chosen moods of the selected photos (Delete)")
        self.act_shortcuts = self._action("Keyboard shortcuts", self.shortcuts_dialog, QKeySequence.StandardKey.HelpContents,
                                          "Every key the app knows")
        self.act_about = self._action("About moodtagger", self._about)
        self.act_similar = self._action("More like this", self.more_like_this, "M",
                                        "Show only the photos most like the selected ones, most similar first")
        self.act_learn = self._action("Learn from my choices", self.learn_from_choices, "Ctrl+L",
                                      "Fit a personal model on the moods you chose (and those already in "
                                      "the files) and update every suggestion")
        self.act_unlearn = self._action("Back to the shipped model", self.back_to_shipped_model, None,
                                        "Forget what was learnt from your choices: the shipped model's "
                                        "suggestions again")
        self.act_unlearn.setEnabled(self.model_id != self.base_model_id)
        self._build_menus()

        tb = QToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.act_add, self.act_rescan, None, self.act_accept, self.act_accept_all, self.act_write,
                  None, self.act_undo, self.act_redo, None, self.act_settings):
            tb.addSeparator() if a is None else tb.addAction(a)
        self.addToolBar(tb)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        menus = {
            "&File": [self.act_add, self.act_rescan, None, self.act_write, None, self.act_settings, None, self.act_quit],
            "&Edit": [self.act_undo, self.act_redo, None, self.act_accept, self.act_accept_all, self.act_clear, None,
                      self.act_learn, self.act_unlearn],
            "&View": [self.act_view_grid, self.act_view_map, None, self.act_similar, self.act_why, self.act_preview,
                      self.act_search],
            "&Help": [self.act_shortcuts, self.act_about],
        }
        self.menus = {}
        for title, actions in menus.items():
            m = mb.addMenu(title)
            for a in actions:
                m.addSeparator() if a is None else m.addAction(a)
            self.menus[title.replace("&", "")] = m

    # keys handled by the grid itself (not actions), for the shortcuts list
    GRID_KEYS = (("1 … 8", "Toggle a mood on the selected photos (positive 1–4, negative 5–8)"),
                 ("Enter", "Accept the top suggestion and move on"),
                 ("Space", "Preview the photo large"),
                 ("Delete", "Clear the choice (back to the suggestion)"),
                 ("Arrows, Home, End, Page Up/Down", "Move in the grid (Shift: extend the selection)"),
                 ("Map: drag / Shift+drag", "Rectangle / lasso selection"),
                 ("Map: Ctrl+drag, wheel", "Pan, zoom"))

    def shortcut_rows(self) -> list[tuple[str, str]]:
        rows = list(self.GRID_KEYS)
        for act in self.actions():
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in act.shortcuts()]
            if keys and act.text():
                rows.append((", ".join(keys), act.text().replace("&", "").rstrip(".…")))
        return rows

    def shortcuts_dialog(self) -> QDialog:
        dlg = QDialog(self)
        dlg.setWindowTitle("Keyboard shortcuts")
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        lay = QVBoxLayout(dlg)
        table = QTreeWidget()
        table.setRootIsDecorated(False)
        table.setHeaderLabels(["Keys", "Does"])
        for keys, text in self.shortcut_rows():
            table.addTopLevelItem(QTreeWidgetItem([keys, text]))
        table.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        lay.addWidget(table)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(dlg.reject)
        lay.addWidget(box)
        dlg.resize(560, 460)
        dlg.table = table  # type: ignore[attr-defined]
        self.shortcuts = dlg
        dlg.open()
        return dlg

    def _about(self) -> None:
        from moodtagger import __version__

        QMessageBox.about(self, "About moodtagger",
                          f"moodtagger {__version__}\nSee how your photos feel, filter them by mood and write "
                          "mood keywords into them.")

    def _build_filter_bar(self) -> None:
        """Filters live in the left panel (under the folders); sorting sits above the grid."""
        box = QGroupBox("Filter")
        lay = QVBoxLayout(box)
        moods = QGridLayout()
        moods.setSpacing(3)
        self.mood_buttons: dict[str, QToolButton] = {}
        for k, mood in enumerate(DISPLAY_ORDER):
            b = QToolButton()
            b.setText(display_name(mood))
            b.setCheckable(True)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.setToolTip(f"Show photos whose chosen mood or top suggestion is {display_name(mood)} "
                         "(several: any of them)")
            b.setStyleSheet(f"QToolButton {{ border: 1px solid palette(mid); border-left: 6px solid {MOOD_COLORS[mood]}; "
                            "border-radius: 2px; padding: 2px 4px; }"
                            f"QToolButton:checked {{ background: {QColor(MOOD_COLORS[mood]).lighter(115).name()};"
                            " color: black; font-weight: bold; }")
            b.toggled.connect(self._filter_changed)
            self.mood_buttons[mood] = b
            moods.addWidget(b, k % 4, k // 4)  # positive moods left column, negative right
        lay.addLayout(moods)
        row = QHBoxLayout()
        row.addWidget(QLabel("Min p"))
        self.min_slider = QSlider(Qt.Orientation.Horizontal)
        self.min_slider.setRange(0, 100)
        self.min_slider.setSingleStep(5)
        self.min_slider.setPageStep(10)
        self.min_slider.setToolTip("Minimum probability of the matching mood (of the top mood when no mood is selected)")
        self.min_label = QLabel("0%")
        self.min_label.setMinimumWidth(34)
        self.min_slider.valueChanged.connect(self._filter_changed)
        row.addWidget(self.min_slider, 1)
        row.addWidget(self.min_label)
        lay.addLayout(row)
        self.state_combo = QComboBox()
        self.state_combo.addItem("All states", "")
        for s, label in (("unconfirmed", "Unconfirmed"), ("chosen", "Chosen, not written"), ("written", "Written"),
                         ("error", "Errors")):
            self.state_combo.addItem(label, s)
        self.state_combo.currentIndexChanged.connect(self._filter_changed)
        lay.addWidget(self.state_combo)
        self.ambiguous_box = QCheckBox("Ambiguous only")
        self.ambiguous_box.setToolTip("Photos the model is unsure about (top two moods close) and nobody chose yet")
        self.ambiguous_box.toggled.connect(self._filter_changed)
        lay.addWidget(self.ambiguous_box)
        self.filter_box = box

        bar = QWidget()
        top = QHBoxLayout(bar)
        top.setContentsMargins(4, 2, 4, 2)
        self.count_label = QLabel("")
        top.addWidget(self.count_label)
        self.map_filter_button = QToolButton()
        self.map_filter_button.setText("Map selection ✕")
        self.map_filter_button.setToolTip("The grid shows only the photos selected on the mood map; click to show all")
        self.map_filter_button.setVisible(False)
        self.map_filter_button.clicked.connect(self.clear_only_ids)
        top.addWidget(self.map_filter_button)
        top.addStretch(1)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, folder, keyword")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Every word must appear in the file name, its folder or the keywords already in the file (Ctrl+F)")
        self.search.setMinimumWidth(200)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(lambda: (self._filter_changed(), self.grid.setFocus()))
        top.addWidget(self.search, 1)
        self.view_grid_button = QToolButton()
        self.view_grid_button.setDefaultAction(self.act_view_grid)
        self.view_map_button = QToolButton()
        self.view_map_button.setDefaultAction(self.act_view_map)
        top.addWidget(self.view_grid_button)
        top.addWidget(self.view_map_button)
        top.addWidget(QLabel("Sort by"))
        self.sort_combo = QComboBox()
        for key in SORT_KEYS:
            self.sort_combo.addItem(sort_key_label(key), key)
        self.sort_desc = QToolButton()
        self.sort_desc.setCheckable(True)
        self.sort_desc.setText("↑")
        self.sort_desc.setToolTip("Descending")
        self.sort_combo.currentIndexChanged.connect(self._sort_key_changed)
        self.sort_desc.toggled.connect(self._sort_changed)
        top.addWidget(self.sort_combo)
        top.addWidget(self.sort_desc)
        self.filter_bar = bar

    def _build_layout(self) -> None:
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(4, 0, 0, 0)
        ll.addWidget(QLabel("Library folders"))
        ll.addWidget(self.roots, 1)
        add = QToolButton()
        add.setDefaultAction(self.act_add)
        ll.addWidget(add)
        ll.addWidget(self.filter_box)
        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.setSpacing(0)
        ml.addWidget(self.filter_bar)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.grid)
        self.stack.addWidget(self._build_map_page())
        ml.addWidget(self.stack, 1)
        self.splitter = QSplitter()
        self.splitter.setObjectName("main-splitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([230, 900, 320])
        self.setCentralWidget(self.splitter)
        self.grid.setFocus()

    def _build_map_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        self.map_rect = QToolButton()
        self.map_rect.setText("Rectangle")
        self.map_lasso = QToolButton()
        self.map_lasso.setText("Lasso")
        for b in (self.map_rect, self.map_lasso):
            b.setCheckable(True)
            b.setAutoExclusive(True)
        self.map_rect.setChecked(True)
        self.map_lasso.toggled.connect(lambda on: setattr(self.map, "lasso_mode", on))
        self.map_target = QComboBox()
        self.map_target.addItem("selects in the grid", "select")
        self.map_target.addItem("filters the grid", "filter")
        self.map_target.setToolTip("What a selection on the map does")
        fit = QToolButton()
        fit.setText("Whole plane")
        fit.clicked.connect(self.map.fit)
        bar.addWidget(QLabel("Drag:"))
        bar.addWidget(self.map_rect)
        bar.addWidget(self.map_lasso)
        bar.addSpacing(12)
        bar.addWidget(QLabel("A selection"))
        bar.addWidget(self.map_target)
        bar.addStretch(1)
        bar.addWidget(fit)
        lay.addLayout(bar)
        lay.addWidget(self.map, 1)
        return page

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop scanning / predicting (what is done is kept)")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_work)
        sb.addWidget(self.status_label, 1)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)

    # =========================================================================================
    # library: loading, scanning, predicting
    # =========================================================================================
    def reload(self) -> None:
        """All rows from the catalog (one query), on the GUI thread."""
        self._set_rows(load_rows(self.catalog, self.model_id))

    def load_async(self) -> None:
        """All rows from the catalog, read on the library lane; scans queue behind it."""
        self.status_label.setText("Opening the catalog…")
        self.library_jobs.submit(partial(load_all, catalog_path=self.catalog_path, model_id=self.model_id),
                                 on_done=self._loaded, label="open catalog")

    def _loaded(self, rows, error) -> None:
        if error is not None:
            self.show_status(f"Cannot read the catalog: {error}")
            if not is_expected(error):
                self.reporter.report(error)
            return
        self._set_rows(rows)
        if not self.busy:
            self.status_label.setText(f"{len(rows):,} photos")

    def _set_rows(self, rows) -> None:
        self.model.set_rows(rows)
        self.reload_keywords()
        self._refresh_count()
        self.loaded = True
        self.catalogLoaded.emit()

    def _refresh_roots(self) -> None:
        current = self.roots.currentItem().data(Qt.ItemDataRole.UserRole) if self.roots.currentItem() else None
        self.roots.blockSignals(True)
        self.roots.clear()
        all_item = QListWidgetItem("All folders")
        all_item.setData(Qt.ItemDataRole.UserRole, None)
        self.roots.addItem(all_item)
        select = all_item
        for rid, path in self.catalog.roots():
            it = QListWidgetItem(os.path.basename(path.rstrip("/")) or path)
            it.setToolTip(path)
            it.setData(Qt.ItemDataRole.UserRole, rid)
            it.setData(Qt.ItemDataRole.UserRole + 1, path)
            self.roots.addItem(it)
            if rid == current:
                select = it
        self.roots.setCurrentItem(select)
        self.roots.blockSignals(False)

    def add_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder to the library")
        if path:
            self.open_folder(path)

    def open_folder(self, path: str) -> None:
        path = os.path.abspath(path)
        if not os.path.isdir(path):
            self.show_status(f"{path}: not a folder")
            return
        rid = self.catalog.add_root(path)
        self._refresh_roots()
        for i in range(self.roots.count()):  # show the folder the user opened
            if self.roots.item(i).data(Qt.ItemDataRole.UserRole) == rid:
                self.roots.setCurrentRow(i)
                break
        self.scan([path])

    def rescan(self) -> None:
        self.scan([p for _rid, p in self.catalog.roots()])

    def scan(self, roots: list[str], *, predict: bool = True) -> None:
        """Scan ``roots`` (may be empty: just predict what is missing) in the library lane."""
        if self._closed:
            return
        if self._pipeline_job is not None:  # run again when the current one ends
            self._queued_roots = sorted(set(self._queued_roots or []) | set(roots))
            return
        self._set_busy_ui(True, "Scanning")
        fn = partial(run_pipeline, catalog_path=self.catalog_path, roots=list(roots), model_id=self.base_model_id,
                     device=self.settings.device, owner=self.model_owner, predict=predict,
                     settings=self.settings.write_settings())
        self._pipeline_job = self.library_jobs.submit(
            lambda job: fn(job), on_batch=self._pipeline_batch, on_progress=self._pipeline_progress,
            on_done=self._pipeline_done, label="scan+predict")

    def _pipeline_batch(self, item) -> None:
        kind, payload = item
        if kind == "rows":
            self.model.merge(payload)
            self.similar.invalidate()
        elif kind == "missing":
            self.model.remove_ids(payload)
        elif kind == "phase":
            self._phase = payload
            self.status_label.setText(f"{payload}…")
            self.progress.setRange(0, 0)

    def _pipeline_progress(self, done: int, total: int) -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.status_label.setText(f"{getattr(self, '_phase', 'Working')}: {done} / {total}")

    def _pipeline_done(self, result: RefreshResult | None, error: BaseException | None) -> None:
        self._pipeline_job = None
        self.last_result = result
        if error is not None:
            if is_expected(error):
                self.show_status(f"Stopped: {error}")
            else:
                self.show_status(f"Unexpected error: {error}")
                self.reporter.report(error)
        elif result is not None:
            self.show_status(self._summary_text(result))
        if result is not None and result.imported or (result and result.scan and not result.scan.nothing_changed):
            self.reload_keywords()
        if self.model.sort_key[0] != "name" or (result and result.scan and result.scan.new):
            self.model.resort()
        self._schedule_detail()
        if self._queued_roots is not None and not self._closed:
            roots, self._queued_roots = self._queued_roots, None
            self.scan(roots)
            return
        self._set_busy_ui(False)
        self.pipelineFinished.emit(result)

    def _summary_text(self, r: RefreshResult) -> str:
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
            parts.append(f"{len(r.errors)} file{'s' * (len(r.errors) != 1)} could not be read (filter: Errors)")
        if r.predict_error:
            parts.append(f"moods not predicted: {r.predict_error}")
        if r.import_error:
            parts.append(f"keywords not read: {r.import_error}")
        if r.cancelled:
            parts.append("cancelled")
        return "; ".join(parts) or "Done"

    def cancel_work(self) -> None:
        self._queued_roots = None
        if self._pipeline_job is not None:
            self._pipeline_job.cancel.set()
            self.status_label.setText("Cancelling…")

    def _set_busy_ui(self, busy: bool, text: str = "") -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
            self._phase = text
            self.status_label.setText(f"{text}…")
        self.busyChanged.emit(busy)

    def _lane_busy(self, _busy: bool) -> None:
        self.act_write.setEnabled(not self.writer_jobs.busy)

    @property
    def busy(self) -> bool:
        return self.library_jobs.busy or self.writer_jobs.busy

    def is_idle(self) -> bool:
        """No scan/prediction/write running and no thumbnail waiting."""
        return (not (self.library_jobs.busy or self.writer_jobs.busy or self.image_jobs.busy or self.why_jobs.busy
                     or self.similar_jobs.busy)
                and self.loader.idle and self.why.idle and self.similar.idle)

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)
        log.info("%s", text)

    # =========================================================================================
    # filtering and sorting
    # =========================================================================================
    def current_filter(self) -> Filter:
        moods = frozenset(m for m, b in self.mood_buttons.items() if b.isChecked())
        state = self.state_combo.currentData()
        item = self.roots.currentItem()
        return Filter(moods=moods, min_prob=self.min_slider.value() / 100.0,
                      states=frozenset([state]) if state else frozenset(),
                      ambiguous_only=self.ambiguous_box.isChecked(),
                      root_path=item.data(Qt.ItemDataRole.UserRole + 1) if item else None,
                      margin=self.settings.ambiguity_margin, text=self.search.text().strip(),
                      only_ids=self._only_ids)

    def _filter_changed(self, *_args) -> None:
        self.min_label.setText(f"{self.min_slider.value()}%")
        self.proxy.set_filter(self.current_filter())
        self._schedule_detail()

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def set_only_ids(self, ids, *, text: str | None = None, tip: str | None = None) -> None:
        """Show only these photos (a mood-map selection; "more like this" passes its own
        ``text`` and ``tip``); ``None`` shows all again. The button above the grid says which
        filter it is and clears it."""
        if text is None and self._similar is not None:  # a map selection replaces "more like this"
            self._end_similar()
        self._only_ids = None if ids is None else frozenset(int(i) for i in ids)
        self.map_filter_button.setVisible(self._only_ids is not None)
        if self._only_ids is not None:
            self.map_filter_button.setText(text or f"Map selection: {len(self._only_ids):,} ✕")
            self.map_filter_button.setToolTip(
                tip or "The grid shows only the photos selected on the mood map; click to show all")
        self._filter_changed()

    def clear_only_ids(self) -> None:
        self._end_similar()
        self.set_only_ids(None)

    # =========================================================================================
    # more like this
    # =========================================================================================
    def more_like_this(self) -> None:
        """Filter the grid to the photos most like the selection (searched off the GUI thread)."""
        ids = self.selected_ids()
        if not ids:
            self.show_status("Select a photo first: More like this shows the photos most like it")
            return
        self.show_status("Looking for similar photos…")
        self.similar.request(ids, self.similar_k)

    def _similar_found(self, result: SimilarResult) -> None:
        if self._closed:
            return
        first = self.model.index_of(result.query[0])
        name = first.data(Qt.ItemDataRole.DisplayRole) if first.isValid() else "the selection"
        if len(result.query) > 1:
            name = f"{len(result.query)} photos"
        if self._sort_before_similar is None:
            self._sort_before_similar = self.model.sort_key
        self._similar = result
        self.model.set_ranking(result.scores())
        self.set_only_ids(result.scores(), text=f"Like {name}: {len(result.hits):,} ✕",
                          tip=f"The photos most like {name} (and the selection), most similar first; "
                          "click to show all")
        if self.sort_combo.findData("similarity") < 0:
            self.sort_combo.insertItem(0, "Similarity", "similarity")
        self.sort_by("similarity", True)
        self.select_ids(list(result.query))
        n = len(result.hits)
        self.show_status(f"{n} photo{'s' * (n != 1)} like {name}, most similar first")

    def _end_similar(self) -> None:
        """Drop the "more like this" filter's order (back to the sort before it)."""
        if self._similar is None:
            return
        self._similar = None
        before, self._sort_before_similar = self._sort_before_similar or ("name", False), None
        self.model.set_ranking(None)
        i = self.sort_combo.findData("similarity")
        if i >= 0:
            self.sort_combo.blockSignals(True)
            self.sort_combo.removeItem(i)
            self.sort_combo.blockSignals(False)
        self.sort_by(*before)

    @property
    def similar_result(self) -> SimilarResult | None:
        """The "more like this" filter shown (None: none)."""
        return self._similar

    # =========================================================================================
    # learning from the user's choices
    # =========================================================================================
    def learn_from_choices(self) -> None:
        self._run_learn(reset=False)

    def back_to_shipped_model(self) -> None:
        self._run_learn(reset=True)

    def _run_learn(self, *, reset: bool) -> None:
        """On the library lane (after any scan), like the CLI's ``learn`` (``--reset``)."""
        if self._closed or self._learn_job is not None:
            return
        self.act_learn.setEnabled(False)
        self.act_unlearn.setEnabled(False)
        self._set_busy_ui(True, "Going back to the shipped model" if reset else "Learning from your choices")
        self._learn_job = self.library_jobs.submit(
            partial(learn, catalog_path=self.catalog_path, base_model_id=self.base_model_id, reset=reset),
            on_progress=self._pipeline_progress, on_done=partial(self._learnt, reset), label="learn")

    def _learnt(self, reset: bool, outcome: LearnOutcome | None, error: BaseException | None) -> None:
        self._learn_job = None
        self.act_learn.setEnabled(True)
        self._set_busy_ui(self._pipeline_job is not None, getattr(self, "_phase", ""))
        if error is not None or outcome is None:
            self.act_unlearn.setEnabled(self.model_id != self.base_model_id)
            if isinstance(error, LibraryError):  # nothing to learn from, no model: said plainly
                self.show_status(str(error))
                self._open_learn_box(QMessageBox(QMessageBox.Icon.Information, "Learn from my choices",
                                                 str(error), QMessageBox.StandardButton.Ok, self))
            elif error is not None:
                self.show_status(f"Unexpected error: {error}")
                self.reporter.report(error)
            self.learnFinished.emit(None)
            return
        self.model_id = outcome.model_id or self.base_model_id
        self.act_unlearn.setEnabled(self.model_id != self.base_model_id)
        self.model.merge(outcome.rows)
        self.model.resort()
        self._schedule_detail()
        self.show_status(learn_summary_text(outcome.summary, reset))
        self._show_learn_summary(outcome.summary, reset)
        self.learnFinished.emit(outcome.summary)

    def _show_learn_summary(self, summary, reset: bool) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Back to the shipped model" if reset else "Learnt from your choices",
                          learn_summary_text(summary, reset), parent=self)
        changes = learn_changes_text(summary)
        if changes:
            box.setInformativeText(changes)
        box.addButton(QMessageBox.StandardButton.Ok)
        self.learn_back_button = None
        if not reset:
            back = box.addButton("Back to the shipped model", QMessageBox.ButtonRole.ResetRole)
            back.clicked.connect(self.back_to_shipped_model)
            self.learn_back_button = back
        self._open_learn_box(box)

    def _open_learn_box(self, box: QMessageBox) -> None:
        """Window-modal, never ``exec()``: the app keeps running while it is shown."""
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r: setattr(self, "learn_box", None) if self.learn_box is box else None)
        if self.learn_box is not None:
            self.learn_box.close()
        self.learn_box = box
        box.open()

    def reload_keywords(self) -> None:
        """Keywords found in the files, for the search box (one query)."""
        self.model.set_keywords(self.catalog.all_file_keywords())
        if self.search.text().strip():
            self.proxy.refilter()

    # =========================================================================================
    # views: grid and mood map
    # =========================================================================================
    def set_view(self, view: str) -> None:
        is_map = view == "map"
        self.stack.setCurrentIndex(1 if is_map else 0)
        (self.act_view_map if is_map else self.act_view_grid).setChecked(True)
        if is_map:
            self._refresh_map()
            self.map.setFocus()
        else:
            self.grid.setFocus()

    @property
    def view(self) -> str:
        return "map" if self.stack.currentIndex() == 1 else "grid"

    def _refresh_map(self) -> None:
        if self._closed or self.view != "map":
            return
        rows = self.model.rows
        mask = self.model.filter_mask(self.proxy.filter)
        moods = mood_index_for(rows, self.model.derived())
        self.map.set_points(rows.ids[mask], rows.valence[mask], rows.arousal[mask], moods[mask])
        self.map.set_highlight(self.selected_ids())

    def _map_thumbnail(self, pid: int):
        idx = self.model.index_of(pid)
        return idx.data(Roles.ThumbnailRole) if idx.isValid() else None

    def _map_selected(self, ids) -> None:
        ids = [int(i) for i in ids]
        if self.map_target.currentData() == "filter" and ids:
            self.set_only_ids(ids)
        self.select_ids(ids)
        self.map.set_highlight(ids)
        n = len(ids)
        self.show_status(f"{n:,} photo{'s' * (n != 1)} selected on the map")

    def _map_activated(self, pid: int) -> None:
        self.select_ids([pid])
        self.set_view("grid")

    # =========================================================================================
    # why this mood
    # =========================================================================================
    def _request_why(self) -> None:
        pid = self.detail.photo_id
        if pid is None or not self.detail.why_on:
            return
        idx = self.model.index_of(pid)
        if idx.isValid():
            self.why.request(pid, idx.data(Roles.PathRole))

    def set_mood_filter(self, moods) -> None:
        for m, b in self.mood_buttons.items():
            b.blockSignals(True)
            b.setChecked(m in moods)
            b.blockSignals(False)
        self._filter_changed()

    def _root_changed(self, *_args) -> None:
        self._filter_changed()

    def _sort_key_changed(self, *_args) -> None:
        key = self.sort_combo.currentData()
        self.sort_desc.blockSignals(True)
        self.sort_desc.setChecked(key not in ASCENDING_KEYS)
        self.sort_desc.blockSignals(False)
        self._sort_changed()

    def _sort_changed(self, *_args) -> None:
        key = self.sort_combo.currentData()
        desc = self.sort_desc.isChecked()
        self.sort_desc.setText("↓" if desc else "↑")
        self.proxy.sort_by(key, desc)
        cur = self.grid.currentIndex()
        if cur.isValid():
            self.grid.scrollTo(cur)

    def sort_by(self, key: str, descending: bool | None = None) -> None:
        self.sort_combo.setCurrentIndex(self.sort_combo.findData(key))
        if descending is not None and self.sort_desc.isChecked() != descending:
            self.sort_desc.setChecked(descending)

    def _refresh_count(self) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        self.count_label.setText(f"{shown:,} of {total:,}" if shown != total else f"{total:,} photos")

    # =========================================================================================
    # selection, detail panel, choices
    # =========================================================================================
    def selected_ids(self) -> list[int]:
        sel = self.grid.selectionModel().selectedIndexes()
        if not sel and self.grid.currentIndex().isValid():
            sel = [self.grid.currentIndex()]
        return self.proxy.photo_ids(sel)

    def select_ids(self, ids) -> None:
        sm = self.grid.selectionModel()
        rows = []
        for pid in ids:
            idx = self.proxy.mapFromSource(self.model.index_of(pid))
            if idx.isValid():
                rows.append(idx.row())
        rows.sort()
        selection = QItemSelection()
        start = prev = None
        for r in [*rows, None]:  # contiguous runs become one range each
            if r is not None and prev is not None and r == prev + 1:
                prev = r
                continue
            if start is not None:
                selection.select(self.proxy.index(start, 0), self.proxy.index(prev, 0))
            start = prev = r
        sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if rows:
            first = self.proxy.index(rows[0], 0)
            sm.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.grid.scrollTo(first)

    def select_path(self, path: str) -> bool:
        """Make the photo at ``path`` the current one (``gui --select PATH``)."""
        target = os.path.realpath(path)
        paths = self.model.rows.paths
        for r, p in enumerate(paths):
            if p == path or os.path.realpath(p) == target:
                pid = int(self.model.rows.ids[r])
                idx = self.proxy.mapFromSource(self.model.index_of(pid))
                if idx.isValid():
                    self.grid.setCurrentIndex(idx)
                    self.grid.scrollTo(idx)
                    return True
        return False

    def toggle_mood(self, mood: str) -> None:
        n = self.choices.toggle(self.selected_ids(), mood)
        if n:
            self.show_status(self.undo_stack.undoText())

    def accept_selected(self) -> None:
        ids = self.selected_ids()
        n = self.choices.accept_top(ids)
        if n:
            self.show_status(f"Accepted the suggestion for {n} photo{'s' * (n != 1)}")
            if len(ids) == 1:  # photographer's flow: accept and move on
                self._move_current(1)

    def _move_current(self, step: int) -> None:
        cur = self.grid.currentIndex()
        nxt = self.proxy.index(cur.row() + step, 0) if cur.isValid() else QModelIndex()
        if nxt.isValid():
            self.grid.setCurrentIndex(nxt)

    def accept_all_dialog(self) -> None:
        value, ok = QInputDialog.getDouble(
            self, "Accept all above threshold",
            "Choose the top suggestion for every shown photo nobody chose yet,\n"
            "when its probability is at least:", self.settings.accept_threshold, 0.0, 1.0, 2)
        if ok:
            self.settings.accept_threshold = value
            self.accept_all_above(value)

    def accept_all_above(self, threshold: float) -> int:
        n = self.choices.accept_top(self.proxy.visible_ids(), min_prob=threshold, only_unconfirmed=True)
        self.show_status(f"Accepted {n} suggestion{'s' * (n != 1)} at or above {threshold:.0%} (undo: Ctrl+Z)")
        return n

    def _schedule_detail(self, *_args) -> None:
        self._detail_timer.start()

    def _model_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles=()) -> None:
        if self.view == "map":
            if list(roles) == [int(Roles.ThumbnailRole)]:
                self.map.update()
            else:
                self._map_timer.start()
        pid = self.detail.photo_id
        if pid is None:
            if len(self.grid.selectionModel().selectedIndexes()) > 1:
                self._schedule_detail()
            return
        r = self.model.row_of(pid)
        if r is not None and top.row() <= r <= bottom.row() and list(roles) != [int(Roles.ThumbnailRole)]:
            self._schedule_detail()

    def _refresh_detail(self) -> None:
        if self._closed:
            return
        sel = self.grid.selectionModel().selectedIndexes()
        if len(sel) > 1:
            ids = self.proxy.photo_ids(sel)
            rows = [self.model.row_of(i) for i in ids]
            rows = [r for r in rows if r is not None]
            counts: dict[str, int] = {}
            for r in rows:
                for m in self.model.rows.choice(r) or ():
                    counts[m] = counts.get(m, 0) + 1
            probs = self.model.rows.probs[rows]
            have = probs[~np.isnan(probs[:, 0])]
            mean = {m: float(have[:, i].mean()) for i, m in enumerate(MOODS)} if len(have) else None
            self.detail.show_many(len(rows), counts, mean)
            return
        idx = self.grid.currentIndex()
        if sel:
            idx = sel[0]
        if not idx.isValid():
            self.detail.show_nothing()
            return
        pid = int(idx.data(Roles.PhotoIdRole))
        new = pid != self.detail.photo_id
        self.detail.show_photo(
            pid, name=idx.data(Qt.ItemDataRole.DisplayRole), path=idx.data(Roles.PathRole),
            scores=idx.data(Roles.MoodScoresRole), choice=idx.data(Roles.ChoiceRole),
            state=idx.data(Roles.StateRole), error=idx.data(Roles.ErrorRole),
            va=idx.data(Roles.ValenceArousalRole), keywords=self.catalog.file_keywords(pid),
            image=idx.data(Roles.ThumbnailRole) if new else None)
        if new and idx.data(Roles.StateRole) != "error":
            self._load_preview(pid, idx.data(Roles.PathRole), PREVIEW_SIDE, self.detail.set_preview)
        if new and self.detail.why_on:
            self._request_why()
        if self.view == "map":
            self.map.set_highlight(self.selected_ids())

    def _load_preview(self, pid: int, path: str, side: int, deliver) -> None:
        if self._preview_job is not None:
            self._preview_job.cancel.set()
        side = int(side * max(1.0, self.devicePixelRatioF()))

        def work(job: Job):
            return load_preview(path, side)

        def done(image, error) -> None:
            if error is None:
                deliver(pid, image)

        self._preview_job = self.image_jobs.submit(work, on_done=done, label="preview")

    def preview_current(self) -> None:
        idx = self.grid.currentIndex()
        if not idx.isValid():
            return
        pid = int(idx.data(Roles.PhotoIdRole))
        dlg = PreviewDialog(idx.data(Qt.ItemDataRole.DisplayRole), idx.data(Roles.ThumbnailRole), self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._preview_dialog = dlg
        dlg.finished.connect(lambda _r: setattr(self, "_preview_dialog", None))
        screen = self.screen().availableGeometry() if self.screen() else None
        side = max(1024, screen.width() if screen else 1600)
        self._load_preview(pid, idx.data(Roles.PathRole), side,
                           lambda _pid, img: dlg.set_image(img) if self._preview_dialog is dlg else None)
        dlg.open()

    # =========================================================================================
    # writing
    # =========================================================================================
    def pending_count(self) -> int:
        cs = self.model.rows.choice_state
        return int(np.count_nonzero((cs == R.PENDING) | (cs == R.FAILED)))

    def shown_pending_ids(self) -> list[int]:
        """Photos the grid shows (folder, filter, search) whose chosen moods wait to be written."""
        d = self.model.rows
        mask = self.model.filter_mask(self.proxy.filter)
        mask &= (d.choice_state == R.PENDING) | (d.choice_state == R.FAILED)
        return d.ids[mask].tolist()

    def write_dialog_open(self) -> BatchWriteDialog | None:
        if not metadata_available():
            QMessageBox.information(self, "Write moods", no_metadata_message())
            return None
        if self.write_dialog is not None:
            self.write_dialog.raise_()
            return self.write_dialog
        dlg = BatchWriteDialog(self.catalog_path, self.writer_jobs, self.settings, self.selected_ids(),
                               self.pending_count(), self.reporter, self, shown=self.shown_pending_ids())
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.written.connect(self._written)
        dlg.finished.connect(lambda _r: setattr(self, "write_dialog", None))
        self.write_dialog = dlg
        dlg.open()
        return dlg

    def _written(self, ids) -> None:
        if ids:
            self.model.merge(load_rows(self.catalog, self.model_id, ids=list(ids)))
            self.reload_keywords()
        self._schedule_detail()

    # =========================================================================================
    # settings, state, closing
    # =========================================================================================
    def settings_dialog(self) -> None:
        dlg = SettingsDialog(self.settings, self)
        if dlg.exec() != SettingsDialog.DialogCode.Accepted:
            return
        self.apply_settings(dlg.result_settings())

    def apply_settings(self, new: AppSettings) -> None:
        old = self.settings
        self.settings = new
        new.save()
        if new.thumb_size != old.thumb_size:
            self.delegate.set_thumb_size(new.thumb_size)
            self.grid.set_base_cell(self.delegate.cell_size())
            self.loader.set_box(self._thumb_box())
            self.model.clear_thumbnails()
        if new.ambiguity_margin != old.ambiguity_margin:
            self.model.margin = new.ambiguity_margin
            self.model.version += 1
            self._filter_changed()
            self.grid.viewport().update()
        if (new.model_id or "") != (old.model_id or "") or new.device != old.device:
            self._resolve_models()
            self.similar.invalidate()
            self.reload()
            self.scan([], predict=True)
        if new.resolved_catalog() != old.resolved_catalog():
            QMessageBox.information(self, "Catalog", "The new catalog is used the next time moodtagger starts.")

    def _restore_window_state(self) -> None:
        qs = open_qsettings()
        geo = qs.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 900)
        split = qs.value("window/splitter")
        if split is not None:
            self.splitter.restoreState(split)

    def _save_window_state(self) -> None:
        qs = open_qsettings()
        qs.setValue("window/geometry", self.saveGeometry())
        qs.setValue("window/splitter", self.splitter.saveState())
        self.settings.save(qs)

    def shutdown(self) -> None:
        """Cancel and join every worker, then close the catalog. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._detail_timer.stop()
        self._count_timer.stop()
        self._map_timer.stop()
        self._search_timer.stop()
        runners = (self.library_jobs, self.image_jobs, self.writer_jobs, self.why_jobs, self.similar_jobs)
        for runner in runners:
            runner.cancel_all()
        for runner in runners:
            runner.shutdown()
        self.model_owner.drop()
        self.why.owner.drop()
        if metadata_available():
            try:
                from moodtagger.core.metadata import close_shared_service

                close_shared_service()
            except Exception:  # closing a broken exiftool must not block quitting
                log.exception("closing exiftool")
        self.catalog.close()

    def ask_before_quit(self) -> str:
        """'quit', 'write' or 'cancel'; asks only when chosen moods are not written yet."""
        n = self.pending_count()
        if not self.confirm_quit or n == 0:
            return "quit"
        box = QMessageBox(QMessageBox.Icon.Question, "Quit moodtagger",
                          f"{n} photo{'s have' if n != 1 else ' has'} chosen moods that are not written "
                          "into the files yet.", parent=self)
        box.setInformativeText("They stay in the catalog either way; other photo tools only see them "
                               "once they are written.")
        write = box.addButton("Write…", QMessageBox.ButtonRole.AcceptRole)
        quit_ = box.addButton("Quit without writing", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(write)
        self.quit_box = box
        box.exec()
        self.quit_box = None
        clicked = box.clickedButton()
        return "write" if clicked is write else "quit" if clicked is quit_ else "cancel"

    def closeEvent(self, event) -> None:
        if not self._closed:
            answer = self.ask_before_quit()
            if answer != "quit":
                event.ignore()
                if answer == "write":
                    self.write_dialog_open()
                return
            try:
                self._save_window_state()
            except Exception:
                log.exception("saving window state")
            for dlg in (self.write_dialog, self._preview_dialog, self.learn_box):
                if dlg is not None:
                    dlg.close()
            self.shutdown()
        super().closeEvent(event)

