"""Issue 11 items 4, 5, 8: the catalog's truth across keyword edits, writes, moves and sidecars.

Real files, real exiftool (as the "other tool" editing keywords, and as our writer), real SQLite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.metadata import write_choices
from moodtagger.core.scanner import content_identity, scan
from moodtagger.core.tools import exiftool_path

PROBS = (0.05, 0.05, 0.6, 0.1, 0.05, 0.05, 0.05, 0.05)  # awe


def other_tool(path: Path, *args: str) -> None:
    """A keyword edit by another program (exiftool in place, as digiKam/Lightroom would)."""
    subprocess.run([exiftool_path(), "-q", "-overwrite_original", *args, str(path)], check=True)


def _predict_all(cat: Catalog, model: str = "m") -> None:
    todo = cat.predictions.photos_needing(model)
    cat.predictions.save(model, [(p.id, Prediction(PROBS)) for p in todo])


@pytest.mark.parametrize("name", ["a.jpg", "a.png", "a.webp", "a.tif"])
def test_keyword_edit_by_another_tool_is_metadata_not_pixels(
    make_image, tmp_path: Path, name: str
) -> None:
    lib = tmp_path / "lib"
    photo = make_image(name, root=lib, size=(400, 300))
    with Catalog(tmp_path / "c.db") as cat:
        assert scan(cat, [lib]).new == 1
        _predict_all(cat)
        before = cat.photos.all()[0].identity
        other_tool(photo, "-XMP-dc:Subject=Holiday", "-IPTC:Keywords=Holiday", "-Artist=Someone")
        s = scan(cat, [lib])
        assert (s.metadata_changed, s.changed, s.new) == (1, 0, 0)
        assert cat.photos.all()[0].identity == before
        assert cat.predictions.photos_needing("m") == []  # no re-predict for a keyword edit
        assert s.updated_ids == [cat.photos.all()[0].id]  # ... but its keywords are read again


@pytest.mark.parametrize("name", ["a.jpg", "a.png", "a.webp"])
def test_new_pixels_are_a_change_that_needs_a_prediction(
    make_image, tmp_path: Path, name: str
) -> None:
    lib = tmp_path / "lib"
    photo = make_image(name, root=lib, size=(400, 300), seed=1)
    with Catalog(tmp_path / "c.db") as cat:
        scan(cat, [lib])
        _predict_all(cat)
        make_image(name, root=lib, size=(400, 300), seed=2)  # same name, other picture
        os.utime(photo, ns=(1, 1))
        s = scan(cat, [lib])
        assert (s.changed, s.metadata_changed) == (1, 0)
        assert [p.path for p in cat.predictions.photos_needing("m")] == [str(photo)]


def test_fingerprint_ignores_metadata_segments_but_not_image_data(
    make_image, tmp_path: Path
) -> None:
    a = make_image("a.jpg", size=(300, 200), seed=3)
    b = tmp_path / "b.jpg"
    shutil.copy(a, b)
    other_tool(b, "-XMP-dc:Subject=X", "-Comment=hello", "-ICC_Profile<=/dev/null")
    assert a.stat().st_size != b.stat().st_size
    assert content_identity(a, a.stat().st_size) == content_identity(b, b.stat().st_size)
    c = make_image("c.jpg", size=(300, 200), seed=4)
    assert content_identity(c, c.stat().st_size) != content_identity(a, a.stat().st_size)


def test_scan_write_move_rescan_keeps_prediction_and_choice(make_image, tmp_path: Path) -> None:
    """Issue 11 item 4: 'new 1, missing 1' after a write and a move lost the photo's history."""
    lib = tmp_path / "lib"
    # big enough that the metadata lives in the first 64 KiB the old identity hashed
    photo = make_image("IMG_0001.jpg", root=lib, size=(1600, 1200), seed=5)
    with Catalog(tmp_path / "c.db") as cat:
        scan(cat, [lib])
        _predict_all(cat)
        pid = cat.photos.all()[0].id
        cat.choices.set(pid, ["awe"])
        summary = write_choices(cat)
        assert summary.written == 1
        moved = lib / "sorted" / "IMG_0001.jpg"
        moved.parent.mkdir()
        os.rename(photo, moved)
        s = scan(cat, [lib])
        assert (s.new, s.missing, s.moved) == (0, 0, 1)
        row = cat.photos.by_path(moved)
        assert row is not None and row.id == pid
        assert cat.predictions.current(pid, "m") is not None
        assert cat.choices.get(pid)[:2] == (["awe"], "written")
        assert cat.predictions.photos_needing("m") == []


def test_accept_never_uses_the_previous_pictures_prediction(make_image, tmp_path: Path) -> None:
    """Issue 11 item 5: the file changed (rescan without predicting, or not rescanned yet)."""
    from moodtagger.core.choices import accept

    lib = tmp_path / "lib"
    a = make_image("a.jpg", root=lib, size=(300, 200), seed=6)
    b = make_image("b.jpg", root=lib, size=(300, 200), seed=7)
    with Catalog(tmp_path / "c.db") as cat:
        scan(cat, [lib])
        _predict_all(cat)
        make_image("a.jpg", root=lib, size=(300, 200), seed=8)  # new picture, rescanned
        os.utime(a, ns=(2, 2))
        scan(cat, [lib])
        make_image("b.jpg", root=lib, size=(320, 200), seed=9)  # new picture, not rescanned
        res = accept(cat, "m", 0.5)
        assert res.accepted == []
        assert res.stale == [str(b)]
        assert cat.choices.get(cat.photos.by_path(a).id) is None
        assert cat.choices.get(cat.photos.by_path(b).id) is None


def test_accept_from_the_command_line_skips_a_stale_prediction(
    make_image, tmp_path: Path, capsys
) -> None:
    from moodtagger.core.library import current_model_id

    lib = tmp_path / "lib"
    a = make_image("a.jpg", root=lib, size=(300, 200), seed=6)
    db = str(tmp_path / "c.db")
    with Catalog(db) as cat:
        scan(cat, [lib])
        _predict_all(cat, current_model_id())
    make_image("a.jpg", root=lib, size=(300, 200), seed=10)
    os.utime(a, ns=(3, 3))
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    assert main(["accept", "--min", "0", "--catalog", db]) == 0
    assert "accepted 0 suggestions" in capsys.readouterr().err
    with Catalog(db) as cat:
        assert cat.choices.get(cat.photos.all()[0].id) is None


def test_a_sidecar_edited_by_another_tool_is_noticed_on_rescan(make_image, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    make_image("IMG_1.jpg", root=lib, size=(300, 200), seed=11)
    db = str(tmp_path / "c.db")
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    sidecar = lib / "IMG_1.jpg.xmp"  # the JPEG's own sidecar (fields.sidecar_paths)
    subprocess.run(
        [
            exiftool_path(),
            "-q",
            "-o",
            str(sidecar),
            "-XMP-lr:HierarchicalSubject=Mood|Fear",
            "-XMP-dc:Subject=Fear",
            str(lib / "IMG_1.jpg"),
        ],
        check=True,
    )
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    with Catalog(db) as cat:
        assert cat.choices.get(cat.photos.all()[0].id)[:2] == (["fear"], "written")
    # edited again by the other tool: noticed again
    subprocess.run(
        [
            exiftool_path(),
            "-q",
            "-overwrite_original",
            "-XMP-lr:HierarchicalSubject=Mood|Awe",
            "-XMP-dc:Subject=Awe",
            str(sidecar),
        ],
        check=True,
    )
    os.utime(sidecar, ns=(10**18, 10**18))
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    with Catalog(db) as cat:
        assert cat.choices.get(cat.photos.all()[0].id)[:2] == (["awe"], "written")


def test_import_honours_the_configured_keyword_root(make_image, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    photo = make_image("a.jpg", root=lib, size=(300, 200), seed=12)
    other_tool(photo, "-XMP-lr:HierarchicalSubject=Stimmung|Awe", "-XMP-dc:Subject=Awe")
    db = str(tmp_path / "c.db")
    assert (
        main(["scan", "--no-predict", "-q", "--root", "Stimmung", "--catalog", db, str(lib)]) == 0
    )
    with Catalog(db) as cat:
        assert cat.choices.get(cat.photos.all()[0].id)[:2] == (["awe"], "written")


def test_moods_removed_by_another_tool_make_the_photo_unconfirmed(
    make_image, tmp_path: Path, capsys
) -> None:
    lib = tmp_path / "lib"
    photo = make_image("a.jpg", root=lib, size=(300, 200), seed=13)
    db = str(tmp_path / "c.db")
    assert main(["write", "-q", "--catalog", db, str(photo), "--mood", "awe"]) == 0
    other_tool(
        photo,
        "-XMP-lr:HierarchicalSubject=",
        "-XMP-digiKam:TagsList=",
        "-XMP-dc:Subject=",
        "-IPTC:Keywords=",
        "-XPKeywords=",
    )
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    capsys.readouterr()
    assert main(["list", "--json", "--catalog", db]) == 0
    (row,) = __import__("json").loads(capsys.readouterr().out)
    assert (row["chosen"], row["state"]) == ([], "unconfirmed")
