"""RAW previews: one long-lived exiftool against one exiftool process per RAW file, same run.

    .venv/bin/python bench/bench_raw.py [--n 40]

N copies of exiftool's test CR2 (``../shared/data/exiftool-test-images/CanonRaw.cr2``) with a
640x480 JPEG preview embedded, in a temporary folder. Timed, each after one warm-up file:

(a) baseline: what the scanner did before issue 13 — ``exiftool -json -b -m -JpgFromRaw ...``
    as a new process for every RAW file (started from Python, as the scanner did);
(b) ``imaging.raw_preview`` — requests to one long-lived ``exiftool -stay_open`` (a service);
(c) ``scan()`` of the folder with that service (decode + identity + thumbnail + catalog, thread
    pool), for scale.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from PIL import Image

from moodtagger.core import imaging
from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata.exiftool import ExifToolService
from moodtagger.core.scanner import scan
from moodtagger.core.tools import exiftool_path

ROOT = Path(__file__).resolve().parents[1]

CR2 = ROOT.parent / "shared" / "data" / "exiftool-test-images" / "CanonRaw.cr2"
TAGS = ("JpgFromRaw", "PreviewImage", "OtherImage", "ThumbnailImage")


def per_process(path: Path) -> bytes:
    cmd = [
        exiftool_path(),
        "-json",
        "-b",
        "-m",
        *(f"-{t}" for t in TAGS),
        "-Orientation#",
        "-ImageSize#",
        "--",
        str(path),
    ]
    meta = json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)[0]
    return meta["PreviewImage"].encode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    n = ap.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "raws"
        folder.mkdir()
        first = folder / "IMG_0000.CR2"
        shutil.copyfile(CR2, first)
        Image.new("RGB", (640, 480), (10, 200, 30)).save(Path(tmp) / "p.jpg", quality=90)
        subprocess.run(
            [
                exiftool_path(),
                "-q",
                "-m",
                "-overwrite_original",
                f"-PreviewImage<={tmp}/p.jpg",
                str(first),
            ],
            check=True,
        )
        files = [first] + [folder / f"IMG_{i:04d}.CR2" for i in range(1, n)]
        for f in files[1:]:
            shutil.copyfile(first, f)

        per_process(files[0])
        t = time.perf_counter()
        for f in files:
            per_process(f)
        base = time.perf_counter() - t

        with ExifToolService() as service, Catalog(Path(tmp) / "c.db") as cat:
            imaging.raw_preview(str(files[0]), service)  # starts the long-lived exiftool
            t = time.perf_counter()
            for f in files:
                imaging.raw_preview(str(f), service)
            shared = time.perf_counter() - t

            t = time.perf_counter()
            summary = scan(cat, [folder], exiftool=service)
            scanned = time.perf_counter() - t
        assert summary.new == n and not summary.errors, summary.errors

    print(f"{n} RAW files (CR2, 640x480 embedded preview)")
    print(f"(a) one exiftool process per file: {n / base:7.1f} files/s   1.00x")
    print(f"(b) one long-lived exiftool:       {n / shared:7.1f} files/s   {base / shared:.2f}x")
    print(f"(c) scan() of the folder:          {n / scanned:7.1f} files/s   {base / scanned:.2f}x")


if __name__ == "__main__":
    main()
