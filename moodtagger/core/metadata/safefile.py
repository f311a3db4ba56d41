"""The file side of the safe-write protocol (:mod:`moodtagger.core.metadata.writer`): the
temporary file's name, free space, ``fsync``, the pixel comparison that verifies a write where
exiftool has no ImageDataHash, and keeping the original's owner, mode and extended attributes
across the rename. Every problem is a :class:`WriteFailed` (one sentence, that file's error);
:func:`explain` words any exception met while handling one file."""

from __future__ import annotations

import os
import secrets

from moodtagger.core.errors import MoodtaggerError, os_error_words
from moodtagger.core.metadata.exiftool import ExifToolError, UnsafeArgument

TEMP_MARK = ".moodtagger-"


class WriteFailed(MoodtaggerError):
    """A file's write failed one of its checks (one sentence)."""


def temp_path_for(target: str) -> str:
    """A short hidden name beside ``target`` (any legal name fits: the long name is not repeated;
    exiftool picks the format by the extension, so that is kept when it is a plain one)."""
    folder, name = os.path.split(target)
    ext = os.path.splitext(name)[1]
    if not (len(ext) <= 10 and ext[1:].isalnum() and ext.isascii()):
        ext = ""
    return os.path.join(folder, f"{TEMP_MARK}{secrets.token_hex(6)}{ext}")


def _out(path: str) -> str:
    """exiftool expands %f, %d … in an ``-o`` name and has no escape for a plain %. The temporary
    file lies in the source's folder and its own name has no %, so where the folder's name has
    one the folder is written as exiftool's own ``%d`` (the source's folder, expanded once)."""
    folder, name = os.path.split(path)
    return path if "%" not in folder else "%d" + name


def _snapshot(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


PER_FILE_ERRORS: tuple[type[BaseException], ...] = (MoodtaggerError, OSError, UnicodeError)
"""What one file's write may fail with and the batch go on (a name the file system refuses,
exiftool refusing the file, a failed check); anything else is a bug and stops the batch."""


def explain(exc: BaseException) -> str:
    """One sentence for a problem with one file."""
    if isinstance(exc, (WriteFailed, ExifToolError, UnsafeArgument)):
        return str(exc)
    if isinstance(exc, OSError):
        return os_error_words(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _space_left(folder: str, needed: int) -> bool:
    try:
        st = os.statvfs(folder)
    except OSError:
        return True
    return st.f_bavail * st.f_frsize >= needed


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pixel_digest(path: str) -> str:
    """A hash of the decoded pixels, decoded inside the decoding pixel budget
    (:data:`imaging.files.PIXELS`) and hashed in strips (no second full-size copy)."""
    import hashlib

    from PIL import Image

    from moodtagger.core import imaging  # (also registers the HEIF opener)

    with Image.open(path) as im:
        w, h = im.size
        if w * h > imaging.MAX_PIXELS:
            raise WriteFailed(f"{w}x{h} pixels exceeds the {imaging.MAX_PIXELS:,} pixel guard")
        ticket = imaging.files.PIXELS.acquire(w * h)
        try:
            im.load()
            digest = hashlib.sha1(f"{im.mode}:{im.size}".encode(), usedforsecurity=False)
            try:  # what Image.tobytes does, streamed into the hash (4x faster than strips)
                enc = Image._getencoder(im.mode, "raw", im.mode)
                enc.setimage(im.im, (0, 0, w, h))
                try:
                    while True:
                        _, status, data = enc.encode(max(65536, w * 4))
                        digest.update(data)
                        if status:
                            break
                finally:
                    enc.cleanup()
                if status < 0:
                    raise WriteFailed(f"raw encoder error {status}")
            except (AttributeError, TypeError):  # a Pillow without that internal: strips
                digest = hashlib.sha1(f"{im.mode}:{im.size}".encode(), usedforsecurity=False)
                rows = max(1, (4 << 20) // max(1, w))
                for y in range(0, h, rows):
                    digest.update(im.crop((0, y, w, min(h, y + rows))).tobytes())
        finally:
            im.close()  # the pixels go before the ticket does
            imaging.files.PIXELS.release(ticket)
    return digest.hexdigest()


JPEG_NAMES = (".jpg", ".jpeg", ".jpe", ".jfif")


def _jpeg_layout(fh) -> tuple[list[bytes], int, int] | None:
    """A JPEG's segments that are not metadata (all but APPn/COM: tables, frame header), the
    offset of its first start-of-scan and its size; None when it is not a JPEG this walk
    understands. Reads only the segments' headers and the kept segments."""
    size = os.fstat(fh.fileno()).st_size
    fh.seek(0)
    if fh.read(2) != b"\xff\xd8":
        return None
    kept: list[bytes] = []
    pos = 2
    while pos + 4 <= size:
        fh.seek(pos)
        head = fh.read(4)
        if len(head) < 4 or head[0] != 0xFF:
            return None
        marker = head[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            pos += 2
            continue
        if marker == 0xD9:
            return None  # an end of image before any scan
        length = int.from_bytes(head[2:4], "big")
        if length < 2:
            return None
        if marker == 0xDA:  # start of scan: the rest of the file is image data
            return kept, pos, size
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE):  # APPn and COM are metadata
            kept.append(head + fh.read(length - 2))
        pos += 2 + length
    return None


_BLOCK = 1 << 20


def same_image_data(a: str, b: str) -> bool | None:
    """Whether two JPEGs hold byte-identical image data: every byte outside APPn/COM — the
    tables, the frame header and everything from the first start-of-scan to the end of the
    file, all of it compared (no sampling, no hash). None when either is not a JPEG that can
    be walked (the caller compares another way)."""
    if not a.lower().endswith(JPEG_NAMES):
        return None
    with open(a, "rb") as fa, open(b, "rb") as fb:
        first, second = _jpeg_layout(fa), _jpeg_layout(fb)
        if first is None or second is None:
            return None
        (kept_a, sos_a, size_a), (kept_b, sos_b, size_b) = first, second
        if kept_a != kept_b or size_a - sos_a != size_b - sos_b:
            return False
        return same_bytes(fa, sos_a, fb, sos_b, size_a - sos_a)


def same_bytes(fa, a: int, fb, b: int, left: int) -> bool:
    """The ``left`` bytes from offset ``a`` of one open file and from ``b`` of the other are
    the same (read in blocks sized to what is left: no 1 MiB buffers for a small file)."""
    fa.seek(a)
    fb.seek(b)
    while left > 0:
        n = min(_BLOCK, left)
        block = fa.read(n)
        if len(block) != n or block != fb.read(n):
            return False
        left -= n
    return True


def _same_pixels(a: str, b: str) -> bool:
    """Same decoded pixels; one image decoded at a time, inside the pixel budget."""
    try:
        return _pixel_digest(a) == _pixel_digest(b)
    except Exception as exc:  # a bomb, a truncated or undecodable image: cannot be proved equal
        raise WriteFailed(
            f"verification impossible: the image cannot be decoded to compare ({explain(exc)})"
        ) from None


def _writable(path: str) -> bool:
    """Writable for us *and* not marked read-only by its owner (root may write anything, but a
    photographer who made a file or folder read-only means it)."""
    try:
        return os.access(path, os.W_OK) and bool(os.stat(path).st_mode & 0o222)
    except OSError:
        return False


def _copy_ownership(src: str, dst: str) -> None:
    """Give ``dst`` what the rename would otherwise drop: owner, group, mode, extended attributes
    (``user.*`` tags, POSIX ACLs in ``system.posix_acl_access``)."""
    st = os.stat(src)
    mine = os.stat(dst)
    if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
        try:
            os.chown(dst, st.st_uid, st.st_gid)
        except OSError:
            raise WriteFailed(
                f"cannot keep the file's owner and group ({st.st_uid}:{st.st_gid}); not written"
            ) from None
    os.chmod(dst, st.st_mode & 0o7777)
    try:
        names = os.listxattr(src)
    except OSError:  # the file system has none
        return
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name))
        except OSError as exc:
            raise WriteFailed(
                f"cannot keep the extended attribute {name} ({explain(exc)}); not written"
            ) from None
