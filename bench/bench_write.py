"""Writing mood keywords into 500 JPEGs: moodtagger's writer against a shell loop over exiftool.

    .venv/bin/python bench/bench_write.py [--n 500]

moodtagger: one long-lived exiftool (-stay_open), the full safe protocol per file — read the
fields, write a temporary copy, read it back and compare keywords and ImageDataHash (or pixels),
fsync, atomic rename — and the catalog journal (write_choices).

Baselines, what a shell user would do, in the same run on fresh copies of the same files
(the same five fields, no verification at all):

* per-file loop: ``for f in *.jpg; do exiftool -overwrite_original -XMP-dc:Subject-=Awe ... "$f"; done``
  — one exiftool process per file;
* one batched call: ``exiftool -overwrite_original -XMP-dc:Subject-=Awe ... *.jpg`` — one process
  for all files (what an experienced user writes when every file gets the same mood).

The photos are the 1,000 of ../shared/data/imagenet-sample (real JPEGs, ~100-200 KB), copied.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata import write_choices
from moodtagger.core.metadata.fields import ALL_FIELDS
from moodtagger.core.scanner import scan
from moodtagger.core.tools import exiftool_path, exiftool_version

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = ROOT.parent / "shared" / "data" / "imagenet-sample"


def copies(dst: Path, n: int) -> list[Path]:
    src = sorted(SAMPLE.glob("*.JPEG"))[:n]
    dst.mkdir(parents=True)
    out = []
    for p in src:
        q = dst / (p.stem + ".jpg")
        shutil.copyfile(p, q)
        q.read_bytes()  # warm page cache, same for both sides
        out.append(q)
    return out


def field_args() -> list[str]:
    args = []
    for f in ALL_FIELDS:
        if f == "EXIF:XPKeywords":
            args.append(f"-{f}=Awe")
        elif f == "XMP-lr:HierarchicalSubject":
            args += [f"-{f}-=Mood|Awe", f"-{f}+=Mood|Awe"]
        elif f == "XMP-digiKam:TagsList":
            args += [f"-{f}-=Mood/Awe", f"-{f}+=Mood/Awe"]
        else:
            args += [f"-{f}-=Awe", f"-{f}+=Awe"]
    args.append("-IPTC:CodedCharacterSet=UTF8")
    return args


def baseline_loop(files: list[Path]) -> float:
    exe, args = exiftool_path(), field_args()
    t0 = time.perf_counter()
    for p in files:
        subprocess.run([exe, "-q", "-overwrite_original", *args, str(p)], check=True)
    return time.perf_counter() - t0


def baseline_batched(files: list[Path]) -> float:
    exe, args = exiftool_path(), field_args()
    t0 = time.perf_counter()
    subprocess.run([exe, "-q", "-overwrite_original", *args, *map(str, files)], check=True)
    return time.perf_counter() - t0


def ours(files: list[Path], db: Path) -> tuple[float, object]:
    with Catalog(db) as cat:
        scan(cat, [files[0].parent], thumbnails=False)
        with cat.transaction():
            for p in files:
                cat.choices.set(cat.photos.by_path(p).id, ["awe"])
        t0 = time.perf_counter()
        summary = write_choices(cat)  # (an exiftool of its own, closed after the batch)
        dt = time.perf_counter() - t0
    return dt, summary


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=500)
    args = ap.parse_args()
    v = exiftool_version()
    print(f"exiftool {v[0]}.{v[1]:02d} at {exiftool_path()}; {args.n} JPEGs from {SAMPLE.name}")
    with tempfile.TemporaryDirectory() as tmp:
        a = copies(Path(tmp) / "a", args.n)
        b = copies(Path(tmp) / "b", args.n)
        c = copies(Path(tmp) / "c", args.n)
        t_ours, summary = ours(a, Path(tmp) / "c.db")
        assert summary.written == len(a) and summary.failed == 0, summary.as_dict()["files"][:3]
        t_loop = baseline_loop(b)
        t_batch = baseline_batched(c)
    n = len(a)
    print(f"moodtagger write (verified, journalled):   {n / t_ours:7.1f} files/s  ({t_ours:.2f} s)")
    print(f"exiftool per file (shell loop, no check):  {n / t_loop:7.1f} files/s  ({t_loop:.2f} s)")
    print(
        f"exiftool one batched call (no check):      {n / t_batch:7.1f} files/s  ({t_batch:.2f} s)"
    )
    print(
        f"ratio vs per-file loop: {t_loop / t_ours:.1f}x; vs one batched call: {t_batch / t_ours:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
