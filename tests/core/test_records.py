"""Issue 25 item 5: small records instead of anonymous tuples. Per-file errors of scan, import
and accept/forget scopes are ``FileError(path, reason)``; a choice is ``Choice(moods, state,
error)``; the scanner reads what the catalog knows by name. Each still unpacks like the tuple it
replaces, so the CLI's text and JSON stay the same."""

from __future__ import annotations

import json
from pathlib import Path

from moodtagger.core.catalog import Catalog
from moodtagger.core.errors import FileError
from moodtagger.core.import_predictions import import_predictions
from moodtagger.core.library import Library
from moodtagger.core.scanner import scan
from moodtagger.core.states import Choice


def test_per_file_errors_are_file_error_records(make_image, tmp_path: Path, catalog: Catalog):
    lib = tmp_path / "lib"
    good = make_image("good.jpg", root=lib)
    (lib / "broken.jpg").write_bytes(b"not a jpeg")
    summary = scan(catalog, [lib, tmp_path / "nope"], thumbnails=False)
    assert {type(e) for e in summary.errors} == {FileError}
    assert {Path(e.path).name for e in summary.errors} == {"broken.jpg", "nope"}
    assert summary.as_dict()["errors"][0].keys() == {"path", "error"}

    scope = Library(catalog).resolve([str(tmp_path / "gone.jpg")])
    assert scope.errors == [FileError(str(tmp_path / "gone.jpg"), "no such file or folder")]

    preds = tmp_path / "p.json"
    row = {"path": str(good), "note": "no mood columns"}  # a row that cannot be read
    preds.write_text(json.dumps([row]))
    imported = import_predictions(catalog, str(preds), "some-model")
    assert [type(e) for e in imported.errors] == [FileError]
    assert imported.errors[0] == FileError(str(good), "no prediction in the file")


def test_a_choice_is_a_choice_record(make_image, tmp_path: Path, catalog: Catalog) -> None:
    lib = tmp_path / "lib"
    p = make_image("a.jpg", root=lib)
    scan(catalog, [lib], thumbnails=False)
    pid = catalog.photos.by_path(p).id
    catalog.choices.set(pid, ["awe"])
    ch = catalog.choices.get(pid)
    assert isinstance(ch, Choice)
    assert (ch.moods, ch.state, ch.error) == (["awe"], "pending", None)
    known = catalog.photos.known_under(str(lib).encode() + b"/")
    assert [(k.id, k.status) for k in known] == [(pid, "ok")]
