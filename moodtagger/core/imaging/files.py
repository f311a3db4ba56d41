"""What counts as an image file, the pixel guards and the one expected error of decoding.

* A decompression-bomb guard: images above :data:`MAX_PIXELS` are refused as per-file errors.
* :data:`PIXELS`: the pixels being decoded at once across all threads (the pixel budget).
* :func:`open_regular` never blocks on a FIFO, a device or a socket named like a photo.

Every problem with a file raises :class:`ImageError` with a message a user can act on.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import warnings

from PIL import Image, ImageFile

from moodtagger.core import paths
from moodtagger.core.errors import MoodtaggerError

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


class PixelBudget:
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


PIXELS = PixelBudget(PIXEL_BUDGET)


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


# the XMP packet's capture dates, most specific first (camera local time; an offset is ignored)
_XMP_DATE_TAGS = ("exif:DateTimeOriginal", "xmp:CreateDate", "photoshop:DateCreated")
_XMP_DATE = re.compile(rb"(\d{4})[-:](\d{2})[-:](\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")


def xmp_datetime(packet: object) -> str | None:
    """The capture date in an XMP packet (``exif:DateTimeOriginal``, else ``xmp:CreateDate``,
    else ``photoshop:DateCreated``; attribute or element form) as ISO 8601 local time, without
    parsing the XML; None when it has none."""
    import datetime

    if isinstance(packet, str):
        packet = packet.encode("utf-8", "replace")
    if not isinstance(packet, bytes | bytearray) or not packet:
        return None
    for tag in _XMP_DATE_TAGS:
        t = tag.encode()
        m = re.search(
            rb"<" + t + rb">\s*([^<]{4,40})<|" + t + rb"\s*=\s*[\"']([^\"']{4,40})", packet
        )
        if not m:
            continue
        d = _XMP_DATE.match((m.group(1) or m.group(2)).strip())
        if not d:
            continue
        y, mo, day, h, mi, sec = (int(g) if g else 0 for g in d.groups())
        try:
            return datetime.datetime(y, mo, day, h, mi, sec).isoformat()
        except ValueError:
            continue
    return None
