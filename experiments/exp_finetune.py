"""End-to-end fine-tuning of lite0 (issue 10 item 4), measured with v2's own nested CV.

    .venv/bin/python experiments/exp_finetune.py                  # fold seed 0, 5 outer folds
    .venv/bin/python experiments/exp_finetune.py --seeds 0,1 --epochs 6
    .venv/bin/python experiments/exp_finetune.py --smoke          # 1 fold, a few steps (checks the code)

Question: does a lite0 fine-tuned end to end on the shared data give the v2 heads better
descriptors than the frozen ImageNet backbone? Protocol (fixed before the first run):

* For each outer fold *f* of v2's CV (``multitask_data.make_folds``: the same folds, duplicate groups
  inside one fold), the backbone is fine-tuned on the **outer training part only** (ArtPhoto,
  Twitter I and Emotion6 photos not in fold *f*), all stages, with a multi-task loss: 8-way mood
  cross-entropy on ArtPhoto (class-balanced, label smoothing 0.1; ArtPhoto rows seen twice per
  epoch), polarity BCE on all three sets (v2's soft targets and data-set shares 1/4, 1/2, 1/4),
  valence/arousal MSE on Emotion6 (standardised, weight 0.5). Strong augmentation: random
  resized crop 192 px (scale 0.25-1) of the photo at short side 256, mirror, brightness/contrast/
  saturation jitter 0.2 (no hue: colour carries mood). AdamW (backbone 1e-4, heads 1e-3, weight
  decay 0.01), 1 warm-up epoch then cosine, batch 32, batch-norm statistics frozen. No choice is
  tuned on the test fold; the fine-tuning settings are fixed, not selected.
* The fine-tuned backbone then computes every photo's v2 descriptor at the product's
  preprocessing (short side 256, centre crop 224, + mirror = flip TTA), and v2's unchanged recipe
  (``multitask.fit_selected``: PCA 256, inner-CV strengths and temperatures) is fitted on fold
  *f*'s training part and scored on fold *f* (``multitask_cv.nested_cv(split_for=...)``).
* Paired against the frozen backbone (v2 as shipped) on the same folds in the same run.
  Decision rule: a fine-tuned backbone would replace the frozen one only if ArtPhoto macro-F1
  rises by >= 0.01 on the seed(s) run, with Twitter five-agree >= 0.87 and Emotion6 r >= 0.75.

Fine-tuned descriptors are cached per (seed, fold, settings) under the user cache
(``exp_finetune/``), so an interrupted run resumes at the next fold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pickle
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from moodtagger.core import imaging
from moodtagger.core.model.backbone import (
    MEAN,
    STD,
    FeatureNet,
    load_backbone,
    preprocess_for,
)
from moodtagger.training import datasets, evaluate, multitask
from moodtagger.training import multitask_cv as mtcv
from moodtagger.training import multitask_data as mtd
from moodtagger.training.configs import V2Config

SIDE = 256  # training photos are kept at the preprocessing's short side


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def decode(files: list[Path], pre: imaging.Preprocess) -> tuple[list[np.ndarray], np.ndarray]:
    """Each photo at short side ``SIDE`` (uint8 HWC, for training crops) and its product model
    input (centre crop, uint8)."""

    def one(f: Path) -> tuple[np.ndarray, np.ndarray]:
        info = imaging.open_image(f, min_side=SIDE)
        img = info.image
        w, h = img.size
        s = SIDE / min(w, h)
        small = img.resize((max(SIDE, round(w * s)), max(SIDE, round(h * s))), Image.BICUBIC)
        return np.array(small, dtype=np.uint8), imaging.center_crop_input(img, pre)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        out = list(pool.map(one, files))
    return [a for a, _ in out], np.stack([c for _, c in out])


class MultiTask(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.drop = nn.Dropout(0.2)
        self.mood = nn.Linear(1280, 8)
        self.pol = nn.Linear(1280, 1)
        self.va = nn.Linear(1280, 2)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor):
        x = (x.float() / 255.0 - self.mean) / self.std  # the backbone's normalisation
        f = self.net.forward_features(x.contiguous(memory_format=torch.channels_last))
        f = self.drop(f.mean(dim=(2, 3)))
        return self.mood(f), self.pol(f).squeeze(1), self.va(f)


def freeze_bn(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def train_rows(data: mtd.AllData, folds: mtd.Folds, f: int) -> dict[str, np.ndarray]:
    """Per training photo: global index, mood (-1 none), polarity target and weight (v2's own,
    :func:`multitask.polarity_targets` and ``V2Config.pol_shares``), VA (nan: none)."""
    s = data.split
    n_ap, n_tw = len(s.ap_y), len(s.tw_pos)
    ap = np.flatnonzero(folds.ap != f)
    tw = np.flatnonzero(folds.tw != f)
    e6 = np.flatnonzero(folds.e6 != f)
    va = s.e6_va[e6]
    mu, sd = va.mean(0), va.std(0)
    idx = np.concatenate([ap, ap, n_ap + tw, n_ap + n_tw + e6])  # ArtPhoto twice per epoch
    mood = np.concatenate([s.ap_y[ap], s.ap_y[ap], np.full(len(tw) + len(e6), -1)])
    ap_t, tw_t, e6_t = multitask.polarity_targets(s)
    pol = np.concatenate([ap_t[ap], ap_t[ap], tw_t[tw], e6_t[e6]])
    shares = V2Config().pol_shares
    assert shares is not None
    polw = np.concatenate(
        [
            np.full(2 * len(ap), shares[0] / (2 * len(ap))),
            np.full(len(tw), shares[1] / len(tw)),
            np.full(len(e6), shares[2] / len(e6)),
        ]
    )
    vat = np.full((len(idx), 2), np.nan)
    vat[-len(e6) :] = (va - mu) / sd
    return {
        "idx": idx,
        "mood": mood,
        "pol": pol,
        "polw": polw / polw.mean(),
        "va": vat,
        "class_w": multitask.class_balance(s.ap_y[ap]),
    }


def augment(img: np.ndarray, size: int, rng: np.random.Generator) -> torch.Tensor:
    from torchvision.transforms import v2

    t = torch.from_numpy(img).permute(2, 0, 1)
    i, j, h, w = v2.RandomResizedCrop.get_params(t, scale=(0.25, 1.0), ratio=(3 / 4, 4 / 3))
    t = v2.functional.resized_crop(t, i, j, h, w, [size, size], antialias=True)
    if rng.random() < 0.5:
        t = t.flip(-1)
    t = v2.functional.adjust_brightness(t, float(rng.uniform(0.8, 1.2)))
    t = v2.functional.adjust_contrast(t, float(rng.uniform(0.8, 1.2)))
    t = v2.functional.adjust_saturation(t, float(rng.uniform(0.8, 1.2)))
    return t


def fine_tune(images: list[np.ndarray], rows: dict[str, np.ndarray], args, seed: int) -> MultiTask:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = MultiTask(load_backbone("lite0")).to(memory_format=torch.channels_last)
    heads = [p for n, p in model.named_parameters() if not n.startswith("net.")]
    opt = torch.optim.AdamW(
        [
            {"params": model.net.parameters(), "lr": args.lr},
            {"params": heads, "lr": args.head_lr},
        ],
        weight_decay=0.01,
    )
    n = len(rows["idx"])
    steps_per_epoch = n // args.batch
    total = steps_per_epoch * args.epochs if not args.smoke else 6
    warm = steps_per_epoch if not args.smoke else 2
    base = [g["lr"] for g in opt.param_groups]
    cw = torch.tensor(rows["class_w"], dtype=torch.float32)
    step = 0
    model.train()
    freeze_bn(model)
    t0 = time.perf_counter()
    while step < total:
        order = rng.permutation(n)
        for b in range(steps_per_epoch):
            if step >= total:
                break
            sel = order[b * args.batch : (b + 1) * args.batch]
            x = torch.stack([augment(images[rows["idx"][i]], args.size, rng) for i in sel])
            scale = (
                (step + 1) / warm
                if step < warm
                else 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
            )
            for g, lr in zip(opt.param_groups, base, strict=True):
                g["lr"] = lr * scale
            mood_l, pol_l, va_l = model(x)
            mood = torch.from_numpy(rows["mood"][sel])
            loss = torch.zeros(())
            m = mood >= 0
            if m.any():
                loss = loss + nn.functional.cross_entropy(
                    mood_l[m], mood[m], weight=cw, label_smoothing=0.1
                )
            pw = torch.tensor(rows["polw"][sel], dtype=torch.float32)
            pt = torch.tensor(rows["pol"][sel], dtype=torch.float32)
            bce = nn.functional.binary_cross_entropy_with_logits(pol_l, pt, reduction="none")
            loss = loss + (bce * pw).sum() / pw.sum()
            vt = torch.tensor(rows["va"][sel], dtype=torch.float32)
            v = ~torch.isnan(vt[:, 0])
            if v.any():
                loss = loss + 0.5 * nn.functional.mse_loss(va_l[v], vt[v])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step % 25 == 0 or step == total:
                rate = step * args.batch / (time.perf_counter() - t0)
                log(f"    step {step}/{total} loss {loss.item():.3f} ({rate:.1f} img/s)")
    return model.eval()


@torch.inference_mode()
def descriptors(net: nn.Module, crops: np.ndarray) -> np.ndarray:
    """(n, 3, d) rows [centre, mirror, centre] of v2's descriptor (final pool + stage pools)."""
    fnet = FeatureNet(net).eval()
    out = []
    for i in range(0, len(crops), 32):
        b = torch.from_numpy(crops[i : i + 32])
        views = torch.cat([b, b.flip(2)])
        final, stages, _ = fnet(views)
        d = torch.cat([final, stages], 1).numpy()
        k = len(b)
        out.append(np.stack([d[:k], d[k:], d[:k]], 1))
    return np.concatenate(out).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--smoke", action="store_true", help="one fold, 6 steps: checks the code")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    pre = preprocess_for("lite0")
    t0 = time.perf_counter()
    frozen = mtd.load_all()  # the cached frozen descriptors v2 is trained on
    s = frozen.split
    files = [
        *datasets.load_artphoto().files,
        *datasets.load_twitter1().files,
        *datasets.load_emotion6().files,
    ]
    assert len(files) == len(s.ap_y) + len(s.tw_pos) + len(s.e6_va)
    key = hashlib.sha256(f"{SIDE}:{pre}".encode())
    for f in files:
        key.update(f"{f}:{f.stat().st_size}\n".encode())
    dcache = imaging.cache_dir() / "exp_finetune" / f"decoded-{key.hexdigest()[:12]}.pkl"
    if dcache.exists():
        with open(dcache, "rb") as fh:
            images, crops = pickle.load(fh)
    else:
        images, crops = decode(files, pre)
        dcache.parent.mkdir(parents=True, exist_ok=True)
        with open(dcache, "wb") as fh:
            pickle.dump((images, crops), fh, protocol=5)
    log(f"decoded {len(files)} photos ({time.perf_counter() - t0:.0f} s)")
    n_ap, n_tw = len(s.ap_y), len(s.tw_pos)
    settings = {k: getattr(args, k) for k in ("epochs", "size", "batch", "lr", "head_lr")}
    tag = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    cache = imaging.cache_dir() / "exp_finetune"
    cache.mkdir(parents=True, exist_ok=True)
    cfg = V2Config()
    runs: dict[str, list[dict[str, float]]] = {"frozen (v2)": [], "fine-tuned": []}
    for seed in [int(x) for x in args.seeds.split(",")]:
        if args.smoke:
            folds = mtd.make_folds(
                s.ap_y,
                frozen.ap_groups,
                s.tw_pos,
                s.tw_agree,
                frozen.tw_groups,
                len(s.e6_va),
                5,
                seed,
            )
            rows = train_rows(frozen, folds, 0)
            model = fine_tune(images, rows, args, seed)
            d = descriptors(model.net, crops[:64])
            ref = frozen.split.ap_x[:64, 0]
            fz = descriptors(load_backbone("lite0"), crops[:64])
            log(
                f"smoke: frozen re-extraction vs cache max |d| "
                f"{np.abs(mtd.descriptor_views(fz, True)[:, 0] - ref).max():.2e}; "
                f"fine-tuned vs frozen mean |d| {np.abs(d - fz).mean():.3e}"
            )
            return

        def split_for(f: int, folds: mtd.Folds, seed: int = seed) -> mtd.Split:
            path = cache / f"{tag}-seed{seed}-fold{f}.npy"
            if path.exists():
                x = np.load(path)
            else:
                log(f"seed {seed} fold {f + 1}/5: fine-tuning {settings}")
                model = fine_tune(images, train_rows(frozen, folds, f), args, seed * 100 + f)
                x = descriptors(model.net, crops)
                np.save(path, x)
                torch.save(model.state_dict(), path.with_suffix(".pt"))
                log(f"seed {seed} fold {f + 1}/5: descriptors done")
            v = mtd.descriptor_views(x, True)
            return mtd.Split(
                v[:n_ap],
                s.ap_y,
                v[n_ap : n_ap + n_tw],
                s.tw_pos,
                s.tw_agree,
                v[n_ap + n_tw :],
                s.e6_va,
                s.e6_votes,
            )

        m0 = mtcv.nested_cv(frozen, cfg, seed=seed)[0]
        runs["frozen (v2)"].append(m0)
        log(f"frozen seed {seed}: " + evaluate.format_seed(m0))
        m1 = mtcv.nested_cv(frozen, cfg, seed=seed, split_for=split_for)[0]
        runs["fine-tuned"].append(m1)
        log(f"fine-tuned seed {seed}: " + evaluate.format_seed(m1))
    print(f"\nv2 nested CV, fold seeds {args.seeds}; fine-tuning {settings}")
    print(evaluate.format_paired(runs, "frozen (v2)"))
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
