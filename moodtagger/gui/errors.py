"""Bugs vs. expected problems (qutebrowser style).

Expected problems (a file that cannot be read, a failed write) are data shown in the grid and
the status bar; an expected error (the one list in :mod:`moodtagger.core.errors`, shared with the
CLI) that reaches the exception hook is a plain message of one sentence. A *bug* (an exception nobody handled, in a slot or a background job) opens a
dialog with the traceback and the log file's path. ``faulthandler`` writes native crashes
(segfaults, aborts) into the log folder too.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import sys
import threading
import traceback
from pathlib import Path
from typing import IO

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from moodtagger.core import paths
from moodtagger.core.errors import describe, is_expected

__all__ = ["CrashReporter", "is_expected", "show_expected"]

log = logging.getLogger("moodtagger")

_fault_file: IO[str] | None = None


def log_dir() -> Path:
    return paths.log_dir()


def log_path() -> Path:
    return log_dir() / "moodtagger.log"


def setup_logging() -> Path:
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=2, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    root = logging.getLogger("moodtagger")
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def enable_faulthandler() -> Path:
    global _fault_file
    path = log_dir() / "crash.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    if _fault_file is None:
        _fault_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - must stay open
        faulthandler.enable(_fault_file, all_threads=True)
    return path


class CrashReporter(QObject):
    """Shows exceptions nobody handled; thread-safe (workers' exceptions are marshalled).

    An expected error is a plain message (``messages``); a bug is a crash report (``reports``)."""

    _report = Signal(str, str)
    _message = Signal(str)

    def __init__(self, *, interactive: bool = True, on_fatal=None):
        super().__init__()
        self.interactive = interactive
        self.on_fatal = on_fatal  # called instead of a dialog when not interactive
        self._report.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self._message.connect(self._show_message, Qt.ConnectionType.QueuedConnection)
        self._showing = False
        self.reports: list[str] = []
        self.messages: list[str] = []

    def report(self, exc: BaseException, tb_text: str | None = None) -> None:
        if is_expected(exc):
            log.warning("%s: %s", type(exc).__name__, exc)
            self._message.emit(describe(exc))
            return
        text = (
            tb_text
            or getattr(exc, "traceback_text", None)
            or "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        )
        log.error("unexpected error:\n%s", text)
        self._report.emit(f"{type(exc).__name__}: {exc}", text)

    def _show(self, summary: str, text: str) -> None:
        self.reports.append(text)
        if not self.interactive:
            print(text, file=sys.stderr)
            if self.on_fatal is not None:
                self.on_fatal(summary)
            return
        if self._showing:
            return
        self._showing = True
        try:
            parent = QApplication.activeWindow()
            box = QMessageBox(
                QMessageBox.Icon.Critical,
                "moodtagger: unexpected error",
                f"Something went wrong that should not have: {summary}",
                parent=parent,
            )
            box.setInformativeText(
                f"Your choices are saved in the catalog. The details are in the log file:\n{log_path()}\n"
                "Please include them when you report this."
            )
            box.setDetailedText(text)
            box.exec()
        finally:
            self._showing = False

    def _show_message(self, text: str) -> None:
        self.messages.append(text)
        if not self.interactive:
            print(f"moodtagger: {text}", file=sys.stderr)
            return
        QMessageBox.warning(QApplication.activeWindow(), "moodtagger", text)

    # -- hooks ----------------------------------------------------------------------------------
    def install(self) -> None:
        def hook(exc_type, exc, tb):
            if issubclass(exc_type, KeyboardInterrupt):
                QTimer.singleShot(0, QApplication.quit)
                return
            self.report(exc, "".join(traceback.format_exception(exc_type, exc, tb)))

        def thread_hook(args: threading.ExceptHookArgs) -> None:
            if args.exc_value is not None:
                self.report(
                    args.exc_value,
                    "".join(
                        traceback.format_exception(
                            args.exc_type, args.exc_value, args.exc_traceback
                        )
                    ),
                )

        sys.excepthook = hook
        threading.excepthook = thread_hook


def show_expected(parent: QWidget | None, title: str, exc: BaseException | str) -> None:
    QMessageBox.warning(parent, title, str(exc))
