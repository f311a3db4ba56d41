"""The capture date (issue 26 item 1): EXIF, else the XMP packet (JPEG/PNG/TIFF/WebP/HEIC, written
by real exiftool), else the file time first seen; the one sort/filter rule; an older catalog's
photos get a date by the migration; the folder tree and its counts (item 2)."""

from __future__ import annotations

import datetime
import os
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

from moodtagger.core import dates
from moodtagger.core.catalog import Catalog
from moodtagger.core.catalog.records import outermost
from moodtagger.core.folders import folder_tree
from moodtagger.core.imaging import files
from moodtagger.core.rows import Filter, filter_mask, load_rows, sort_order
from moodtagger.core.scanner import scan


@pytest.mark.parametrize(
    ("ext", "tag", "expected_from"),
    [
        ("jpg", "-XMP-xmp:CreateDate=2018:03:04 05:06:07+09:00", "xmp"),
        ("png", "-XMP-photoshop:DateCreated=2018:03:04 05:06:07", "xmp"),
        ("tif", "-XMP-exif:DateTimeOriginal=2018:03:04 05:06:07", "xmp"),
        ("webp", "-XMP-xmp:CreateDate=2018:03:04 05:06:07", "xmp"),
        ("heic", "-EXIF:DateTimeOriginal=2018:03:04 05:06:07", "exif"),
    ],
)
def test_capture_date_from_exif_or_xmp_written_by_exiftool(
    catalog: Catalog, make_image, exiftool: str, tmp_path: Path, ext: str, tag: str, expected_from
) -> None:
    lib = tmp_path / "lib"
    path = make_image(f"p.{ext}", root=lib)
    subprocess.run([exiftool, "-q", "-overwrite_original", tag, str(path)], check=True)
    os.utime(path, (1_900_000_000, 1_900_000_000))
    scan(catalog, [lib], thumbnails=False)
    photo = catalog.photos.by_path(path)
    assert photo is not None and photo.status == "ok", photo
    # camera local time: the +09:00 offset is not applied
    assert (photo.taken_at, photo.taken_from) == ("2018-03-04T05:06:07", expected_from)


def test_xmp_date_forms() -> None:
    assert files.xmp_datetime(b'<x xmp:CreateDate="2020-02-29T23:59:58.12+01:00"/>') == (
        "2020-02-29T23:59:58"
    )
    assert files.xmp_datetime("<photoshop:DateCreated>2020-02-29</photoshop:DateCreated>") == (
        "2020-02-29T00:00:00"
    )
    # exif:DateTimeOriginal wins over xmp:CreateDate, garbage is no date
    both = b'xmp:CreateDate="2001-01-01T00:00:00" exif:DateTimeOriginal="1999-12-31T12:00:00"'
    assert files.xmp_datetime(both) == "1999-12-31T12:00:00"
    assert files.xmp_datetime(b'xmp:CreateDate="2020-13-45"') is None
    assert files.xmp_datetime(None) is None


def test_days_are_inclusive_local_days_and_bad_dates_are_one_sentence() -> None:
    taken = dates.capture_seconds(
        ["2021-06-15T00:00:00", "2021-06-15T23:59:59", "2021-06-16T00:00:00", None],
        [0, 0, 0, 1_000_000_000 * 10**9],
    )
    day = datetime.date(2021, 6, 15)
    assert dates.in_days(taken, day, day).tolist() == [True, True, False, False]
    assert dates.in_days(taken, None, day).tolist() == [True, True, False, True]
    for bad in ("2021-6-15", "15.06.2021", "2021-02-30", ""):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            dates.parse_day(bad)


def test_migration_dates_an_older_catalogs_photos_by_their_earliest_file_time(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.sqlite3"
    with Catalog(db) as cat:
        cat.conn.execute("ALTER TABLE photos DROP COLUMN taken_from")
        now = 1_700_000_000.0
        for i, (mtime, taken) in enumerate(
            [(now - 100, None), (now + 5000, None), (now - 50, "2010-01-01T10:00:00")]
        ):
            cat.conn.execute(
                "INSERT INTO photos(path, mtime_ns, status, taken_at, added_at, updated_at) "
                "VALUES (?, ?, 'ok', ?, ?, ?)",
                (f"/lib/{i}.jpg".encode(), int(mtime * 1e9), taken, now, now),
            )
        cat.conn.execute("PRAGMA user_version=6")
    with Catalog(db) as cat:
        got = {p.path: (p.taken_at, p.taken_from) for p in cat.photos.all()}
    stamp = datetime.datetime.fromtimestamp
    assert got == {
        "/lib/0.jpg": (stamp(now - 100).isoformat(), "file"),
        "/lib/1.jpg": (stamp(now).isoformat(), "file"),  # written later: when it was added
        "/lib/2.jpg": ("2010-01-01T10:00:00", "exif"),
    }
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] >= 7


def test_the_folder_tree_counts_each_photo_once() -> None:
    paths = ["/l/a.jpg", "/l/x/b.jpg", "/l/x/y/c.jpg", "/l/x/y/d.jpg", "/elsewhere/e.jpg"]
    tops = folder_tree(paths, ["/l", "/empty"])
    assert [(t.path, t.count) for t in tops] == [("/elsewhere", 1), ("/empty", 0), ("/l", 4)]
    lib = tops[2]
    assert (lib.own, lib.children["x"].count, lib.children["x"].own) == (1, 3, 1)
    assert lib.find("/l/x/y").count == 2 and lib.find("/l/z") is None
    assert sum(t.count for t in tops) == len(paths)
    assert outermost([b"/l/x", b"/l", b"/m", b"/l/x/y", b"/l"]) == [b"/l", b"/m"]


def test_older_catalog_with_nested_roots_is_healed_by_the_next_scan(
    catalog: Catalog, make_image, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    make_image("a.jpg", root=lib)
    make_image("RAW/b.jpg", root=lib, seed=1)
    scan(catalog, [lib], thumbnails=False)
    # what an older version stored: lib/RAW as a second root owning b.jpg
    catalog.conn.execute(
        "INSERT INTO roots(path, added_at) VALUES (?, 0)", (os.fsencode(lib / "RAW"),)
    )
    rid = catalog.conn.execute("SELECT max(id) FROM roots").fetchone()[0]
    catalog.conn.execute("UPDATE photos SET root_id=? WHERE path LIKE '%/RAW/%'", (rid,))
    assert len(catalog.photos.roots()) == 2
    summary = scan(catalog, [lib, lib / "RAW"], thumbnails=False)
    assert summary.unchanged == 2 and summary.nothing_changed
    ((root_id, path),) = catalog.photos.roots()
    assert path == str(lib) and len(catalog.photos.all(root_id=root_id)) == 2


def test_sort_and_filter_by_capture_date_in_core(catalog: Catalog, make_image, tmp_path) -> None:
    lib = tmp_path / "lib"
    for i in range(3):
        p = make_image(f"{i}.jpg", root=lib, seed=i)
        os.utime(p, (1_600_000_000 - i * 86_400 * 3, 1_600_000_000 - i * 86_400 * 3))
    scan(catalog, [lib], thumbnails=False)
    rows = load_rows(catalog, None)
    order = [rows.name(r) for r in sort_order(rows, "date")]
    assert order == ["2.jpg", "1.jpg", "0.jpg"]
    first = datetime.datetime.fromtimestamp(1_600_000_000 - 86_400 * 3).date()
    mask = filter_mask(rows, Filter(date_from=first, date_to=first))
    assert [rows.name(int(r)) for r in np.nonzero(mask)[0]] == ["1.jpg"]


def test_a_date_that_is_not_iso_counts_as_undated_not_as_a_crash() -> None:
    from moodtagger.core.dates import capture_seconds

    got = capture_seconds(["2015-01-01T08:00:00", "2015:01:01 08:04:15", None], [0, 10**9, 0])
    assert got[0] == 1420099200.0
    assert np.isfinite(got).all()  # the garbled one: its file time, like an undated photo
