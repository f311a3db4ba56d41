"""Issue 27 item 2 in the app: the "Teach me" queue.

Real photos (the ImageNet sample) with bursts of near-duplicates made with Pillow, a real
catalog scanned and predicted once by the real model with `moodtagger scan`, the window on a
private copy. The queue is checked against the CLI's `teach` (the same core function), labelled
with the number keys (the window's choice path), and learning runs on the library lane.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog
from moodtagger.core.library import Library
from moodtagger.core.moods import DISPLAY_ORDER

N_PHOTOS = 14
BURSTS = (0, 5, 10)
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, imagenet_sample: Path):
    base = tmp_path_factory.mktemp("gui-teach")
    lib = base / "lib"
    lib.mkdir()
    burst: dict[str, int] = {}
    for i, src in enumerate(sorted(imagenet_sample.glob("*.JPEG"))[3::67][:N_PHOTOS]):
        shutil.copyfile(src, lib / f"t{i:02d}.jpg")
        burst[f"t{i:02d}.jpg"] = i
        if i in BURSTS:
            with Image.open(src) as im:
                im = im.convert("RGB")
                w, h = im.size
                im.crop((0, 0, int(w * 0.85), int(h * 0.85))).save(lib / f"t{i:02d}-crop.jpg")
                ImageEnhance.Brightness(im).enhance(1.3).save(lib / f"t{i:02d}-bright.jpg")
            burst[f"t{i:02d}-crop.jpg"] = burst[f"t{i:02d}-bright.jpg"] = i
    db = base / "catalog.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOODTAGGER_CACHE", str(base / "cache"))
        assert main(["scan", "-q", "--device", "cpu", "--catalog", str(db), str(lib)]) == 0
    return lib, db, burst


@pytest.fixture
def window(qtbot, make_window, library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder, db, burst = library
    copy = tmp_path / "catalog.sqlite3"
    shutil.copyfile(db, copy)
    monkeypatch.setenv("MOODTAGGER_PERSONAL_MODELS", str(tmp_path / "models"))
    win = make_window(copy)
    qtbot.waitUntil(lambda: win.loaded, timeout=20_000)
    return win, copy, burst


def names(win, ids) -> list[str]:
    return [Path(win.catalog.photos.by_id(i).path).name for i in ids]


def test_teach_me_queue_labels_with_the_number_keys_and_learns_in_batches(
    qtbot, window, capsys
) -> None:
    win, db, burst = window
    flow = win.teaching
    flow.size, flow.batch = 7, 3
    assert flow.action in win.menus["Edit"].actions()
    assert flow.action.shortcut() == QKeySequence("T")
    capsys.readouterr()
    assert main(["teach", "-n", "7", "--json", "--catalog", str(db)]) == 0
    want = [Path(r["path"]).name for r in json.loads(capsys.readouterr().out)]

    with qtbot.waitSignal(flow.queueChanged, timeout=TIMEOUT_MS):
        flow.action.trigger()  # the menu action (key T)
    assert flow.active and names(win, flow.queue) == want  # the CLI's photos, in its order
    assert len({burst[n] for n in want}) == 7  # one per burst
    assert win.proxy.rowCount() == 7 and "Teach me: 7" in win.filters.only_button.text()
    assert names(win, win.grid.selected_ids()) == want[:1]
    assert "photo 1 of 7" in win.status_label.text()

    learns = []
    flow.learnt.connect(learns.append)
    shown = []
    for k in range(3):  # a mood key labels the shown photo and moves on
        shown.append(win.grid.selected_ids()[0])
        qtbot.keyClick(win.grid, Qt.Key.Key_1 + k)
        qtbot.waitUntil(lambda k=k: flow.labelled == k + 1, timeout=5_000)
        if k < 2:
            assert names(win, win.grid.selected_ids()) == want[k + 1 : k + 2]
    assert names(win, shown) == want[:3]
    with Catalog(db) as cat:
        chosen = {pid: cat.choices.get(pid).moods for pid in shown}
    assert [list(m) for m in chosen.values()] == [[DISPLAY_ORDER[k]] for k in range(3)]

    # after the batch of 3: learnt on the library lane, the status line says what changed
    qtbot.waitUntil(lambda: len(learns) == 1, timeout=TIMEOUT_MS)
    summary = learns[0]
    assert summary is not None and sum(summary.examples.values()) == 3
    assert win.library.learning and win.learning.box is None  # no box: the status line says it
    text = win.status_label.text()
    assert f"learnt from 3 photos: {summary.changed:,} suggestion" in text, text
    assert "changed" in text and flow.active

    # the rest of the queue: the 6th label learns again, the last one ends the queue, learns
    # once more and shows every photo
    while flow.queue:
        n = flow.labelled
        qtbot.keyClick(win.grid, Qt.Key.Key_4)
        qtbot.waitUntil(lambda n=n: flow.labelled == n + 1, timeout=5_000)
    assert not flow.active and win.filters.only_ids is None
    qtbot.waitUntil(lambda: not flow.busy, timeout=TIMEOUT_MS)
    # (a label that comes while a learn runs is learnt by the next one)
    examples = [sum(s.examples.values()) for s in learns]
    assert examples[0] == 3 and examples[-1] == 7 and examples == sorted(examples)
    assert f"learnt from 7 photos: {learns[-1].changed:,} suggestion" in win.status_label.text()
    with Catalog(db) as cat, Library(cat) as lib:
        assert lib.learning()
        again = lib.teach(100)  # never one of the labelled photos or their bursts
    done = {burst[n] for n in want}
    got = names(win, [p.photo_id for p in again])
    assert again and not {burst[n] for n in got} & done, (" ".join(want), " ".join(got))


def test_teach_me_stops_with_t_and_learns_what_was_labelled(qtbot, window) -> None:
    win, db, burst = window
    flow = win.teaching
    flow.size = 5
    with qtbot.waitSignal(flow.queueChanged, timeout=TIMEOUT_MS):
        flow.action.trigger()
    qtbot.keyClick(win.grid, Qt.Key.Key_6)
    qtbot.waitUntil(lambda: flow.labelled == 1, timeout=5_000)
    with qtbot.waitSignal(flow.learnt, timeout=TIMEOUT_MS):
        flow.action.trigger()  # T again: stop
    assert not flow.active and win.proxy.rowCount() == win.model.rowCount()
    assert "learnt from 1 photo: " in win.status_label.text()
