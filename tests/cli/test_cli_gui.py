"""`moodtagger gui` where the desktop app cannot open: one sentence and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from moodtagger.testing import CHECKOUT


def _unreachable_display() -> str:
    """``:99`` (or the next number) where no X server listens."""
    n = 99
    while Path(f"/tmp/.X11-unix/X{n}").exists():
        n += 1
    return f":{n}"


def test_gui_with_an_unreachable_display_says_so_in_one_sentence(tmp_path: Path) -> None:
    """Issue 26.6: DISPLAY set, no X server there, QT_QPA_PLATFORM unset: Qt aborted with rc 134
    and a misleading "xcb-cursor0 is needed"."""
    display = _unreachable_display()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env.update(DISPLAY=display, PYTHONPATH=str(CHECKOUT), MOODTAGGER_CATALOG=str(tmp_path / "c.db"))
    out = subprocess.run(
        [sys.executable, "-m", "moodtagger", "gui", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"cannot reach the display {display}" in lines[0]
    assert "xcb-cursor" not in out.stderr
    assert not (tmp_path / "c.db").exists()  # nothing was opened
