"""The filter panel: what the grid shows and in which order.

Two widgets: :attr:`FilterPanel.box` (moods, minimum probability, state, ambiguous only; in the
left column under the folders) and :attr:`FilterPanel.bar` (count, the "only these photos"
button of a mood-map selection or a "more like this" result, search, grid/map, sort; above the
grid). The panel turns its controls into one :class:`~moodtagger.core.rows.Filter` (the core's
one filter rule, as ``moodtagger list``) and announces changes; it knows nothing of the
catalog or the model.
"""

from __future__ import annotations

import datetime

from PySide6.QtCore import QDate, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from moodtagger.core.moods import DISPLAY_ORDER, display_name
from moodtagger.gui.models.photomodel import (
    ASCENDING_KEYS,
    RANKING,
    SORT_KEYS,
    Filter,
    sort_key_label,
)
from moodtagger.gui.views.delegate import MOOD_COLORS, custom_mood_color


class FilterPanel(QObject):
    changed = Signal()  # a filter control changed (the search box after a short pause)
    sortChanged = Signal(str, bool)  # key, descending
    searchEntered = Signal()  # Enter in the search box (the grid takes the focus back)
    clearOnlyRequested = Signal()  # the "only these photos" button was clicked

    def __init__(self, view_grid: QAction, view_map: QAction, parent: QObject | None = None):
        super().__init__(parent)
        self._search_timer = QTimer(self, singleShot=True, interval=150, timeout=self._changed)
        self.only_ids: frozenset[int] | None = None
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
            b.setToolTip(
                f"Show photos whose chosen mood or top suggestion is {display_name(mood)} "
                "(several: any of them)"
            )
            _style(b, QColor(MOOD_COLORS[mood]))
            b.toggled.connect(self._changed)
            self.mood_buttons[mood] = b
            moods.addWidget(b, k % 4, k // 4)  # positive moods left column, negative right
        lay.addLayout(moods)
        self.custom_layout = QGridLayout()  # the user's own moods (issue 27), after the eight
        self.custom_layout.setSpacing(3)
        self.custom_buttons: dict[str, QToolButton] = {}
        lay.addLayout(self.custom_layout)
        row = QHBoxLayout()
        row.addWidget(QLabel("Min p"))
        self.min_slider = QSlider(Qt.Orientation.Horizontal)
        self.min_slider.setRange(0, 100)
        self.min_slider.setSingleStep(5)
        self.min_slider.setPageStep(10)
        self.min_slider.setToolTip(
            "Minimum probability of the matching mood (of the top mood when no mood is selected)"
        )
        self.min_label = QLabel("0%")
        self.min_label.setMinimumWidth(34)
        self.min_slider.valueChanged.connect(self._changed)
        row.addWidget(self.min_slider, 1)
        row.addWidget(self.min_label)
        lay.addLayout(row)
        self.state_combo = QComboBox()
        self.state_combo.addItem("All states", "")
        for s, label in (
            ("unconfirmed", "Unconfirmed"),
            ("chosen", "Chosen, not written"),
            ("written", "Written"),
            ("failed", "Errors"),
        ):
            self.state_combo.addItem(label, s)
        self.state_combo.currentIndexChanged.connect(self._changed)
        lay.addWidget(self.state_combo)
        self.ambiguous_box = QCheckBox("Ambiguous only")
        self.ambiguous_box.setToolTip(
            "Photos the model is unsure about (top two moods close) and nobody chose yet"
        )
        self.ambiguous_box.toggled.connect(self._changed)
        lay.addWidget(self.ambiguous_box)
        lay.addLayout(self._date_row())
        self.box = box

        bar = QWidget()
        top = QHBoxLayout(bar)
        top.setContentsMargins(4, 2, 4, 2)
        self.count_label = QLabel("")
        top.addWidget(self.count_label)
        self.only_button = QToolButton()
        self.only_button.setText("Map selection ✕")
        self.only_button.setToolTip(
            "The grid shows only the photos selected on the mood map; click to show all"
        )
        self.only_button.setVisible(False)
        self.only_button.clicked.connect(self.clearOnlyRequested)
        top.addWidget(self.only_button)
        top.addStretch(1)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, folder, keyword")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip(
            "Every word must appear in the file name, its folder or the keywords already in the file (Ctrl+F)"
        )
        self.search.setMinimumWidth(200)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self._search_entered)
        top.addWidget(self.search, 1)
        self.view_grid_button = QToolButton()
        self.view_grid_button.setDefaultAction(view_grid)
        self.view_map_button = QToolButton()
        self.view_map_button.setDefaultAction(view_map)
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
        self.bar = bar

    def _date_row(self) -> QGridLayout:
        """ "Taken" from .. to (days, inclusive): the capture date (core/dates.py)."""
        row = QGridLayout()
        self.date_box = QCheckBox("Taken")
        self.date_box.setToolTip(
            "Only photos taken on these days (the capture date in the photo's own local time; "
            "a photo without one: its file time when first scanned)"
        )
        today = QDate.currentDate()
        self.date_from = QDateEdit(QDate(today.year(), 1, 1))
        self.date_to = QDateEdit(today)
        row.addWidget(self.date_box, 0, 0)
        for col, (edit, tip) in enumerate(
            ((self.date_from, "First day"), (self.date_to, "Last day (included)")), start=1
        ):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setToolTip(tip)
            edit.setEnabled(False)
            edit.dateChanged.connect(self._changed)
            self.date_box.toggled.connect(edit.setEnabled)
            row.addWidget(edit, 0, col)
        self.date_box.toggled.connect(self._changed)
        return row

    def set_date_range(self, first: datetime.date | None, last: datetime.date | None) -> None:
        """Filter on capture dates ``first`` .. ``last`` (None and None: off)."""
        for edit, day in ((self.date_from, first), (self.date_to, last)):
            if day is not None:
                edit.blockSignals(True)
                edit.setDate(QDate(day.year, day.month, day.day))
                edit.blockSignals(False)
        self.date_box.setChecked(first is not None or last is not None)
        self._changed()

    def set_custom_moods(self, names) -> None:
        """One toggle per custom mood, in catalog order (rebuilt when moods are added/removed;
        a kept mood keeps its state)."""
        names = list(names)
        if names == list(self.custom_buttons):
            return
        checked = {n for n, b in self.custom_buttons.items() if b.isChecked()}
        for b in self.custom_buttons.values():
            self.custom_layout.removeWidget(b)
            b.deleteLater()
        self.custom_buttons = {}
        for k, name in enumerate(names):
            b = QToolButton()
            b.setText(name)
            b.setCheckable(True)
            b.setChecked(name in checked)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.setToolTip(
                f"Show photos chosen with {name} or whose probability for it is at least "
                "50% (several: any of them)"
            )
            _style(b, custom_mood_color(k))
            b.toggled.connect(self._changed)
            self.custom_buttons[name] = b
            self.custom_layout.addWidget(b, k // 2, k % 2)
        if checked - set(names):
            self._changed()

    # -- reading --------------------------------------------------------------------------------
    def current_filter(
        self, *, root_path: str | None, margin: float, subfolders: bool = True
    ) -> Filter:
        moods = frozenset(
            m
            for m, b in (*self.mood_buttons.items(), *self.custom_buttons.items())
            if b.isChecked()
        )
        state = self.state_combo.currentData()
        dated = self.date_box.isChecked()
        return Filter(
            moods=moods,
            min_prob=self.min_slider.value() / 100.0,
            states=frozenset([state]) if state else frozenset(),
            ambiguous_only=self.ambiguous_box.isChecked(),
            root_path=root_path,
            margin=margin,
            text=self.search.text().strip(),
            only_ids=self.only_ids,
            date_from=self.date_from.date().toPython() if dated else None,
            date_to=self.date_to.date().toPython() if dated else None,
            subfolders=subfolders,
        )

    @property
    def searching(self) -> bool:
        return bool(self.search.text().strip())

    # -- setting --------------------------------------------------------------------------------
    def set_mood_filter(self, moods) -> None:
        for m, b in (*self.mood_buttons.items(), *self.custom_buttons.items()):
            b.blockSignals(True)
            b.setChecked(m in moods)
            b.blockSignals(False)
        self._changed()

    def sort_by(self, key: str, descending: bool | None = None) -> None:
        self.sort_combo.setCurrentIndex(self.sort_combo.findData(key))
        if descending is not None and self.sort_desc.isChecked() != descending:
            self.sort_desc.setChecked(descending)

    def show_ranking_sort(self, shown: bool) -> None:
        """Offer (or drop) the sort key of a "more like this" result, without re-sorting."""
        i = self.sort_combo.findData(RANKING)
        self.sort_combo.blockSignals(True)
        if shown and i < 0:
            self.sort_combo.insertItem(0, "Similarity", RANKING)
        elif not shown and i >= 0:
            self.sort_combo.removeItem(i)
        self.sort_combo.blockSignals(False)

    def set_only(self, ids, text: str = "", tip: str = "") -> None:
        """Only these photos (a mood-map selection, a "more like this" result), named on the
        button that clears them; ``None``: every photo again."""
        self.only_ids = None if ids is None else frozenset(int(i) for i in ids)
        self.only_button.setVisible(self.only_ids is not None)
        if self.only_ids is not None:
            self.only_button.setText(text)
            self.only_button.setToolTip(tip)
        self._changed()

    def set_count(self, shown: int, total: int) -> None:
        self.count_label.setText(
            f"{shown:,} of {total:,}" if shown != total else f"{total:,} photos"
        )

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def stop(self) -> None:
        self._search_timer.stop()

    # -- signals ----------------------------------------------------------------------------------
    def _changed(self, *_args) -> None:
        self.min_label.setText(f"{self.min_slider.value()}%")
        self.changed.emit()

    def _search_entered(self) -> None:
        self._search_timer.stop()
        self._changed()
        self.searchEntered.emit()

    def _sort_key_changed(self, *_args) -> None:
        key = self.sort_combo.currentData()
        self.sort_desc.blockSignals(True)
        self.sort_desc.setChecked(key not in ASCENDING_KEYS)
        self.sort_desc.blockSignals(False)
        self._sort_changed()

    def _sort_changed(self, *_args) -> None:
        desc = self.sort_desc.isChecked()
        self.sort_desc.setText("↓" if desc else "↑")
        self.sortChanged.emit(self.sort_combo.currentData(), desc)


def _style(b: QToolButton, color: QColor) -> None:
    """A mood toggle: the mood's colour on the left edge, filled when checked."""
    b.setStyleSheet(
        f"QToolButton {{ border: 1px solid palette(mid); border-left: 6px solid {color.name()}; "
        "border-radius: 2px; padding: 2px 4px; }"
        f"QToolButton:checked {{ background: {color.lighter(115).name()};"
        " color: black; font-weight: bold; }"
    )
