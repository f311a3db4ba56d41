"""Issue 12 items 10, 11: FIFOs never hang a scan or predict; the pixels decoded at once are
bounded across the scan's decode workers; a listable but unsearchable folder is a folder error,
not a folder full of missing photos. Real files, real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from moodtagger.core import imaging
from moodtagger.core.catalog import Catalog
from moodtagger.core.scanner import scan
from moodtagger.testing import run_moodtagger as cli

ROOT = Path(__file__).resolve().parents[2]


def test_a_fifo_named_like_a_photo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    out: list[BaseException] = []

    def work() -> None:
        try:
            imaging.open_image(fifo)
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            out.append(exc)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # unblock the reader so the test process can end
        with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
        pytest.fail("open_image blocked on a FIFO")
    assert isinstance(out[0], imaging.ImageError) and "not a regular file" in str(out[0])


def test_predict_on_a_fifo_is_a_per_file_error_not_a_hang(make_image, tmp_path: Path) -> None:
    good = make_image("good.jpg", size=(128, 96))
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    proc = cli("predict", str(good), str(fifo), timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert f"error: {fifo}: not a regular file" in proc.stderr
    assert str(good) in proc.stdout


def test_scan_skips_special_files(make_image, tmp_path: Path, catalog: Catalog) -> None:
    lib = tmp_path / "lib"
    make_image("a.jpg", root=lib)
    os.mkfifo(lib / "b.jpg")
    s = scan(catalog, [lib])
    assert (s.new, s.errors) == (1, [])


def test_an_unsearchable_folder_is_an_error_and_its_photos_are_not_missing(
    make_image, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    make_image("top.jpg", root=lib)
    make_image("locked/a.jpg", root=lib, seed=1)
    make_image("locked/deeper/b.jpg", root=lib, seed=2)
    db = tmp_path / "c.db"
    assert cli("scan", "--no-predict", "-q", "--catalog", str(db), str(lib)).returncode == 0
    locked = lib / "locked"
    locked.chmod(0o644)  # names can be listed, files cannot be opened or stat'ed
    try:
        proc = cli("scan", "--no-predict", "--catalog", str(db), str(lib), as_user=True)
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    assert f"error: {locked}: cannot open files in this folder: permission denied" in proc.stderr
    assert "0 missing" in proc.stdout
    with Catalog(db) as cat:
        assert cat.photos.count("missing") == 0 and cat.photos.count("ok") == 3


def test_a_photo_in_an_unsearchable_folder_is_not_called_missing(
    make_image, tmp_path: Path
) -> None:
    photo = make_image("locked/a.jpg", size=(64, 48))
    photo.parent.chmod(0o644)
    try:
        proc = cli("predict", "-q", str(photo), as_user=True)
    finally:
        photo.parent.chmod(0o755)
    assert proc.returncode == 1
    assert f"error: {photo}: permission denied" in proc.stderr and "no such file" not in proc.stderr


# Linux keeps a process's peak RSS across fork and exec, so a child forked from this (large)
# pytest process would report at least pytest's own size. A small launcher process runs the
# command and reports its child's peak: that child was forked from the launcher, not from us.
_LAUNCHER = (
    "import resource, subprocess, sys; "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
    "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _peak_rss_kb(args: list[str]) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "moodtagger", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_five_196_megapixel_pngs_do_not_drive_a_scan_to_gigabytes(tmp_path: Path) -> None:
    """Was 6.1 GB peak RSS (five decoded side by side); now one such image at a time."""
    lib = tmp_path / "big"
    lib.mkdir()
    with Image.new("RGB", (14000, 14000), (90, 140, 200)) as im:
        im.save(lib / "b0.png", compress_level=1)
    for i in range(1, 5):
        shutil.copy(lib / "b0.png", lib / f"b{i}.png")
    rc, peak_kb = _peak_rss_kb(
        ["scan", "--no-predict", "-q", "--catalog", str(tmp_path / "c.db"), str(lib)]
    )
    assert rc in (0, 1)
    assert peak_kb < 1_500_000, f"peak RSS {peak_kb} KB"
    with Catalog(tmp_path / "c.db") as cat:
        assert cat.photos.count("ok") == 5
        assert {(p.width, p.height) for p in cat.photos.all()} == {(14000, 14000)}
