"""Issue 27 item 1 in the app's views: a custom mood has a filter toggle (the core's rule, as
``moodtagger list --mood NAME``), a bar in the grid cell and a colour on the mood map.

Real catalog (six ImageNet photos scanned by the app), a custom mood with probabilities stored
as ``learn`` stores them, one photo chosen with it by its key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from moodtagger.cli import main
from moodtagger.gui.models.photomodel import Roles

MODEL_TIMEOUT_MS = 180_000


def _window_with_custom_mood(qtbot, make_window, photo_folder):
    """A window on six photos; "Stormy Sky" chosen for the first grid photo (key 9), learnt
    probabilities 0.9 / 0.6 / 0.2 / 0.1 for four others (None for the last)."""
    win = make_window()
    qtbot.waitUntil(lambda: win.loaded, timeout=10_000)
    with qtbot.waitSignal(win.pipelineFinished, timeout=MODEL_TIMEOUT_MS):
        win.open_folder(str(photo_folder))
    assert win.custom_moods.add("Stormy Sky") is None
    ids = [win.proxy.index(r, 0).data(Roles.PhotoIdRole) for r in range(win.proxy.rowCount())]
    assert len(ids) == 6
    mood = win.catalog.moods.find("Stormy Sky")
    win.catalog.moods.save_scores(mood.id, ids[1:5], [0.9, 0.6, 0.2, 0.1])
    win.reload()
    win.grid.setFocus()
    win.grid.setCurrentIndex(win.proxy.index(0, 0))
    qtbot.keyClick(win.grid, Qt.Key.Key_9)
    assert win.catalog.choices.get(ids[0]).moods == ["Stormy Sky"]
    return win, ids


def _shown(win) -> set[str]:
    return {
        Path(win.proxy.index(r, 0).data(Roles.PathRole)).name for r in range(win.proxy.rowCount())
    }


def test_filter_toggle_shows_what_list_mood_lists(qtbot, make_window, photo_folder, capsys):
    win, ids = _window_with_custom_mood(qtbot, make_window, photo_folder)
    buttons = win.filters.custom_buttons
    assert list(buttons) == ["Stormy Sky"]
    buttons["Stormy Sky"].setChecked(True)
    capsys.readouterr()
    assert main(["list", "--mood", "Stormy Sky", "--json", "--catalog", win.catalog_path]) == 0
    listed = {Path(r["path"]).name for r in json.loads(capsys.readouterr().out)}
    assert len(listed) == 3  # chosen + 0.9 + 0.6
    assert _shown(win) == listed
    # added/removed moods rebuild the toggles; removing the selected one drops its filter
    assert win.custom_moods.add("Cozy") is None
    assert list(win.filters.custom_buttons) == ["Cozy", "Stormy Sky"]
    assert win.filters.custom_buttons["Stormy Sky"].isChecked()
    assert win.custom_moods.remove("Stormy Sky") is None
    assert list(win.filters.custom_buttons) == ["Cozy"]
    assert win.proxy.rowCount() == 6


def test_grid_cell_bars_show_custom_moods(qtbot, make_window, photo_folder):
    from moodtagger.gui.views.delegate import MOOD_COLORS, custom_mood_color, custom_probs

    win, ids = _window_with_custom_mood(qtbot, make_window, photo_folder)
    delegate = win.grid.itemDelegate()
    rect = win.grid.visualRect(win.proxy.index(0, 0))

    def shown(pid):
        idx = win.proxy.mapFromSource(win.model.index_of(pid))
        return list(delegate.bar_rects(win.grid.visualRect(idx), idx)), idx

    moods, idx = shown(ids[0])  # chosen: first, marked ✓
    assert moods[0] == "Stormy Sky" and len(moods) == 3
    assert delegate.row_label("Stormy Sky", None, True) == "✓Stormy Sky"
    moods, idx = shown(ids[1])  # p 0.9: a bar (above every one of the eight below 0.9)
    assert "Stormy Sky" in moods and custom_probs(idx)["Stormy Sky"][0] == pytest.approx(0.9)
    assert "Stormy Sky" in shown(ids[2])[0]  # p 0.6
    assert "Stormy Sky" not in shown(ids[3])[0]  # p 0.2
    assert "Stormy Sky" not in shown(ids[5])[0]  # never learnt
    assert custom_mood_color(0).name().upper() not in {c.upper() for c in MOOD_COLORS.values()}
    # painting a cell with a custom mood (and its tooltip text) does not fail
    win.grid.viewport().grab(rect)
    delegate.hover = (ids[0], "Stormy Sky")
    assert delegate.hover_text(win.proxy.mapFromSource(win.model.index_of(ids[0]))) == (
        "Stormy Sky · chosen"
    )
    delegate.hover = None


def test_map_draws_a_chosen_custom_mood_in_its_colour(qtbot, make_window, photo_folder):
    from moodtagger.gui.views.delegate import custom_mood_color
    from moodtagger.gui.views.mapview import CUSTOM_BASE, _argb, point_color

    win, ids = _window_with_custom_mood(qtbot, make_window, photo_folder)
    win.acts.view_map.trigger()
    m = win.map
    qtbot.waitUntil(lambda: len(m.ids) > 0, timeout=10_000)
    k = int(np.nonzero(m.ids == ids[0])[0][0])
    assert int(m.mood[k]) == CUSTOM_BASE  # the chosen custom mood, not the top of the eight
    assert point_color(int(m.mood[k])) == custom_mood_color(0)
    assert m._colors()[CUSTOM_BASE] == _argb(custom_mood_color(0))
    assert "Stormy Sky (chosen)" in m._tooltip(ids[0])
    others = [int(m.mood[int(np.nonzero(m.ids == i)[0][0])]) for i in ids[1:] if i in m.ids]
    assert others and all(c < CUSTOM_BASE for c in others)  # suggestions keep the eight's
    m.grab()  # painting dots and thumbnails with a custom colour does not fail


def test_detail_panel_has_a_toggle_and_bar_per_custom_mood(qtbot, make_window, photo_folder):
    win, ids = _window_with_custom_mood(qtbot, make_window, photo_folder)
    panel = win.detail
    qtbot.waitUntil(lambda: "Stormy Sky" in panel.toggles and panel.photo_id == ids[0])
    assert panel.toggles["Stormy Sky"].isChecked()  # chosen by key 9
    assert panel.toggles["Stormy Sky"].text().startswith("9")
    win.grid.setCurrentIndex(win.proxy.mapFromSource(win.model.index_of(ids[1])))
    qtbot.waitUntil(lambda: panel.photo_id == ids[1])
    assert not panel.toggles["Stormy Sky"].isChecked()
    assert panel.bars["Stormy Sky"].value == pytest.approx(0.9)
    assert panel.percent["Stormy Sky"].text() == "90%"
    assert panel.why_target() != "Stormy Sky"
    panel.toggles["Stormy Sky"].click()  # toggles it for the selection, like key 9
    assert win.catalog.choices.get(ids[1]).moods == ["Stormy Sky"]
    assert win.custom_moods.remove("Stormy Sky") is None
    qtbot.waitUntil(lambda: "Stormy Sky" not in panel.toggles)
