"""CLI tests run the commands in-process through ``main()`` or as real ``python -m moodtagger``
processes. Each command's Library owns its exiftool and stops it when it closes: no exiftool
thread outlives an in-process command (issue 25: no process-wide exiftool closed by hand)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest


def _exiftool_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "moodtagger-exiftool" and t.is_alive()]


@pytest.fixture(autouse=True)
def _no_exiftool_left_running() -> Iterator[None]:
    before = set(_exiftool_threads())
    yield
    left = [t for t in _exiftool_threads() if t not in before]  # (close() joins the thread)
    assert not left, "a command left its exiftool running"
