"""Frozen-backbone feature extraction with an on-disk cache (for training and evaluation).

Each image is seen in several views (test-time augmentation): the center crop, its mirror
image, and the whole frame squashed to a square. Features per view are
``concat(final 1280-d pooled, stage mean+std pools, ImageNet logits)``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from moodtagger.core import imaging
from moodtagger.core.model.backbone import FeatureNet, load_backbone, preprocess_for

FEATURE_VERSION = 2
VIEWS = ("center", "flip", "full")


def view_inputs(path: str | os.PathLike[str], pre: imaging.Preprocess) -> np.ndarray:
    """(len(VIEWS), crop, crop, 3) uint8 for one file."""
    info = imaging.open_image(path, min_side=pre.resize_short_side)
    center = imaging.center_crop_input(info.image, pre)
    size = pre.crop
    full = np.asarray(info.image.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)
    return np.stack([center, center[:, ::-1], full])


def _cache_file(variant: str, files: Sequence[Path]) -> Path:
    h = hashlib.sha256(f"v{FEATURE_VERSION}:{variant}".encode())
    for f in files:
        st = os.stat(f)
        h.update(f"{os.path.abspath(f)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return imaging.cache_dir() / "features" / f"{variant}-{h.hexdigest()[:20]}.npz"


def extract(
    files: Sequence[Path],
    variant: str = "lite0",
    *,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    use_cache: bool = True,
) -> dict[str, np.ndarray]:
    """Features for ``files``: dict with ``final``, ``stages``, ``logits`` of shape (n, views, d)."""
    cache = _cache_file(variant, files)
    if use_cache and cache.exists():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    pre = preprocess_for(
        variant
    )  # the backbone's own preprocessing, recorded in the registry entry
    net = FeatureNet(load_backbone(variant), pre.mean, pre.std).eval()
    out: dict[str, list[np.ndarray]] = {"final": [], "stages": [], "logits": []}
    n = len(files)
    with ThreadPoolExecutor(2) as pool:
        for start in range(0, n, batch_size):
            chunk = files[start : start + batch_size]
            views = np.concatenate(list(pool.map(lambda f: view_inputs(f, pre), chunk)))
            with torch.inference_mode():
                f, s, lg = net(torch.from_numpy(views))
            nv = len(VIEWS)
            out["final"].append(f.numpy().reshape(len(chunk), nv, -1))
            out["stages"].append(s.numpy().reshape(len(chunk), nv, -1))
            out["logits"].append(lg.numpy().reshape(len(chunk), nv, -1))
            if progress:
                progress(min(start + batch_size, n), n)
    result = {k: np.concatenate(v).astype(np.float32) for k, v in out.items()}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **result)
    os.replace(tmp, cache)
    return result


def select(feats: dict[str, np.ndarray], parts: Sequence[str]) -> np.ndarray:
    """Concatenate feature parts: (n, views, d)."""
    return np.concatenate([feats[p] for p in parts], axis=-1)


def load_features(files, variant: str, parts: tuple[str, ...]) -> np.ndarray:
    """(n, views, d) features; ``variant`` may join backbones with '+' (e.g. 'lite0+lite2')."""
    return np.concatenate([select(extract(files, v), parts) for v in variant.split("+")], axis=-1)
