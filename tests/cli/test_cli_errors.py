"""Issue 11 item 9 and issue 12 items 8, 9: user errors and catalog errors are one sentence with
exit status 2, never a traceback; nothing is half-written; no foot-guns with -o.

Every command runs as a real ``python -m moodtagger`` process, as a user would run it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from moodtagger.core.catalog import Catalog
from moodtagger.testing import run_moodtagger as run

ROOT = Path(__file__).resolve().parents[2]


def one_sentence(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def scanned(make_image, tmp_path: Path) -> tuple[Path, Path]:
    lib = tmp_path / "lib"
    for i in range(3):
        make_image(f"p{i}.jpg", root=lib, seed=i)
    db = tmp_path / "c.db"
    assert run("scan", "--no-predict", "-q", "--catalog", str(db), str(lib)).returncode == 0
    return lib, db


def test_read_only_commands_do_not_create_a_catalog(tmp_path: Path) -> None:
    db = tmp_path / "typo.db"
    for cmd in (["list"], ["export"], ["accept"], ["forget", str(tmp_path)], ["write"]):
        one_sentence(run(*cmd, "--catalog", str(db)), f"no catalog at {db}", "scan")
    assert not db.exists()


def test_usage_errors_are_one_sentence(scanned, tmp_path: Path) -> None:
    lib, db = scanned
    one_sentence(run("list", "--min", "1.5", "--catalog", str(db)), "outside 0..1")
    one_sentence(run("accept", "--min", "-0.1", "--catalog", str(db)), "outside 0..1")
    one_sentence(
        run("export", "--catalog", str(db), "-o", str(tmp_path / "nope" / "x.csv")),
        "does not exist",
    )
    one_sentence(run("list", "--mood", "happiness", "--catalog", str(db)), "unknown mood")
    env = {"MOODTAGGER_SHARED_DATA": str(tmp_path / "no-data")}
    one_sentence(run("eval", env=env), "training photos")
    one_sentence(run("train", "--no-eval", env=env), "training photos")
    # without the [train] extra (scikit-learn made unimportable in a real process)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['sklearn'] = None\n"
            "from moodtagger.cli import main; sys.exit(main(['eval']))",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    one_sentence(proc, "pip install 'moodtagger[train]'")


def test_export_dash_is_stdout_and_counts_are_singular(make_image, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    make_image("only.jpg", root=lib)
    db = tmp_path / "c.db"
    proc = run("scan", "--no-predict", "--catalog", str(db), str(lib))
    assert proc.stdout.startswith(
        "1 new, 0 changed, 0 unchanged, 0 moved, 0 found again, 0 missing, 0 errors"
    )
    proc = run("scan", "--no-predict", "--catalog", str(db), str(lib))
    assert proc.stdout.startswith("nothing changed (1 photo unchanged)")
    proc = run("export", "--catalog", str(db), "-o", "-")
    assert proc.returncode == 0 and proc.stdout.startswith("path,mood,probability,")
    assert not (ROOT / "-").exists()
    out = tmp_path / "x.csv"
    proc = run("export", "--catalog", str(db), "-o", str(out))
    assert proc.stderr.strip() == f"wrote 1 row to {out}"


def test_export_and_predict_refuse_to_overwrite_a_catalog_or_an_image(
    scanned, tmp_path: Path
) -> None:
    lib, db = scanned
    catalog_bytes = db.read_bytes()
    one_sentence(run("export", "--catalog", str(db), "-o", str(db)), "is the catalog")
    assert db.read_bytes() == catalog_bytes
    other = tmp_path / "other.sqlite3"
    shutil.copy(db, other)
    one_sentence(run("export", "--catalog", str(db), "-o", str(other)), "refusing", "--force")
    photo = lib / "p0.jpg"
    before = photo.read_bytes()
    one_sentence(run("predict", str(lib), "-o", str(photo)), "is an image", "--force")
    one_sentence(run("export", "--catalog", str(db), "-o", str(photo)), "is an image")
    assert photo.read_bytes() == before
    # --force says: yes, replace it
    assert run("export", "--catalog", str(db), "-o", str(other), "--force").returncode == 0
    assert other.read_text().startswith("path,mood")


def test_a_damaged_catalog_is_one_sentence(scanned) -> None:
    lib, db = scanned
    with Catalog(db) as cat:  # enough rows for several pages, then damage the middle
        cat.conn.executemany(
            "INSERT INTO roots(path, added_at) VALUES (?, 0)",
            [(os.urandom(200),) for _ in range(300)],
        )
    data = bytearray(db.read_bytes())
    for off in range(4096 * 2, len(data) - 4096, 4096):
        data[off : off + 64] = b"\xa5" * 64
    db.write_bytes(bytes(data))
    for cmd in (["list"], ["export"], ["scan", "--no-predict", str(lib)]):
        one_sentence(run(*cmd, "--catalog", str(db)), "damaged", "move it away")
    db.write_bytes(b"not a database at all" * 100)
    one_sentence(run("list", "--catalog", str(db)), "damaged")


def test_a_read_only_catalog_reads_and_refuses_writes_in_one_sentence(
    scanned, tmp_path: Path
) -> None:
    """Also bound by permissions (root without DAC override), where SQLite cannot write it."""
    lib, db = scanned
    shared = tmp_path / "ro"
    shared.mkdir()
    try:
        ro = shared / "c.db"
        shutil.copy(db, ro)
        ro.chmod(0o444)
        for user in (False, True):
            proc = run("list", "--json", "--catalog", str(ro), as_user=user)
            assert proc.returncode == 0, proc.stderr
            assert len(__import__("json").loads(proc.stdout)) == 3
            assert sorted(p.name for p in shared.iterdir()) == ["c.db"]  # no 444 -wal/-shm left
            one_sentence(
                run("scan", "--no-predict", "--catalog", str(ro), str(lib), as_user=user),
                "read-only",
            )
            one_sentence(run("forget", "--catalog", str(ro), str(lib), as_user=user), "read-only")
            assert sorted(p.name for p in shared.iterdir()) == ["c.db"]
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_a_full_disk_mid_scan_is_one_sentence_and_nothing_half_written(
    imagenet_sample: Path, tmp_path: Path
) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.fail("this test needs to mount a small tmpfs (run as root, as CI does)")
    try:
        db = mnt / "c.db"
        proc = run(
            "scan", "--no-predict", "-q", "--catalog", str(db), str(imagenet_sample), timeout=600
        )
        one_sentence(proc, "disk holding the catalog", "is full")
        assert not any(p.name.endswith(".lock") and p.stat().st_size for p in mnt.iterdir())
        # what is there is whole: the catalog opens, passes integrity_check, and every stored
        # photo row is complete
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n, incomplete = conn.execute(
            "SELECT COUNT(*), SUM(identity IS NULL OR width IS NULL) FROM photos"
        ).fetchone()
        assert n < 1000 and not incomplete
        conn.close()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("user_version", [0, 3])
def test_a_foreign_sqlite_file_is_refused_and_left_alone(make_image, tmp_path, user_version):
    """Issue 23.6: --catalog pointing at another program's SQLite database: one sentence, and
    the file stays byte-identical (no tables added, no WAL switch) — for every command."""
    lib = tmp_path / "lib"
    photo = make_image("p.jpg", root=lib)
    db = tmp_path / "notes.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT)")
    conn.execute("INSERT INTO notes(text) VALUES ('do not touch')")
    conn.execute(f"PRAGMA user_version={user_version}")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    for cmd in (
        ["scan", "--no-predict", str(lib)],
        ["list"],
        ["export"],
        ["accept"],
        ["forget", str(photo)],
        ["write"],
        ["write", str(photo), "--mood", "awe"],
    ):
        one_sentence(run(*cmd, "--catalog", str(db)), "not a moodtagger catalog", str(db))
        assert db.read_bytes() == before, cmd
