"""Issue 29 item 1: writes batched per chunk on two exiftools keep every per-file guarantee.

A chunk is read in one exiftool call, written to temporary names, verified in one read, and its
files are swapped in together (:mod:`moodtagger.core.metadata.batch`). These tests fail on a
naive batch (one exiftool call for the chunk, checks per chunk, a snapshot per chunk, renames
before the journal knows the temporary names): a bad file in the middle of a chunk fails alone,
another program's edit of one file of a chunk is never lost, and `moodtagger write` SIGKILLed at
each of its commits leaves every file old or new and is healed by the next `write`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np

from moodtagger.core.catalog import KILL_AT_COMMIT_ENV, Catalog
from moodtagger.core.metadata import WriteItem
from moodtagger.core.metadata.batch import chunk_size
from moodtagger.core.metadata.safefile import TEMP_MARK, WriteFailed
from moodtagger.core.metadata.writer import Writer
from moodtagger.core.scanner import scan
from moodtagger.testing import run_moodtagger

from .conftest import et_read, exiv2_read, pixels, sha256
from .test_exiftool_choice import hanging_exiftool  # noqa: F401 (a fixture)


def _temps(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(TEMP_MARK)]


def _library(make_image, lib: Path, n: int) -> list[Path]:
    return [make_image(f"p{i:02d}.jpg", root=lib, seed=i, size=(160, 120)) for i in range(n)]


class _FailsVerifying(Writer):
    """A real writer whose check of one file's new copy fails: the copy is damaged (one bit of
    its image data) before its bytes are looked at, and its check fails whichever way it is
    verified (proved from the bytes, or read back)."""

    name = "p10.jpg"

    def _proved(self, t) -> bool:
        if os.path.basename(t.path) == self.name:
            with open(t.temp, "r+b") as fh:
                fh.seek(-10, os.SEEK_END)
                byte = fh.read(1)
                fh.seek(-10, os.SEEK_END)
                fh.write(bytes([byte[0] ^ 1]))
        return super()._proved(t)

    def _verify(self, t, back) -> None:
        super()._verify(t, back)
        if os.path.basename(t.path) == self.name:
            raise WriteFailed("verification failed: the image data changed")


def test_a_bad_file_in_the_middle_of_a_chunk_fails_alone(make_image, tmp_path) -> None:
    """16 files in 4 chunks on two exiftools; in the middle of chunks one file is not an image
    (the chunk's read), one is read-only (resolving), one is corrupt (exiftool's write), one
    fails its verification: each is that file's error, untouched, no temporary file left; every
    other file is written and reads back (exiv2) with its pixels unchanged."""
    lib = tmp_path / "lib"
    paths = _library(make_image, lib, 16)
    assert chunk_size(len(paths)) == 4
    paths[5].write_text("not a photo")
    os.chmod(paths[9], 0o444)
    # an APP1 segment that runs past the end: exiftool reads it but refuses to write it
    paths[13].write_bytes(b"\xff\xd8\xff\xe1\xff\xf0Exif\x00\x00" + bytes(20))
    bad = {paths[5], paths[9], paths[10], paths[13]}
    before = {p: sha256(p) for p in bad}
    originals = {p: pixels(p) for p in paths if p not in bad}
    with _FailsVerifying() as writer:
        summary = writer.write([WriteItem(str(p), ["awe"]) for p in paths])
    by = {Path(r.path): r for r in summary.results}
    assert len(by) == 16 and (summary.written, summary.failed) == (12, 4)
    assert "not an image" in by[paths[5]].error
    assert "read-only" in by[paths[9]].error
    assert by[paths[10]].error == "verification failed: the image data changed"
    assert "exiftool could not write p13.jpg" in by[paths[13]].error
    for p in bad:
        assert sha256(p) == before[p], p
    for p, px in originals.items():
        assert by[p].status == "written", (p, by[p].error)
        assert exiv2_read(p)["XMP-dc:Subject"] == ["Awe"], p
        assert np.array_equal(pixels(p), px), p
    assert _temps(lib) == []


def _edit(exiftool: str, path: Path, title: str) -> None:
    subprocess.run(
        [exiftool, "-q", "-overwrite_original_in_place", f"-XMP-dc:Title={title}", str(path)],
        check=True,
    )


def test_another_programs_edit_of_one_file_in_a_chunk_is_never_lost(
    make_image, tmp_path, exiftool
) -> None:
    """The lost-update guard is per file: p05 is edited by another program after its chunk was
    read, as the chunk's files are written (the hook of p06; the four files of the chunk get the
    same change, so one exiftool command writes them) — p05 is not replaced (it keeps the other
    program's edit), p04, p06, p07 of the same chunk are written. p08 (the next chunk)
    is edited while the first results come in, before or after its chunk was read: either it is
    refused or written over the edit — the edit is never lost."""
    lib = tmp_path / "lib"
    paths = _library(make_image, lib, 12)
    assert chunk_size(len(paths)) == 4

    def before_write(item: WriteItem, temp: str) -> None:
        if Path(item.path) == paths[6]:
            _edit(exiftool, paths[5], "theirs")

    def on_result(item: WriteItem, res) -> None:
        if Path(item.path) == paths[0]:
            _edit(exiftool, paths[8], "also theirs")

    with Writer() as writer:
        summary = writer.write(
            [WriteItem(str(p), ["awe"]) for p in paths],
            before_write=before_write,
            on_result=on_result,
        )
    by = {Path(r.path): r for r in summary.results}
    assert by[paths[5]].status == "failed" and "changed by another program" in by[paths[5]].error
    five = exiv2_read(paths[5])
    assert five["XMP-dc:Subject"] == [], five
    assert _title(paths[5]) == ["theirs"]
    eight = exiv2_read(paths[8])
    assert _title(paths[8]) == ["also theirs"]
    assert eight["XMP-dc:Subject"] == (["Awe"] if by[paths[8]].status == "written" else [])
    for i in (0, 1, 2, 3, 4, 6, 7, 9, 10, 11):
        assert by[paths[i]].status == "written", (i, by[paths[i]].error)
        assert exiv2_read(paths[i])["XMP-dc:Subject"] == ["Awe"]
    assert _temps(lib) == []


def _title(path: Path) -> list[str]:
    return et_read(path, "XMP-dc:Title").get("XMP-dc:Title", [])


def _pending(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM write_journal WHERE state='pending'").fetchone()[0]
    finally:
        con.close()


def test_write_killed_at_every_commit_of_a_chunked_batch_heals(
    kill_sweep, make_image, tmp_path
) -> None:
    """`moodtagger write` of 8 files (2 chunks, two exiftools) SIGKILLed just before each of its
    commits — the journal's start, each chunk's temporary names (the other chunk's new copies may
    be on disk then), each chunk's results (its files renamed): every file is old or new, pixels
    intact; the next
    `write` removes every temporary file, closes the journal and writes exactly what is left."""
    lib = tmp_path / "lib"
    paths = _library(make_image, lib, 8)
    assert chunk_size(len(paths)) == 4
    originals = {p: pixels(p) for p in paths}
    db = tmp_path / "c.db"
    with Catalog(db) as cat:
        scan(cat, [lib], thumbnails=False)
        with cat.transaction():
            for p in paths:
                cat.choices.set(cat.photos.by_path(p).id, ["awe"])
    pristine = tmp_path / "pristine"
    shutil.copytree(lib, pristine / "lib", copy_function=shutil.copy2)
    shutil.copy2(db, pristine / "c.db")

    def run(n: int) -> subprocess.CompletedProcess[str]:
        shutil.rmtree(lib)
        shutil.copytree(pristine / "lib", lib, copy_function=shutil.copy2)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copy2(pristine / "c.db", db)
        return run_moodtagger(
            "write", "-q", "--catalog", str(db), env={KILL_AT_COMMIT_ENV: str(n)}, timeout=300
        )

    def check(n: int) -> None:
        new = 0
        for p in paths:  # each file whole: old or new, never damaged
            assert np.array_equal(pixels(p), originals[p]), (n, p)
            subject = exiv2_read(p)["XMP-dc:Subject"]
            assert subject in ([], ["Awe"]), (n, p, subject)
            new += subject == ["Awe"]
        healed = run_moodtagger("write", "-q", "--catalog", str(db), timeout=300)
        assert healed.returncode == 0, (n, healed.stderr)
        assert _temps(lib) == [], (n, _temps(lib))
        assert all(exiv2_read(p)["XMP-dc:Subject"] == ["Awe"] for p in paths), n
        assert _pending(db) == 0, n
        with Catalog(db) as cat:
            states = {cat.choices.get(cat.photos.by_path(p).id)[1] for p in paths}
        assert states == {"written"}, (n, states)

    commits = kill_sweep(run, check)
    assert commits >= 1 + 2 + 2  # the journal's start, 2 chunks' temp names, 2 chunks' results


def test_both_exiftools_hung_stop_a_chunked_write_and_every_file_is_listed(
    hanging_exiftool,  # noqa: F811 (the fixture imported above)
    make_image,
    tmp_path,
) -> None:
    """`moodtagger write --timeout 2` of 12 files (3 chunks) with an exiftool that hangs under
    -stay_open: both exiftools give up (in parallel, within two timeouts each), the write stops
    in one sentence, every file — those of the chunk never started too — is an error, none is
    changed, no exiftool is left behind."""
    files = _library(make_image, tmp_path / "lib", 12)
    assert chunk_size(len(files)) == 4
    t0 = time.monotonic()
    out = run_moodtagger(
        "write",
        "--catalog",
        str(tmp_path / "c.db"),
        "--timeout",
        "2",
        *map(str, files),
        "--mood",
        "awe",
        env=hanging_exiftool,
        timeout=300,
    )
    took = time.monotonic() - t0
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert "exiftool did not answer within 2 s" in out.stderr, out.stderr
    for f in files:
        assert f"error: {f}:" in out.stderr, out.stderr
        assert exiv2_read(f)["XMP-dc:Subject"] == []
    assert took < 2 * 2 * 2 + 30, f"took {took:.1f} s"
    assert _temps(tmp_path / "lib") == []
