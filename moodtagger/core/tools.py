"""External tools the core relies on (exiftool), found once, with one clear error if missing."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

MIN_EXIFTOOL = (12, 15)


class ToolMissing(Exception):
    """A required external program is missing or too old (message is one sentence)."""


@functools.cache
def exiftool_path() -> str:
    exe = os.environ.get("MOODTAGGER_EXIFTOOL") or shutil.which("exiftool")
    if not exe:
        raise ToolMissing(
            "exiftool was not found on PATH; install it (Debian/Ubuntu: "
            "apt-get install libimage-exiftool-perl) or run packaging/bootstrap.sh"
        )
    return exe


@functools.cache
def exiftool_version() -> tuple[int, int]:
    exe = exiftool_path()
    try:
        out = subprocess.run([exe, "-ver"], capture_output=True, text=True, timeout=30, check=True)
        major, minor = out.stdout.strip().split(".")[:2]
        version = (int(major), int(minor))
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise ToolMissing(f"exiftool at {exe} does not run ({exc})") from None
    if version < MIN_EXIFTOOL:
        raise ToolMissing(
            f"exiftool {version[0]}.{version[1]:02d} is too old; moodtagger needs "
            f"{MIN_EXIFTOOL[0]}.{MIN_EXIFTOOL[1]} or newer"
        )
    return version
