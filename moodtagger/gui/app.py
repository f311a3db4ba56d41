"""Application entry point: ``moodtagger gui [DIR] [--screenshot FILE.png]``."""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from moodtagger import __version__
from moodtagger.core.catalog import CatalogError
from moodtagger.gui.errors import CrashReporter, enable_faulthandler, setup_logging
from moodtagger.gui.settings import AppSettings

SCREENSHOT_TIMEOUT_S = 1800
DESKTOP_ID = "io.github.moodtagger.moodtagger"


_QT_NOISE = ("This plugin does not support propagateSizeHints()",)  # offscreen platform only


def _quiet_qt_noise() -> None:
    """Drop the offscreen platform's harmless notices; every other Qt message goes on as usual."""
    from PySide6.QtCore import qInstallMessageHandler

    previous = None

    def handler(mode, context, message: str) -> None:
        if message in _QT_NOISE:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            sys.stderr.write(message + "\n")

    previous = qInstallMessageHandler(handler)


def make_app(argv: list[str] | None = None) -> QApplication:
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen" and "pytest" not in sys.modules:
        _quiet_qt_noise()
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    app.setApplicationName("moodtagger")
    app.setOrganizationName("moodtagger")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(DESKTOP_ID)  # the .desktop file and AppStream id
    return app  # type: ignore[return-value]


def run(
    directory: str | None = None,
    *,
    screenshot: str | None = None,
    catalog: str | None = None,
    select: str | None = None,
    why: bool = False,
    view: str = "grid",
) -> int:
    """Open the main window (on ``directory`` when given); return the exit status.

    With ``screenshot``: open ``directory``, wait until scanning, prediction and the visible
    thumbnails are done, save the main window as PNG and exit 0 (works offscreen).
    """
    log_file = setup_logging()
    enable_faulthandler()
    app = make_app()
    from moodtagger.gui.window import MainWindow, app_icon

    app.setWindowIcon(app_icon())
    settings = AppSettings.load()
    catalog_path = catalog or settings.resolved_catalog()
    exit_code = {"code": 0}

    def fatal(summary: str) -> None:
        exit_code["code"] = 1
        app.exit(1)

    reporter = CrashReporter(interactive=screenshot is None, on_fatal=fatal)
    reporter.install()
    if directory is not None and not os.path.isdir(directory):
        print(f"moodtagger: {directory}: not a folder", file=sys.stderr)
        return 2
    if select is not None and not os.path.isfile(select):
        print(f"moodtagger: {select}: no such photo", file=sys.stderr)
        return 2
    try:
        window = MainWindow(catalog_path, settings, reporter)
    except CatalogError as exc:
        if screenshot is not None:
            print(f"moodtagger: {exc}", file=sys.stderr)
        else:
            QMessageBox.critical(
                None,
                "moodtagger",
                f"{exc}\n\nChoose another catalog in the settings file or with --catalog.",
            )
        return 2
    window.show()
    if view == "map":
        window.set_view("map")
    if why:
        window.detail.why_button.setChecked(True)
    if select is not None:
        window.pipelineFinished.connect(lambda _r: window.select_path(select))
        window.catalogLoaded.connect(lambda: window.select_path(select))

    if screenshot is not None:
        window.confirm_quit = False
        window.resize(1440, 900)
        _arm_screenshot(app, window, screenshot, exit_code, select=select)
        if directory:
            window.open_folder(directory)
        else:
            window.rescan()
    elif directory:
        window.open_folder(directory)
    elif window.catalog.photos.roots():
        window.rescan()  # incremental: one stat per file, then predict what is missing
    code = app.exec()
    window.shutdown()
    sys.stderr.flush()
    del log_file
    return int(exit_code["code"] or code)


def _arm_screenshot(
    app: QApplication, window, path: str, exit_code: dict, select: str | None = None
) -> None:
    t0 = time.monotonic()
    state = {"finished": False}

    def finished(_result) -> None:
        state["finished"] = True
        if window.view == "grid":
            window.grid.setFocus()
        if select is None and window.proxy.rowCount():
            window.grid.setCurrentIndex(window.proxy.index(0, 0))

    def poll() -> None:
        if time.monotonic() - t0 > SCREENSHOT_TIMEOUT_S:
            print("moodtagger: screenshot: timed out waiting for the scan", file=sys.stderr)
            exit_code["code"] = 1
            app.exit(1)
            return
        if not (state["finished"] and window.is_idle()):
            return
        timer.stop()
        # one more round of events so the last thumbnails and the detail preview are painted
        QTimer.singleShot(400, grab)

    def grab() -> None:
        if not window.is_idle():
            timer.start()
            return
        image = window.grab()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if not image.save(path, "PNG"):
            print(f"moodtagger: cannot write {path}", file=sys.stderr)
            exit_code["code"] = 1
        else:
            print(f"screenshot saved to {path}")
        window.close()
        app.exit(exit_code["code"])

    window.pipelineFinished.connect(finished)
    timer = QTimer(window, interval=100, timeout=poll)
    timer.start()
