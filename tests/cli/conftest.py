"""CLI tests run the commands in-process through ``main()`` or as real ``python -m moodtagger``
processes; the in-process ones share the process-wide exiftool, closed after every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _close_shared_exiftool() -> Iterator[None]:
    yield
    from moodtagger.core.metadata import close_shared_service

    close_shared_service()
