"""Issue 25 item 2: a bug while writing one file is not that file's error.

Expected per-file problems (a read-only file, a failed check, exiftool refusing a file) stay
per-file errors and the batch goes on. A bug (here a ``TypeError`` injected through a ``Writer``
subclass — exiftool itself is real) stops the batch and propagates: the temporary copy is removed,
the original is untouched, the journal row is closed and the choice stays pending, instead of the
file showing "failed: TypeError: …" and the batch going on as if nothing had happened."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import moodtagger.cli
import moodtagger.core.metadata.journal as journal
from moodtagger.core.metadata import write_choices
from moodtagger.core.metadata.results import WriteItem
from moodtagger.core.metadata.safefile import TEMP_MARK, WriteFailed
from moodtagger.core.metadata.writer import Writer
from moodtagger.core.scanner import scan

from .conftest import sha256


def _temps(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(TEMP_MARK)]


def _buggy_on(name: str, exc: Exception) -> type[Writer]:
    class Buggy(Writer):
        def _verify(self, t, back) -> None:
            if os.path.basename(t.path) == name:
                raise exc
            super()._verify(t, back)

    return Buggy


def test_an_expected_problem_stays_a_per_file_error(make_image, tmp_path, service) -> None:
    lib = tmp_path / "lib"
    a, b = make_image("a.jpg", root=lib), make_image("b.jpg", root=lib, seed=1)
    writer = _buggy_on("a.jpg", WriteFailed("verification failed: keywords differ"))(
        service=service
    )
    summary = writer.write([WriteItem(str(a), ["awe"]), WriteItem(str(b), ["awe"])])
    assert (summary.written, summary.failed) == (1, 1)
    failed = next(r for r in summary.results if r.status == "failed")
    assert failed.error == "verification failed: keywords differ"
    assert _temps(lib) == []


def test_a_bug_stops_the_batch_and_leaves_no_temporary_file(make_image, tmp_path, service):
    lib = tmp_path / "lib"
    a = make_image("a.jpg", root=lib)
    before = sha256(a)
    writer = _buggy_on("a.jpg", TypeError("unsupported operand"))(service=service)
    with pytest.raises(TypeError, match="unsupported operand"):
        writer.write([WriteItem(str(a), ["awe"])])
    assert _temps(lib) == [] and sha256(a) == before


def test_a_bug_in_a_catalog_write_closes_the_journal_and_keeps_the_choice_pending(
    make_image, tmp_path, catalog, monkeypatch
) -> None:
    lib = tmp_path / "lib"
    a, b = make_image("a.jpg", root=lib), make_image("b.jpg", root=lib, seed=1)
    scan(catalog, [lib], thumbnails=False)
    for p in (a, b):
        catalog.choices.set(catalog.photos.by_path(p).id, ["fear"])
    monkeypatch.setattr(journal, "Writer", _buggy_on("a.jpg", TypeError("a bug")))
    with pytest.raises(TypeError, match="a bug"):
        write_choices(catalog)
    assert catalog.journal.interrupted() == []  # no row left 'pending'
    assert _temps(lib) == []
    moods, state, error = catalog.choices.get(catalog.photos.by_path(a).id)
    assert (state, error) == ("pending", None)  # not "failed: TypeError: a bug"


def test_the_cli_shows_a_bug_as_a_bug(make_image, tmp_path, monkeypatch) -> None:
    lib = tmp_path / "lib"
    a = make_image("a.jpg", root=lib)
    monkeypatch.setattr(journal, "Writer", _buggy_on("a.jpg", TypeError("a bug")))
    db = str(tmp_path / "c.db")
    with pytest.raises(TypeError, match="a bug"):
        moodtagger.cli.main(["write", "--catalog", db, "--mood", "awe", "-q", str(a)])
