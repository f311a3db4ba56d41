"""The one background-job helper: results, errors, progress and batches arrive on the GUI
thread; cancel and shutdown stop and join the work."""

from __future__ import annotations

import threading
import time

import pytest

from moodtagger.gui.jobs import JobRunner, live_runners


@pytest.fixture
def runner(qapp):
    r = JobRunner("test", 2)
    yield r
    r.shutdown()


def test_result_progress_and_batches_arrive_on_the_gui_thread(qtbot, runner):
    gui = threading.get_ident()
    seen: dict[str, list] = {"progress": [], "batch": [], "threads": []}
    done: list = []

    def work(job):
        seen["threads"].append(threading.get_ident())
        for i in range(1, 4):
            job.emit_batch(i)
            job.progress(i, 3)
        return "ok"

    def on_done(result, error):
        seen["threads"].append(threading.get_ident())
        done.append((result, error))

    runner.submit(
        work,
        on_done=on_done,
        on_progress=lambda d, t: seen["progress"].append((d, t, threading.get_ident())),
        on_batch=lambda b: seen["batch"].append((b, threading.get_ident())),
    )
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    assert done == [("ok", None)]
    assert [b for b, _ in seen["batch"]] == [1, 2, 3]
    assert all(t == gui for _, t in seen["batch"])
    assert seen["progress"][-1][:2] == (3, 3) and all(t == gui for *_, t in seen["progress"])
    assert seen["threads"][0] != gui and seen["threads"][1] == gui
    assert not runner.busy


def test_an_exception_is_delivered_with_its_traceback(qtbot, runner):
    done: list = []

    def work(job):
        raise ValueError("broken on purpose")

    runner.submit(work, on_done=lambda r, e: done.append((r, e)))
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    result, error = done[0]
    assert result is None and isinstance(error, ValueError)
    assert "broken on purpose" in error.traceback_text and "work" in error.traceback_text


def test_cancel_and_shutdown_join_the_worker(qtbot, qapp):
    r = JobRunner("slow", 1)
    started = threading.Event()
    stopped: list[bool] = []

    def work(job):
        started.set()
        while not job.cancelled:
            time.sleep(0.01)
        stopped.append(True)

    callbacks: list = []
    r.submit(work, on_done=lambda *a: callbacks.append(a))
    assert started.wait(5)
    assert r in live_runners()
    t0 = time.monotonic()
    r.shutdown()  # cancels, waits
    assert stopped == [True] and time.monotonic() - t0 < 2
    assert r not in live_runners()
    qapp.processEvents()
    assert callbacks == []  # nothing is delivered after shutdown
    with pytest.raises(RuntimeError):
        r.submit(work)


def test_a_one_thread_lane_always_uses_the_same_thread(qtbot, runner):
    lane = JobRunner("lane", 1)
    ids: list[int] = []
    try:
        for _ in range(3):
            lane.submit(lambda job: ids.append(threading.get_ident()))
            qtbot.waitUntil(lambda: not lane.busy, timeout=5000)
            time.sleep(0.05)
    finally:
        lane.shutdown()
    assert len(ids) == 3 and len(set(ids)) == 1
