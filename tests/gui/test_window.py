"""The main window end to end: real photos, real model, real catalog, real exiftool.

A photographer's session: open a folder, wait for the mood bars, filter by a mood, confirm a
mood with the keyboard, undo, accept a suggestion with Enter, write the moods into the files
(checked with exiftool), and close the window while it works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from moodtagger.core.catalog import Catalog
from moodtagger.core.moods import DISPLAY_ORDER
from moodtagger.gui.dialogs.write import Column, metadata_available
from moodtagger.gui.models.photomodel import Roles
from moodtagger.gui.views.delegate import MOOD_COLORS

MODEL_TIMEOUT_MS = 180_000


def proxy_rows(win) -> list:
    return [win.proxy.index(r, 0) for r in range(win.proxy.rowCount())]


def bar_pixels(win) -> int:
    """How many pixels of the grid are painted in a mood-bar colour."""
    image = win.grid.viewport().grab().toImage()
    colors = {QColor(c).rgb() for c in MOOD_COLORS.values()}
    n = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            if image.pixel(x, y) in colors:
                n += 1
    return n


def exif_subjects(path) -> list[str]:
    out = subprocess.run(
        ["exiftool", "-j", "-XMP-dc:Subject", str(path)], check=True, capture_output=True, text=True
    ).stdout
    value = json.loads(out)[0].get("Subject", [])
    return value if isinstance(value, list) else [value]


def test_photographer_session(qtbot, make_window, photo_folder, tmp_path):
    win = make_window()
    qtbot.waitUntil(lambda: win.loaded, timeout=10_000)
    assert win.model.rowCount() == 0
    with qtbot.waitSignal(win.pipelineFinished, timeout=MODEL_TIMEOUT_MS) as finished:
        win.open_folder(str(photo_folder))
    result = finished.args[0]
    assert result.scan.new == 6 and result.predict.predicted == 6 and not result.errors

    # every photo has its mood bars, thumbnails arrive, and the bars are really painted
    assert win.proxy.rowCount() == 6
    assert all(i.data(Roles.MoodScoresRole) is not None for i in proxy_rows(win))
    qtbot.waitUntil(
        lambda: all(i.data(Roles.ThumbnailRole) is not None for i in proxy_rows(win)),
        timeout=20_000,
    )
    assert bar_pixels(win) > 50
    assert "6 photos" in win.filters.count_label.text()
    assert win.folders.count() == 2  # "All folders" + the folder

    # filter by the top mood of the first photo: only photos with that top mood stay
    first = proxy_rows(win)[0]
    mood = first.data(Roles.TopMoodRole)[0]
    expected = {
        i.data(Roles.PhotoIdRole) for i in proxy_rows(win) if i.data(Roles.TopMoodRole)[0] == mood
    }
    qtbot.mouseClick(win.filters.mood_buttons[mood], Qt.MouseButton.LeftButton)
    shown = {i.data(Roles.PhotoIdRole) for i in proxy_rows(win)}
    assert shown == expected and len(shown) < 6 or len(expected) == 6
    qtbot.mouseClick(win.filters.mood_buttons[mood], Qt.MouseButton.LeftButton)
    assert win.proxy.rowCount() == 6

    # keyboard: select the first photo, press the key of a mood that is not its top one
    win.grid.setFocus()
    win.grid.setCurrentIndex(win.proxy.index(0, 0))
    pid = win.proxy.index(0, 0).data(Roles.PhotoIdRole)
    key_mood = next(m for m in DISPLAY_ORDER if m != mood)
    key = Qt.Key(int(Qt.Key.Key_1) + DISPLAY_ORDER.index(key_mood))
    qtbot.keyClick(win.grid, key)
    assert win.model.index_of(pid).data(Roles.ChoiceRole) == (key_mood,)
    assert win.catalog.choices.get(pid) == ([key_mood], "pending", None)
    qtbot.waitUntil(lambda: win.detail.toggles[key_mood].isChecked())  # the detail panel follows
    qtbot.keyClick(win.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo
    assert win.catalog.choices.get(pid) is None
    qtbot.keyClick(
        win.grid,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert win.catalog.choices.get(pid) == ([key_mood], "pending", None)  # redo

    # Enter accepts the top suggestion of the second photo and moves on
    win.grid.setCurrentIndex(win.proxy.index(1, 0))
    second = win.proxy.index(1, 0)
    pid2, top2 = second.data(Roles.PhotoIdRole), second.data(Roles.TopMoodRole)[0]
    qtbot.keyClick(win.grid, Qt.Key.Key_Return)
    assert win.catalog.choices.get(pid2) == ([top2], "pending", None)
    assert win.grid.currentIndex().row() == 2

    # the state filter shows the two chosen photos
    win.filters.state_combo.setCurrentIndex(win.filters.state_combo.findData("chosen"))
    assert {i.data(Roles.PhotoIdRole) for i in proxy_rows(win)} == {pid, pid2}
    win.filters.state_combo.setCurrentIndex(0)

    assert metadata_available() and shutil.which("exiftool"), (
        "writing needs exiftool (bootstrap installs it)"
    )

    # batch write everything pending: diff first, then write, then the files say so
    dlg = win.writing.open_dialog()
    dlg.scope_all.setChecked(True)
    qtbot.waitUntil(lambda: dlg._phase == "planned", timeout=60_000)
    assert dlg.table.topLevelItemCount() == 2
    afters = {dlg.table.topLevelItem(i).text(Column.AFTER) for i in range(2)}
    assert afters == {key_mood.capitalize(), top2.capitalize()}
    tips = [
        dlg.table.topLevelItem(i).toolTip(Column.KEYWORDS) for i in range(2)
    ]  # the per-field keyword diff
    assert all(
        f"XMP-lr:HierarchicalSubject: - → Mood|{m.capitalize()}" in "\n".join(tips)
        for m in (key_mood, top2)
    )
    with qtbot.waitSignal(dlg.written, timeout=60_000):
        qtbot.mouseClick(dlg.write_button, Qt.MouseButton.LeftButton)
    assert "2 written" in dlg.info.text()
    dlg.close()
    path1 = win.model.index_of(pid).data(Roles.PathRole)
    path2 = win.model.index_of(pid2).data(Roles.PathRole)
    assert key_mood.capitalize() in exif_subjects(path1)
    assert top2.capitalize() in exif_subjects(path2)
    assert win.model.index_of(pid).data(Roles.StateRole) == "written"
    assert win.catalog.choices.get(pid)[1] == "written"


def test_closing_mid_work_stops_cleanly(qtbot, make_window, imagenet_sample, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for n in sorted(os.listdir(imagenet_sample))[:80]:
        shutil.copyfile(imagenet_sample / n, folder / n)
    win = make_window()
    win.open_folder(str(folder))
    qtbot.waitUntil(lambda: win.model.rowCount() > 0, timeout=60_000)
    assert win.busy
    win.close()  # cancels and joins every worker (the thread fixture checks none is left)
    assert all(
        r.is_shut_down for r in (win.library.lane, win.image_jobs, win.writer_jobs, win.why_jobs)
    )
    with Catalog(tmp_path / "catalog.sqlite3") as cat:
        assert cat.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        done = cat.photos.count()
    assert 0 < done <= 80

    # a new session picks up where the last one stopped
    win2 = make_window()
    with qtbot.waitSignal(win2.pipelineFinished, timeout=MODEL_TIMEOUT_MS):
        win2.rescan()
    assert win2.model.rowCount() == 80
    assert all(win2.model.index(r, 0).data(Roles.MoodScoresRole) is not None for r in range(80))


def test_unreadable_file_is_shown_not_raised(qtbot, make_window, photo_folder):
    (photo_folder / "broken.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    win = make_window()
    with qtbot.waitSignal(win.pipelineFinished, timeout=MODEL_TIMEOUT_MS) as finished:
        win.open_folder(str(photo_folder))
    assert len(finished.args[0].errors) == 1
    win.filters.state_combo.setCurrentIndex(win.filters.state_combo.findData("failed"))
    rows = proxy_rows(win)
    assert [i.data() for i in rows] == ["broken.jpg"]
    assert rows[0].data(Roles.ErrorRole)
    assert rows[0].data(Roles.MoodScoresRole) is None  # no made-up moods for a file never read
    assert "could not be read" in win.status_label.text()


def test_failed_write_stays_pending_with_reason(qtbot, make_window, photo_folder):
    assert metadata_available() and shutil.which("exiftool"), (
        "writing needs exiftool (bootstrap installs it)"
    )
    win = make_window()
    with qtbot.waitSignal(win.pipelineFinished, timeout=MODEL_TIMEOUT_MS):
        win.open_folder(str(photo_folder))
    idx = win.proxy.index(0, 0)
    pid, path = idx.data(Roles.PhotoIdRole), idx.data(Roles.PathRole)
    os.chmod(path, 0o444)  # the writer refuses read-only files (by default)
    win.grid.setCurrentIndex(idx)
    win.choice_actions.toggle_mood("awe")
    dlg = win.writing.open_dialog()
    qtbot.waitUntil(lambda: dlg._phase == "planned", timeout=60_000)
    with qtbot.waitSignal(dlg.written, timeout=60_000):
        dlg.write()
    assert "1 failed" in dlg.info.text()
    assert "read-only" in dlg.table.topLevelItem(0).text(Column.STATUS)
    dlg.close()
    choice = win.catalog.choices.get(pid)
    assert choice[0] == ["awe"] and choice[1] == "failed" and "read-only" in choice[2]
    assert win.model.index_of(pid).data(Roles.StateRole) == "failed"
    assert "read-only" in win.model.index_of(pid).data(Roles.ErrorRole)
    assert "Awe" not in exif_subjects(path)
    assert win.writing.pending_count() == 1  # still waiting to be written


def test_enter_skips_a_photo_changed_since_the_scan(qtbot, make_window, photo_folder, make_image):
    """Issue 25: Enter goes through the Library's accept rule, as `moodtagger accept`: a file
    changed on disk since the scan is not accepted on its old picture's prediction, and the
    status bar says why."""
    win = make_window()
    qtbot.waitUntil(lambda: win.loaded, timeout=10_000)
    with qtbot.waitSignal(win.pipelineFinished, timeout=MODEL_TIMEOUT_MS):
        win.open_folder(str(photo_folder))
    first = win.proxy.index(0, 0)
    pid, path = first.data(Roles.PhotoIdRole), first.data(Roles.PathRole)
    make_image(os.path.basename(path), root=photo_folder, seed=7)  # another picture, same name
    win.grid.setFocus()
    win.grid.setCurrentIndex(first)
    qtbot.keyClick(win.grid, Qt.Key.Key_Return)
    assert win.catalog.choices.get(pid) is None
    assert "changed since the last scan" in win.status_label.text()
    assert win.grid.currentIndex().row() == 0  # it does not move on either
