"""The app on a real X server (Xvfb, Qt's xcb platform), not only offscreen.

The photographer's session of ``test_window.py`` (keys, filter, write with exiftool) runs again
in a pytest subprocess whose Qt talks to Xvfb through xcb: windows are mapped, exposed and
focused by a real X server, which is where missing xcb libraries or focus bugs show up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_platform_is_the_one_asked_for(qapp):
    """Guards the subprocess below: under MOODTAGGER_EXPECT_PLATFORM=xcb, Qt really uses xcb."""
    expected = os.environ.get("MOODTAGGER_EXPECT_PLATFORM") or os.environ.get(
        "QT_QPA_PLATFORM", "offscreen"
    )
    assert qapp.platformName() == expected


def test_session_on_a_real_x_server(tmp_path):
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (packaging/bootstrap.sh test installs it)")
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as fh:
            display = fh.readline().strip()
        assert display, "Xvfb did not start"
        env = dict(
            os.environ,
            QT_QPA_PLATFORM="xcb",
            DISPLAY=f":{display}",
            MOODTAGGER_EXPECT_PLATFORM="xcb",
        )
        env.pop("WAYLAND_DISPLAY", None)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "addopts=",
                "tests/gui/test_xcb.py::test_platform_is_the_one_asked_for",
                "tests/gui/test_window.py::test_photographer_session",
                "--basetemp",
                str(tmp_path / "inner"),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        assert "2 passed" in proc.stdout
    finally:
        xvfb.terminate()
        xvfb.wait(10)
