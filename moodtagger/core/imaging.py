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

import hashlib
import io
import os
import stat
import struct
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from moodtagger.core import paths
from moodtagger.core.errors import MoodtaggerError

pillow_heif.register_heif_opener()  # HEIC/HEIF/AVIF through Pillow

MAX_PIXELS = 200_000_000  # 200 MP: larger than any camera; bombs are far larger
# Pillow raises DecompressionBombError above 2x this and only warns between 1x and 2x; we refuse
# everything above MAX_PIXELS ourselves (_open), so the warning is noise.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Pillow allocates pixels in blocks (16 MB by default). glibc's dynamic mmap threshold rises to
# 32 MB after the first big free, so 16 MB blocks then come from per-thread heaps that keep the
# memory after free: each decoding thread held on to a whole huge image (five 196-MP PNGs peaked
# at 1.2-2.4 GB with a one-image pixel budget). Blocks above that threshold are always mmapped
# and go back to the OS on free (0.8 GB). Pillow's documented PILLOW_BLOCK_SIZE still wins.
if "PILLOW_BLOCK_SIZE" not in os.environ:
    Image.core.set_block_size(64 << 20)

THUMB_SIZE = 256
# Pixels being decoded at once across all threads (scan and predict decode in pools): a few huge
# images must not be decoded side by side (five 196-megapixel PNGs took 5 GB). One image alone
# is always allowed (MAX_PIXELS caps it).
PIXEL_BUDGET = paths.pixel_budget(MAX_PIXELS)

JPEG_EXT = {".jpg", ".jpeg", ".jpe", ".jfif"}
RAW_EXT = {
    ".cr2",
    ".cr3",
    ".nef",
    ".nrw",
    ".arw",
    ".srf",
    ".sr2",
    ".dng",
    ".orf",
    ".raf",
    ".rw2",
    ".pef",
    ".srw",
    ".rwl",
    ".3fr",
    ".iiq",
    ".erf",
    ".kdc",
    ".mrw",
    ".x3f",
}
IMAGE_EXT = (
    JPEG_EXT | {".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".hif", ".avif"} | RAW_EXT
)


class ImageError(MoodtaggerError):
    """A file that cannot be decoded as an image; the message is shown to the user."""


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


@dataclass(frozen=True)
class Decoded:
    info: OpenedImage
    thumb: Image.Image | None
    model_input: np.ndarray | None  # uint8 (crop, crop, 3)


class _PixelBudget:
    """A counting budget of decoded pixels shared by every decoding thread of the process."""

    def __init__(self, limit: int):
        self.limit = limit
        self.in_use = 0
        self.peak = 0
        self._cond = threading.Condition()

    def acquire(self, n: int) -> int:
        n = max(0, min(int(n), self.limit))
        with self._cond:
            while self.in_use and self.in_use + n > self.limit:
                self._cond.wait()
            self.in_use += n
            self.peak = max(self.peak, self.in_use)
        return n

    def release(self, n: int) -> None:
        with self._cond:
            self.in_use -= n
            self._cond.notify_all()


PIXELS = _PixelBudget(PIXEL_BUDGET)


def open_regular(path: str | os.PathLike[str] | bytes):
    """Open a file for reading only if it is a regular file; never blocks (a FIFO, a device or a
    socket named like a photo is refused, as is a file swapped for one after listing)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImageError("not a regular file (a pipe, device or socket); skipped")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
            open_regular(path).close()
            preview = raw_preview(path)
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
                    opened.image, w, h, opened.orientation, opened.format, opened.taken_at
                )
            if preview.taken_at:  # the RAW's own date (a preview may carry none)
                opened = OpenedImage(
                    opened.image,
                    opened.width,
                    opened.height,
                    opened.orientation,
                    opened.format,
                    preview.taken_at,
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
            ticket = PIXELS.acquire(dw * dh)
            im.load()  # before getexif(): for some formats it loads, and must not hide decode errors
            try:
                exif = im.getexif()
                own = int(exif.get(0x0112, 1) or 1)
            except Exception:  # broken EXIF must not make a good image unreadable
                exif, own = None, 1
            taken_at = _taken_at(exif)
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
        PIXELS.release(ticket)
    if orientation != 1:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
    fw, fh = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    return OpenedImage(rgb, fw, fh, orientation, fmt, taken_at)


def exif_datetime(value: object) -> str | None:
    """EXIF's ``YYYY:MM:DD HH:MM:SS`` as ISO 8601 (``YYYY-MM-DDTHH:MM:SS``); None for anything
    else (blank, zeroed ``0000:00:00`` dates, garbage)."""
    import datetime

    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.strptime(value.strip("\0 ")[:19], "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _taken_at(exif) -> str | None:
    """When the photo was taken: DateTimeOriginal, else DateTimeDigitized (Exif sub-IFD)."""
    if not exif:
        return None
    try:
        sub = exif.get_ifd(0x8769)
    except Exception:  # a broken Exif IFD pointer: no date, but the image stays readable
        return None
    return exif_datetime(sub.get(0x9003)) or exif_datetime(sub.get(0x9004))


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


_SRGB = ImageCms.createProfile("sRGB")
_LOCAL = threading.local()  # colour transforms per thread: LittleCMS transforms keep a cache


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert an RGB image with an embedded non-sRGB ICC profile (Adobe RGB, Display P3 ...)."""
    if not icc or im.mode != "RGB":
        return im
    key = hashlib.blake2b(icc, digest_size=16).digest()
    transforms: dict[bytes, ImageCms.ImageCmsTransform | None] = _LOCAL.__dict__.setdefault(
        "transforms", {}
    )
    if key not in transforms:
        transform = None
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            desc = (ImageCms.getProfileDescription(profile) or "").lower()
            if "srgb" not in desc and profile.profile.xcolor_space.strip() == "RGB":
                transform = ImageCms.buildTransform(profile, _SRGB, "RGB", "RGB")
        except (OSError, ImageCms.PyCMSError, AttributeError):
            transform = None  # a broken profile: keep the pixels as they are
        if len(transforms) > 64:
            transforms.clear()
        transforms[key] = transform
    transform = transforms[key]
    if transform is None:
        return im
    out = ImageCms.applyTransform(im, transform)
    return out if out is not None else im


# ------------------------------------------------------------------------------------------
# RAW: the largest embedded JPEG preview. Read-only; RAW files are never modified.
# ------------------------------------------------------------------------------------------
_PREVIEW_TAGS = ("JpgFromRaw", "PreviewImage", "OtherImage", "ThumbnailImage")


@dataclass(frozen=True)
class RawPreview:
    jpeg: bytes  # the largest embedded JPEG
    orientation: int  # the RAW's EXIF orientation (previews usually carry none)
    size: tuple[int, int] | None  # the RAW's image size, when exiftool knows it
    taken_at: str | None = None  # the RAW's DateTimeOriginal (ISO 8601)


def raw_preview(path: str) -> RawPreview:
    """The largest embedded JPEG preview of a RAW file: one read-only request to the
    process-wide long-lived exiftool (``metadata.exiftool.shared_service``), not a new
    exiftool process per file (starting Perl costs more than reading the preview)."""
    import base64

    from moodtagger.core.metadata.exiftool import ExifToolError, UnsafeArgument, shared_service
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
        records, _reply = shared_service().execute_json(*args, timeout=120)
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


# ------------------------------------------------------------------------------------------
def thumbnail(image: Image.Image, long_side: int = THUMB_SIZE) -> Image.Image:
    """A copy whose long side is at most ``long_side`` (high-quality reduction)."""
    im = image.copy()
    # bicubic with antialiasing: as sharp as Lanczos at these ratios, ~30 % cheaper
    im.thumbnail((long_side, long_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return im


_INTERPOLATION = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "lanczos": Image.Resampling.LANCZOS,
}


@dataclass(frozen=True)
class Preprocess:
    """How a photo becomes a model's input. Each model's registry entry holds its own
    (``preprocess`` in ``models/<id>.json``); nothing else decides these numbers.

    The photo's short side is resized to ``resize_short_side`` (``interpolation``), then the
    centre ``crop`` x ``crop`` square is taken. ``mean``/``std`` normalise [0, 1] pixel values;
    the network applies them itself (its input is the uint8 crop).
    """

    resize_short_side: int
    crop: int
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATION:
            raise ValueError(
                f"unknown interpolation {self.interpolation!r} (use {', '.join(_INTERPOLATION)})"
            )
        if not 0 < self.crop <= self.resize_short_side:
            raise ValueError(
                f"crop {self.crop} must be positive and at most the short side {self.resize_short_side}"
            )
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError("mean and std need three values each, std above 0")

    def resized(self, width: int, height: int) -> tuple[int, int]:
        """The size the photo is resized to before the crop."""
        s = self.resize_short_side
        return (s, int(s * height / width)) if width <= height else (int(s * width / height), s)

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, new width, new height): where the crop sits in the resized photo."""
        nw, nh = self.resized(width, height)
        return int(round((nw - self.crop) / 2.0)), int(round((nh - self.crop) / 2.0)), nw, nh


def center_crop_input(image: Image.Image, pre: Preprocess) -> np.ndarray:
    """Model preprocessing: short side -> ``pre.resize_short_side``, centre crop ``pre.crop``.

    Pixel-for-pixel the same as torchvision ``Resize(short_side, BICUBIC)`` followed by
    ``CenterCrop(crop)`` on a PIL image. Returns uint8 ``(crop, crop, 3)``; the model
    normalises (``pre.mean``, ``pre.std``) itself.
    """
    w, h = image.size
    left, top, nw, nh = pre.crop_box(w, h)
    im = image if (nw, nh) == (w, h) else image.resize((nw, nh), _INTERPOLATION[pre.interpolation])
    im = im.crop((left, top, left + pre.crop, top + pre.crop))
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def decode_side(model: Preprocess) -> int:
    """The smallest short side a decode for ``model`` may reduce a photo to (the one rule)."""
    return max(THUMB_SIZE, model.resize_short_side)


def decode(
    path: str | os.PathLike[str],
    *,
    model: Preprocess | None = None,
    make_thumbnail: bool = True,
) -> Decoded:
    """One decode yielding the grid thumbnail (``THUMB_SIZE``) and the model input (``model``:
    the model's preprocessing, from its registry entry; None: no model input).

    The model input never depends on whether a thumbnail is made too: whenever it is asked
    for, the decoder keeps the short side >= :func:`decode_side`, so the scan's one decode
    (thumbnail + input) and a predict-only decode give the same pixels."""
    info = open_image(path, min_side=decode_side(model) if model else THUMB_SIZE)
    thumb = thumbnail(info.image) if make_thumbnail else None
    model_input = center_crop_input(info.image, model) if model else None
    return Decoded(info, thumb, model_input)


# ------------------------------------------------------------------------------------------
# Thumbnail cache (by content identity: a renamed/moved photo keeps its thumbnail)
# ------------------------------------------------------------------------------------------
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
    path: str | os.PathLike[str], identity: str | None, long_side: int = THUMB_SIZE
) -> Image.Image:
    """The cached thumbnail for ``identity``, decoding ``path`` (and caching) on a miss.

    The standard (THUMB_SIZE) file serves requests up to its size, and any request when the
    photo itself is smaller; a larger request is decoded at that size and cached in its own
    file, so it is never an enlarged small thumbnail.
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
    info = open_image(path, min_side=long_side)
    thumb = thumbnail(info.image, long_side)
    if identity:
        try:
            save_thumbnail(
                identity, thumb, long_side if max(thumb.size) > THUMB_SIZE else THUMB_SIZE
            )
        except OSError:
            pass  # a read-only cache only costs speed
    return thumb


# ------------------------------------------------------------------------------------------
# Image-data fingerprint: the photo's identity, blind to metadata (issue 11 item 4)
# ------------------------------------------------------------------------------------------
_SAMPLE = 64 * 1024
_PNG_IMAGE_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"acTL", b"fcTL", b"fdAT"}
_WEBP_IMAGE_CHUNKS = {b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"}


def data_fingerprint(fh, size: int) -> str | None:
    """A fingerprint of the image data alone, read from the file without decoding it.

    JPEG: every segment except APPn/COM (where EXIF, XMP, IPTC, ICC live), then the entropy
    coded data (its length, first and last 64 KiB). PNG: the image chunks (IHDR, PLTE, tRNS,
    IDAT, APNG frames) by length and CRC plus the first 64 KiB of IDAT. WebP: the VP8/VP8L/ALPH/
    ANIM/ANMF chunks. So a keyword edit by any tool (exiftool, Lightroom, digiKam) leaves it as
    it is, and a moved photo is recognised after a write. Other formats: None (the caller
    hashes the decoded pixels instead). Reads a few hundred KiB at most.
    """
    fh.seek(0)
    head = fh.read(12)
    h = hashlib.blake2b(digest_size=16)
    try:
        if head[:2] == b"\xff\xd8":
            h.update(b"jpeg")
            return _jpeg_fp(fh, size, h)
        if head[:8] == b"\x89PNG\r\n\x1a\n":
            h.update(b"png")
            return _png_fp(fh, size, h)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            h.update(b"webp")
            return _webp_fp(fh, size, h)
    except (struct.error, ValueError, OSError):
        return None
    return None


def _sample_tail(fh, start: int, end: int, h) -> None:
    h.update((end - start).to_bytes(8, "little"))
    fh.seek(start)
    h.update(fh.read(min(_SAMPLE, end - start)))
    if end - start > _SAMPLE:
        fh.seek(max(start + _SAMPLE, end - _SAMPLE))
        h.update(fh.read(end - max(start + _SAMPLE, end - _SAMPLE)))


def _jpeg_fp(fh, size: int, h) -> str | None:
    pos = 2
    while pos + 4 <= size:
        fh.seek(pos)
        b = fh.read(2)
        if len(b) < 2 or b[0] != 0xFF:
            return None
        marker = b[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            pos += 2
            continue
        if marker == 0xD9:
            break
        length = struct.unpack(">H", fh.read(2))[0]
        if length < 2:
            return None
        end = pos + 2 + length
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE):  # APPn and COM are metadata
            fh.seek(pos)
            h.update(fh.read(2 + length))
        if marker == 0xDA:  # start of scan: the rest is image data
            _sample_tail(fh, end, size, h)
            return h.hexdigest()
        pos = end
    return None


def _png_fp(fh, size: int, h) -> str | None:
    pos = 8
    first_idat = True
    while pos + 12 <= size:
        fh.seek(pos)
        length, ctype = struct.unpack(">I4s", fh.read(8))
        if ctype in _PNG_IMAGE_CHUNKS:
            if ctype in (b"IDAT", b"fdAT"):
                fh.seek(pos + 8 + length)
                h.update(ctype + length.to_bytes(4, "big") + fh.read(4))  # its CRC covers the data
                if first_idat:
                    fh.seek(pos + 8)
                    h.update(fh.read(min(length, _SAMPLE)))
                    first_idat = False
            else:
                h.update(ctype + fh.read(length))
        if ctype == b"IEND":
            break
        pos += 12 + length
    return None if first_idat else h.hexdigest()


def _webp_fp(fh, size: int, h) -> str | None:
    pos = 12
    found = False
    while pos + 8 <= size:
        fh.seek(pos)
        ctype, length = struct.unpack("<4sI", fh.read(8))
        if ctype in _WEBP_IMAGE_CHUNKS:
            h.update(ctype)
            _sample_tail(fh, pos + 8, min(size, pos + 8 + length), h)
            found = True
        # VP8X is left out: tools add it (with metadata flags) when they add EXIF/XMP
        pos += 8 + length + (length & 1)
    return h.hexdigest() if found else None


def pixel_fingerprint(image: Image.Image) -> str:
    """A fingerprint of decoded pixels (formats whose image data cannot be read directly)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"px:{image.mode}:{image.size}".encode())
    h.update(image.tobytes())
    return h.hexdigest()
