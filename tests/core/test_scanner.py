"""Scanner: incremental rescans see additions, changes, deletions, moves and returns."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from moodtagger.core import imaging
from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.scanner import scan, walk

PROBS = (0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1)


def _touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_first_scan_indexes_every_format(catalog: Catalog, make_image, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    for name in ("a.jpg", "sub/b.png", "sub/deeper/c.tif", "d.webp", "e.HEIC", "f.JPEG"):
        make_image(name, root=lib, seed=len(name))
    (lib / "notes.txt").write_text("not a photo")
    summary = scan(catalog, [lib])
    assert (summary.new, summary.errors) == (6, [])
    photos = catalog.photos.all()
    assert {Path(p.path).name for p in photos} == {
        "a.jpg",
        "b.png",
        "c.tif",
        "d.webp",
        "e.HEIC",
        "f.JPEG",
    }
    for p in photos:
        assert p.status == "ok" and (p.width, p.height) == (64, 48) and p.identity
        assert imaging.thumb_path(p.identity).is_file()  # grid thumbnail cached while scanning
    assert catalog.photos.roots()[0][1] == str(lib)


def test_rescan_sees_add_change_delete_move_and_return(
    catalog: Catalog, make_image, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    paths = [make_image(f"p{i}.jpg", root=lib, seed=i) for i in range(4)]
    assert scan(catalog, [lib]).new == 4

    again = scan(catalog, [lib])
    assert again.nothing_changed and again.unchanged == 4

    moved_row = catalog.photos.by_path(paths[3])
    catalog.predictions.save("m", [(moved_row.id, Prediction(PROBS))])
    catalog.choices.set(moved_row.id, ["awe"])

    make_image("new.jpg", root=lib, seed=10)  # add
    make_image("p0.jpg", root=lib, seed=99, size=(70, 50))  # change content
    _touch_later(paths[0])
    deleted = paths[1].read_bytes()
    paths[1].unlink()  # delete
    (lib / "moved").mkdir()
    paths[3].rename(lib / "moved" / "p3.jpg")  # move
    s = scan(catalog, [lib])
    assert (s.new, s.changed, s.missing, s.moved, s.unchanged, s.errors) == (1, 1, 1, 1, 1, [])
    assert catalog.photos.by_path(paths[0]).width == 70
    assert catalog.photos.by_path(paths[1]).status == "missing"
    moved = catalog.photos.by_path(lib / "moved" / "p3.jpg")
    assert moved.id == moved_row.id  # the same photo: predictions and choices kept
    assert catalog.predictions.get(moved.id, "m") == Prediction(PROBS)
    assert catalog.choices.get(moved.id)[0] == ["awe"]
    assert catalog.photos.by_path(paths[3]) is None

    paths[1].write_bytes(deleted)  # it comes back
    s = scan(catalog, [lib])
    assert (s.found_again, s.new, s.missing) == (1, 0, 0)
    assert catalog.photos.by_path(paths[1]).status == "ok"
    assert scan(catalog, [lib]).nothing_changed


def test_skips_hidden_and_system_folders_and_survives_symlink_loops(
    catalog: Catalog, make_image, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    make_image("ok.jpg", root=lib)
    make_image(".hidden/h.jpg", root=lib, seed=1)
    make_image("@eaDir/thumb.jpg", root=lib, seed=2)
    make_image(".dotfile.jpg", root=lib, seed=3)
    (lib / "sub").mkdir()
    os.symlink(lib, lib / "sub" / "loop")  # a loop back to the root
    os.symlink(tmp_path / "nowhere", lib / "broken.jpg")  # a dangling link
    found = [os.fsdecode(p) for p, _ in walk(os.fsencode(lib))]
    assert found == [str(lib / "ok.jpg")]
    s = scan(catalog, [lib])
    assert (s.new, s.errors) == (1, [])


def test_scan_reports_progress_and_can_be_cancelled(
    catalog: Catalog, make_image, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    for i in range(40):
        make_image(f"{i:02d}.png", root=lib, seed=i)
    cancel = threading.Event()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 5:
            cancel.set()

    s = scan(catalog, [lib], progress=progress, cancel=cancel, workers=2)
    assert s.cancelled and 5 <= s.new < 40
    assert seen[0] == (0, 40)
    rest = scan(catalog, [lib])  # the next scan picks up where the cancelled one stopped
    assert rest.new == 40 - s.new and not rest.cancelled
    assert catalog.photos.count("ok") == 40


def test_scanner_api_runs_in_a_worker_thread(tmp_path: Path, make_image) -> None:
    """The GUI calls scan() from a worker thread with its own Catalog connection."""
    lib = tmp_path / "lib"
    make_image("x.jpg", root=lib)
    out: list[int] = []

    def work() -> None:
        with Catalog(tmp_path / "c.db") as cat:
            out.append(scan(cat, [lib]).new)

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert out == [1]


def test_imagenet_sample_scans_clean_and_rescans_as_unchanged(
    imagenet_sample: Path, catalog: Catalog
) -> None:
    first = scan(catalog, [imagenet_sample])
    assert (first.new, first.errors) == (1000, [])
    t0 = time.perf_counter()
    second = scan(catalog, [imagenet_sample])
    elapsed = time.perf_counter() - t0
    assert second.nothing_changed and second.unchanged == 1000
    assert elapsed < 5  # generous: the bench measures the real number (~0.01 s)


def test_missing_root_is_reported_not_raised(catalog: Catalog, tmp_path: Path) -> None:
    s = scan(catalog, [tmp_path / "does-not-exist"])
    assert len(s.errors) == 1 and "not a folder" in s.errors[0][1]


def test_two_roots_do_not_mark_each_other_missing(
    catalog: Catalog, make_image, tmp_path: Path
) -> None:
    n_roots = 2
    roots = [tmp_path / f"r{i}" for i in range(n_roots)]
    for i, r in enumerate(roots):
        make_image("a.jpg", root=r, seed=i)
    assert scan(catalog, roots).new == n_roots
    s = scan(catalog, roots[:1])  # scanning one root leaves the other alone
    assert s.nothing_changed and catalog.photos.count("ok") == n_roots


def test_first_scan_files_every_photo_under_its_folder(
    catalog: Catalog, make_image, tmp_path: Path
) -> None:
    """Photos found by a folder's first scan belong to that folder (the GUI's folder list shows them)."""
    lib = tmp_path / "lib"
    for i in range(3):
        make_image(f"p{i}.jpg", root=lib / ("sub" if i else ""), seed=i)
    scan(catalog, [lib], thumbnails=False)
    ((root_id, _path),) = catalog.photos.roots()
    assert len(catalog.photos.all(root_id=root_id)) == 3


def test_scan_records_when_each_photo_was_taken(
    catalog: Catalog, make_image, tmp_path: Path, shared_data: Path
) -> None:
    """taken_at comes from EXIF DateTimeOriginal (JPEG, RAW through exiftool); exiftool, an
    independent reader, says the same; a photo without a date has its file time."""
    import shutil
    import subprocess

    from PIL import Image

    from moodtagger.core import dates

    lib = tmp_path / "lib"
    dated = Image.open(make_image("dated.jpg", root=tmp_path / "src", seed=1))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2021:06:05 14:30:00"
    lib.mkdir()
    dated.save(lib / "dated.jpg", exif=exif.tobytes())
    make_image("undated.jpg", root=lib, seed=2)
    real = ("Canon.jpg", "Nikon.jpg", "FujiFilm.raf", "Panasonic.rw2")  # RAWs with a preview
    for name in real:
        shutil.copy(shared_data / "exiftool-test-images" / name, lib / name)
    summary = scan(catalog, [lib])
    taken = {Path(p.path).name: p.taken_at for p in catalog.photos.all() if p.status == "ok"}
    assert taken["dated.jpg"] == "2021-06-05T14:30:00"
    # a photo without a date has the file time first seen (issue 26), marked as such
    undated = catalog.photos.by_path(lib / "undated.jpg")
    assert undated is not None and undated.taken_from == "file"
    assert undated.taken_at == dates.first_seen((lib / "undated.jpg").stat().st_mtime_ns)
    assert catalog.photos.by_path(lib / "dated.jpg").taken_from == "exif"
    exiftool = shutil.which("exiftool")
    assert exiftool, "exiftool is needed (bootstrap installs it)"
    out = subprocess.run(
        [
            exiftool,
            "-q",
            "-m",
            "-T",
            "-FileName",
            "-DateTimeOriginal",
            *(str(lib / n) for n in real),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = {
        name: date.replace(":", "-", 2).replace(" ", "T")
        for name, date in (line.split("\t") for line in out.splitlines())
    }
    assert {n: taken.get(n) for n in real} == expected, summary.errors
