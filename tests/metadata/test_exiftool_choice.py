"""Issue 23 item 7: the exiftool the README installs is the one used, an old one says what it
cannot write, and a hung one gives up.

Real exiftools only: the one the tests run with (13.x where packaging/bootstrap.sh installed it),
Debian's older one (``libimage-exiftool-perl``, which ``packaging/bootstrap.sh test`` installs),
and a real exiftool behind ``exiftool_wrapper.py`` that hangs when started with ``-stay_open``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodtagger.cli import main
from moodtagger.core import tools
from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata import ExifToolError, ExifToolService

from .conftest import exiv2_read, pixels

WRAPPER = str(Path(__file__).with_name("exiftool_wrapper.py"))
ROOT = Path(__file__).resolve().parents[2]


def _version(exe: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([exe, "-ver"], capture_output=True, text=True, timeout=30)
        major, minor = out.stdout.strip().split(".")[:2]
        return int(major), int(minor)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _forget_exiftool() -> None:
    """The exiftool path and version are found once per process: forget them so the next use
    looks again."""
    tools.exiftool_path.cache_clear()
    tools.exiftool_version.cache_clear()
    if hasattr(tools, "exiftool_location"):
        tools.exiftool_location.cache_clear()


def _old_exiftools() -> list[str]:
    """Every exiftool older than 13 on this machine (Debian's is /usr/bin/exiftool)."""
    seen = ["/usr/bin/exiftool", "/usr/local/bin/exiftool"]
    seen += [os.path.join(d, "exiftool") for d in os.environ.get("PATH", "").split(os.pathsep)]
    found: list[str] = []
    for exe in dict.fromkeys(seen):
        if os.path.isfile(exe) and os.path.realpath(exe) not in map(os.path.realpath, found):
            v = _version(exe)
            if v is not None and tools.MIN_EXIFTOOL <= v < (13, 0):
                found.append(exe)
    return found


@pytest.fixture
def old_exiftool(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """MOODTAGGER_EXIFTOOL pointing at an exiftool older than 13 (Debian 12's 12.57)."""
    found = _old_exiftools()
    if not found:
        pytest.skip(
            "no exiftool older than 13 on this machine (packaging/bootstrap.sh test installs "
            "Debian's libimage-exiftool-perl for these tests)"
        )
    monkeypatch.setenv("MOODTAGGER_EXIFTOOL", found[0])
    _forget_exiftool()
    try:
        yield found[0]
    finally:
        monkeypatch.undo()
        _forget_exiftool()


# -- (a)+(b): which exiftool, and --version says so ------------------------------------------


def _throwaway_venv(where: Path) -> Path:
    """A real venv whose Python sees this checkout and the test run's packages (no pip)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site = subprocess.run(
        [
            str(where / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "outer.pth").write_text(
        f"{ROOT}\n{sysconfig.get_paths()['purelib']}\n{sysconfig.get_paths()['platlib']}\n"
    )
    return where


def test_the_venvs_exiftool_wins_over_an_older_one_on_path(tmp_path: Path) -> None:
    """7a/7b: packaging/bootstrap.sh links its exiftool 13 into the venv; the venv's moodtagger
    run by path, with Debian's exiftool first on PATH, uses the venv's and --version says so."""
    mine = tools.exiftool_path()  # the one these tests run with (bootstrap's 13.x in CI)
    venv = _throwaway_venv(tmp_path / "venv")
    (venv / "bin" / "exiftool").symlink_to(os.path.realpath(mine))
    env = {k: v for k, v in os.environ.items() if k not in ("MOODTAGGER_EXIFTOOL", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"  # Debian's exiftool (if any) comes first here
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "moodtagger", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    major, minor = _version(mine) or (0, 0)
    assert out.stdout.splitlines()[0].startswith("moodtagger ")
    assert f"exiftool {major}.{minor:02d} " in out.stdout, out.stdout
    assert str(venv / "bin" / "exiftool") in out.stdout, out.stdout


def test_moodtagger_exiftool_comes_first_and_version_names_it(
    old_exiftool: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """7a/7b: $MOODTAGGER_EXIFTOOL beats everything; --version prints its path and version."""
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    major, minor = _version(old_exiftool) or (0, 0)
    assert f"exiftool {major}.{minor:02d} ({old_exiftool}" in out, out
    assert "MOODTAGGER_EXIFTOOL" in out


# -- (c)+(e): an old exiftool writes what it can, and says what it cannot ---------------------


@pytest.mark.parametrize("name", ["a.jpg", "b.png", "c.tif"])
def test_old_exiftool_writes_verifies_and_clears(
    name: str, old_exiftool: str, make_image, tmp_path: Path, capsys
) -> None:
    """7e: with exiftool 12.x (no ImageDataHash: the decoded pixels prove the image is intact)
    write, the read-back check and --clear work on JPEG/PNG/TIFF."""
    path = make_image(f"lib/{name}", size=(96, 64))
    before = pixels(path)
    cat = str(tmp_path / "c.db")
    assert main(["write", "--catalog", cat, str(path), "--mood", "awe"]) == 0, capsys.readouterr()
    assert "Awe" in exiv2_read(path)["XMP-dc:Subject"]
    assert (pixels(path) == before).all()
    assert main(["write", "--catalog", cat, str(path), "--clear"]) == 0, capsys.readouterr()
    assert "Awe" not in exiv2_read(path)["XMP-dc:Subject"]
    assert (pixels(path) == before).all()


def test_old_exiftool_says_in_one_sentence_that_it_cannot_write_webp(
    old_exiftool: str, make_image, tmp_path: Path, capsys
) -> None:
    """7c: exiftool before 12.62 cannot write WebP through a new file ("Can't write RIFF files"):
    a per-file error naming the exiftool and the version that can; the other files are written."""
    webp = make_image("lib/w.webp", size=(96, 64))
    jpg = make_image("lib/j.jpg", size=(96, 64), seed=2)
    data = webp.read_bytes()
    code = main(
        ["write", "--catalog", str(tmp_path / "c.db"), str(webp), str(jpg), "--mood", "awe"]
    )
    err = capsys.readouterr().err
    assert code == 1
    line = next(ln for ln in err.splitlines() if ln.startswith(f"error: {webp}"))
    assert "RIFF" not in line and "WebP" in line and "12.62" in line, line
    assert line.count(". ") == 0, line  # one sentence
    assert webp.read_bytes() == data
    assert "Awe" in exiv2_read(jpg)["XMP-dc:Subject"]
    assert "written 1" in err


# -- (d): a hung exiftool gives up -------------------------------------------------------------


def _wrapper_processes() -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [ln for ln in ps.splitlines() if WRAPPER in ln]


@pytest.fixture
def hanging_exiftool(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Environment for a subprocess whose exiftool answers -ver but hangs under -stay_open."""
    env = dict(
        os.environ,
        WRAP_REAL=tools.exiftool_path(),
        WRAP_MODE="hang-stay-open",
        MOODTAGGER_EXIFTOOL=WRAPPER,
        PYTHONPATH=str(ROOT),
    )
    yield env
    leftover = _wrapper_processes()
    for ln in leftover:  # do not let one failed test hang the machine
        try:
            os.kill(int(ln.split()[0]), 9)
        except (OSError, ValueError):
            pass
    assert not leftover, f"exiftool processes left behind: {leftover}"


def test_service_gives_up_after_a_restart_that_also_hangs(hanging_exiftool, monkeypatch) -> None:
    """7d: a timeout restarts exiftool once; when the restarted one hangs too the service stops
    trying (every later request fails at once with the one sentence) and no process is left."""
    for key in ("WRAP_REAL", "WRAP_MODE"):
        monkeypatch.setenv(key, hanging_exiftool[key])
    with ExifToolService(WRAPPER, timeout=1) as svc:
        t0 = time.monotonic()
        with pytest.raises(ExifToolError):
            svc.execute("-ver")
        with pytest.raises(ExifToolError, match=r"^exiftool did not answer within 1 s$"):
            svc.execute("-ver")
        assert time.monotonic() - t0 < 10
        t1 = time.monotonic()
        with pytest.raises(ExifToolError, match=r"^exiftool did not answer within 1 s$"):
            svc.execute("-ver")
        assert time.monotonic() - t1 < 0.5  # no third start
    assert not _wrapper_processes()


def test_write_with_a_hung_exiftool_stops_the_batch(
    hanging_exiftool, make_image, tmp_path: Path
) -> None:
    """7d: `moodtagger write --timeout 2` on 3 files with an exiftool that hangs under -stay_open
    ends within two timeouts (plus start-up), says so in one sentence, names every file, exits
    non-zero, leaves no exiftool behind, and the choices are written by the next run."""
    files = [make_image(f"lib/{n}.jpg", size=(64, 48), seed=i) for i, n in enumerate("abc")]
    cat = tmp_path / "c.db"
    cmd = [sys.executable, "-m", "moodtagger", "write", "--catalog", str(cat)]
    t0 = time.monotonic()
    out = subprocess.run(
        [*cmd, "--timeout", "2", *map(str, files), "--mood", "awe"],
        capture_output=True,
        text=True,
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
    assert took < 2 * 2 + 20, f"took {took:.1f} s"
    assert not _wrapper_processes()
    # the choices are still to be written: a later `write` with a working exiftool writes them
    with Catalog(cat) as c:
        states = [c.choices.get(p.id)[1] for p in c.photos.all()]  # type: ignore[index]
    assert len(states) == 3 and "written" not in states
    env = {
        k: v
        for k, v in hanging_exiftool.items()
        if not k.startswith(("WRAP_", "MOODTAGGER_EXIFTOOL"))
    }
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert all(exiv2_read(f)["XMP-dc:Subject"] == ["Awe"] for f in files)


def test_write_settings_timeout_reaches_the_exiftool_the_write_runs_on(
    make_image, tmp_path: Path
) -> None:
    """7d: WriteSettings.timeout is the timeout of the exiftool the write runs on: a writer's
    own exiftool, or the Library's (issue 25: the Library owns it, no process-wide one)."""
    from moodtagger.core.catalog import Catalog
    from moodtagger.core.library import Library
    from moodtagger.core.metadata import WriteItem, WriteSettings
    from moodtagger.core.metadata.writer import Writer

    with Writer(WriteSettings(timeout=7.5)) as writer:
        assert writer.service.timeout == 7.5
        res = writer.write([WriteItem(str(make_image("t.jpg")), ["contentment"])])
        assert res.written == 1, [r.error for r in res.results]
        own = writer.service
    with pytest.raises(ExifToolError, match="closed"):  # closed with its writer
        own.execute("-ver")
    with Catalog(tmp_path / "c.db") as cat, Library(cat) as lib:
        service = lib.writing_exiftool(WriteSettings(timeout=7.5))
        assert service is lib.exiftool and service.timeout == 7.5
    with pytest.raises(ExifToolError, match="closed"):  # closed with its Library
        service.execute("-ver")


def test_no_exiftool_at_all_is_one_sentence(monkeypatch, capsys, tmp_path: Path) -> None:
    """7b: --version still answers (moodtagger's version) and says exiftool is missing."""
    monkeypatch.delenv("MOODTAGGER_EXIFTOOL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(tools, "_CHECKOUT", tmp_path, raising=False)
    _forget_exiftool()
    try:
        with pytest.raises(SystemExit) as done:
            main(["--version"])
    finally:
        monkeypatch.undo()
        _forget_exiftool()
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("moodtagger ") and "exiftool was not found" in out


def test_pyexiftool_is_used_as_shipped_not_patched() -> None:
    """Issue 25: no private pyexiftool function is replaced at import (our subclass reads the
    pipes itself), so pyexiftool is not pinned below its next release for our sake."""
    import exiftool.exiftool as impl

    import moodtagger.core.metadata.exiftool  # noqa: F401

    assert impl._read_fd_endswith.__module__ == "exiftool.exiftool"


def test_a_request_timing_out_while_its_exiftool_starts_is_not_left_hanging(
    hanging_exiftool, monkeypatch
) -> None:
    """On a busy machine exiftool's start can outlast the timeout: the watchdog then found no
    process to kill, waited 30 s for the request, and left it hanging (a `write --timeout 2`
    took 64 s instead of 6, 3 runs in 8 under load). The exiftool is killed once it exists."""
    for key in ("WRAP_REAL", "WRAP_MODE"):
        monkeypatch.setenv(key, hanging_exiftool[key])

    class SlowStart(ExifToolService):
        def _start(self):
            time.sleep(1.5)  # past the 1 s timeout, before any process id is known
            return super()._start()

    with SlowStart(WRAPPER, timeout=1) as svc:
        t0 = time.monotonic()
        with pytest.raises(ExifToolError):
            svc.execute("-ver")
        took = time.monotonic() - t0
    assert took < 10, f"took {took:.1f} s"
