"""The offline backbone reproduces its ImageNet accuracy with the documented preprocessing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from moodtagger.core import imaging
from moodtagger.core.model.backbone import FeatureNet, load_backbone, preprocess_for


def _crop(path: Path, pre: imaging.Preprocess) -> np.ndarray:
    info = imaging.open_image(path, min_side=pre.resize_short_side)
    return imaging.center_crop_input(info.image, pre)


def test_lite0_imagenet_top1_on_all_1000_sample_photos(imagenet_sample: Path) -> None:
    files = sorted(imagenet_sample.glob("*.JPEG"))
    assert len(files) == 1000, "the sample has one photo per ImageNet class"
    wnids = [f.name.split("_", 1)[0] for f in files]
    index = {w: i for i, w in enumerate(sorted(set(wnids)))}
    labels = np.array([index[w] for w in wnids])
    pre = preprocess_for("lite0")
    net = FeatureNet(load_backbone("lite0"), pre.mean, pre.std).eval()
    preds = []
    with ThreadPoolExecutor(2) as pool:
        for start in range(0, len(files), 50):
            batch = np.stack(list(pool.map(lambda f: _crop(f, pre), files[start : start + 50])))
            with torch.inference_mode():
                _, _, logits = net(torch.from_numpy(batch))
            preds.append(logits.argmax(1).numpy())
    top1 = float((np.concatenate(preds) == labels).mean())
    assert top1 >= 0.85, f"lite0 top-1 {top1:.3f} on the 1000-photo sample (expected >= 0.85)"


def test_wheel_tensors_map_onto_timm_by_shape() -> None:
    model = load_backbone("lite0")
    assert not model.training
    assert model.classifier.out_features == 1000
