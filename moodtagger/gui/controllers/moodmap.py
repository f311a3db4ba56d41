"""The mood map beside the grid: which points it shows (the grid's filter), what a selection
on it does (selects in the grid, or filters the grid to it), and when it redraws.

:class:`~moodtagger.gui.views.mapview.MoodMap` is the widget; this keeps it on the model's
rows, coalescing changes through a short timer and redrawing only while the map is shown.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QTimer

from moodtagger.gui.controllers.host import Window
from moodtagger.gui.models.photomodel import Roles
from moodtagger.gui.views.mapview import mood_index_for


class MapController(QObject):
    def __init__(self, window: Window):
        super().__init__(window)
        self.window = window
        self.map = window.map
        self.map.thumbnail_for = self._thumbnail
        self.timer = QTimer(self, singleShot=True, interval=120, timeout=self.refresh)
        proxy, model = window.proxy, window.model
        for sig in (
            proxy.modelReset,
            proxy.layoutChanged,
            proxy.filterChanged,
            model.rowsMerged,
            model.rowsRemoved,
        ):
            sig.connect(self.timer.start)
        model.dataChanged.connect(self._data_changed)
        self.map.selected.connect(self._selected)
        self.map.activated.connect(self._activated)
        window.details.shown.connect(self._detail_shown)

    def set_view(self, view: str) -> None:
        """Show the grid ("grid") or the map ("map") in the window's stack."""
        w = self.window
        is_map = view == "map"
        w.stack.setCurrentIndex(1 if is_map else 0)
        (w.acts.view_map if is_map else w.acts.view_grid).setChecked(True)
        if is_map:
            self.refresh()
            self.map.setFocus()
        else:
            w.grid.setFocus()

    @property
    def view(self) -> str:
        return "map" if self.window.stack.currentIndex() == 1 else "grid"

    @property
    def shown(self) -> bool:
        return self.view == "map"

    def refresh(self) -> None:
        w = self.window
        if w.closed or not self.shown:
            return
        rows = w.model.rows
        mask = w.model.filter_mask(w.proxy.filter)
        moods = mood_index_for(rows, w.model.derived())
        self.map.set_points(
            rows.ids[mask], rows.valence[mask], rows.arousal[mask], moods[mask], rows.custom_names
        )
        self.map.set_highlight(w.grid.selected_ids())

    def stop(self) -> None:
        self.timer.stop()

    def _data_changed(self, _top: QModelIndex, _bottom: QModelIndex, roles=()) -> None:
        if self.shown:
            if list(roles) == [int(Roles.ThumbnailRole)]:
                self.map.update()
            else:
                self.timer.start()

    def _detail_shown(self) -> None:
        if self.shown:
            self.map.set_highlight(self.window.grid.selected_ids())

    def _thumbnail(self, pid: int):
        idx = self.window.model.index_of(pid)
        return idx.data(Roles.ThumbnailRole) if idx.isValid() else None

    def _selected(self, ids) -> None:
        w = self.window
        ids = [int(i) for i in ids]
        if w.map_page.target.currentData() == "filter" and ids:
            w.filtering.set_only_ids(ids)
        w.grid.select_ids(ids)
        self.map.set_highlight(ids)
        n = len(ids)
        w.show_status(f"{n:,} photo{'s' * (n != 1)} selected on the map")

    def _activated(self, pid: int) -> None:
        self.window.grid.select_ids([pid])
        self.window.set_view("grid")
