"""The photo grid: fixed-size cells over the filter proxy, with the keys a photographer uses
(1-8 toggle moods, Enter accepts, Space previews, Delete clears).

Every cell has the same size, so a cell's place is arithmetic (row ``r`` sits in column
``r % cols`` of cell row ``r // cols``): the grid lays out nothing per photo and paints, asks
for and hit-tests only the cells in view. Qt's ``QListView`` lays out every shown row on each
filter, sort or clear (it asks the model for an index of each: 1.9 s at 1,000,000 photos,
issue 29.3); here those cost the rows painted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QPainter, QRegion
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QRubberBand,
    QStyle,
    QStyleOptionRubberBand,
    QStyleOptionViewItem,
    QWidget,
)

from moodtagger.gui.models.photomodel import Roles

_Move = QAbstractItemView.CursorAction


class PhotoGrid(QAbstractItemView):
    """Fixed-size cells over the proxy, left to right, then down. Keys: arrows move, 1-8 toggle
    moods (display order), Enter accepts the top suggestion, Space previews, Delete clears the
    choice."""

    moodKey = Signal(int)
    acceptRequested = Signal()
    previewRequested = Signal()
    clearRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # first: Qt's setters below call back into updateGeometries
        self.base_cell = QSize(160, 200)
        self._cell = QSize(self.base_cell)
        self._cols = 1
        self._hover_row = -1
        self._band_from: QPoint | None = None  # rubber band start, in content coordinates
        self._band: QRect | None = None  # the rubber band, in viewport coordinates
        self.hover_bar: tuple[int, str] | None = None  # (photo id, mood) under the mouse
        self._typed, self._typed_at = "", 0.0  # keyboard search: letters typed, when
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setMouseTracking(True)
        # always on: the columns share a width that does not change with the number of photos
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.verticalScrollBar().setSingleStep(24)

    def set_base_cell(self, size: QSize) -> None:
        """The smallest cell; the columns then share the viewport's width (no empty band)."""
        self.base_cell = QSize(size)
        self.updateGeometries()
        self.viewport().update()

    def gridSize(self) -> QSize:
        """The size of every cell now."""
        return QSize(self._cell)

    # -- geometry: all arithmetic --------------------------------------------------------------
    def _count(self) -> int:
        model = self.model()
        return model.rowCount(self.rootIndex()) if model is not None else 0

    def _fit_columns(self) -> None:
        avail = self.viewport().width() - 1
        cols = max(1, avail // max(1, self.base_cell.width()))
        width = max(self.base_cell.width(), avail // cols)
        self._cols = cols
        self._cell = QSize(width, self.base_cell.height())
        delegate = self.itemDelegate()
        if hasattr(delegate, "cell_width"):
            delegate.cell_width = width

    def updateGeometries(self) -> None:
        self._fit_columns()
        n, vp = self._count(), self.viewport().size()
        lines = -(-n // self._cols)
        vbar, hbar = self.verticalScrollBar(), self.horizontalScrollBar()
        vbar.setPageStep(vp.height())
        vbar.setRange(0, max(0, lines * self._cell.height() - vp.height()))
        hbar.setPageStep(vp.width())
        hbar.setRange(0, max(0, self._cols * self._cell.width() - vp.width()))
        super().updateGeometries()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.updateGeometries()

    def horizontalOffset(self) -> int:
        return self.horizontalScrollBar().value()

    def verticalOffset(self) -> int:
        return self.verticalScrollBar().value()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().scroll(dx, dy)

    def _cell_rect(self, row: int) -> QRect:
        """Row ``row``'s cell in viewport coordinates."""
        w, h = self._cell.width(), self._cell.height()
        return QRect(
            (row % self._cols) * w - self.horizontalOffset(),
            (row // self._cols) * h - self.verticalOffset(),
            w,
            h,
        )

    def visualRect(self, index) -> QRect:
        if not index.isValid():
            return QRect()
        return self._cell_rect(index.row())

    def _row_at(self, point: QPoint) -> int:
        x, y = point.x() + self.horizontalOffset(), point.y() + self.verticalOffset()
        if x < 0 or y < 0:
            return -1
        col = x // self._cell.width()
        row = (y // self._cell.height()) * self._cols + col
        return row if col < self._cols and row < self._count() else -1

    def indexAt(self, point: QPoint) -> QModelIndex:
        row = self._row_at(point)
        return self.model().index(row, 0, self.rootIndex()) if row >= 0 else QModelIndex()

    def isIndexHidden(self, index) -> bool:
        return False

    def _lines_in(self, rect: QRect) -> tuple[int, int, int, int]:
        """First and last cell line and column touching ``rect`` (viewport coordinates)."""
        h, w = self._cell.height(), self._cell.width()
        top, left = rect.top() + self.verticalOffset(), rect.left() + self.horizontalOffset()
        bottom = rect.bottom() + self.verticalOffset()
        right = rect.right() + self.horizontalOffset()
        return (
            max(0, top // h),
            max(0, bottom // h),
            max(0, left // w),
            min(self._cols - 1, max(0, right // w)),
        )

    def scrollTo(self, index, hint=QAbstractItemView.ScrollHint.EnsureVisible) -> None:
        if not index.isValid():
            return
        rect, vp = self.visualRect(index), self.viewport().rect()
        vbar, v = self.verticalScrollBar(), self.verticalOffset()
        Hint = QAbstractItemView.ScrollHint
        if hint == Hint.PositionAtTop:
            vbar.setValue(v + rect.top())
        elif hint == Hint.PositionAtBottom:
            vbar.setValue(v + rect.bottom() - vp.height() + 1)
        elif hint == Hint.PositionAtCenter:
            vbar.setValue(v + rect.center().y() - vp.height() // 2)
        elif rect.top() < 0:
            vbar.setValue(v + rect.top())
        elif rect.bottom() > vp.bottom():
            vbar.setValue(v + rect.bottom() - vp.height() + 1)
        hbar, h = self.horizontalScrollBar(), self.horizontalOffset()
        if rect.left() < 0:
            hbar.setValue(h + rect.left())
        elif rect.right() > vp.right():
            hbar.setValue(h + rect.right() - vp.width() + 1)

    def moveCursor(self, action, modifiers) -> QModelIndex:
        n = self._count()
        if n == 0:
            return QModelIndex()
        cur = self.currentIndex()
        if not cur.isValid():
            return self.model().index(0, 0, self.rootIndex())
        row, cols = cur.row(), self._cols
        page = max(1, self.viewport().height() // self._cell.height()) * cols
        target = {
            _Move.MoveLeft: row - 1,
            _Move.MovePrevious: row - 1,
            _Move.MoveRight: row + 1,
            _Move.MoveNext: row + 1,
            _Move.MoveUp: row - cols if row >= cols else row,
            _Move.MoveDown: row + cols if row + cols < n else row,
            _Move.MoveHome: 0,
            _Move.MoveEnd: n - 1,
            _Move.MovePageUp: row - page if row >= page else row % cols,
            _Move.MovePageDown: row + page if row + page < n else n - 1,
        }.get(action, row)
        target = min(max(target, 0), n - 1)
        return self.model().index(target, 0, self.rootIndex())

    def setSelection(self, rect: QRect, command) -> None:
        """Select the cells ``rect`` (viewport coordinates) touches: one range per cell line."""
        n = self._count()
        first, last, c0, c1 = self._lines_in(rect.normalized())
        selection = QItemSelection()
        model, root = self.model(), self.rootIndex()
        if c0 == 0 and c1 == self._cols - 1:  # whole lines: one range
            a, b = first * self._cols, min(n - 1, (last + 1) * self._cols - 1)
            if a <= b:
                selection.select(model.index(a, 0, root), model.index(b, 0, root))
        else:
            for line in range(first, last + 1):
                a = line * self._cols + c0
                b = min(n - 1, line * self._cols + c1)
                if a > b:
                    break
                selection.select(model.index(a, 0, root), model.index(b, 0, root))
        self.selectionModel().select(selection, command)

    def keyboardSearch(self, search: str) -> None:
        """Typing moves to the next shown photo whose file name starts with the letters typed
        (within the keyboard input interval; more letters refine from the current photo). It
        reads the names, stopping at the first match (Qt's search asked the model for every
        row's text: seconds at a million photos)."""
        now = time.monotonic()
        if now - self._typed_at > QApplication.keyboardInputInterval() / 1000:
            self._typed = ""
        self._typed_at = now
        self._typed += search
        proxy, n = self.model(), self._count()
        if not search or not n or not hasattr(proxy, "shown_rows"):
            return
        key = self._typed.casefold()
        cur = self.currentIndex().row() if self.currentIndex().isValid() else -1
        start = cur if len(self._typed) > 1 and cur >= 0 else cur + 1
        shown, paths = proxy.shown_rows(), proxy.sourceModel().rows.paths
        for first, part in ((start, shown[start:]), (0, shown[:start])):
            for k, row in enumerate(part.tolist()):
                if paths[row].rpartition(os.sep)[2].casefold().startswith(key):
                    index = proxy.index(first + k, 0)
                    self.setCurrentIndex(index)
                    self.scrollTo(index)
                    return

    def visualRegionForSelection(self, selection) -> QRegion:
        return QRegion(self.viewport().rect())

    # -- painting: the cells in view only ----------------------------------------------------
    def paintEvent(self, event) -> None:
        model, delegate = self.model(), self.itemDelegate()
        if model is None or delegate is None:
            return
        n = self._count()
        painter = QPainter(self.viewport())
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        base_state = option.state
        first, last, c0, c1 = self._lines_in(event.rect())
        sm, root, cur = self.selectionModel(), self.rootIndex(), self.currentIndex()
        focus = self.hasFocus()
        S = QStyle.StateFlag
        for line in range(first, last + 1):
            for col in range(c0, c1 + 1):
                row = line * self._cols + col
                if row >= n:
                    break
                index = model.index(row, 0, root)
                state = base_state
                if sm is not None and sm.isSelected(index):
                    state |= S.State_Selected
                if focus and index == cur:
                    state |= S.State_HasFocus
                if row == self._hover_row:
                    state |= S.State_MouseOver
                option.rect = self._cell_rect(row)
                option.state = state
                delegate.paint(painter, option, index)
        if self._band is not None:
            band = QStyleOptionRubberBand()
            band.initFrom(self)
            band.shape = QRubberBand.Shape.Rectangle
            band.opaque = False
            band.rect = self._band
            self.style().drawControl(QStyle.ControlElement.CE_RubberBand, band, painter, self)
        painter.end()

    def mousePressEvent(self, event) -> None:
        super().mousePressEvent(event)
        pos = event.position().toPoint()
        on_cell = self._row_at(pos) >= 0
        offset = QPoint(self.horizontalOffset(), self.verticalOffset())
        self._band_from = None if on_cell else pos + offset
        self._band = None

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if self._band is not None:
            self._band = None
            self.viewport().update()
        self._band_from = None

    def mouseMoveEvent(self, event) -> None:
        super().mouseMoveEvent(event)
        pos = event.position().toPoint()
        if self._band_from is not None and event.buttons() & Qt.MouseButton.LeftButton:
            offset = QPoint(self.horizontalOffset(), self.verticalOffset())
            self._band = QRect(self._band_from - offset, pos).normalized()
            self.viewport().update()
        row = self._row_at(pos)
        if row != self._hover_row:
            for r in (row, self._hover_row):
                if r >= 0:
                    self.viewport().update(self._cell_rect(r))
            self._hover_row = row
        idx = self.indexAt(pos)
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
        if self._hover_row >= 0:
            self.viewport().update(self._cell_rect(self._hover_row))
            self._hover_row = -1
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
