"""What the grid shows: the folder list and the filter panel turned into the proxy's filter,
the sort, the "only these photos" filter (a mood-map selection, or "more like this") and the
count of shown photos.

:class:`~moodtagger.gui.views.filterpanel.FilterPanel` is the widgets; the filter itself is the
core's one rule (:class:`~moodtagger.core.rows.Filter`, as ``moodtagger list``).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from moodtagger.gui.controllers.host import Window
from moodtagger.gui.models.photomodel import Filter


class GridFilter(QObject):
    def __init__(self, window: Window):
        super().__init__(window)
        self.window = window
        w = window
        w.folders.currentItemChanged.connect(self.changed)
        w.folders.subfolders_box.toggled.connect(self.changed)
        w.filters.changed.connect(self.changed)
        w.filters.sortChanged.connect(self._sort_changed)
        w.filters.searchEntered.connect(w.grid.setFocus)
        w.filters.clearOnlyRequested.connect(self.clear_only_ids)
        self.count_timer = QTimer(self, singleShot=True, interval=50, timeout=self.refresh_count)
        for sig in (
            w.proxy.rowsInserted,
            w.proxy.rowsRemoved,
            w.proxy.modelReset,
            w.proxy.layoutChanged,
            w.proxy.filterChanged,
        ):
            sig.connect(self.count_timer.start)

    def current(self) -> Filter:
        """The filter the controls and the current folder describe."""
        w = self.window
        return w.filters.current_filter(
            root_path=w.folders.current_path(),
            margin=w.settings.ambiguity_margin,
            subfolders=w.folders.include_subfolders(),
        )

    def changed(self, *_args) -> None:
        self.window.proxy.set_filter(self.current())
        self.window.details.schedule()

    def _sort_changed(self, key: str, descending: bool) -> None:
        w = self.window
        w.proxy.sort_by(key, descending)
        cur = w.grid.currentIndex()
        if cur.isValid():
            w.grid.scrollTo(cur)

    def refresh_count(self) -> None:
        self.window.filters.set_count(self.window.proxy.rowCount(), self.window.model.rowCount())

    def set_only_ids(self, ids) -> None:
        """Show only these photos (a mood-map selection; it replaces "more like this");
        ``None`` shows all again."""
        w = self.window
        w.like_this.end()
        if ids is None:
            w.filters.set_only(None)
        else:
            w.filters.set_only(
                ids,
                f"Map selection: {len(ids):,} ✕",
                "The grid shows only the photos selected on the mood map; click to show all",
            )

    def clear_only_ids(self) -> None:
        self.set_only_ids(None)

    def stop(self) -> None:
        self.count_timer.stop()
