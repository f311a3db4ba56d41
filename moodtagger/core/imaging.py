"""Image loading: one fast path from a file to the model input and a grid thumbnail.

* JPEG: ``Image.draft`` lets libjpeg decode at 1/2, 1/4 or 1/8 scale (DCT scaling), so a
  4000x3000 camera JPEG costs a fraction of a full decode when we only need 256 px.
* EXIF orientation applied, every mode converted to RGB (alpha composited on white, CMYK, 16-bit).
* A decompression-bomb guard: images above :data:`MAX_PIXELS` are refused as per-file errors.
* HEIC/HEIF through pillow-heif; RAW through the embedded JPEG preview (the RAW is only read).
* Thumbnails are cached on disk by content identity, written atomically.

Every problem with a file raises :class:`ImageError` with a message a user can act on.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF/AVIF support is optional at run time
    import pillow_heif

    pillow_heif.register_heif_opener()
    HAVE_HEIF = True
except ImportError:  # pragma: no cover - declared dependency
    HAVE_HEIF = False

MAX_PIXELS = 200_000_000  # 200 MP: larger than any camera; bombs are far larger
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False

THUMB_SIZE = 256

JPEG_EXT = {".jpg", ".jpeg", ".jpe", ".jfif"}
RAW_EXT = {".cr2", ".cr3", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".orf", ".raf", ".rw2", ".pef", ".srw", ".rwl", ".3fr", ".iiq", ".erf", ".kdc", ".mrw", ".x3f"}
IMAGE_EXT = JPEG_EXT | {".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".hif", ".avif"} | RAW_EXT


class ImageError(Exception):
    """A file that cannot be decoded as an image; the message is shown to the user."""


@dataclass(frozen=True)
class OpenedImage:
    image: Image.Image  # RGB, orientation applied, possibly reduced by draft decoding
    width: int  # full image size after orientation
    height: int
    orientation: int
    format: str


@dataclass(frozen=True)
class Decoded:
    info: OpenedImage
    thumb: Image.Image | None
    model_input: np.ndarray | None  # uint8 (size, size, 3)


def is_image_path(name: str | bytes) -> bool:
    ext = os.path.splitext(os.fsdecode(name))[1].lower()
    return ext in IMAGE_EXT


def is_raw(path: str | os.PathLike[str]) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in RAW_EXT


# ------------------------------------------------------------------------------------------
def open_image(path: str | os.PathLike[str], *, min_side: int | None = None) -> OpenedImage:
    """Decode ``path`` to RGB with orientation applied.

    With ``min_side`` the decoder may reduce the image (JPEG DCT scaling) as long as its short
    side stays >= ``min_side``; ``width``/``height`` always report the full size.
    """
    path = os.fspath(path)
    try:
        if is_raw(path):
            data = raw_preview_bytes(path)
            return _open(io.BytesIO(data), min_side, fmt_override="RAW")
        with open(path, "rb") as fh:
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


def _open(fp, min_side: int | None, fmt_override: str | None = None) -> OpenedImage:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(fp)
        except Image.DecompressionBombWarning as exc:
            raise ImageError(f"refused: too many pixels (decompression bomb guard): {exc}") from None
        fmt = fmt_override or (im.format or "unknown")
        try:
            orientation = int(im.getexif().get(0x0112, 1) or 1)
        except Exception:  # broken EXIF must not make a good image unreadable
            orientation = 1
        if orientation not in range(1, 9):
            orientation = 1
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise ImageError(f"refused: {w}x{h} pixels exceeds the {MAX_PIXELS:,} pixel guard")
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        if min_side and im.format == "JPEG":
            # draft picks the largest DCT scale whose result is still >= the requested size
            short = min(w, h)
            if short > min_side:
                scale = min_side / short
                im.draft("RGB", (max(1, int(w * scale + 0.999)), max(1, int(h * scale + 0.999))))
        im.load()
        im = _to_rgb(im)
        if orientation != 1:
            im = im.transpose(_TRANSPOSE[orientation])
        fw, fh = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        return OpenedImage(im, fw, fh, orientation, fmt)


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


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        bg.info = im.info
        return bg
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.uint32)
        top = max(int(arr.max()), 1)
        arr8 = (arr * (255.0 / (65535 if top > 255 else 255))).clip(0, 255).astype(np.uint8)
        out = Image.fromarray(arr8, "L").convert("RGB")
        out.info = im.info
        return out
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        out = Image.fromarray((arr.clip(0, 1) * 255).astype(np.uint8), "L").convert("RGB")
        out.info = im.info
        return out
    out = im.convert("RGB")
    out.info = im.info
    return out


# ------------------------------------------------------------------------------------------
# RAW: the largest embedded JPEG preview. Read-only; RAW files are never modified.
# ------------------------------------------------------------------------------------------
_PREVIEW_TAGS = ("JpgFromRaw", "PreviewImage", "OtherImage", "ThumbnailImage")


def raw_preview_bytes(path: str) -> bytes:
    """The largest embedded JPEG preview of a RAW file, via exiftool (read-only)."""
    import subprocess

    from moodtagger.core.tools import exiftool_path

    best = b""
    exe = exiftool_path()
    for tag in _PREVIEW_TAGS:
        try:
            out = subprocess.run(
                [exe, "-b", f"-{tag}", "--", path], capture_output=True, timeout=60, check=False
            ).stdout
        except subprocess.TimeoutExpired:
            continue
        if out[:2] == b"\xff\xd8" and len(out) > len(best):
            best = out
    if not best:
        raise ImageError("RAW file has no embedded JPEG preview that can be decoded")
    return best


# ------------------------------------------------------------------------------------------
def thumbnail(image: Image.Image, long_side: int = THUMB_SIZE) -> Image.Image:
    """A copy whose long side is at most ``long_side`` (high-quality reduction)."""
    im = image.copy()
    im.thumbnail((long_side, long_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return im


def center_crop_input(image: Image.Image, size: int) -> np.ndarray:
    """Model preprocessing: short side -> int(size/0.875) bicubic, center crop ``size``.

    Returns uint8 ``(size, size, 3)``; the model normalises (mean 0.5, std 0.5) itself.
    """
    short_target = int(size / 0.875)
    w, h = image.size
    scale = short_target / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = image.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=None)
    left, top = (nw - size) // 2, (nh - size) // 2
    im = im.crop((left, top, left + size, top + size))
    return np.asarray(im, dtype=np.uint8)


def decode(
    path: str | os.PathLike[str], *, model_size: int | None = 224, thumb_size: int = THUMB_SIZE
) -> Decoded:
    """One decode yielding the grid thumbnail and the model input."""
    need = max(thumb_size if thumb_size else 0, int(model_size / 0.875) if model_size else 0)
    info = open_image(path, min_side=need or None)
    thumb = thumbnail(info.image, thumb_size) if thumb_size else None
    model = center_crop_input(info.image, model_size) if model_size else None
    return Decoded(info, thumb, model)


# ------------------------------------------------------------------------------------------
# Thumbnail cache (by content identity: a renamed/moved photo keeps its thumbnail)
# ------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    env = os.environ.get("MOODTAGGER_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("moodtagger", appauthor=False))


def thumb_path(identity: str) -> Path:
    return cache_dir() / "thumbs" / identity[:2] / f"{identity}.jpg"


def save_thumbnail(identity: str, thumb: Image.Image) -> Path:
    dest = thumb_path(identity)
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
    path: str | os.PathLike[str], identity: str | None, long_side: int = THUMB_SIZE
) -> Image.Image:
    """The cached thumbnail for ``identity``, decoding ``path`` (and caching) on a miss."""
    if identity:
        tp = thumb_path(identity)
        try:
            with Image.open(tp) as im:
                im.load()
                if max(im.size) >= min(long_side, THUMB_SIZE) or long_side <= THUMB_SIZE:
                    return im.convert("RGB")
        except (OSError, ValueError):
            pass
    info = open_image(path, min_side=long_side)
    thumb = thumbnail(info.image, long_side)
    if identity:
        try:
            save_thumbnail(identity, thumb)
        except OSError:
            pass  # a read-only cache only costs speed
    return thumb
