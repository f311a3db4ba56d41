"""Issue 27 item 1 in the app: custom moods added/removed in the Edit menu, keys 9 and 0
toggle the first two, the menu toggles any; a custom mood survives toggling one of the eight."""

from __future__ import annotations

from PySide6.QtCore import Qt

from moodtagger.gui.models.photomodel import Roles

MODEL_TIMEOUT_MS = 180_000


def test_custom_moods_menu_and_keys(qtbot, make_window, photo_folder):
    win = make_window()
    qtbot.waitUntil(lambda: win.loaded, timeout=10_000)
    with qtbot.waitSignal(win.pipelineFinished, timeout=MODEL_TIMEOUT_MS):
        win.open_folder(str(photo_folder))
    cm = win.custom_moods
    assert cm.add("Stormy Sky") is None and cm.add("Cozy") is None
    assert "exists already" in cm.add("cozy")  # unique ignoring case (the dialog says so)
    assert "one of the eight" in cm.add("Sad")
    titles = [a.text() for a in cm.menu.actions() if a.text()]
    assert titles[:2] == ["Cozy\t9", "Stormy Sky\t0"]

    win.grid.setFocus()
    win.grid.setCurrentIndex(win.proxy.index(0, 0))
    pid = win.proxy.index(0, 0).data(Roles.PhotoIdRole)
    qtbot.keyClick(win.grid, Qt.Key.Key_0)  # the second custom mood
    assert win.catalog.choices.get(pid).moods == ["Stormy Sky"]
    qtbot.keyClick(win.grid, Qt.Key.Key_3)  # one of the eight keeps the custom mood
    assert sorted(win.catalog.choices.get(pid).moods) == sorted(["Stormy Sky", "contentment"])
    assert set(win.model.index_of(pid).data(Roles.ChoiceRole)) == {"contentment", "Stormy Sky"}
    qtbot.keyClick(win.grid, Qt.Key.Key_9)
    assert "Cozy" in win.catalog.choices.get(pid).moods
    qtbot.keyClick(win.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo
    assert "Cozy" not in win.catalog.choices.get(pid).moods

    assert cm.remove("stormy sky") is None
    assert win.catalog.choices.get(pid).moods == ["contentment"]
    assert [a.text() for a in cm.menu.actions() if a.text()][0] == "Cozy\t9"
    qtbot.keyClick(win.grid, Qt.Key.Key_0)  # no mood on this key any more: nothing changes
    assert win.catalog.choices.get(pid).moods == ["contentment"]
