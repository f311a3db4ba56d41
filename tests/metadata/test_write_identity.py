"""Issue 23.4/23.5: only the photo that was scanned is written, and never outside the library."""

from __future__ import annotations

import os
import shutil

import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata.journal import write_choices
from moodtagger.core.scanner import scan

from .conftest import exiv2_read, sha256

SAME_TIME = 1_600_000_000_000_000_000


def _scan_and_choose(db, lib, photo, mood="awe"):
    cat = Catalog(db)
    scan(cat, [lib], thumbnails=False)
    pid = cat.photos.by_path(photo).id
    cat.choices.set(pid, [mood])
    return cat, pid


@pytest.mark.parametrize("ext", [".jpg", ".tif", ".png"])
def test_a_photo_swapped_after_the_scan_is_not_written(ext, make_image, tmp_path):
    """`cp -p other a` after the scan: same size and mtime (TIFF), other image data."""
    lib = tmp_path / "lib"
    a = make_image("a" + ext, root=lib, seed=1)
    other = make_image("other" + ext, root=tmp_path / "elsewhere", seed=2)
    for p in (a, other):
        os.utime(p, ns=(SAME_TIME, SAME_TIME))
    cat, pid = _scan_and_choose(tmp_path / "c.db", lib, a)
    with cat:
        before = cat.photos.by_id(pid)
        shutil.copy2(other, a)  # cp -p
        if ext == ".tif":
            assert (os.stat(a).st_size, os.stat(a).st_mtime_ns) == (before.size, before.mtime_ns)
        digest = sha256(a)
        summary = write_choices(cat)
        res = summary.results[0]
        assert res.status == "failed"
        assert res.error == "changed since the last scan — run scan"
        assert sha256(a) == digest  # the other photo did not get the mood
        assert exiv2_read(a)["XMP-dc:Subject"] == []
        after = cat.photos.by_id(pid)
        assert (after.size, after.mtime_ns, after.identity) == (
            before.size,
            before.mtime_ns,
            before.identity,
        )
        assert cat.choices.get(pid)[1] == "failed"
        # the next scan sees the new photo; then the choice can be written
        assert scan(cat, [lib], thumbnails=False).changed == 1
        assert write_choices(cat).written == 1
        assert exiv2_read(a)["XMP-dc:Subject"] == ["Awe"]


def test_the_scanned_photo_itself_is_written_and_a_rescan_sees_no_change(make_image, tmp_path):
    lib = tmp_path / "lib"
    tif = make_image("a.tif", root=lib)
    cat, pid = _scan_and_choose(tmp_path / "c.db", lib, tif)
    with cat:
        assert write_choices(cat).written == 1
        assert write_choices(cat, [pid]).unchanged == 1  # the catalog knows our own write
        assert scan(cat, [lib], thumbnails=False).nothing_changed


# -- 23.5: never outside the library ---------------------------------------------------------
def test_a_link_out_of_the_library_is_not_written_through(make_image, tmp_path):
    lib = tmp_path / "lib"
    inside = make_image("inside.jpg", root=lib)
    outside = make_image("outside.jpg", root=tmp_path / "elsewhere", seed=3)
    link = lib / "link.jpg"
    link.symlink_to(outside)
    digest = sha256(outside)
    cat = Catalog(tmp_path / "c.db")
    with cat:
        scan(cat, [lib], thumbnails=False)
        ids = [cat.photos.by_path(p).id for p in (inside, link)]
        for pid in ids:
            cat.choices.set(pid, ["awe"])
        summary = write_choices(cat)
        by = {os.path.basename(r.path): r for r in summary.results}
        assert by["inside.jpg"].status == "written"
        assert by["link.jpg"].status == "failed"
        assert "outside the library" in by["link.jpg"].error
        assert "--follow-symlinks" in by["link.jpg"].error
        assert sha256(outside) == digest
        # allowed on request: the target is written, the link stays a link
        from moodtagger.core.metadata import WriteSettings

        allowed = write_choices(cat, settings=WriteSettings(follow_symlinks=True))
        assert [r.status for r in allowed.results] == ["written"]
        assert link.is_symlink() and exiv2_read(outside)["XMP-dc:Subject"] == ["Awe"]


def test_a_folder_swapped_for_a_link_after_the_scan_is_caught(make_image, tmp_path):
    lib = tmp_path / "lib"
    photo = make_image("sub/a.jpg", root=lib)
    cat = Catalog(tmp_path / "c.db")
    with cat:
        scan(cat, [lib], thumbnails=False)
        cat.choices.set(cat.photos.by_path(photo).id, ["fear"])
        away = tmp_path / "other-tree" / "sub"
        away.parent.mkdir()
        os.rename(lib / "sub", away)  # the same photo, now in another tree
        (lib / "sub").symlink_to(away)
        res = write_choices(cat).results[0]
        assert res.status == "failed" and "outside the library" in res.error
        assert exiv2_read(away / "a.jpg")["XMP-dc:Subject"] == []
        assert not [n for n in os.listdir(away) if n.startswith(".moodtagger-")]


def test_direct_write_stays_in_the_folder_named(make_image, tmp_path, capsys):
    lib = tmp_path / "lib"
    make_image("a.jpg", root=lib)
    outside = make_image("outside.jpg", root=tmp_path / "elsewhere", seed=3)
    (lib / "link.jpg").symlink_to(outside)
    digest = sha256(outside)
    db = str(tmp_path / "c.db")
    assert main(["write", "--catalog", db, str(lib), "--mood", "awe"]) == 1
    err = capsys.readouterr().err
    assert "link.jpg: " in err and "outside the library" in err and "written 1," in err
    assert main(["write", "--catalog", db, str(lib / "link.jpg"), "--mood", "awe"]) == 1
    assert sha256(outside) == digest
    args = ["write", "--catalog", db, "--follow-symlinks", str(lib / "link.jpg"), "--mood", "awe"]
    assert main(args) == 0
    assert exiv2_read(outside)["XMP-dc:Subject"] == ["Awe"]
