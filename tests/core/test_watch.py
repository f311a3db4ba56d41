"""Issue 26 item 3, the core side of "never stale": another process's commits are found cheaply
(``PRAGMA data_version``, then only the rows changed since the last look: O(changed rows), at any
library size), the library folders are watched (watchdog) without moodtagger's own temp files
and renames, and just the files that changed are scanned again. Real SQLite, real files."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata.safefile import temp_path_for
from moodtagger.core.model.registry import DEFAULT_MODEL
from moodtagger.core.watch import CatalogChanges, FolderWatcher
from moodtagger.testing import run_moodtagger, synthesize_catalog


def _rows_read(catalog: Catalog, fn) -> tuple[object, int]:
    """``fn()`` and how many grid rows the catalog produced for it (counted by SQLite)."""
    counter = [0]

    def progress() -> int:
        counter[0] += 1
        return 0

    catalog.conn.set_progress_handler(progress, 1)  # one call per VM step: proportional to work
    try:
        out = fn()
    finally:
        catalog.conn.set_progress_handler(None, 1)
    return out, counter[0]


def test_another_processes_commit_is_seen_and_only_its_rows_are_read(tmp_path):
    costs = {}
    for n in (10_000, 100_000):
        path = tmp_path / f"cat{n}.sqlite3"
        synthesize_catalog(path, n, DEFAULT_MODEL)
        with Catalog(path) as cat:
            changes = CatalogChanges(cat)
            assert changes.poll(DEFAULT_MODEL) is None  # nothing happened: nothing read
            # another process chooses moods for three photos
            paths = [f"/synthetic/{i // 1000:03d}/IMG_{i:06d}.jpg" for i in (5, n // 2, n - 1)]
            with Catalog(path) as other, other.transaction():
                for p in paths:
                    other.choices.set(other.photos.by_path(p).id, ["awe"])
            t0 = time.perf_counter()
            found, steps = _rows_read(cat, lambda changes=changes: changes.poll(DEFAULT_MODEL))
            costs[n] = (steps, time.perf_counter() - t0)
            assert found is not None
            assert sorted(found.rows.paths) == sorted(paths)
            assert (found.rows.choice_bits >= 0).all()
            assert changes.poll(DEFAULT_MODEL) is None  # seen once
    # O(changed rows): ten times the library, about the same work for the same change
    assert costs[100_000][0] < 2 * costs[10_000][0], costs


def test_missing_and_new_photos_and_file_keywords_come_with_the_changes(tmp_path, make_image):
    folder = tmp_path / "lib"
    a = make_image("lib/a.jpg", seed=1)
    make_image("lib/b.jpg", seed=2)
    path = tmp_path / "catalog.sqlite3"
    r = run_moodtagger("scan", "--catalog", str(path), "--no-predict", "-q", str(folder))
    assert r.returncode == 0, r.stderr
    with Catalog(path) as cat:
        changes = CatalogChanges(cat)
        os.remove(a)
        make_image("lib/c.jpg", seed=3)
        r = run_moodtagger("scan", "--catalog", str(path), "--no-predict", "-q", str(folder))
        assert r.returncode == 0, r.stderr
        found = changes.poll(DEFAULT_MODEL)
        assert found is not None
        assert [os.path.basename(p) for p in found.rows.paths] == ["c.jpg"]  # the new one
        assert found.missing_ids == [cat.photos.by_path(str(a)).id]  # no longer shown
        assert not found.keywords.get(int(found.rows.ids[0]))


def _collect(watcher_paths: list[list[str]], ready: threading.Event):
    def on_change(paths: list[str]) -> None:
        watcher_paths.append(paths)
        ready.set()

    return on_change


def test_the_watcher_reports_new_files_but_not_moodtaggers_temp_files(tmp_path, make_image):
    root = tmp_path / "lib"
    photo = make_image("lib/sub/photo.jpg", seed=1)
    seen: list[list[str]] = []
    ready = threading.Event()
    watcher = FolderWatcher([str(root)], _collect(seen, ready), debounce=0.2)
    assert watcher.start() is None and watcher.watching
    try:
        # what moodtagger's writer does: a temp file beside the photo, renamed over it
        temp = temp_path_for(str(photo))
        shutil.copyfile(photo, temp)
        with open(temp, "ab") as fh:
            fh.write(b"\0")
        os.replace(temp, photo)
        # exiftool's own temp name while it edits in place
        (root / "sub" / "photo.jpg_exiftool_tmp").write_bytes(b"x")
        os.remove(root / "sub" / "photo.jpg_exiftool_tmp")
        time.sleep(0.5)
        assert seen == [], seen
        # a photo copied in by another program
        new = make_image("lib/sub/new.jpg", seed=2)
        assert ready.wait(5.0)
        time.sleep(0.4)  # the debounce folds the copy's events into one report
    finally:
        watcher.stop()
    reported = [p for batch in seen for p in batch]
    assert reported == [str(new)], seen
    assert not watcher.watching


def test_the_watcher_folds_a_burst_of_events_and_reports_folders(tmp_path, make_image):
    root = tmp_path / "lib"
    root.mkdir()
    seen: list[list[str]] = []
    ready = threading.Event()
    watcher = FolderWatcher([str(root)], _collect(seen, ready), debounce=0.3)
    assert watcher.start() is None
    try:
        for i in range(20):
            make_image(f"lib/burst_{i}.jpg", seed=i)
        (root / "notes.txt").write_text("not a photo")
        assert ready.wait(5.0)
        time.sleep(0.5)
    finally:
        watcher.stop()
    assert len(seen) <= 2, [len(b) for b in seen]  # debounced, not one report per event
    assert sorted({p for b in seen for p in b}) == sorted(
        str(root / f"burst_{i}.jpg") for i in range(20)
    )


def test_at_the_watch_limit_the_watcher_does_not_watch_and_says_why(tmp_path, make_image):
    make_image("lib/a/x.jpg")
    make_image("lib/b/y.jpg")
    watcher = FolderWatcher([str(tmp_path / "lib")], lambda paths: None, limit=2)
    why = watcher.start()
    assert why is not None and "not watched" in why and not watcher.watching
    watcher.stop()


def test_only_the_changed_files_are_scanned_again(tmp_path, make_image):
    """The watcher's paths go through the refresh pipeline alone: a new photo is indexed, a
    vanished one marked missing, the rest of the library is not even listed."""
    from moodtagger.core.library import Library

    for i in range(5):
        make_image(f"lib/old_{i}.jpg", seed=i)
    path = tmp_path / "catalog.sqlite3"
    r = run_moodtagger("scan", "--catalog", str(path), "--no-predict", "-q", str(tmp_path / "lib"))
    assert r.returncode == 0, r.stderr
    new = make_image("lib/deeper/new.jpg", seed=9)
    os.remove(tmp_path / "lib" / "old_0.jpg")
    with Catalog(path) as cat, Library(cat) as lib:
        res = lib.refresh([], files=[str(new), str(tmp_path / "lib" / "old_0.jpg")], predict=False)
        assert res.scan is not None
        assert (res.scan.new, res.scan.missing, res.scan.unchanged) == (1, 1, 0)
        row = cat.photos.by_path(str(new))
        assert row.status == "ok"
        assert cat.photos.ids_under([str(tmp_path / "lib")]) and row.id in [
            i for i in cat.photos.ids_under([str(tmp_path / "lib")])
        ]
        ((rid, _root),) = cat.photos.roots()
        assert int(lib.rows([row.id]).root_ids[0]) == rid  # in its library folder at once
        assert cat.photos.by_path(str(tmp_path / "lib" / "old_0.jpg")).status == "missing"
    assert Path(new).exists()
