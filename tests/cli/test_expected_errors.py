"""Issue 25: one list of expected errors. An expected error raised in the core is one sentence
with exit status 2 in the CLI, whatever its kind; a bug is a bug (its traceback goes through).

The GUI half of the same rule is tests/gui/test_expected_errors.py."""

from __future__ import annotations

import errno

import pytest

import moodtagger.cli
import moodtagger.cli.library
from moodtagger.core.catalog import CatalogError
from moodtagger.core.errors import UserError
from moodtagger.core.imaging import ImageError
from moodtagger.core.import_predictions import ImportFileError
from moodtagger.core.library import LibraryError
from moodtagger.core.metadata.exiftool import ExifToolError
from moodtagger.core.model.personal import PersonalError
from moodtagger.core.model.registry import ModelError
from moodtagger.core.tools import ToolMissing

KINDS = [
    UserError("-n must be at least 1"),
    CatalogError("the catalog /x.db is newer than this program"),
    ToolMissing("exiftool is not installed"),
    ModelError("the model file fails its integrity check"),
    ImportFileError("p.csv: not a predictions file"),
    LibraryError("no photo with that path in the catalog"),
    PersonalError("nothing to learn from yet"),
    ImageError("x.jpg: not an image"),
    ExifToolError("exiftool did not answer"),
    OSError(errno.ENOSPC, "No space left on device", "/photos/out.csv"),
]


def _raising(exc: BaseException):
    def cmd(args) -> int:
        raise exc

    return cmd


@pytest.mark.parametrize("exc", KINDS, ids=lambda e: type(e).__name__)
def test_an_expected_error_from_the_core_is_one_sentence_with_status_2(
    exc: BaseException, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(moodtagger.cli.library, "cmd_list", _raising(exc))
    assert moodtagger.cli.main(["list"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("moodtagger: "), lines
    if isinstance(exc, OSError):
        assert lines[0] == "moodtagger: /photos/out.csv: no space left on the device"
    else:
        assert lines[0] == f"moodtagger: {exc}"


def test_a_bug_is_not_an_expected_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moodtagger.cli.library, "cmd_list", _raising(TypeError("a bug")))
    with pytest.raises(TypeError, match="a bug"):
        moodtagger.cli.main(["list"])


def test_user_error_keeps_its_old_home() -> None:
    assert moodtagger.cli.UserError is UserError
