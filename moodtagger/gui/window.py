"""The main window: folders | grid (or mood map) | detail panel, with toolbar, filters and status.

The window wires parts that each do one job:

* :mod:`~moodtagger.gui.mainwidgets` builds the actions, menus, toolbar, layout and status bar;
* :class:`~moodtagger.gui.librarycontrol.LibraryController` runs the ``library`` lane (1 thread,
  low priority): opening the catalog, scan -> import keywords -> predict (the core's
  ``Library.refresh``), learning from the user's choices; it owns the mood model;
* :class:`~moodtagger.gui.filterpanel.FilterPanel` turns the filter controls into one core
  :class:`~moodtagger.core.rows.Filter`;
* :class:`~moodtagger.gui.detailcontrol.DetailController` keeps the detail panel on the selection;
* :class:`~moodtagger.gui.similar.SimilarService` answers "more like this" on its own lane.

Other threads: ``images`` (2 threads: thumbnails and previews, decoding only), ``why`` (the
heat maps), ``writer`` (the batch writer, its own connection). The GUI thread has its own
catalog connection for reading rows and editing choices. Closing the window cancels every lane
and joins its threads before the catalog is closed.
"""

from __future__ import annotations

import logging
import os

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
from PySide6.QtGui import QGuiApplication, QUndoStack
from PySide6.QtWidgets import (
    QAbstractButton,
    QFileDialog,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QToolButton,
    QWidget,
)

from moodtagger.core import rows as R
from moodtagger.core.catalog import Catalog
from moodtagger.core.library import RefreshResult
from moodtagger.core.moods import DISPLAY_ORDER
from moodtagger.gui.choices import ChoiceController
from moodtagger.gui.delegate import PhotoDelegate
from moodtagger.gui.detail import DetailPanel
from moodtagger.gui.detailcontrol import DetailController
from moodtagger.gui.errors import CrashReporter
from moodtagger.gui.filterpanel import FilterPanel
from moodtagger.gui.grid import PhotoGrid
from moodtagger.gui.jobs import JobRunner
from moodtagger.gui.librarycontrol import LibraryController, learn_changes_text, learn_summary_text
from moodtagger.gui.mainwidgets import (
    MainActions,
    MapPage,
    Slots,
    WorkStatus,
    app_icon,
    build_splitter,
    shortcuts_dialog,
)
from moodtagger.gui.mapview import MoodMap, mood_index_for
from moodtagger.gui.photomodel import Filter, PhotoModel, PhotoProxy, Roles
from moodtagger.gui.pipeline import LearnOutcome
from moodtagger.gui.settings import AppSettings, SettingsDialog, open_qsettings
from moodtagger.gui.similar import SimilarFilter, SimilarResult, SimilarService
from moodtagger.gui.thumbs import ThumbnailLoader
from moodtagger.gui.why import WhyService
from moodtagger.gui.writedialog import BatchWriteDialog, metadata_available, no_metadata_message

__all__ = ["MainWindow", "PhotoGrid", "app_icon"]

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    pipelineFinished = Signal(object)  # RefreshResult (or None when it failed)
    learnFinished = Signal(object)  # LearnSummary (or None when nothing was learnt)
    catalogLoaded = Signal()
    busyChanged = Signal(bool)

    def __init__(
        self,
        catalog_path: str,
        settings: AppSettings | None = None,
        reporter: CrashReporter | None = None,
        parent: QWidget | None = None,
        *,
        load_async: bool = True,
        warm_up_model: bool = True,
    ):
        super().__init__(parent)
        self.settings = settings or AppSettings.load()
        self.reporter = reporter or CrashReporter(interactive=False)
        self.catalog_path = str(catalog_path)
        self.catalog = Catalog(self.catalog_path)
        self._closed = False
        self.confirm_quit = True  # ask before quitting with chosen moods not written yet
        self.write_dialog: BatchWriteDialog | None = None
        self.learn_box: QMessageBox | None = None
        self.learn_back_button: QAbstractButton | None = (
            None  # "Back to the shipped model" in the summary
        )
        self.loaded = False
        self.setWindowTitle("moodtagger")
        self.setWindowIcon(app_icon())

        # lanes and services ---------------------------------------------------------------------
        self.library = LibraryController(
            self.catalog_path, self.catalog, lambda: self.settings, self
        )
        self.image_jobs = JobRunner("images", 2, nice=5, parent=self)
        self.why_jobs = JobRunner("why", 1, nice=5, parent=self)
        self.similar_jobs = JobRunner("similar", 1, nice=5, parent=self)
        self.writer_jobs = JobRunner("writer", 1, parent=self)
        self.why = WhyService(self.why_jobs, lambda: self.library.base_model_id, self)
        self.similar = SimilarService(
            self.similar_jobs, self.catalog_path, lambda: self.settings.model_id or None, self
        )

        # model / view -----------------------------------------------------------------------------
        self.model = PhotoModel(self, margin=self.settings.ambiguity_margin)
        self.proxy = PhotoProxy(self)
        self.proxy.setSourceModel(self.model)
        self.delegate = PhotoDelegate(self, thumb_size=self.settings.thumb_size)
        self.grid = PhotoGrid()
        self.grid.setModel(self.proxy)
        self.grid.setItemDelegate(self.delegate)
        self.grid.set_base_cell(self.delegate.cell_size())
        self.loader = ThumbnailLoader(self.image_jobs, self._thumb_box(), self)
        self.undo_stack = QUndoStack(self)
        self.choices = ChoiceController(self.catalog, self.model, self.undo_stack)
        self.map = MoodMap()
        self.map.thumbnail_for = self._map_thumbnail
        self.roots = QListWidget()
        self.roots.setMinimumWidth(150)

        # widgets ----------------------------------------------------------------------------------
        self.acts = MainActions(
            self,
            self.undo_stack,
            Slots(
                add_folder=self.add_folder_dialog,
                rescan=self.rescan,
                accept=self.accept_selected,
                accept_all=self.accept_all_dialog,
                write=self.write_dialog_open,
                settings=self.settings_dialog,
                quit=self.close,
                view_grid=lambda: self.set_view("grid"),
                view_map=lambda: self.set_view("map"),
                why=lambda: self.detail.why_button.toggle(),
                search=lambda: self.filters.focus_search(),
                preview=lambda: self.details.preview_current(),
                clear=lambda: self.choices.clear(self.selected_ids()),
                shortcuts=self.shortcuts_dialog,
                about=self._about,
                similar=self.more_like_this,
                learn=self.learn_from_choices,
                unlearn=self.back_to_shipped_model,
            ),
        )
        self.acts.unlearn.setEnabled(self.library.learning)
        self.menus = self.acts.build_menus()
        self.acts.build_toolbar()
        self.filters = FilterPanel(self.acts.view_grid, self.acts.view_map, self)
        self.detail = DetailPanel()
        self.details = DetailController(
            self.detail,
            self.grid,
            self.proxy,
            self.model,
            self.catalog,
            self.image_jobs,
            self.why,
            self,
            self.selected_ids,
        )
        self.like_this = SimilarFilter(
            self.similar, self.model, self.filters, self.select_ids, self
        )
        self.map_page = MapPage(self.map)
        add = QToolButton()
        add.setDefaultAction(self.acts.add)
        self.splitter, self.stack = build_splitter(
            [self.roots, add, self.filters.box],
            self.filters.bar,
            [self.grid, self.map_page],
            self.detail,
        )
        self.setCentralWidget(self.splitter)
        self.status = WorkStatus(self.statusBar())

        # wiring -----------------------------------------------------------------------------------
        self._connect()
        self._restore_window_state()
        self._refresh_roots()
        self.grid.setFocus()
        if load_async:
            self.library.load_async()
        else:
            self.reload()
        if warm_up_model:
            self.library.warm_up()

    def _connect(self) -> None:
        lib = self.library
        lib.rowsLoaded.connect(self._set_rows)
        lib.rowsChanged.connect(self._rows_changed)
        lib.rowsMissing.connect(self.model.remove_ids)
        lib.phase.connect(self.status.set_phase)
        lib.progress.connect(self.status.set_progress)
        lib.message.connect(self.show_status)
        lib.crashed.connect(self.reporter.report)
        lib.busyChanged.connect(self._library_busy)
        lib.refreshed.connect(self._refreshed)
        lib.learnt.connect(self._learnt)
        self.status.cancelRequested.connect(lib.cancel)
        self.like_this.message.connect(self.show_status)
        self.similar.crashed.connect(self.reporter.report)
        self.model.thumbnailWanted.connect(self.loader.request)
        self.loader.loaded.connect(self.model.set_thumbnails)
        self.loader.dropped.connect(self.model.forget_wanted)
        self.detail.moodToggled.connect(self.toggle_mood)
        self.details.shown.connect(self._detail_shown)
        self.map.selected.connect(self._map_selected)
        self.map.activated.connect(self._map_activated)
        self.roots.currentItemChanged.connect(self._filter_changed)
        self.filters.changed.connect(self._filter_changed)
        self.filters.sortChanged.connect(self._sort_changed)
        self.filters.searchEntered.connect(self.grid.setFocus)
        self.filters.clearOnlyRequested.connect(self.clear_only_ids)
        self.grid.moodKey.connect(lambda i: self.toggle_mood(DISPLAY_ORDER[i]))
        self.grid.acceptRequested.connect(self.accept_selected)
        self.grid.previewRequested.connect(self.details.preview_current)
        self.grid.clearRequested.connect(lambda: self.choices.clear(self.selected_ids()))
        self.grid.doubleClicked.connect(lambda _i: self.details.preview_current())
        self._count_timer = QTimer(self, singleShot=True, interval=50, timeout=self._refresh_count)
        for sig in (
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
            self.proxy.modelReset,
            self.proxy.layoutChanged,
            self.proxy.filterChanged,
        ):
            sig.connect(self._count_timer.start)
        self._map_timer = QTimer(self, singleShot=True, interval=120, timeout=self._refresh_map)
        for sig in (
            self.proxy.modelReset,
            self.proxy.layoutChanged,
            self.proxy.filterChanged,
            self.model.rowsMerged,
            self.model.rowsRemoved,
        ):
            sig.connect(self._map_timer.start)
        self.model.dataChanged.connect(self._map_data_changed)
        self.writer_jobs.busyChanged.connect(lambda busy: self.acts.write.setEnabled(not busy))
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda *_: self.grid.viewport().update())

    def _thumb_box(self) -> QSize:
        dpr = max(1.0, self.devicePixelRatioF())
        side = int(self.settings.thumb_size * dpr)
        return QSize(side, side)

    def shortcuts_dialog(self):
        self.shortcuts = shortcuts_dialog(self, self.acts.shortcut_rows())
        return self.shortcuts

    def _about(self) -> None:
        from moodtagger import __version__

        QMessageBox.about(
            self,
            "About moodtagger",
            f"moodtagger {__version__}\nSee how your photos feel, filter them by mood and write "
            "mood keywords into them.",
        )

    # =========================================================================================
    # the library: models, rows, folders, scans
    # =========================================================================================
    @property
    def model_id(self) -> str:
        """The model whose suggestions the grid shows (a personal one after learning)."""
        return self.library.model_id

    @model_id.setter
    def model_id(self, value: str) -> None:
        self.library.model_id = value

    @property
    def base_model_id(self) -> str:
        """The model that decodes and predicts."""
        return self.library.base_model_id

    @property
    def library_jobs(self) -> JobRunner:
        return self.library.lane

    @property
    def last_result(self) -> RefreshResult | None:
        return self.library.last_result

    def reload(self) -> None:
        """All rows from the catalog (one query), on the GUI thread."""
        self._set_rows(self.library.rows())

    def _set_rows(self, rows) -> None:
        self.model.set_rows(rows)
        self.reload_keywords()
        self._refresh_count()
        self.loaded = True
        if not self.busy:
            self.status.show(f"{len(rows):,} photos")
        self.catalogLoaded.emit()

    def _rows_changed(self, rows) -> None:
        self.model.merge(rows)
        self.similar.invalidate()

    def reload_keywords(self) -> None:
        """Keywords found in the files, for the search box (one query)."""
        self.model.set_keywords(self.catalog.all_file_keywords())
        if self.filters.searching:
            self.proxy.refilter()

    def _refresh_roots(self) -> None:
        current = (
            self.roots.currentItem().data(Qt.ItemDataRole.UserRole)
            if self.roots.currentItem()
            else None
        )
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
        self.library.scan(roots, predict=predict)

    def cancel_work(self) -> None:
        self.library.cancel()

    def _refreshed(self, result: RefreshResult | None) -> None:
        if result is not None and (
            result.imported or (result.scan and not result.scan.nothing_changed)
        ):
            self.reload_keywords()
        if self.model.sort_key[0] != "name" or (result and result.scan and result.scan.new):
            self.model.resort()
        self.details.schedule()
        self.pipelineFinished.emit(result)

    def _library_busy(self, busy: bool, text: str) -> None:
        self.status.set_busy(busy, text)
        self.busyChanged.emit(busy)

    @property
    def busy(self) -> bool:
        return self.library.busy or self.writer_jobs.busy

    def is_idle(self) -> bool:
        """No scan/prediction/write running and no thumbnail waiting."""
        return (
            not (
                self.library.busy
                or self.writer_jobs.busy
                or self.image_jobs.busy
                or self.why_jobs.busy
                or self.similar_jobs.busy
            )
            and self.loader.idle
            and self.why.idle
            and self.similar.idle
        )

    def show_status(self, text: str) -> None:
        self.status.show(text)
        log.info("%s", text)

    @property
    def status_label(self):
        return self.status.label

    # =========================================================================================
    # filtering and sorting
    # =========================================================================================
    def current_filter(self) -> Filter:
        item = self.roots.currentItem()
        return self.filters.current_filter(
            root_path=item.data(Qt.ItemDataRole.UserRole + 1) if item else None,
            margin=self.settings.ambiguity_margin,
        )

    def _filter_changed(self, *_args) -> None:
        self.proxy.set_filter(self.current_filter())
        self.details.schedule()

    def _sort_changed(self, key: str, descending: bool) -> None:
        self.proxy.sort_by(key, descending)
        cur = self.grid.currentIndex()
        if cur.isValid():
            self.grid.scrollTo(cur)

    def sort_by(self, key: str, descending: bool | None = None) -> None:
        self.filters.sort_by(key, descending)

    def set_mood_filter(self, moods) -> None:
        self.filters.set_mood_filter(moods)

    def _refresh_count(self) -> None:
        self.filters.set_count(self.proxy.rowCount(), self.model.rowCount())

    def set_only_ids(self, ids) -> None:
        """Show only these photos (a mood-map selection; it replaces "more like this");
        ``None`` shows all again."""
        self.like_this.end()
        if ids is None:
            self.filters.set_only(None)
        else:
            self.filters.set_only(
                ids,
                f"Map selection: {len(ids):,} ✕",
                "The grid shows only the photos selected on the mood map; click to show all",
            )

    def clear_only_ids(self) -> None:
        self.set_only_ids(None)

    def more_like_this(self) -> None:
        """Filter the grid to the photos most like the selection (searched off the GUI thread)."""
        self.like_this.request(self.selected_ids())

    @property
    def similar_result(self) -> SimilarResult | None:
        """The "more like this" filter shown (None: none)."""
        return self.like_this.result

    # =========================================================================================
    # learning from the user's choices
    # =========================================================================================
    def learn_from_choices(self) -> None:
        self._run_learn(reset=False)

    def back_to_shipped_model(self) -> None:
        self._run_learn(reset=True)

    def _run_learn(self, *, reset: bool) -> None:
        """On the library lane (after any scan), like the CLI's ``learn`` (``--reset``)."""
        if self.library.learn(reset=reset):
            self.acts.learn.setEnabled(False)
            self.acts.unlearn.setEnabled(False)

    def _learnt(self, outcome: LearnOutcome | None, why: str, reset: bool) -> None:
        self.acts.learn.setEnabled(True)
        self.acts.unlearn.setEnabled(self.library.learning)
        if outcome is None:
            if why:  # nothing to learn from, no model: said plainly
                self._open_learn_box(
                    QMessageBox(
                        QMessageBox.Icon.Information,
                        "Learn from my choices",
                        why,
                        QMessageBox.StandardButton.Ok,
                        self,
                    )
                )
            self.learnFinished.emit(None)
            return
        self.model.merge(outcome.rows)
        self.model.resort()
        self.details.schedule()
        self._show_learn_summary(outcome.summary, reset)
        self.learnFinished.emit(outcome.summary)

    def _show_learn_summary(self, summary, reset: bool) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Back to the shipped model" if reset else "Learnt from your choices",
            learn_summary_text(summary, reset),
            parent=self,
        )
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
        box.finished.connect(
            lambda _r: setattr(self, "learn_box", None) if self.learn_box is box else None
        )
        if self.learn_box is not None:
            self.learn_box.close()
        self.learn_box = box
        box.open()

    # =========================================================================================
    # views: grid and mood map
    # =========================================================================================
    def set_view(self, view: str) -> None:
        is_map = view == "map"
        self.stack.setCurrentIndex(1 if is_map else 0)
        (self.acts.view_map if is_map else self.acts.view_grid).setChecked(True)
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

    def _map_data_changed(self, _top: QModelIndex, _bottom: QModelIndex, roles=()) -> None:
        if self.view == "map":
            if list(roles) == [int(Roles.ThumbnailRole)]:
                self.map.update()
            else:
                self._map_timer.start()

    def _detail_shown(self) -> None:
        if self.view == "map":
            self.map.set_highlight(self.selected_ids())

    def _map_thumbnail(self, pid: int):
        idx = self.model.index_of(pid)
        return idx.data(Roles.ThumbnailRole) if idx.isValid() else None

    def _map_selected(self, ids) -> None:
        ids = [int(i) for i in ids]
        if self.map_page.target.currentData() == "filter" and ids:
            self.set_only_ids(ids)
        self.select_ids(ids)
        self.map.set_highlight(ids)
        n = len(ids)
        self.show_status(f"{n:,} photo{'s' * (n != 1)} selected on the map")

    def _map_activated(self, pid: int) -> None:
        self.select_ids([pid])
        self.set_view("grid")

    # =========================================================================================
    # selection and choices
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
                cur = self.grid.currentIndex()
                nxt = self.proxy.index(cur.row() + 1, 0) if cur.isValid() else QModelIndex()
                if nxt.isValid():
                    self.grid.setCurrentIndex(nxt)

    def accept_all_dialog(self) -> None:
        value, ok = QInputDialog.getDouble(
            self,
            "Accept all above threshold",
            "Choose the top suggestion for every shown photo nobody chose yet,\n"
            "when its probability is at least:",
            self.settings.accept_threshold,
            0.0,
            1.0,
            2,
        )
        if ok:
            self.settings.accept_threshold = value
            self.accept_all_above(value)

    def accept_all_above(self, threshold: float) -> int:
        n = self.choices.accept_top(
            self.proxy.visible_ids(), min_prob=threshold, only_unconfirmed=True
        )
        self.show_status(
            f"Accepted {n} suggestion{'s' * (n != 1)} at or above {threshold:.0%} (undo: Ctrl+Z)"
        )
        return n

    def preview_current(self) -> None:
        self.details.preview_current()

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
        dlg = BatchWriteDialog(
            self.catalog_path,
            self.writer_jobs,
            self.settings,
            self.selected_ids(),
            self.pending_count(),
            self.reporter,
            self,
            shown=self.shown_pending_ids(),
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.written.connect(self._written)
        dlg.finished.connect(lambda _r: setattr(self, "write_dialog", None))
        self.write_dialog = dlg
        dlg.open()
        return dlg

    def _written(self, ids) -> None:
        if ids:
            self.model.merge(self.library.rows(list(ids)))
            self.reload_keywords()
        self.details.schedule()

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
            self.library.resolve_models()
            self.similar.invalidate()
            self.reload()
            self.scan([], predict=True)
        if new.resolved_catalog() != old.resolved_catalog():
            QMessageBox.information(
                self, "Catalog", "The new catalog is used the next time moodtagger starts."
            )

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
        self.details.stop()
        self.filters.stop()
        self._count_timer.stop()
        self._map_timer.stop()
        runners = (self.image_jobs, self.writer_jobs, self.why_jobs, self.similar_jobs)
        for runner in runners:
            runner.cancel_all()
        self.library.shutdown()
        for runner in runners:
            runner.shutdown()
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
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Quit moodtagger",
            f"{n} photo{'s have' if n != 1 else ' has'} chosen moods that are not written "
            "into the files yet.",
            parent=self,
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
            for dlg in (self.write_dialog, self.details.preview_dialog, self.learn_box):
                if dlg is not None:
                    dlg.close()
            self.shutdown()
        super().closeEvent(event)
