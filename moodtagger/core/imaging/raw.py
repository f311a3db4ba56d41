"""RAW: the largest embedded JPEG preview, read by exiftool. Read-only; RAW files are never modified."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moodtagger.core.imaging.files import ImageError, exif_datetime

if TYPE_CHECKING:
    from moodtagger.core.metadata.exiftool import ExifToolService

_PREVIEW_TAGS = ("JpgFromRaw", "PreviewImage", "OtherImage", "ThumbnailImage")


@dataclass(frozen=True)
class RawPreview:
    jpeg: bytes  # the largest embedded JPEG
    orientation: int  # the RAW's EXIF orientation (previews usually carry none)
    size: tuple[int, int] | None  # the RAW's image size, when exiftool knows it
    taken_at: str | None = None  # the RAW's DateTimeOriginal (ISO 8601)


def raw_preview(path: str, exiftool: ExifToolService | None) -> RawPreview:
    """The largest embedded JPEG preview of a RAW file: one read-only request to ``exiftool``,
    the caller's long-lived exiftool (the :class:`~moodtagger.core.library.Library` owns one),
    not a new exiftool process per file (starting Perl costs more than reading the preview).
    Without a service (a one-off read) the request runs in an exiftool process of its own."""
    import base64

    from moodtagger.core.metadata.exiftool import ExifToolError, UnsafeArgument
    from moodtagger.core.tools import ToolMissing

    # an absolute path never looks like an option ("--" would end -stay_open's -execute too)
    args = (
        "-b",
        "-m",
        *(f"-{t}" for t in _PREVIEW_TAGS),
        "-Orientation#",
        "-ImageSize#",
        "-DateTimeOriginal",
        os.path.abspath(path),
    )
    try:
        if exiftool is None:
            meta = _raw_preview_process(args)
        else:
            records, _reply = exiftool.execute_json(*args, timeout=120)
            meta = records[0] if records else {}
    except ToolMissing as exc:
        raise ImageError(f"cannot read RAW previews: {exc}") from None
    except UnsafeArgument:  # a line break in the name cannot go through -stay_open's arguments
        meta = _raw_preview_process(args)
    except ExifToolError as exc:
        raise ImageError(f"exiftool could not read this RAW file: {exc}") from None
    best = b""
    for tag in _PREVIEW_TAGS:
        value = meta.get(tag)
        if isinstance(value, str) and value.startswith("base64:"):
            data = base64.b64decode(value[7:])
            if data[:2] == b"\xff\xd8" and len(data) > len(best):
                best = data
    if not best:
        raise ImageError("RAW file has no embedded JPEG preview that can be decoded")
    try:
        orientation = int(meta.get("Orientation", 1))
    except (TypeError, ValueError):
        orientation = 1
    size = None
    dims = str(meta.get("ImageSize", "")).replace("x", " ").split()
    if len(dims) == 2 and all(d.isdigit() for d in dims):
        size = (int(dims[0]), int(dims[1]))
    return RawPreview(best, orientation, size, exif_datetime(meta.get("DateTimeOriginal")))


def _raw_preview_process(args: tuple[str, ...]) -> dict:
    """:func:`raw_preview`'s request in a process of its own (for names with control characters)."""
    import subprocess

    from moodtagger.core.metadata.exiftool import ExifToolError, parse_json
    from moodtagger.core.tools import exiftool_path

    try:
        out = subprocess.run(
            [exiftool_path(), "-json", "-api", "StructFormat=JSONQ", *args],
            capture_output=True,
            timeout=120,
            check=False,
        ).stdout
        return (parse_json(out.decode("utf-8", "surrogateescape")) or [{}])[0]
    except subprocess.TimeoutExpired:
        raise ImageError("exiftool took too long to read the RAW preview") from None
    except (ExifToolError, ValueError, IndexError):
        raise ImageError("exiftool could not read this RAW file") from None
