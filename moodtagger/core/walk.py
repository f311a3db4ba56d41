"""Finding photos on disk: the folder walk (no loops, hidden and system folders skipped, folders
that cannot be listed reported), the XMP sidecars' signature, and the rule for "this file looks
as scanned" (size, mtime, ctime). No decoding and no catalog here: :mod:`moodtagger.core.scanner`
builds the incremental scan on top."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator

from moodtagger.core import imaging

SKIP_DIRS = {
    b"@eaDir",  # Synology thumbnails
    b"$RECYCLE.BIN",
    b"System Volume Information",
    b"lost+found",
    b"#recycle",
    b"__MACOSX",
    b"node_modules",
}


def walk(
    root: bytes,
    *,
    on_error: Callable[[bytes, str], None] | None = None,
    sidecars: dict[bytes, os.stat_result] | None = None,
) -> Iterator[tuple[bytes, os.stat_result]]:
    """Yield ``(path, stat)`` for every regular image file under ``root``.

    Follows directory symlinks but never visits a directory twice (no loops); skips hidden
    and system folders. ``on_error`` receives folders that cannot be listed or searched (a
    folder readable but not searchable lists its names but cannot stat them: that is the
    folder's error, not a folder full of vanished photos). ``sidecars`` collects the stat of
    every ``*.xmp`` file seen, by lower-cased path.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as exc:
            if on_error:
                on_error(folder, _os_error(exc))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            if on_error:
                on_error(folder, f"cannot list folder: {_os_error(exc)}")
            continue
        subdirs = []
        denied = False
        for entry in entries:
            name = entry.name
            if name.startswith(b"."):
                continue
            try:
                if entry.is_dir():
                    if name not in SKIP_DIRS:
                        subdirs.append(entry.path)
                    continue
                if sidecars is not None and name.lower().endswith(b".xmp"):
                    sidecars[entry.path.lower()] = entry.stat()
                    continue
                if not imaging.is_image_path(name):
                    continue
                est = entry.stat()
            except PermissionError:
                denied = True  # listable but not searchable: cannot stat what it holds
                continue
            except OSError:
                continue  # vanished between listing and stat: it is simply not there
            if stat.S_ISREG(est.st_mode):
                yield entry.path, est
        if denied and on_error:
            on_error(folder, "cannot open files in this folder: permission denied")
        stack.extend(sorted(subdirs, reverse=True))


def _os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


def sidecar_signature(path: bytes, sidecars: dict[bytes, os.stat_result] | None) -> str | None:
    """Size and date of the photo's XMP sidecars (``photo.xmp``, ``photo.ext.xmp``), or None."""
    low = path.lower()
    stem = os.path.splitext(low)[0]
    parts = []
    for cand in (stem + b".xmp", low + b".xmp"):
        if sidecars is not None:
            st = sidecars.get(cand)
        else:
            st = None
            for real in (
                os.path.splitext(path)[0] + b".xmp",
                path + b".xmp",
                os.path.splitext(path)[0] + b".XMP",
                path + b".XMP",
            ):
                if real.lower() == cand:
                    try:
                        st = os.stat(real)
                        break
                    except OSError:
                        continue
        if st is not None:
            parts.append(
                f"{os.path.basename(cand).decode('utf-8', 'replace')}:{st.st_size}:{st.st_mtime_ns}"
            )
    return ";".join(sorted(set(parts))) or None


def same_file_state(
    size: int | None, mtime_ns: int | None, ctime_ns: int | None, st: os.stat_result
) -> bool:
    """The file looks as scanned: same size and mtime, and same ctime where the catalog knows
    it (a ``cp -p`` of another photo of the same size keeps size and mtime, not the ctime)."""
    return (
        size == st.st_size
        and mtime_ns == st.st_mtime_ns
        and (ctime_ns is None or ctime_ns == st.st_ctime_ns)
    )
