"""The main window: folders | grid (or mood map) | detail panel, with toolbar, filters and status.

The window builds the parts and wires them; each part does one job:

* :mod:`~moodtagger.gui.views.mainwidgets` builds the actions, menus, toolbar, layout and status
  bar; :class:`~moodtagger.gui.views.grid.PhotoGrid` shows the rows and knows the selection;
* :class:`~moodtagger.gui.controllers.library.LibraryController` runs the ``library`` lane (1
  thread, low priority): opening the catalog, scan -> import keywords -> predict (the core's
  ``Library.refresh``), learning from the user's choices; it owns the mood model;
* :class:`~moodtagger.gui.controllers.choices.ChoiceController` makes every change of choices
  an undoable command carried out by the core's ``Library`` (the CLI's rules);
* :class:`~moodtagger.gui.controllers.filtering.GridFilter` turns the folder list and the filter
  panel into one core :class:`~moodtagger.core.rows.Filter`;
* :class:`~moodtagger.gui.controllers.detail.DetailController` keeps the detail panel on the
  selection; :class:`~moodtagger.gui.controllers.moodmap.MapController` the mood map on the rows;
* :class:`~moodtagger.gui.controllers.similar.SimilarService` answers "more like this" on its
  own lane; :class:`~moodtagger.gui.controllers.writing.WriteFlow` and
  :class:`~moodtagger.gui.controllers.learning.LearnFlow` run writing and learning.

Other threads: ``images`` (2 threads: thumbnails and previews, decoding only), ``why`` (the
heat maps), ``writer`` (the batch writer, its own connection). The GUI thread has its own
catalog connection for reading rows and editing choices. Closing the window cancels every lane
and joins its threads before the catalog is closed.
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication, QUndoStack
from PySide6.QtWidgets import QFileDialog, QMainWindow, QToolButton, QWidget

from moodtagger.core.catalog import Catalog
from moodtagger.core.library import RefreshResult
from moodtagger.gui.controllers.choices import ChoiceActions, ChoiceController
from moodtagger.gui.controllers.custom_moods import CustomMoodActions
from moodtagger.gui.controllers.detail import DetailController
from moodtagger.gui.controllers.filtering import GridFilter
from moodtagger.gui.controllers.learning import LearnFlow
from moodtagger.gui.controllers.library import LibraryController
from moodtagger.gui.controllers.live import LiveUpdates
from moodtagger.gui.controllers.moodmap import MapController
from moodtagger.gui.controllers.preferences import Preferences, thumb_box
from moodtagger.gui.controllers.similar import SimilarFilter, SimilarService
from moodtagger.gui.controllers.teaching import TeachFlow
from moodtagger.gui.controllers.thumbs import ThumbnailLoader
from moodtagger.gui.controllers.why import WhyService
from moodtagger.gui.controllers.writing import WriteFlow
from moodtagger.gui.dialogs.help import about_box, shortcuts_dialog
from moodtagger.gui.errors import CrashReporter
from moodtagger.gui.jobs import JobRunner
from moodtagger.gui.models.photomodel import PhotoModel, PhotoProxy
from moodtagger.gui.settings import AppSettings
from moodtagger.gui.views.delegate import PhotoDelegate
from moodtagger.gui.views.detail import DetailPanel
from moodtagger.gui.views.filterpanel import FilterPanel
from moodtagger.gui.views.folders import FolderList
from moodtagger.gui.views.grid import PhotoGrid
from moodtagger.gui.views.mainwidgets import (
    MainActions,
    MapPage,
    Slots,
    WorkStatus,
    app_icon,
    build_splitter,
)
from moodtagger.gui.views.mapview import MoodMap

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
        self.closed = False
        self.confirm_quit = True  # ask before quitting with chosen moods not written yet
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
        self.live = LiveUpdates(
            self.catalog_path, self.catalog, self.model, lambda: self.library.model_id, self
        )
        self.delegate = PhotoDelegate(self, thumb_size=self.settings.thumb_size)
        self.grid = PhotoGrid()
        self.grid.setModel(self.proxy)
        self.grid.setItemDelegate(self.delegate)
        self.grid.set_base_cell(self.delegate.cell_size())
        self.loader = ThumbnailLoader(
            self.image_jobs,
            thumb_box(self, self.settings),
            self,
            exiftool=self.library.facade.exiftool_if_installed,
        )
        self.undo_stack = QUndoStack(self)
        self.choices = ChoiceController(lambda: self.library.facade, self.model, self.undo_stack)
        self.choice_actions = ChoiceActions(self, self.choices)
        self.map = MoodMap()
        self.folders = FolderList()

        # widgets ----------------------------------------------------------------------------------
        self.writing = WriteFlow(self)
        self.preferences = Preferences(self)
        self.acts = MainActions(self, self.undo_stack, self._slots())
        self.acts.unlearn.setEnabled(self.library.learning)
        self.menus = self.acts.build_menus()
        self.custom_moods = CustomMoodActions(
            self,
            lambda: self.library.facade,
            self.choice_actions.toggle_mood,
            self.menus["Edit"],
        )
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
            self.grid.selected_ids,
            exiftool=self.library.facade.exiftool_if_installed,
        )
        self.like_this = SimilarFilter(
            self.similar, self.model, self.filters, self.grid.select_ids, self
        )
        self.map_page = MapPage(self.map)
        add = QToolButton()
        add.setDefaultAction(self.acts.add)
        self.splitter, self.stack = build_splitter(
            [self.folders, self.folders.subfolders_box, add, self.filters.box],
            self.filters.bar,
            [self.grid, self.map_page],
            self.detail,
        )
        self.setCentralWidget(self.splitter)
        self.status = WorkStatus(self.statusBar())
        self.filtering = GridFilter(self)
        self.mood_map = MapController(self)
        self.learning = LearnFlow(self)
        self.teaching = TeachFlow(self, self.learning)  # "Teach me" (T), in the Edit menu

        # wiring -----------------------------------------------------------------------------------
        self._connect()
        self.preferences.restore_window_state()
        self.folders.attach(self.model)
        self.folders.set_roots(self.catalog.photos.roots())
        self.grid.setFocus()
        self.live.begin()  # every change from here on is read once the rows are in
        if load_async:
            self.library.load_async()
        else:
            self.reload()
        if warm_up_model:
            self.library.warm_up()

    def _slots(self) -> Slots:
        return Slots(
            add_folder=self.add_folder_dialog,
            rescan=self.rescan,
            accept=self.choice_actions.accept_selected,
            accept_all=self.choice_actions.accept_all_dialog,
            write=self.writing.open_dialog,
            settings=self.preferences.open_dialog,
            quit=self.close,
            view_grid=lambda: self.set_view("grid"),
            view_map=lambda: self.set_view("map"),
            why=lambda: self.detail.why_button.toggle(),
            search=lambda: self.filters.focus_search(),
            preview=lambda: self.details.preview_current(),
            clear=self.choice_actions.clear,
            shortcuts=self.shortcuts_dialog,
            about=lambda: about_box(self),
            similar=self.more_like_this,
            learn=lambda: self.learning.learn(),
            unlearn=lambda: self.learning.back_to_shipped_model(),
        )

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
        self.live.changed.connect(self._live_changed)
        self.live.reloadNeeded.connect(lib.load_async)
        self.live.filesChanged.connect(lambda paths: self.scan([], files=paths))
        self.live.message.connect(self.show_status)
        self.learning.finished.connect(self.learnFinished)
        self.status.cancelRequested.connect(lib.cancel)
        self.like_this.message.connect(self.show_status)
        self.similar.crashed.connect(self.reporter.report)
        self.model.thumbnailWanted.connect(self.loader.request)
        self.loader.loaded.connect(self.model.set_thumbnails)
        self.loader.dropped.connect(self.model.forget_wanted)
        acts = self.choice_actions
        self.detail.moodToggled.connect(acts.toggle_mood)
        self.grid.moodKey.connect(self.custom_moods.press)
        self.custom_moods.changed.connect(self.reload)
        self.custom_moods.message.connect(self.show_status)
        self.grid.acceptRequested.connect(acts.accept_selected)
        self.grid.previewRequested.connect(self.details.preview_current)
        self.grid.clearRequested.connect(acts.clear)
        self.grid.doubleClicked.connect(lambda _i: self.details.preview_current())
        self.writer_jobs.busyChanged.connect(lambda busy: self.acts.write.setEnabled(not busy))
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda *_: self.grid.viewport().update())

    def shortcuts_dialog(self):
        self.shortcuts = shortcuts_dialog(self, self.acts.shortcut_rows())
        return self.shortcuts

    # -- the library: models, rows, folders, scans --------------------------------------------
    @property
    def model_id(self) -> str:
        """The model whose suggestions the grid shows (a personal one after learning)."""
        return self.library.model_id

    @model_id.setter
    def model_id(self, value: str) -> None:
        self.library.model_id = value

    def reload(self) -> None:
        """All rows from the catalog (one query), on the GUI thread."""
        self._set_rows(self.library.rows())

    def _set_rows(self, rows) -> None:
        self.filters.set_custom_moods(rows.custom_names)
        ready = self.library.prepared  # made on the open lane, with these rows
        if ready is not None and ready.rows is rows:
            self.model.set_rows(rows, ready.derived, ready.row_of)
            self.folders.use_tree(rows.paths, ready.roots, ready.folders)
        else:
            self.model.set_rows(rows)
        self.reload_keywords()
        self.filtering.refresh_count()
        self.live.start([p for _rid, p in self.catalog.photos.roots()])
        self.loaded = True
        if not self.busy:
            self.status.show(f"{len(rows):,} photos")
        self.catalogLoaded.emit()

    def _live_changed(self, _changes, inserted: int) -> None:
        """Rows another program changed were merged (see :mod:`~moodtagger.gui.controllers.live`)."""
        if inserted:
            self._resort_after_change(True)
        if self.filters.searching:
            self.proxy.refilter()
        self.filtering.refresh_count()
        self.similar.invalidate()
        self.details.schedule()

    def _rows_changed(self, rows) -> None:
        self.model.merge(rows)
        self.similar.invalidate()

    def reload_keywords(self) -> None:
        """Keywords found in the files, for the search box (one query)."""
        self.model.set_keywords(self.catalog.file_keywords.all())
        if self.filters.searching:
            self.proxy.refilter()

    def add_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder to the library")
        if path:
            self.open_folder(path)

    def open_folder(self, path: str) -> None:
        path = os.path.abspath(path)
        if not os.path.isdir(path):
            self.show_status(f"{path}: not a folder")
            return
        self.catalog.photos.add_root(path)  # inside a library folder: no second one
        self.folders.set_roots(self.catalog.photos.roots())
        self.folders.select_path(path)  # show the folder the user opened
        self.scan([path])
        if self.loaded:
            self.live.watch([p for _rid, p in self.catalog.photos.roots()])

    def rescan(self) -> None:
        """F5: scan every library folder, and read what other programs changed in the catalog."""
        self.live.poll(force=True)
        self.scan([p for _rid, p in self.catalog.photos.roots()])

    def scan(
        self, roots: list[str], *, predict: bool = True, files: list[str] | None = None
    ) -> None:
        """Scan ``roots`` (may be empty: just predict what is missing), or just ``files``,
        in the library lane."""
        self.library.scan(roots, predict=predict, files=files)

    def _refreshed(self, result: RefreshResult | None) -> None:
        if (
            result is not None
            and not self.library.last_files  # their keywords arrive with their rows (live)
            and (result.imported or (result.scan and not result.scan.nothing_changed))
        ):
            self.reload_keywords()
        if self.model.sort_key[0] != "name" or (result and result.scan and result.scan.new):
            if self.library.last_files:  # a watcher's files: the window must not stall
                self._resort_after_change(bool(result and result.scan and result.scan.new))
            else:
                self.model.resort()
        self.details.schedule()
        self.pipelineFinished.emit(result)

    LIVE_RESORT_MAX = 50_000  # rows: above it, other programs' changes never resort the grid

    def _resort_after_change(self, new_rows: bool) -> None:
        """After other programs' changes: sort again (O(n log n) on the GUI thread) only while
        that is quick; in a bigger library new photos stay at the end until the next sort or F5."""
        if self.model.rowCount() <= self.LIVE_RESORT_MAX:
            self.model.resort()
        elif new_rows:
            self.show_status("New photos are shown at the end until you sort again or press F5")

    def _library_busy(self, busy: bool, text: str) -> None:
        self.status.set_busy(busy, text)
        self.busyChanged.emit(busy)

    @property
    def busy(self) -> bool:
        return self.library.busy or self.writer_jobs.busy

    def is_idle(self) -> bool:
        """No scan/prediction/write running and no thumbnail waiting."""
        runners = (
            self.library,
            self.writer_jobs,
            self.image_jobs,
            self.why_jobs,
            self.similar_jobs,
        )
        return (
            not any(r.busy for r in runners)
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

    # -- views and selection ----------------------------------------------------------
    def set_view(self, view: str) -> None:
        """Show the grid ("grid") or the mood map ("map") of the shown photos."""
        self.mood_map.set_view(view)

    @property
    def view(self) -> str:
        return self.mood_map.view

    def select_path(self, path: str) -> bool:
        """Make the photo at ``path`` the current one (``gui --select PATH``)."""
        return self.grid.select_path(path)

    def more_like_this(self) -> None:
        """Filter the grid to the photos most like the selection (searched off the GUI thread)."""
        self.like_this.request(self.grid.selected_ids())

    # -- settings, state, closing ----------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel and join every worker, then close the catalog. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.details.stop()
        self.filters.stop()
        self.filtering.stop()
        self.mood_map.stop()
        runners = (self.image_jobs, self.writer_jobs, self.why_jobs, self.similar_jobs)
        for runner in runners:
            runner.cancel_all()
        self.live.shutdown()
        self.library.shutdown()
        for runner in runners:
            runner.shutdown()
        self.why.owner.drop()
        try:
            self.library.facade.close()  # its exiftool, once every lane that used it has stopped
        except Exception:  # closing a broken exiftool must not block quitting
            log.exception("closing exiftool")
        self.catalog.close()

    def closeEvent(self, event) -> None:
        if not self.closed:
            answer = self.writing.ask_before_quit()
            if answer != "quit":
                event.ignore()
                if answer == "write":
                    self.writing.open_dialog()
                return
            try:
                self.preferences.save_window_state()
            except Exception:
                log.exception("saving window state")
            for dlg in (self.writing.dialog, self.details.preview_dialog, self.learning.box):
                if dlg is not None:
                    dlg.close()
            self.shutdown()
        super().closeEvent(event)
