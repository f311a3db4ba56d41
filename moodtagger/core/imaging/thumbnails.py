"""The thumbnail cache, by content identity (a renamed/moved photo keeps its thumbnail), written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from moodtagger.core import paths
from moodtagger.core.imaging.decoding import open_image
from moodtagger.core.imaging.files import THUMB_SIZE
from moodtagger.core.imaging.preprocess import thumbnail

if TYPE_CHECKING:
    from moodtagger.core.metadata.exiftool import ExifToolService


def cache_dir() -> Path:
    return paths.cache_dir()


def thumb_path(identity: str, long_side: int = THUMB_SIZE) -> Path:
    """The cached thumbnail's file; sizes above THUMB_SIZE get their own file (``ID-640.jpg``)."""
    suffix = f"-{long_side}" if long_side > THUMB_SIZE else ""
    return cache_dir() / "thumbs" / identity[:2] / f"{identity}{suffix}.jpg"


_MADE_DIRS: set[Path] = set()


def save_thumbnail(identity: str, thumb: Image.Image, long_side: int = THUMB_SIZE) -> Path:
    dest = thumb_path(identity, long_side)
    if dest.parent not in _MADE_DIRS:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _MADE_DIRS.add(dest.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".tmp")
    except FileNotFoundError:  # the cache was deleted while we run
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            thumb.save(fh, "JPEG", quality=88)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return dest


def cached_thumbnail(
    path: str | os.PathLike[str],
    identity: str | None,
    long_side: int = THUMB_SIZE,
    *,
    exiftool: ExifToolService | None = None,
) -> Image.Image:
    """The cached thumbnail for ``identity``, decoding ``path`` (and caching) on a miss.

    The standard (THUMB_SIZE) file serves requests up to its size, and any request when the
    photo itself is smaller; a larger request is decoded at that size and cached in its own
    file, so it is never an enlarged small thumbnail. ``exiftool`` reads RAW previews.
    """
    if identity:
        for made_for in dict.fromkeys((max(long_side, THUMB_SIZE), THUMB_SIZE)):
            try:
                with Image.open(thumb_path(identity, made_for)) as im:
                    im.load()
                    side = max(im.size)
                    # big enough, or the whole photo (a file made for S holds min(photo, S))
                    if side >= long_side or side < made_for:
                        return im.convert("RGB")
            except (OSError, ValueError):
                pass
    info = open_image(path, min_side=long_side, exiftool=exiftool)
    thumb = thumbnail(info.image, long_side)
    if identity:
        try:
            save_thumbnail(
                identity, thumb, long_side if max(thumb.size) > THUMB_SIZE else THUMB_SIZE
            )
        except OSError:
            pass  # a read-only cache only costs speed
    return thumb
