"""Issue 26 items 1-2 in the app: the folder panel is a tree of the library's folders with photo
counts (each photo counted once), selecting a folder shows its photos and, with "Include
subfolders", its subfolders'; the date filter and the "Date taken" sort use the capture date;
the detail panel shows it."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from PIL import Image

from moodtagger.core.catalog import Catalog
from moodtagger.core.scanner import scan
from moodtagger.gui.models.photomodel import Roles

LAYOUT = {
    "a.jpg": "2019:05:01 08:00:00",
    "b.jpg": None,
    "2020/c.jpg": "2020:07:02 09:30:00",
    "2020/d.jpg": "2020:07:03 23:59:00",
    "2020/party/e.jpg": "2020:12:31 22:00:00",
    "RAW/f.jpg": "2021:01:01 00:10:00",
}


def make_library(tmp_path: Path) -> tuple[Path, Path]:
    lib = tmp_path / "lib"
    for i, (name, taken) in enumerate(LAYOUT.items()):
        path = lib / name
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs = {}
        if taken:
            exif = Image.Exif()
            exif.get_ifd(0x8769)[0x9003] = taken
            kwargs["exif"] = exif.tobytes()
        Image.new("RGB", (40, 30), (40 * i, 90, 200 - 30 * i)).save(path, quality=90, **kwargs)
        os.utime(path, (1_700_000_000 - 1000 * i, 1_700_000_000 - 1000 * i))  # reversed
    db = tmp_path / "catalog.sqlite3"
    with Catalog(db) as cat:
        scan(cat, [lib], thumbnails=False)
        scan(cat, [lib / "RAW"], thumbnails=False)  # inside the library: not a second folder
        scan(cat, [lib, lib / "2020"], thumbnails=False)  # F5 over overlapping folders
    return lib, db


def shown_names(win) -> list[str]:
    return [
        os.path.relpath(win.proxy.index(r, 0).data(Roles.PathRole), win.lib)
        for r in range(win.proxy.rowCount())
    ]


def open_window(make_window, qtbot, tmp_path):
    lib, db = make_library(tmp_path)
    win = make_window(db)
    win.lib = str(lib)
    qtbot.waitUntil(lambda: win.loaded and win.folders.count_of(None) == 6, timeout=10_000)
    return win


def test_folder_tree_counts_each_photo_once(qtbot, make_window, tmp_path):
    win = open_window(make_window, qtbot, tmp_path)
    lib = win.lib
    tree = win.folders
    # one library folder, its subfolders nested below it, counts include the subfolders
    assert [n.path for n in tree.tops] == [lib]
    assert tree.count_of(None) == 6 and tree.count_of(lib) == 6
    assert tree.count_of(f"{lib}/2020") == 3
    assert tree.count_of(f"{lib}/2020/party") == 1
    assert tree.count_of(f"{lib}/RAW") == 1
    top = tree.topLevelItem(1)
    assert top.text() == "lib" and top.text(1) == "6"
    assert sorted(top.child(k).text() for k in range(top.childCount())) == ["2020", "RAW"]
    assert tree.count() == 5  # All folders, lib, 2020, party, RAW
    assert "6 photos" in win.filters.count_label.text()
    # opening a folder inside the library, then F5 (every library folder): each photo once
    with qtbot.waitSignal(win.pipelineFinished, timeout=60_000):
        win.library.scan([f"{lib}/2020", lib], predict=False)
    assert "6 photos, nothing changed" in win.status.label.text()
    win.open_folder(f"{lib}/RAW")
    with qtbot.waitSignal(win.pipelineFinished, timeout=60_000):
        win.rescan()
    assert [n.path for n in tree.tops] == [lib] and tree.count_of(None) == 6
    assert "6 photos, nothing changed" in win.status.label.text()


def test_selecting_a_folder_with_and_without_subfolders(qtbot, make_window, tmp_path):
    win = open_window(make_window, qtbot, tmp_path)
    lib, tree = win.lib, win.folders
    assert tree.subfolders_box.isChecked()  # on by default
    tree.select_path(f"{lib}/2020")
    assert sorted(shown_names(win)) == ["2020/c.jpg", "2020/d.jpg", "2020/party/e.jpg"]
    tree.subfolders_box.setChecked(False)
    assert sorted(shown_names(win)) == ["2020/c.jpg", "2020/d.jpg"]
    tree.select_path(lib)
    assert sorted(shown_names(win)) == ["a.jpg", "b.jpg"]
    tree.subfolders_box.setChecked(True)
    assert len(shown_names(win)) == 6
    tree.select_path(f"{lib}/2020/party")
    assert shown_names(win) == ["2020/party/e.jpg"]


def test_date_sort_date_filter_and_the_date_in_the_detail_panel(qtbot, make_window, tmp_path):
    win = open_window(make_window, qtbot, tmp_path)
    win.filters.sort_by("date", False)
    # capture dates, not the (reversed) file times; b.jpg has none: its first-seen file time
    assert shown_names(win) == [
        "a.jpg",
        "2020/c.jpg",
        "2020/d.jpg",
        "2020/party/e.jpg",
        "RAW/f.jpg",
        "b.jpg",
    ]
    win.filters.set_date_range(datetime.date(2020, 7, 3), datetime.date(2020, 12, 31))
    assert sorted(shown_names(win)) == ["2020/d.jpg", "2020/party/e.jpg"]
    win.filters.date_box.setChecked(False)
    assert len(shown_names(win)) == 6
    win.grid.setCurrentIndex(win.proxy.index(1, 0))
    qtbot.waitUntil(lambda: win.detail.taken.text() == "Taken 2020-07-02 09:30", timeout=5000)
    win.grid.setCurrentIndex(win.proxy.index(5, 0))
    qtbot.waitUntil(lambda: "(file time, first seen)" in win.detail.taken.text(), timeout=5000)
