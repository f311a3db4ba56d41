"""Catalog batches: journal, SIGKILL mid-batch then rerun, catalog kept in step with the files."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np

from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata import read_moods, write_choices
from moodtagger.core.scanner import scan

from .conftest import exiv2_read, pixels


def test_write_choices_updates_catalog_so_rescan_sees_nothing_changed(
    make_image, tmp_path, catalog
):
    lib = tmp_path / "lib"
    paths = [make_image(f"p{i}.jpg", root=lib, seed=i) for i in range(4)]
    scan(catalog, [lib], thumbnails=False)
    ids = [catalog.photos.by_path(p).id for p in paths]
    for i in ids[:3]:
        catalog.choices.set(i, ["awe"])
    summary = write_choices(catalog)
    assert (summary.written, summary.failed) == (3, 0)
    for i in ids[:3]:
        assert catalog.choices.get(i)[1] == "written"
        assert catalog.file_keywords.get(i)[1] == ["awe"]
    again = scan(catalog, [lib], thumbnails=False)
    assert (again.changed, again.unchanged) == (0, 4)
    assert write_choices(catalog).results == []  # nothing pending any more


def test_failed_files_stay_pending_with_their_reason(make_image, tmp_path, catalog):
    lib = tmp_path / "lib"
    good, bad = make_image("good.jpg", root=lib), make_image("bad.jpg", root=lib, seed=1)
    scan(catalog, [lib], thumbnails=False)
    for p in (good, bad):
        catalog.choices.set(catalog.photos.by_path(p).id, ["fear"])
    os.chmod(bad, 0o444)
    summary = write_choices(catalog)
    assert (summary.written, summary.failed) == (1, 1)
    moods, state, error = catalog.choices.get(catalog.photos.by_path(bad).id)
    assert state == "failed" and "read-only" in error
    assert [p.path for p, _ in catalog.choices.pending()] == [str(bad)]
    os.chmod(bad, 0o644)
    assert write_choices(catalog).written == 1


def test_scan_imports_moods_written_by_other_tools(make_image, tmp_path, catalog, exiftool):
    lib = tmp_path / "lib"
    p = make_image("lr.jpg", root=lib)
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-XMP-lr:HierarchicalSubject=Mood|Sadness",
            "-XMP-dc:Subject=Sadness",
            "-XMP-dc:Subject=Rain",
            str(p),
        ],
        check=True,
    )
    from moodtagger.core.metadata import import_file_moods
    from moodtagger.core.scanner import photos_by_ids

    summary = scan(catalog, [lib], thumbnails=False)
    assert import_file_moods(catalog, photos_by_ids(catalog, summary.updated_ids)) == 1
    pid = catalog.photos.by_path(p).id
    assert catalog.choices.get(pid)[:2] == (["sadness"], "written")
    assert catalog.file_keywords.get(pid) == (["Sadness", "Rain"], ["sadness"])


def _written(db: str) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT COUNT(*) FROM choices WHERE state='written'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_sigkill_mid_batch_then_rerun(make_image, tmp_path):
    """Kill `moodtagger write` mid-batch: every file is fully old or fully new, never damaged;
    the rerun finishes exactly what is left."""
    lib = tmp_path / "lib"
    n = 60
    paths = [make_image(f"p{i:03d}.jpg", root=lib, seed=i, size=(640, 480)) for i in range(n)]
    originals = {p: pixels(p) for p in paths}
    db = str(tmp_path / "c.db")
    with Catalog(db) as cat:
        scan(cat, [lib], thumbnails=False)
        with cat.transaction():
            for p in paths:
                cat.choices.set(cat.photos.by_path(p).id, ["awe"])
    cmd = [sys.executable, "-m", "moodtagger", "write", "-q", "--catalog", db]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _written(db) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _written(db)
    assert 5 <= done < n, f"the kill must land mid-batch ({done} of {n} written)"

    states = {"old": 0, "new": 0}
    for p in paths:  # each file is valid, pixels intact, keywords all-or-nothing
        assert np.array_equal(pixels(p), originals[p]), p
        subject = exiv2_read(p)["XMP-dc:Subject"]
        assert subject in ([], ["Awe"]), (p, subject)
        states["new" if subject else "old"] += 1
    assert states["old"] > 0 and states["new"] >= done

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert not [f for f in os.listdir(lib) if f.startswith(".")], "temporary files left behind"
    assert all(m.moods == ["awe"] for m in read_moods(paths))
    assert all(exiv2_read(p)["XMP-dc:Subject"] == ["Awe"] for p in paths)
    assert _written(db) == n
    con = sqlite3.connect(db)
    assert (
        con.execute("SELECT COUNT(*) FROM write_journal WHERE state='pending'").fetchone()[0] == 0
    )
    con.close()


def test_cancel_between_files_leaves_the_rest_pending(make_image, tmp_path, catalog):
    import threading

    lib = tmp_path / "lib"
    paths = [make_image(f"c{i:02d}.jpg", root=lib, seed=i) for i in range(40)]
    scan(catalog, [lib], thumbnails=False)
    with catalog.transaction():
        for p in paths:
            catalog.choices.set(catalog.photos.by_path(p).id, ["awe"])
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 3:
            cancel.set()

    summary = write_choices(catalog, progress=progress, cancel=cancel)
    assert summary.cancelled and 3 <= summary.written < 40
    assert len(catalog.choices.pending()) == 40 - summary.written
    assert sum(m.moods == ["awe"] for m in read_moods(paths)) == summary.written
    assert not [f for f in os.listdir(lib) if f.startswith(".")]
    assert write_choices(catalog).written == 40 - summary.written


def test_a_choice_changed_during_the_write_stays_pending(make_image, tmp_path, catalog):
    lib = tmp_path / "lib"
    p = make_image("x.jpg", root=lib)
    scan(catalog, [lib], thumbnails=False)
    pid = catalog.photos.by_path(p).id
    catalog.choices.set(pid, ["awe"])

    def progress(done: int, total: int) -> None:
        if done == 0:  # the user changes their mind while the batch runs
            catalog.choices.set(pid, ["fear"])

    assert write_choices(catalog, progress=progress).written == 1
    assert catalog.choices.get(pid)[:2] == (["fear"], "pending")
    assert write_choices(catalog).written == 1
    assert read_moods([p])[0].moods == ["fear"] and catalog.choices.get(pid)[1] == "written"
