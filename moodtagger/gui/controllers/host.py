"""The main window as its flow controllers (writing, learning, filtering, the mood map, the
choice keys, settings) see it: the parts they use, typed, without importing ``window.py`` —
the window builds the controllers, so they never import it back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QSplitter, QStackedWidget

from moodtagger.gui.controllers.detail import DetailController
from moodtagger.gui.controllers.library import LibraryController
from moodtagger.gui.controllers.similar import SimilarFilter, SimilarService
from moodtagger.gui.controllers.thumbs import ThumbnailLoader
from moodtagger.gui.errors import CrashReporter
from moodtagger.gui.jobs import JobRunner
from moodtagger.gui.models.photomodel import PhotoModel, PhotoProxy
from moodtagger.gui.settings import AppSettings
from moodtagger.gui.views.delegate import PhotoDelegate
from moodtagger.gui.views.filterpanel import FilterPanel
from moodtagger.gui.views.folders import FolderList
from moodtagger.gui.views.grid import PhotoGrid
from moodtagger.gui.views.mainwidgets import MainActions, MapPage
from moodtagger.gui.views.mapview import MoodMap


class Filtering(Protocol):
    def changed(self, *_args) -> None: ...
    def set_only_ids(self, ids: Iterable[int] | None) -> None: ...


class Window(Protocol):
    """What :class:`~moodtagger.gui.window.MainWindow` offers its controllers (it is also the
    Qt parent of their dialogs and message boxes)."""

    settings: AppSettings
    catalog_path: str
    closed: bool
    confirm_quit: bool
    reporter: CrashReporter
    library: LibraryController
    writer_jobs: JobRunner
    similar: SimilarService
    like_this: SimilarFilter
    model: PhotoModel
    proxy: PhotoProxy
    delegate: PhotoDelegate
    loader: ThumbnailLoader
    undo_stack: QUndoStack
    grid: PhotoGrid
    folders: FolderList
    filters: FilterPanel
    filtering: Filtering
    details: DetailController
    map: MoodMap
    map_page: MapPage
    acts: MainActions
    stack: QStackedWidget
    splitter: QSplitter

    def show_status(self, text: str) -> None: ...
    def set_view(self, view: str) -> None: ...
    def reload(self) -> None: ...
    def reload_keywords(self) -> None: ...
    def scan(self, roots: list[str], *, predict: bool = True) -> None: ...
    def resize(self, w: int, h: int) -> None: ...
    def saveGeometry(self) -> QByteArray: ...
    def restoreGeometry(self, geometry: QByteArray) -> bool: ...
