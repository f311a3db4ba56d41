"""GUI test harness: offscreen Qt, private settings, and no test may leave threads running.

Qt warnings fail tests (``qt_log_level_fail = WARNING`` in pyproject); the only message ignored
is the offscreen platform's note that it cannot propagate window size hints.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

OFFSCREEN_NOISE = r"This plugin does not support propagateSizeHints\(\)"


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@pytest.fixture(autouse=True)
def _private_settings(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "MOODTAGGER_SETTINGS", str(tmp_path_factory.mktemp("settings") / "moodtagger.ini")
    )


@pytest.fixture(autouse=True)
def no_leaked_threads(qapp):
    """Fail a test that leaves worker threads (Python or Qt) running (napari's idea)."""
    from PySide6.QtCore import QThreadPool

    from moodtagger.gui.jobs import live_runners

    before = {t.ident for t in threading.enumerate()}
    yield
    qapp.processEvents()
    runners = live_runners()
    for r in runners:  # shut them down so one leak does not cascade into the next test
        r.shutdown()
    assert not runners, f"job runners left running: {[r.name for r in runners]}"
    assert QThreadPool.globalInstance().waitForDone(5000), "global QThreadPool still busy"
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [
            t
            for t in threading.enumerate()
            if t.ident not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
        ]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


@pytest.fixture
def photo_folder(tmp_path: Path, imagenet_sample: Path) -> Path:
    """Six real photos (ImageNet sample JPEGs) in a fresh folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    names = sorted(os.listdir(imagenet_sample))[:6]
    for n in names:
        shutil.copyfile(imagenet_sample / n, folder / n)  # not copy(): the originals are read-only
    return folder


@pytest.fixture
def settings():
    from moodtagger.gui.settings import AppSettings

    return AppSettings()


@pytest.fixture
def make_window(qtbot, tmp_path: Path, settings):
    """Open main windows on a temp catalog; each is closed (workers joined) after the test."""
    from moodtagger.gui.window import MainWindow

    made = []

    def make(catalog_path: Path | None = None):
        win = MainWindow(str(catalog_path or tmp_path / "catalog.sqlite3"), settings)
        win.confirm_quit = (
            False  # closing after the test must not wait for an answer (one test asks)
        )
        made.append(win)
        win.resize(1200, 800)
        win.show()
        qtbot.waitExposed(win)
        # window shortcuts (Ctrl+Z ...) need the active window; on a real X server without a
        # window manager nothing activates it for us
        win.activateWindow()
        qtbot.waitActive(win)
        return win

    yield make
    for w in made:
        w.close()
