"""Issue 29.3: the photo grid at library scale. A fixed-size grid needs no per-row layout: a
filter, a sort or its clear over many rows costs the grid the rows it paints, not the rows it
shows; the user's grid behaviour (cells, keys, rubber band, scrolling) stays."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication

from moodtagger.core.rows import Filter, Rows
from moodtagger.gui.models.photomodel import PhotoModel, PhotoProxy
from moodtagger.gui.views.delegate import PhotoDelegate
from moodtagger.gui.views.grid import PhotoGrid


def synthetic_rows(n: int) -> Rows:
    rng = np.random.default_rng(0)
    return Rows(
        ids=np.arange(1, n + 1, dtype=np.int64),
        paths=[f"/p/{i // 400:05d}/IMG_{i:07d}.jpg" for i in range(n)],
        root_ids=np.ones(n, np.int64),
        mtimes=np.zeros(n),
        status=np.zeros(n, np.int8),
        errors=[None] * n,
        identities=[None] * n,
        probs=rng.dirichlet(np.full(8, 0.6), n).astype(np.float32),
        valence=np.full(n, 5.0, np.float32),
        arousal=np.full(n, 5.0, np.float32),
        choice_bits=np.full(n, -1, np.int16),
        choice_state=np.full(n, 3, np.int8),
        choice_errors=[None] * n,
        taken=np.arange(n, dtype=np.float64),
    )


class CountingProxy(PhotoProxy):
    """The real proxy, counting how often the view asks it for its size."""

    calls = 0
    data_calls = 0

    def rowCount(self, parent=PhotoProxy.rowCount.__defaults__[0]):  # type: ignore[index]
        CountingProxy.calls += 1
        return super().rowCount(parent)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        CountingProxy.data_calls += 1
        return super().data(index, role)


@pytest.fixture
def shown_grid(qtbot):
    def make(n: int):
        model = PhotoModel()
        model.thumbnails_enabled = False
        proxy = CountingProxy()
        proxy.setSourceModel(model)
        grid = PhotoGrid()
        grid.setModel(proxy)
        delegate = PhotoDelegate(grid)
        grid.setItemDelegate(delegate)
        grid.set_base_cell(delegate.cell_size())
        qtbot.addWidget(grid)
        grid.resize(1000, 700)
        grid.show()
        qtbot.waitExposed(grid)
        model.set_rows(synthetic_rows(n))
        qtbot.wait(10)
        return model, proxy, grid

    return make


def test_clearing_a_filter_asks_the_model_per_painted_row_not_per_shown_row(qtbot, shown_grid):
    """Before: Qt's list view laid out every shown row on a clear (it asks the model for an
    index of each, a Python call per row: 1.9 s at 1,000,000 rows)."""
    model, proxy, grid = shown_grid(50_000)
    proxy.set_filter(Filter(moods=frozenset({"awe"}), min_prob=0.5))
    qtbot.wait(10)
    CountingProxy.calls = 0
    proxy.set_filter(Filter())
    grid.viewport().repaint()
    qtbot.wait(10)
    assert proxy.rowCount() == 50_000
    assert CountingProxy.calls < 2_000, CountingProxy.calls


def test_cells_fill_the_width_and_keys_move_by_cell_row_and_page(qtbot, shown_grid):
    model, proxy, grid = shown_grid(1_000)
    vp = grid.viewport().width()
    cols = (vp - 1) // grid.base_cell.width()
    first = grid.visualRect(proxy.index(0, 0))
    assert first.topLeft() == QPoint(0, 0) and first.width() >= grid.base_cell.width()
    assert grid.visualRect(proxy.index(cols, 0)).topLeft() == QPoint(0, first.height())
    assert vp - grid.visualRect(proxy.index(cols - 1, 0)).right() <= cols + 3
    for r in (0, 1, cols, 3 * cols + 2):  # the cell under a point is the cell drawn there
        assert grid.indexAt(grid.visualRect(proxy.index(r, 0)).center()).row() == r
    grid.setFocus()
    grid.setCurrentIndex(proxy.index(0, 0))
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    assert grid.currentIndex().row() == 1
    qtbot.keyClick(grid, Qt.Key.Key_Down)
    assert grid.currentIndex().row() == 1 + cols
    qtbot.keyClick(grid, Qt.Key.Key_End)
    assert grid.currentIndex().row() == 999
    rect = grid.visualRect(grid.currentIndex())
    assert grid.viewport().rect().contains(rect)  # scrolled to
    qtbot.keyClick(grid, Qt.Key.Key_Home)
    assert grid.currentIndex().row() == 0 and grid.verticalScrollBar().value() == 0
    qtbot.keyClick(grid, Qt.Key.Key_PageDown)
    assert grid.currentIndex().row() >= cols and grid.currentIndex().row() % cols == 0
    qtbot.keyClick(grid, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert len(grid.selected_ids()) == 2


def test_rubber_band_and_clicks_select_and_selection_follows_a_sort(qtbot, shown_grid):
    model, proxy, grid = shown_grid(1_000)
    a, b = grid.visualRect(proxy.index(0, 0)), grid.visualRect(proxy.index(1, 0))
    grid.setSelection(
        QRect(a.center(), b.center() + QPoint(0, a.height())),
        QItemSelectionModel.SelectionFlag.ClearAndSelect,
    )
    cols = (grid.viewport().width() - 1) // grid.base_cell.width()
    assert sorted(r.row() for r in grid.selectionModel().selectedIndexes()) == [
        0,
        1,
        cols,
        cols + 1,
    ]
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=b.center())
    assert grid.selected_ids() == [2]
    proxy.sort_by("top", descending=True)
    qtbot.wait(10)
    assert grid.selected_ids() == [2]
    row = grid.currentIndex().row()
    assert grid.indexAt(grid.visualRect(grid.currentIndex()).center()).row() == row
    grid.scrollTo(grid.currentIndex())
    assert grid.viewport().rect().intersects(grid.visualRect(grid.currentIndex()))


def test_typing_a_name_jumps_to_it_without_asking_every_row(qtbot, shown_grid):
    """Typing letters in the grid moves to the next shown photo whose file name starts with
    them. Qt's search asked the model for every row's text (2.2 s at 200,000 rows)."""
    model, proxy, grid = shown_grid(50_000)
    rows = model.rows
    for k in (10, 20_000, 40_000):
        rows.paths[k] = f"/p/x/Xmas_{k}.jpg"
    model.set_rows(rows)  # sorted by name: the three come last
    grid.setFocus()
    grid.setCurrentIndex(proxy.index(0, 0))
    CountingProxy.data_calls = 0
    qtbot.keyClicks(grid, "xm")
    shown = proxy.index(grid.currentIndex().row(), 0).data(Qt.ItemDataRole.DisplayRole)
    assert shown == "Xmas_10.jpg" and grid.selected_ids() == [11]
    assert grid.viewport().rect().intersects(grid.visualRect(grid.currentIndex()))
    qtbot.wait(QApplication.keyboardInputInterval() + 50)
    qtbot.keyClick(grid, Qt.Key.Key_X)  # again: the next one
    assert grid.selected_ids() == [20_001]
    qtbot.wait(QApplication.keyboardInputInterval() + 50)
    qtbot.keyClicks(grid, "zz")  # no such name: nothing moves
    assert grid.selected_ids() == [20_001]
    assert CountingProxy.data_calls < 2_000, CountingProxy.data_calls
