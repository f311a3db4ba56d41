"""Issue 23.4/23.5: only the photo that was scanned is written, and never outside the library."""

from __future__ import annotations

import os
import shutil

import pytest

from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata.journal import write_choices
from moodtagger.core.scanner import scan

from .conftest import exiv2_read, sha256

SAME_TIME = 1_600_000_000_000_000_000


def _scan_and_choose(db, lib, photo, mood="awe"):
    cat = Catalog(db)
    scan(cat, [lib], thumbnails=False)
    pid = cat.photo_by_path(photo).id
    cat.set_choice(pid, [mood])
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
        before = cat.photo(pid)
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
        after = cat.photo(pid)
        assert (after.size, after.mtime_ns, after.identity) == (
            before.size,
            before.mtime_ns,
            before.identity,
        )
        assert cat.choice(pid)[1] == "failed"
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
