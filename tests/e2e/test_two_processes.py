"""Issue 12 item 7: two processes, one catalog. Real second processes, real exiftool, real SQLite.

No fixed sleeps: each test waits for the moment it needs (a temporary file in flight, a lock
held, the waiting message) by a handshake with the other process or by polling a condition
with a deadline, so a slow machine makes a test slower, not wrong."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata import read_moods

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "moodtagger", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_until(condition, proc: subprocess.Popen[str], what: str, timeout: float = 120) -> None:
    """Poll ``condition`` until it holds; fail when ``proc`` ends first or after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the process ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.001)


def read_until(stream, text: str) -> list[str]:
    """The lines of ``stream`` up to and including the first that contains ``text`` (all of
    them if it never comes: the stream ended)."""
    lines = []
    for line in iter(stream.readline, ""):
        lines.append(line)
        if text in line:
            break
    return lines


def test_two_scans_at_once_on_a_new_catalog(make_image, tmp_path: Path) -> None:
    """Was: IntegrityError / 'table roots already exists' in one of them."""
    lib = tmp_path / "lib"
    for i in range(120):
        make_image(f"d{i % 4}/p{i}.jpg", root=lib, seed=i, size=(96, 64))
    for attempt in range(3):
        db = tmp_path / f"c{attempt}.db"
        procs = [
            start("scan", "--no-predict", "-q", "--catalog", str(db), str(lib)) for _ in range(2)
        ]
        results = [finish(p) for p in procs]
        for rc, _out, err in results:
            assert rc == 0 and "Traceback" not in err, err
        with Catalog(db) as cat:
            assert cat.photos.count("ok") == 120
            assert len(cat.photos.roots()) == 1


def test_two_writes_at_once_never_delete_each_others_temp_files(make_image, tmp_path: Path) -> None:
    """Was: the second batch's recover() deleted the first's in-flight temp files
    (28 of 100 failed with [Errno 2])."""
    lib = tmp_path / "lib"
    for i in range(40):
        make_image(f"a/p{i}.jpg", root=lib, seed=i, size=(320, 240))
        make_image(f"b/p{i}.jpg", root=lib, seed=100 + i, size=(320, 240))
    db = tmp_path / "c.db"
    assert finish(start("scan", "--no-predict", "-q", "--catalog", str(db), str(lib)))[0] == 0
    first = start("write", "--catalog", str(db), "--mood", "awe", "--", str(lib / "a"))
    a = lib / "a"
    wait_until(  # the first batch is under way: one of its temporary files is in flight
        lambda: any(n.startswith(".") for n in os.listdir(a)), first, "temporary file in a/"
    )
    second = start("write", "--catalog", str(db), "--mood", "fear", "--", str(lib / "b"))
    (rc1, _o1, err1), (rc2, _o2, err2) = finish(first), finish(second)
    assert (rc1, rc2) == (0, 0), (err1, err2)
    assert (
        "written 40, unchanged 0, failed 0" in err1 and "written 40, unchanged 0, failed 0" in err2
    )
    moods = read_moods(sorted(lib.rglob("*.jpg")))
    assert [m.moods for m in moods] == [["awe"]] * 40 + [["fear"]] * 40
    leftovers = [p for p in lib.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert leftovers == []


def test_the_second_writer_waits_and_says_so(make_image, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    make_image("p.jpg", root=lib)
    db = tmp_path / "c.db"
    assert finish(start("scan", "--no-predict", "-q", "--catalog", str(db), str(lib)))[0] == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from moodtagger.core.catalog import Catalog\n"
            f"c = Catalog({str(db)!r})\n"
            "with c.writer_lock():\n print('held', flush=True); sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert holder.stdout.readline().strip() == "held"
    scan = start("scan", "--no-predict", "--catalog", str(db), str(lib))
    said = read_until(scan.stderr, "waiting for another moodtagger")
    assert "waiting for another moodtagger" in said[-1], said
    assert scan.poll() is None  # it waits as long as the lock is held ...
    holder.stdin.write("release\n")
    holder.stdin.flush()
    rc, _out, err = finish(scan)  # ... and goes on once it is released
    assert holder.wait(30) == 0
    assert rc == 0, "".join(said) + err


def test_another_process_recovering_during_a_batch_leaves_it_alone(
    make_image, tmp_path: Path
) -> None:
    """A second process runs recover() at the moment the first batch has a temp file in flight
    (as `write` or the GUI does at the start of its own batch)."""
    lib = tmp_path / "lib"
    for i in range(20):
        make_image(f"p{i}.jpg", root=lib, seed=i, size=(2000, 1500))
    db = tmp_path / "c.db"
    assert finish(start("scan", "--no-predict", "-q", "--catalog", str(db), str(lib)))[0] == 0
    recoverer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time; from moodtagger.core.catalog import Catalog\n"
            "from moodtagger.core.metadata.journal import recover\n"
            f"c = Catalog({str(db)!r}); lib = {str(lib)!r}\n"
            "print('watching', flush=True); t = time.monotonic()\n"
            "while time.monotonic() - t < 60:\n"
            "    if any(n.startswith('.') for n in os.listdir(lib)):\n"
            "        print('temp seen', flush=True); recover(c); print('recovered', flush=True); break\n"
            "    time.sleep(0.001)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert recoverer.stdout.readline().strip() == "watching"
    first = start("write", "--catalog", str(db), "--mood", "awe", "--", str(lib))
    rc, _out, err = finish(first)
    out, _ = recoverer.communicate(timeout=60)
    assert out.split() == ["temp", "seen", "recovered"]
    assert rc == 0 and "written 20, unchanged 0, failed 0" in err, err
    assert [p for p in lib.iterdir() if p.name.startswith(".")] == []  # no temp copies left
