"""Scan + thumbnail throughput and unchanged-rescan time, each against a baseline in the same run.

    .venv/bin/python bench/bench_scan.py            # all three parts
    .venv/bin/python bench/bench_scan.py --only a   # a: imagenet-sample, b: camera JPEGs, c: rescan

(a) index + thumbnail the 1,000 photos of ../shared/data/imagenet-sample with the scanner, against
    the loop a user would write: ``Image.open(p).thumbnail((256, 256))`` one by one (Pillow's own
    thumbnail() uses JPEG draft mode; the image is converted to RGB only after shrinking);
(b) the same on ~200 camera-size JPEGs (4000x3000, quality 92, generated from those photos with a
    little sensor-like noise, cached under the user cache dir, never in the repository);
(c) rescan of an unchanged library of 100,000 files (hard links): the catalog is first filled the
    way a completed scan leaves it, then ``scan()`` and the ``moodtagger scan`` CLI are timed;
(d) scan + predict (what ``moodtagger scan`` and the GUI do on new photos), decode once against
    decoding twice, same loaded model, fresh catalog and thumbnail cache each time: the scan's
    decode also yielding the model input (``scan(model=, on_inputs=)`` + ``InputStream``, as
    ``Library.refresh`` does) vs ``scan()`` then ``predict_pending()`` (each photo decoded again),
    on the camera JPEGs of (b) and on imagenet-sample; runs alternate, best of ``--repeat``.

Both sides of every comparison read files from a warm page cache (every file is read once first).
The scanner's numbers include what the naive loop does not do: content hashing, catalog writes and
writing the thumbnail cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from moodtagger.core.catalog import Catalog
from moodtagger.core.scanner import scan, walk

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = ROOT.parent / "shared" / "data" / "imagenet-sample"


def warm(files: list[Path]) -> None:
    for f in files:
        f.read_bytes()


def naive(files: list[Path]) -> float:
    t0 = time.perf_counter()
    for p in files:
        with Image.open(p) as im:
            im.thumbnail((256, 256))
            im.convert("RGB")
    return time.perf_counter() - t0


def ours(folder: Path, workers: int | None) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory(prefix="mt-bench-") as tmp:
        os.environ["MOODTAGGER_CACHE"] = os.path.join(tmp, "cache")
        with Catalog(Path(tmp) / "c.db") as cat:
            t0 = time.perf_counter()
            s = scan(cat, [folder], workers=workers)
            return time.perf_counter() - t0, s.new, len(s.errors)


def compare(label: str, folder: Path, files: list[Path], workers: int | None) -> None:
    warm(files)
    t_naive = naive(files)
    t_ours, n, errors = ours(folder, workers)
    assert n == len(files), (n, len(files))
    r_naive, r_ours = len(files) / t_naive, n / t_ours
    print(f"[{label}] {len(files)} files")
    print(
        f"  naive loop (open+thumbnail (draft)+convert, 1 thread): {t_naive:7.2f} s  {r_naive:8.1f} img/s"
    )
    print(
        f"  moodtagger scan (draft decode, thumbnails cached, catalog, identity): "
        f"{t_ours:7.2f} s  {r_ours:8.1f} img/s  ({errors} errors)"
    )
    print(f"  ratio: {r_ours / r_naive:.1f}x")


# ------------------------------------------------------------------------------------------
def _make_camera_jpeg(args: tuple[Path, Path, int]) -> None:
    src, dest, seed = args
    im = Image.open(src).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    rng = np.random.default_rng(seed)
    arr = np.asarray(im, dtype=np.int16)
    arr = arr + rng.normal(0, 3.0, arr.shape).astype(np.int16)  # sensor-like grain
    tmp = dest.with_suffix(".tmp")
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(tmp, "JPEG", quality=92)
    os.replace(tmp, dest)


def camera_set(count: int) -> Path:
    from platformdirs import user_cache_dir

    folder = Path(user_cache_dir("moodtagger", appauthor=False)) / "bench" / "camera-4000x3000-q92"
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(SAMPLE.iterdir())[:count]
    todo = [
        (s, folder / f"cam_{i:04d}.jpg", i)
        for i, s in enumerate(sources)
        if not (folder / f"cam_{i:04d}.jpg").exists()
    ]
    if todo:
        print(f"generating {len(todo)} camera-size JPEGs into {folder} (once) ...", flush=True)
        with ProcessPoolExecutor(os.cpu_count() or 2) as pool:
            list(pool.map(_make_camera_jpeg, todo))
    return folder


# ------------------------------------------------------------------------------------------
def rescan(n_files: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="mt-bench-links-"))
    try:
        originals = base / "originals"
        originals.mkdir()
        sources = sorted(SAMPLE.iterdir())
        for s in sources:
            shutil.copyfile(s, originals / s.name)
        lib = base / "library"
        t0 = time.perf_counter()
        for i in range(n_files):
            src = originals / sources[i % len(sources)].name
            d = lib / f"{i // 1000:03d}"
            if i % 1000 == 0:
                d.mkdir(parents=True)
            os.link(src, d / f"IMG_{i:06d}.jpg")
        print(f"[c] made {n_files} hard links in {time.perf_counter() - t0:.1f} s")

        db = base / "c.db"
        with Catalog(db) as cat:  # the state a completed first scan leaves behind
            root = os.fsencode(lib)
            cat.photos.add_root(lib)
            now = time.time()
            with cat.transaction() as c:
                c.executemany(
                    "INSERT INTO photos(path, root_id, size, mtime_ns, identity, width, height, "
                    "orientation, format, status, added_at, updated_at) "
                    "VALUES (?, 1, ?, ?, ?, 320, 240, 1, 'JPEG', 'ok', ?, ?)",
                    (
                        (p, st.st_size, st.st_mtime_ns, f"{st.st_ino:032x}", now, now)
                        for p, st in walk(root)
                    ),
                )
            assert cat.photos.count() == n_files

        t0 = time.perf_counter()
        n = sum(1 for _ in walk(os.fsencode(lib)))
        t_walk = time.perf_counter() - t0
        times = []
        for _ in range(3):
            with Catalog(db) as cat:
                t0 = time.perf_counter()
                s = scan(cat, [lib])
                times.append(time.perf_counter() - t0)
                assert s.nothing_changed and s.unchanged == n_files, s.as_dict()
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "moodtagger",
                "scan",
                "--no-predict",
                "--catalog",
                str(db),
                str(lib),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        t_cli = time.perf_counter() - t0
        print(f"[c] rescan of an unchanged library of {n_files} files")
        print(f"  floor: walk + stat only (no catalog): {t_walk:6.2f} s  ({n} files)")
        print(f"  scan(): first {times[0]:6.2f} s, best of 3 {min(times):6.2f} s  (target < 3 s)")
        print(
            f"  CLI end to end (python start + imports + scan): {t_cli:6.2f} s -> {proc.stdout.strip()}"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------------------------------
def scan_predict(label: str, folder: Path, files: list[Path], repeat: int) -> None:
    from moodtagger.core.model.engine import MoodModel
    from moodtagger.core.model.service import InputStream, predict_pending

    warm(files)
    model = MoodModel()
    model.predict_arrays(np.zeros((2, model.size, model.size, 3), np.uint8))  # warm up

    def run(once: bool) -> float:
        with tempfile.TemporaryDirectory(prefix="mt-bench-") as tmp:
            os.environ["MOODTAGGER_CACHE"] = os.path.join(tmp, "cache")
            with Catalog(Path(tmp) / "c.db") as cat:
                t0 = time.perf_counter()
                if once:
                    stream = InputStream(cat, model.model_id, lambda: model)
                    scan(cat, [folder], model=stream.preprocess, on_inputs=stream.feed)
                    stream.finish()
                else:
                    scan(cat, [folder])
                    predict_pending(cat, model=model)
                dt = time.perf_counter() - t0
                assert not cat.predictions.photos_needing(model.model_id)
                assert cat.photos.count("ok") == len(files)
                return dt

    twice, once = [], []
    for _ in range(repeat):
        twice.append(run(False))
        once.append(run(True))
    n = len(files)
    print(f"[{label}] scan + predict, {n} files, model {model.model_id} ({model.backend})")
    print(
        f"  decode twice (scan, then predict_pending): best {min(twice):7.2f} s  "
        f"{n / min(twice):6.1f} img/s   all: {', '.join(f'{t:.2f}' for t in twice)}"
    )
    print(
        f"  decode once (the scan's decode feeds the model): best {min(once):7.2f} s  "
        f"{n / min(once):6.1f} img/s   all: {', '.join(f'{t:.2f}' for t in once)}"
    )
    print(f"  ratio: {min(twice) / min(once):.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default="abcd", help="which parts to run (a, b, c, d)")
    ap.add_argument("--repeat", type=int, default=3, help="(d): runs of each side")
    ap.add_argument("--camera-count", type=int, default=200)
    ap.add_argument("--links", type=int, default=100_000)
    ap.add_argument(
        "--workers", type=int, default=None, help="scanner threads (default: cores + 2)"
    )
    args = ap.parse_args()
    if not SAMPLE.is_dir():
        sys.exit(f"{SAMPLE} not found: the benchmark needs ../shared/data/imagenet-sample")
    print(
        f"cpu cores: {os.cpu_count()}, python {sys.version.split()[0]}, Pillow {Image.__version__}"
    )
    if "a" in args.only:
        compare("a: imagenet-sample", SAMPLE, sorted(SAMPLE.iterdir()), args.workers)
    if "b" in args.only:
        folder = camera_set(args.camera_count)
        files = sorted(folder.glob("*.jpg"))[: args.camera_count]
        compare("b: camera JPEGs 4000x3000 q92", folder, files, args.workers)
    if "c" in args.only:
        rescan(args.links)
    if "d" in args.only:
        folder = camera_set(args.camera_count)
        files = sorted(folder.glob("*.jpg"))[: args.camera_count]
        if len(files) == len(list(folder.glob("*.jpg"))):
            scan_predict("d: camera JPEGs 4000x3000 q92", folder, files, args.repeat)
        scan_predict("d: imagenet-sample", SAMPLE, sorted(SAMPLE.iterdir()), args.repeat)


if __name__ == "__main__":
    main()
