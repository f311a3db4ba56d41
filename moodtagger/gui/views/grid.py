"""The photo grid: an icon-mode list view over the filter proxy, with the keys a photographer
uses (1-8 toggle moods, Enter accepts, Space previews, Delete clears)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from moodtagger.gui.models.photomodel import Roles


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
            mood = delegate.bar_at(self.visualRect(idx), event.position(), idx)
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
            if Qt.Key.Key_1 <= key <= Qt.Key.Key_9:  # 9 and 0: the first custom moods
                self.moodKey.emit(int(key) - int(Qt.Key.Key_1))
                event.accept()
                return
            if key == Qt.Key.Key_0:
                self.moodKey.emit(9)
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

    # -- selection, in photo ids (the grid's model is the filter proxy over the PhotoModel) ------
    def selected_ids(self) -> list[int]:
        """The selected photos (the current one when nothing is selected)."""
        sel = self.selectionModel().selectedIndexes()
        if not sel and self.currentIndex().isValid():
            sel = [self.currentIndex()]
        return self.model().photo_ids(sel)

    def select_ids(self, ids: Iterable[int]) -> None:
        """Select the shown photos among ``ids`` (one range per contiguous run), the first
        one current and scrolled to."""
        proxy = self.model()
        source = proxy.sourceModel()
        rows = []
        for pid in ids:
            idx = proxy.mapFromSource(source.index_of(pid))
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
                selection.select(proxy.index(start, 0), proxy.index(prev, 0))
            start = prev = r
        sm = self.selectionModel()
        sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if rows:
            first = proxy.index(rows[0], 0)
            sm.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.scrollTo(first)

    def select_path(self, path: str) -> bool:
        """Make the photo at ``path`` the current one (``gui --select PATH``)."""
        proxy = self.model()
        source = proxy.sourceModel()
        target = os.path.realpath(path)
        for r, p in enumerate(source.rows.paths):
            if p == path or os.path.realpath(p) == target:
                idx = proxy.mapFromSource(source.index_of(int(source.rows.ids[r])))
                if idx.isValid():
                    self.setCurrentIndex(idx)
                    self.scrollTo(idx)
                    return True
        return False

    def next_photo(self) -> None:
        """Move to the next shown photo (after Enter: accept and move on)."""
        cur = self.currentIndex()
        nxt = self.model().index(cur.row() + 1, 0) if cur.isValid() else QModelIndex()
        if nxt.isValid():
            self.setCurrentIndex(nxt)
