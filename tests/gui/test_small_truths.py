"""Issue 26 item 4, small truths: what the keys say, Enter on a written photo, the write
dialog's folder and keyword change, the app's state words. Real model, catalog, exiftool."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from PySide6.QtCore import Qt

from moodtagger.core.moods import DISPLAY_ORDER, display_name
from moodtagger.gui.dialogs.write import Column
from moodtagger.gui.models.photomodel import Roles

from .test_views import open_scanned
from .test_window import proxy_rows


def _write_all(qtbot, win):
    dlg = win.writing.open_dialog()
    dlg.scope_all.setChecked(True)
    qtbot.waitUntil(lambda: dlg._phase == "planned", timeout=60_000)
    with qtbot.waitSignal(dlg.written, timeout=60_000):
        dlg.write()
    dlg.close()


def test_digits_say_what_they_did_and_enter_on_a_written_top_mood_changes_nothing(
    qtbot, make_window, photo_folder
):
    win = open_scanned(qtbot, make_window, photo_folder)
    idx = win.proxy.index(0, 0)
    pid, name = idx.data(Roles.PhotoIdRole), idx.data()
    top = idx.data(Roles.TopMoodRole)[0]
    other = next(m for m in DISPLAY_ORDER if m != top)
    key = DISPLAY_ORDER.index(other) + 1
    win.grid.setFocus()
    win.grid.setCurrentIndex(idx)
    qtbot.keyClick(win.grid, Qt.Key(int(Qt.Key.Key_0) + key))  # a digit typed on the grid tags
    assert win.catalog.choices.get(pid) == ([other], "pending", None)
    said = win.status_label.text()
    assert said == f"{name}: chose {display_name(other)} (press {key} again to undo)", said
    qtbot.keyClick(win.grid, Qt.Key(int(Qt.Key.Key_0) + key))
    assert win.catalog.choices.get(pid) == ([], "pending", None)
    said = win.status_label.text()
    assert said == f"{name}: removed {display_name(other)} (press {key} again to choose it)", said

    # Enter accepts the top mood; once written, Enter on it again changes nothing
    win.grid.setCurrentIndex(idx)
    qtbot.keyClick(win.grid, Qt.Key.Key_Return)
    assert win.catalog.choices.get(pid) == ([top], "pending", None)
    _write_all(qtbot, win)
    assert win.catalog.choices.get(pid)[:2] == ([top], "written")
    steps = win.undo_stack.count()
    win.grid.setCurrentIndex(win.proxy.index(0, 0))
    qtbot.keyClick(win.grid, Qt.Key.Key_Return)
    assert win.catalog.choices.get(pid)[:2] == ([top], "written")
    assert win.model.index_of(pid).data(Roles.StateRole) == "written"
    assert win.undo_stack.count() == steps and win.writing.pending_count() == 0
    said = win.status_label.text()
    assert said == f"{name}: already written with its top mood {display_name(top)}; nothing changed"


def _set_keywords(path, *words):
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", *[f"-XMP-dc:Subject={w}" for w in words], path],
        check=True,
    )


def test_write_dialog_shows_folders_and_the_whole_keyword_change(
    qtbot, make_window, photo_folder, tmp_path
):
    lib = tmp_path / "lib"
    src = sorted(photo_folder.iterdir())
    for k, sub in enumerate(("Norway", "Spain")):
        (lib / sub).mkdir(parents=True)
        shutil.copyfile(src[k], lib / sub / "photo_000.jpg")  # the same name in two folders
        _set_keywords(str(lib / sub / "photo_000.jpg"), "Beach", sub)
    shutil.copyfile(src[2], lib / "Spain" / "photo_001.jpg")
    win = open_scanned(qtbot, make_window, lib)
    ids = {i.data(Roles.PathRole): i.data(Roles.PhotoIdRole) for i in proxy_rows(win)}
    win.choices.set_moods(
        [ids[str(lib / s / "photo_000.jpg")] for s in ("Norway", "Spain")], ["awe"]
    )
    failed = ids[str(lib / "Spain" / "photo_001.jpg")]
    win.choices.set_moods([failed], ["fear"])
    win.catalog.choices.mark(failed, "failed", "disk full")
    win.model.merge(win.library.rows([failed]))

    # the app's words for the states are the CLI's: `list --state chosen` / `--state failed`
    def listed(state: str) -> int:
        out = subprocess.run(
            [sys.executable, "-m", "moodtagger", "list", "--catalog", win.catalog_path]
            + ["--state", state, "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return len(json.loads(out))

    assert (listed("chosen"), listed("failed")) == (2, 1)
    dlg = win.writing.open_dialog()
    assert dlg.scope_all.text() == "Everything not written: 2 chosen, 1 failed"
    dlg.scope_all.setChecked(True)
    qtbot.waitUntil(lambda: dlg._phase == "planned", timeout=60_000)
    rows = {}
    for i in range(dlg.table.topLevelItemCount()):
        item = dlg.table.topLevelItem(i)
        rows[item.text(Column.FOLDER), item.text(Column.FILE)] = item
    assert set(rows) == {
        ("Norway", "photo_000.jpg"),
        ("Spain", "photo_000.jpg"),
        ("Spain", "photo_001.jpg"),
    }
    for sub in ("Norway", "Spain"):
        item = rows[sub, "photo_000.jpg"]
        assert item.text(Column.KEYWORDS) == f"Beach, {sub} → Beach, {sub}, Awe"
        assert item.toolTip(Column.FOLDER) == str(lib / sub)
    dlg.close()
