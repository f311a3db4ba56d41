"""External tools the core relies on (exiftool), found once, with one clear error if missing.

Which exiftool (first found wins):

1. ``$MOODTAGGER_EXIFTOOL`` — the user's explicit choice;
2. the copy ``packaging/bootstrap.sh`` installed: it puts exiftool 13 (npm's
   ``exiftool-vendored.pl``) into the checkout's ``.tools/`` and links it into the venv as
   ``$VENV/bin/exiftool``. The installed program looks in its own venv (``sys.prefix``), so
   ``.venv/bin/moodtagger`` finds it whether the venv is activated or not, and whatever the
   PATH says; an editable install also looks in the checkout's ``.tools/`` directly;
3. ``exiftool`` on ``PATH`` (e.g. Debian's ``libimage-exiftool-perl``).

Some formats need a newer exiftool than the minimum: :func:`cannot_write` gives the one
sentence to show instead of exiftool's own error.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from moodtagger.core import paths
from moodtagger.core.errors import MoodtaggerError

MIN_EXIFTOOL = (12, 15)
ENV_VAR = paths.EXIFTOOL
BOOTSTRAP_COPY = Path(".tools", "node_modules", "exiftool-vendored.pl", "bin", "exiftool")
_CHECKOUT = Path(__file__).resolve().parents[2]  # the source checkout, for an editable install

# Writing a format through a new file (``-o NEW``, how the writer works) needs at least this
# exiftool: before 12.62 `-o x.webp` fails with "Can't write RIFF files" (exiftool's Changes,
# 12.62: 'Fixed "Can't write" error when specifying a .webp file for the -o option'; checked
# with 12.57 and 13.59). JPEG, PNG, TIFF, HEIC/HEIF, AVIF and XMP write with 12.15 already.
MIN_TO_WRITE: dict[str, tuple[tuple[int, int], str]] = {
    ".webp": ((12, 62), "WebP"),
}


class ToolMissing(MoodtaggerError):
    """A required external program is missing or too old (message is one sentence)."""


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _bootstrap_copies() -> list[Path]:
    out = []
    if sys.prefix != sys.base_prefix:  # inside a venv: the bootstrap links its copy into bin/
        out.append(Path(sys.prefix) / "bin" / "exiftool")
    out.append(_CHECKOUT / BOOTSTRAP_COPY)
    return out


@functools.cache
def exiftool_location() -> tuple[str, str]:
    """(path, where it was found: the variable, the bootstrap's copy or PATH)."""
    exe = paths.env(ENV_VAR)
    if exe:
        return exe, f"from {ENV_VAR}"
    for copy in _bootstrap_copies():
        if _runnable(copy):
            return str(copy), "installed by packaging/bootstrap.sh"
    exe = shutil.which("exiftool")
    if exe:
        return exe, "from PATH"
    raise ToolMissing(
        "exiftool was not found on PATH; install it (Debian/Ubuntu: "
        "apt-get install libimage-exiftool-perl) or run packaging/bootstrap.sh"
    )


@functools.cache
def exiftool_path() -> str:
    return exiftool_location()[0]


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


def describe_exiftool() -> str:
    """One line for ``moodtagger --version``: which exiftool, which version, found where."""
    try:
        exe, where = exiftool_location()
        major, minor = exiftool_version()
    except ToolMissing as exc:
        return str(exc)
    return f"exiftool {major}.{minor:02d} ({exe}, {where})"


def cannot_write(path: str, version: tuple[int, int] | None) -> str | None:
    """The sentence to show when exiftool ``version`` cannot write ``path``'s format, else None
    (also when the version is unknown: exiftool's own error then says it)."""
    need = MIN_TO_WRITE.get(os.path.splitext(path)[1].lower())
    if need is None or version is None or version >= need[0]:
        return None
    (major, minor), name = need
    return (
        f"exiftool {version[0]}.{version[1]:02d} cannot write {name} files; {name} needs "
        f"exiftool {major}.{minor:02d} or newer (packaging/bootstrap.sh installs 13, or set "
        f"{ENV_VAR})"
    )
