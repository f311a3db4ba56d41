"""Issue 25: one list of expected errors. An expected error that reaches the GUI's exception
hook is a plain message (one sentence), not the crash dialog; a bug opens the crash report.

The CLI half of the same rule is tests/cli/test_expected_errors.py."""

from __future__ import annotations

import sys

import pytest

from moodtagger.core.catalog import CatalogError
from moodtagger.core.errors import UserError
from moodtagger.core.library import LibraryError
from moodtagger.core.model.registry import ModelError
from moodtagger.gui.errors import CrashReporter


@pytest.fixture
def reporter(qapp, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    fatal: list[str] = []
    rep = CrashReporter(interactive=False, on_fatal=fatal.append)
    rep.install()
    rep.fatal = fatal
    return rep


def _raise_through_the_hook(exc: BaseException) -> None:
    try:
        raise exc
    except BaseException as e:
        sys.excepthook(type(e), e, e.__traceback__)


@pytest.mark.parametrize(
    "exc",
    [
        UserError("say which moods"),
        CatalogError("the catalog /x.db is read-only"),
        ModelError("the model file fails its integrity check"),
        LibraryError("no photo with that path in the catalog"),
        OSError(28, "No space left on device", "/photos/a.jpg"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_expected_error_is_a_plain_message(reporter, qapp, exc: BaseException) -> None:
    _raise_through_the_hook(exc)
    qapp.processEvents()
    assert reporter.reports == [] and reporter.fatal == []
    assert len(reporter.messages) == 1
    assert "\n" not in reporter.messages[0] and "Traceback" not in reporter.messages[0]


def test_a_bug_opens_the_crash_report(reporter, qapp) -> None:
    _raise_through_the_hook(TypeError("a bug"))
    qapp.processEvents()
    assert len(reporter.reports) == 1 and "Traceback" in reporter.reports[0]
    assert reporter.fatal == ["TypeError: a bug"]
    assert reporter.messages == []
