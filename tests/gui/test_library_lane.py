"""Issue 13 item 1: the window's library lane is the core's ``Library.refresh`` (the call behind
``moodtagger scan``), and the grid still fills while it runs: new photos appear during the scan,
predictions batch by batch. Real photos, the real model, a real catalog."""

from __future__ import annotations

import os
import shutil

from moodtagger.core.library import RefreshResult
from moodtagger.gui.models.photomodel import Roles

N = 48
TIMEOUT_MS = 180_000


def test_scan_streams_new_photos_and_predictions_batch_by_batch(
    qtbot, make_window, imagenet_sample, tmp_path, monkeypatch
):
    from moodtagger.core import scanner

    # the scan commits (and the grid shows) new photos every STORE_INTERVAL seconds; this small
    # library scans in a fraction of that, so here every photo is its own batch
    monkeypatch.setattr(scanner, "STORE_INTERVAL", 0.0)
    folder = tmp_path / "many"
    folder.mkdir()
    for n in sorted(os.listdir(imagenet_sample))[:N]:
        shutil.copyfile(imagenet_sample / n, folder / n)
    win = make_window()
    qtbot.waitUntil(lambda: win.loaded, timeout=20_000)

    inserts: list[int] = []  # rows in the grid after each insert, while the lane works
    scored: list[int] = []  # photos with mood bars after each batch of predictions
    scored_when_inserted: list[int] = []  # len(scored) at each insert

    def on_insert(*_a) -> None:
        if win.library.lane.busy:
            inserts.append(win.model.rowCount())
            scored_when_inserted.append(len(scored))

    def on_changed(_top, _bottom, roles=()) -> None:
        if int(Roles.MoodScoresRole) in roles and win.library.lane.busy:
            scored.append(
                sum(
                    win.model.index(r, 0).data(Roles.MoodScoresRole) is not None
                    for r in range(win.model.rowCount())
                )
            )

    win.model.rowsInserted.connect(on_insert)
    win.model.dataChanged.connect(on_changed)
    with qtbot.waitSignal(win.pipelineFinished, timeout=TIMEOUT_MS) as finished:
        win.open_folder(str(folder))
    result = finished.args[0]
    assert isinstance(result, RefreshResult)  # the core's answer, as `moodtagger scan` gets it
    assert result.scan.new == N and result.predict.predicted == N and not result.errors

    # the photos appeared while the scan ran, batch by batch
    assert len(inserts) >= 2 and inserts[0] < N and inserts[-1] == N, inserts
    assert any(0 < n < N for n in scored), scored  # predictions arrived batch by batch
    # decode once: the scan predicts as it goes, so moods show before the last photo is in
    assert scored_when_inserted[0] == 0 and scored_when_inserted[-1] > 0, scored_when_inserted
    assert win.model.rowCount() == N
    assert all(win.model.index(r, 0).data(Roles.MoodScoresRole) is not None for r in range(N))
    assert (
        "48 new" in win.status_label.text() and "moods predicted for 48" in win.status_label.text()
    )


def test_the_rows_load_beside_a_refresh_and_its_reports_follow_them(
    qtbot, make_window, photo_folder
):
    """Issue 29.3: opening the catalog does not wait for the library lane (at 1,000,000 photos
    the first refresh's check alone is seconds); what a refresh reports while the rows load is
    shown after them, as when one lane ran both."""
    import threading

    win = make_window()
    qtbot.waitUntil(lambda: win.loaded, timeout=20_000)
    with qtbot.waitSignal(win.pipelineFinished, timeout=TIMEOUT_MS):
        win.open_folder(str(photo_folder))
    lib = win.library
    order: list[str] = []
    lib.rowsLoaded.connect(lambda rows: order.append(f"loaded {len(rows)}"))
    lib.rowsChanged.connect(lambda _rows: order.append("changed"))
    lib.refreshed.connect(lambda _r: order.append("refreshed"))

    busy = threading.Event()
    lib.lane.submit(lambda job: busy.wait(20), label="a long job")  # the library lane is busy
    with qtbot.waitSignal(lib.rowsLoaded, timeout=10_000):
        lib.load_async()
    assert order == ["loaded 6"]  # before: queued behind the lane's job
    busy.set()

    gate = threading.Event()  # now rows load slowly while a refresh runs and ends
    lib.open_lane.submit(lambda job: gate.wait(20), label="slow disk")
    lib.load_async()
    os.utime(next(photo_folder.iterdir()))  # one changed photo: the refresh reports its row
    with qtbot.waitSignal(lib.rowsLoaded, timeout=TIMEOUT_MS):
        win.rescan()
        qtbot.waitUntil(lambda: not lib.lane.busy, timeout=TIMEOUT_MS)
        assert order == ["loaded 6"]  # held while the rows load
        gate.set()
    qtbot.waitUntil(lambda: "refreshed" in order, timeout=10_000)
    assert order[:2] == ["loaded 6", "loaded 6"] and order[-1] == "refreshed", order
    assert "changed" in order and win.model.rowCount() == 6


def test_the_grid_gets_its_rows_ready_to_paint_from_the_open_lane(
    qtbot, make_window, photo_folder, monkeypatch
):
    """Issue 29.3: what the grid needs from every row before it paints (the derived columns,
    the name order) and the folder panel's counts are computed beside the rows on the open
    lane, not on the GUI thread (at 1,000,000 photos over a second of per-row work, the window
    frozen meanwhile)."""
    import threading

    from moodtagger.core import rows as R
    from moodtagger.gui.views import folders

    win = make_window()
    qtbot.waitUntil(lambda: win.loaded, timeout=20_000)
    with qtbot.waitSignal(win.pipelineFinished, timeout=TIMEOUT_MS):
        win.open_folder(str(photo_folder))
    qtbot.wait(1500)  # the scan's own changes come back through the live poll (0.5 s) first
    on_gui: list[str] = []  # work over every row done on the GUI thread

    def watch(name, fn, every_row):
        def run(*args, **kw):
            if threading.current_thread() is threading.main_thread() and every_row(*args):
                on_gui.append(name)
            return fn(*args, **kw)

        return run

    def unranked(d, dv=None):
        return dv is None or dv.name_rank is None or len(dv.name_rank) != len(d)

    # (a live change of a few rows may patch those rows' derived columns: not counted)
    monkeypatch.setattr(R, "derive", watch("derive", R.derive, lambda d: len(d) == 6))
    monkeypatch.setattr(R, "name_rank", watch("names", R.name_rank, unranked))
    monkeypatch.setattr(
        folders, "folder_tree", watch("folders", folders.folder_tree, lambda *_a: True)
    )
    with qtbot.waitSignal(win.library.rowsLoaded, timeout=20_000):
        win.library.load_async()
    qtbot.wait(400)  # the folder panel rebuilds 200 ms after the rows change
    assert win.folders.topLevelItem(0).text(1) == "6"
    assert [t.count for t in win.folders.tops] == [6]
    assert win.model.rowCount() == 6 and win.proxy.rowCount() == 6
    assert win.grid.visualRect(win.proxy.index(0, 0)).isValid()
    assert on_gui == []
