"""Image-data fingerprint: the photo's identity, blind to metadata (issue 11 item 4)."""

from __future__ import annotations

import hashlib
import struct

from PIL import Image

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
