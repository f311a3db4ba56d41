"""Writing mood keywords into JPEGs: moodtagger's writer against exiftool itself.

    .venv/bin/python bench/bench_write.py [--n 300] [--camera 50] [--repeat 3] [--loop] [--tagged]

moodtagger: the full safe protocol per file, batched per chunk of files on two exiftools —
the chunk's fields read (by exiftool; a JPEG without any keyword field from its bytes), each file
written to a temporary name (stay_open, one command for the files with the same change), each
new file verified (keywords and every other XMP/IPTC text, the whole image data: from the bytes
where they prove it, else one exiftool verify read of the chunk), owner/mode/xattrs kept, the
lost-update guard, fsync, atomic rename; the catalog journal (write_choices, one commit per
chunk's results). ``--tagged``: the files hold keywords already, so exiftool reads them first.

Baselines, what a shell user would do, in the same run on fresh copies of the same files
(no verification at all), writing the same fields moodtagger writes to these files — the
three XMP fields: it writes IPTC:Keywords and XPKeywords only where a file already has them,
and these have neither (before 2026-12-07 the baseline also created those two, which costs
exiftool ~2x the CPU and flattered moodtagger's ratio about 2x):

* one batched call: ``exiftool -overwrite_original -XMP-dc:Subject-=Awe ... *.jpg`` — one process
  for all files (what an experienced user writes when every file gets the same mood);
* with ``--loop``, a per-file loop: ``for f in *.jpg; do exiftool -overwrite_original ... "$f";
  done`` — one exiftool process per file.

Two sets: ``--n`` sample JPEGs (the ../shared/data/imagenet-sample photos, ~100-200 KB, copied)
and ``--camera`` camera-size ones (4000x3000, made with Pillow at quality 90 from the same
photos plus sensor-like noise, ~3 MB each) in a temp dir. Each side runs ``--repeat`` times,
alternating, on fresh copies; the medians are compared.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata import write_choices
from moodtagger.core.metadata.exiftool import ExifToolService
from moodtagger.core.metadata.fields import ALL_FIELDS, DEFAULT_FIELDS, IPTC_KEYWORDS, fields_for
from moodtagger.core.metadata.reader import read_tags
from moodtagger.core.scanner import scan
from moodtagger.core.tools import exiftool_path, exiftool_version

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = ROOT.parent / "shared" / "data" / "imagenet-sample"


def sample_set(dst: Path, n: int) -> list[Path]:
    src = sorted(SAMPLE.glob("*.JPEG"))[:n]
    dst.mkdir(parents=True)
    for p in src:
        shutil.copyfile(p, dst / (p.stem + ".jpg"))
    return sorted(dst.glob("*.jpg"))


def camera_set(dst: Path, n: int) -> list[Path]:
    """``n`` 4000x3000 JPEGs (quality 90): sample photos scaled up, plus Gaussian noise (sigma 8)
    so they compress like a camera's (~3 MB)."""
    import numpy as np
    from PIL import Image

    dst.mkdir(parents=True)
    noise = np.random.default_rng(0).normal(0, 8, (3000, 4000, 3)).astype(np.int16)
    for i, p in enumerate(sorted(SAMPLE.glob("*.JPEG"))[:n]):
        with Image.open(p) as im:
            big = np.asarray(im.convert("RGB").resize((4000, 3000), Image.BICUBIC), np.int16)
        px = (big + np.roll(noise, i * 37, axis=1)).clip(0, 255).astype(np.uint8)
        Image.fromarray(px).save(dst / f"cam{i:03d}.jpg", quality=90)
    return sorted(dst.glob("*.jpg"))


def tag(files: list[Path], tagged: bool) -> list[Path]:
    """With ``--tagged``: keywords of the user's in each file (before the copies are made)."""
    if tagged:
        subprocess.run(
            [exiftool_path(), "-q", "-overwrite_original", "-XMP-dc:Subject=Beach"]
            + ["-XMP-lr:HierarchicalSubject=Places|Beach", *map(str, files)],
            check=True,
        )
    return files


def fresh(files: list[Path], dst: Path) -> list[Path]:
    dst.mkdir(parents=True)
    out = []
    for p in files:
        q = dst / p.name
        shutil.copyfile(p, q)
        q.read_bytes()  # warm page cache, same for both sides
        out.append(q)
    return out


def written_fields(files: list[Path]) -> tuple[str, ...]:
    """The fields moodtagger writes to ``files`` (:func:`fields_for` on what each holds now);
    the same for every file of a set, or the bench refuses."""
    with ExifToolService() as et:
        tags = read_tags(et, [str(p) for p in files])
    found = {fields_for(str(p), DEFAULT_FIELDS, tags[str(p)]) for p in files}
    if len(found) != 1:
        raise SystemExit(f"the files get different fields ({sorted(found)}): no fair baseline")
    return found.pop()


def field_args(fields: tuple[str, ...] = ALL_FIELDS) -> list[str]:
    args = []
    for f in fields:
        if f == "EXIF:XPKeywords":
            args.append(f"-{f}=Awe")
        elif f == "XMP-lr:HierarchicalSubject":
            args += [f"-{f}-=Mood|Awe", f"-{f}+=Mood|Awe"]
        elif f == "XMP-digiKam:TagsList":
            args += [f"-{f}-=Mood/Awe", f"-{f}+=Mood/Awe"]
        else:
            args += [f"-{f}-=Awe", f"-{f}+=Awe"]
    if IPTC_KEYWORDS in fields:
        args.append("-IPTC:CodedCharacterSet=UTF8")
    return args


def baseline_loop(files: list[Path], fields: tuple[str, ...]) -> float:
    exe, args = exiftool_path(), field_args(fields)
    t0 = time.perf_counter()
    for p in files:
        subprocess.run([exe, "-q", "-overwrite_original", *args, str(p)], check=True)
    return time.perf_counter() - t0


def baseline_batched(files: list[Path], fields: tuple[str, ...]) -> float:
    exe, args = exiftool_path(), field_args(fields)
    t0 = time.perf_counter()
    subprocess.run([exe, "-q", "-overwrite_original", *args, *map(str, files)], check=True)
    return time.perf_counter() - t0


def ours(files: list[Path], db: Path) -> float:
    with Catalog(db) as cat:
        scan(cat, [files[0].parent], thumbnails=False)
        with cat.transaction():
            for p in files:
                cat.choices.set(cat.photos.by_path(p).id, ["awe"])
        t0 = time.perf_counter()
        summary = write_choices(cat)  # (an exiftool of its own, closed after the batch)
        dt = time.perf_counter() - t0
    assert summary.written == len(files) and summary.failed == 0, summary.as_dict()["files"][:3]
    return dt


def compare(name: str, files: list[Path], tmp: Path, repeat: int, loop: bool) -> float:
    fields = written_fields(files)
    t_ours: list[float] = []
    t_batch: list[float] = []
    for r in range(repeat):  # alternating, fresh copies each time
        t_ours.append(ours(fresh(files, tmp / f"{name}-o{r}"), tmp / f"{name}-{r}.db"))
        t_batch.append(baseline_batched(fresh(files, tmp / f"{name}-b{r}"), fields))
        shutil.rmtree(tmp / f"{name}-o{r}")
        shutil.rmtree(tmp / f"{name}-b{r}")
    n = len(files)
    mo, mb = statistics.median(t_ours), statistics.median(t_batch)
    print(f"[{name}] {n} files, median of {repeat}; fields written: {', '.join(fields)}")
    print(f"  moodtagger write (verified, journalled):  {n / mo:7.1f} files/s  ({mo:.2f} s)")
    print(f"  exiftool one batched call (no check):     {n / mb:7.1f} files/s  ({mb:.2f} s)")
    if loop:
        t_loop = baseline_loop(fresh(files, tmp / f"{name}-loop"), fields)
        print(
            f"  exiftool per file (shell loop, no check): {n / t_loop:7.1f} files/s  ({t_loop:.2f} s)"
        )
        print(f"  ratio vs per-file loop: {t_loop / mo:.1f}x")
    print(f"  ratio vs one batched call: {mb / mo:.2f}x  (target >= 0.5x)")
    return mb / mo


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=300, help="sample JPEGs (0: none)")
    ap.add_argument("--camera", type=int, default=50, help="4000x3000 JPEGs (0: none)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--loop", action="store_true", help="also the per-file shell loop")
    ap.add_argument(
        "--tagged",
        action="store_true",
        help="the files hold keywords already (XMP Subject and a Places|Beach tree): "
        "moodtagger reads them with exiftool before writing",
    )
    args = ap.parse_args()
    v = exiftool_version()
    print(f"exiftool {v[0]}.{v[1]:02d} at {exiftool_path()}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        if args.n:
            files = tag(sample_set(base / "sample", args.n), args.tagged)
            compare("sample", files, base, args.repeat, args.loop)
        if args.camera:
            files = tag(camera_set(base / "camera", args.camera), args.tagged)
            compare("camera 4000x3000", files, base, args.repeat, args.loop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
