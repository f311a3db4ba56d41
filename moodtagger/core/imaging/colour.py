"""Colour: every mode to RGB (alpha composited on white, CMYK, 16-bit), embedded ICC profiles to sRGB."""

from __future__ import annotations

import hashlib
import io
import threading

import numpy as np
from PIL import Image, ImageCms


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
