"""Decoding: one fast path from a file to RGB with orientation applied, and the one decode that
gives the grid thumbnail and the model input together.

* JPEG: ``Image.draft`` lets libjpeg decode at 1/2, 1/4 or 1/8 scale (DCT scaling), so a
  4000x3000 camera JPEG costs a fraction of a full decode when we only need 256 px.
* HEIC/HEIF through pillow-heif; RAW through the embedded JPEG preview (:mod:`.raw`).
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from moodtagger.core.imaging import files
from moodtagger.core.imaging.colour import _to_rgb, _to_srgb
from moodtagger.core.imaging.files import (
    MAX_PIXELS,
    THUMB_SIZE,
    ImageError,
    exif_datetime,
    is_raw,
    open_regular,
    xmp_datetime,
)
from moodtagger.core.imaging.preprocess import Preprocess, center_crop_input, decode_side, thumbnail
from moodtagger.core.imaging.raw import raw_preview

if TYPE_CHECKING:
    from moodtagger.core.metadata.exiftool import ExifToolService

pillow_heif.register_heif_opener()  # HEIC/HEIF/AVIF through Pillow


@dataclass(frozen=True)
class OpenedImage:
    image: Image.Image  # RGB, orientation applied, possibly reduced by draft decoding
    width: int  # full image size after orientation
    height: int
    orientation: int
    format: str
    taken_at: str | None = (
        None  # EXIF DateTimeOriginal as ISO 8601 local time, when the file has one
    )
    taken_from: str | None = None  # where taken_at came from: "exif" | "xmp" (core/dates.py)


@dataclass(frozen=True)
class Decoded:
    info: OpenedImage
    thumb: Image.Image | None
    model_input: np.ndarray | None  # uint8 (crop, crop, 3)


# ------------------------------------------------------------------------------------------
def open_image(
    path: str | os.PathLike[str],
    *,
    min_side: int | None = None,
    exiftool: ExifToolService | None = None,
) -> OpenedImage:
    """Decode ``path`` to RGB with orientation applied.

    With ``min_side`` the decoder may reduce the image (JPEG DCT scaling) as long as its short
    side stays >= ``min_side``; ``width``/``height`` always report the full size. ``exiftool``
    reads RAW previews (:func:`~moodtagger.core.imaging.raw.raw_preview`).
    """
    path = os.fspath(path)
    try:
        if is_raw(path):
            open_regular(path).close()
            preview = raw_preview(path, exiftool)
            opened = _open(
                io.BytesIO(preview.jpeg),
                min_side,
                fmt_override="RAW",
                orientation=preview.orientation,
            )
            if preview.size:  # report the RAW's own image size, oriented
                w, h = preview.size
                if opened.orientation in (5, 6, 7, 8):
                    w, h = h, w
                opened = OpenedImage(
                    opened.image,
                    w,
                    h,
                    opened.orientation,
                    opened.format,
                    opened.taken_at,
                    opened.taken_from,
                )
            if preview.taken_at:  # the RAW's own date (a preview may carry none)
                opened = OpenedImage(
                    opened.image,
                    opened.width,
                    opened.height,
                    opened.orientation,
                    opened.format,
                    preview.taken_at,
                    "exif",
                )
            return opened
        with open_regular(path) as fh:
            return _open(fh, min_side)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("file vanished before it could be read") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except IsADirectoryError:
        raise ImageError("is a directory, not an image") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"refused: too many pixels (decompression bomb guard): {exc}") from None
    except UnidentifiedImageError:
        size = _size_or_none(path)
        if size == 0:
            raise ImageError("empty file (0 bytes)") from None
        raise ImageError("not an image, or an unsupported/corrupt format") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, IndexError) as exc:
        raise ImageError(f"corrupt or truncated image: {exc}") from None
    except MemoryError:
        raise ImageError("image too large to decode") from None


def _size_or_none(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _open(
    fp, min_side: int | None, fmt_override: str | None = None, orientation: int | None = None
) -> OpenedImage:
    # The ticket is released only once the decoded full-size image is closed (after the with
    # block): releasing it earlier let the next thread decode while this one still held its pixels.
    ticket = 0
    try:
        with Image.open(fp) as im:
            fmt = fmt_override or (im.format or "unknown")
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"refused: {w}x{h} pixels exceeds the {MAX_PIXELS:,} pixel guard")
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            if min_side and isinstance(im, JpegImageFile):  # JPEG and MPO
                # draft picks the largest DCT scale whose result is still >= the requested size
                short = min(w, h)
                if short > min_side:
                    scale = min_side / short
                    im.draft(
                        "RGB", (max(1, int(w * scale + 0.999)), max(1, int(h * scale + 0.999)))
                    )
            dw, dh = im.size  # what will be decoded (after draft scaling)
            ticket = files.PIXELS.acquire(dw * dh)
            im.load()  # before getexif(): for some formats it loads, and must not hide decode errors
            try:
                exif = im.getexif()
                own = int(exif.get(0x0112, 1) or 1)
            except Exception:  # broken EXIF must not make a good image unreadable
                exif, own = None, 1
            taken_at, taken_from = _taken_at(exif, im)
            if own == 1 and orientation:  # RAW preview: the orientation lives in the RAW's EXIF
                own = orientation
            orientation = own if own in range(1, 9) else 1
            src: Image.Image = im
            if min_side and not isinstance(im, JpegImageFile):
                # like JPEG draft scaling: a box reduction by an integer factor that keeps the
                # short side >= 2x what the caller needs, so a huge PNG/TIFF does not stay in
                # memory at full size while it is thumbnailed and fed to the model
                factor = min(dw, dh) // (2 * min_side)
                if factor >= 2 and im.mode in ("RGB", "RGBA", "L", "LA", "CMYK", "I", "F"):
                    src = im.reduce(factor)
                    src.info = im.info
            rgb = _to_srgb(_to_rgb(src), im.info.get("icc_profile"))
            del src
            if rgb is not im:
                im.close()  # frees the full-size pixels now, before the ticket goes back
    finally:
        files.PIXELS.release(ticket)
    if orientation != 1:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
    fw, fh = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    return OpenedImage(rgb, fw, fh, orientation, fmt, taken_at, taken_from)


def _taken_at(exif, im: Image.Image) -> tuple[str | None, str | None]:
    """When the photo was taken and where that came from: EXIF DateTimeOriginal, else
    DateTimeDigitized (Exif sub-IFD; HEIC's EXIF too), else the XMP packet's date
    (:func:`~moodtagger.core.imaging.files.xmp_datetime`); (None, None) without one."""
    if exif:
        try:
            sub = exif.get_ifd(0x8769)
            found = exif_datetime(sub.get(0x9003)) or exif_datetime(sub.get(0x9004))
        except Exception:  # a broken Exif IFD pointer: no date, but the image stays readable
            found = None
        if found:
            return found, "exif"
    info = im.info
    packet = info.get("xmp") or info.get("XML:com.adobe.xmp")
    if not packet:
        tags = getattr(im, "tag_v2", None)  # TIFF: the XMP tag
        try:
            packet = tags.get(700) if tags is not None else None
        except Exception:
            packet = None
    found = xmp_datetime(packet)
    return (found, "xmp") if found else (None, None)


_T = Image.Transpose
_TRANSPOSE = {
    2: _T.FLIP_LEFT_RIGHT,
    3: _T.ROTATE_180,
    4: _T.FLIP_TOP_BOTTOM,
    5: _T.TRANSPOSE,
    6: _T.ROTATE_270,
    7: _T.TRANSVERSE,
    8: _T.ROTATE_90,
}


def decode(
    path: str | os.PathLike[str],
    *,
    model: Preprocess | None = None,
    make_thumbnail: bool = True,
    exiftool: ExifToolService | None = None,
) -> Decoded:
    """One decode yielding the grid thumbnail (``THUMB_SIZE``) and the model input (``model``:
    the model's preprocessing, from its registry entry; None: no model input).

    The model input never depends on whether a thumbnail is made too: whenever it is asked
    for, the decoder keeps the short side >= :func:`decode_side`, so the scan's one decode
    (thumbnail + input) and a predict-only decode give the same pixels. ``exiftool`` reads
    RAW previews (:func:`open_image`)."""
    info = open_image(path, min_side=decode_side(model) if model else THUMB_SIZE, exiftool=exiftool)
    thumb = thumbnail(info.image) if make_thumbnail else None
    model_input = center_crop_input(info.image, model) if model else None
    return Decoded(info, thumb, model_input)
