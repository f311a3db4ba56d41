"""The README's first command on a machine without a display: help plus a working CLI demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_app_command_without_display_runs_the_cli_demo(imagenet_sample) -> None:
    venv = Path(sys.prefix)
    if not (venv / ".moodtagger-stamp").is_file():
        pytest.skip(
            "not running inside the bootstrap's venv (packaging/bootstrap.sh test makes it)"
        )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["MOODTAGGER_VENV"] = str(venv)
    out = subprocess.run(
        ["bash", str(ROOT / "packaging" / "bootstrap.sh"), "app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "no display found" in out.stderr
    assert "usage: moodtagger" in out.stdout
    rows = [
        ln for ln in out.stdout.splitlines() if ln.count(",") == 15 and ".JPEG," in ln
    ]  # 16 CSV columns (the contract's 15, then model)
    assert len(rows) == 12, out.stdout[-2000:]


def test_the_venvs_moodtagger_uses_the_exiftool_the_bootstrap_installed() -> None:
    """Issue 23.7: after the bootstrap, `.venv/bin/moodtagger` run by path with Debian's older
    exiftool first on PATH still uses the exiftool 13 the bootstrap put into .tools/."""
    venv = Path(sys.prefix)
    if not (venv / ".moodtagger-stamp").is_file():
        pytest.skip(
            "not running inside the bootstrap's venv (packaging/bootstrap.sh test makes it)"
        )
    vendored = ROOT / ".tools" / "node_modules" / "exiftool-vendored.pl" / "bin" / "exiftool"
    if not vendored.is_file():
        pytest.skip("the bootstrap used an exiftool 13 from PATH (no copy in .tools/)")
    env = {k: v for k, v in os.environ.items() if k != "MOODTAGGER_EXIFTOOL"}
    env["PATH"] = "/usr/bin:/bin"
    out = subprocess.run(
        [str(venv / "bin" / "moodtagger"), "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert f"({venv / 'bin' / 'exiftool'}, installed by packaging/bootstrap.sh)" in out.stdout
    assert "exiftool 13." in out.stdout or "exiftool 14." in out.stdout, out.stdout
