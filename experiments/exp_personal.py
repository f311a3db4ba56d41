"""Does learning from the user's choices help? A simulated user on ArtPhoto (issue 14).

Protocol (numbers go to models/MODEL_CARD.md, "Personal model"):

* ArtPhoto 5-fold cross-validation (the model card's folds, duplicate groups inside one fold).
  The "shipped" model for a test fold is the shipped configuration trained on the other four
  folds, so its suggestions for the fold are honest out-of-sample ones.
* In each test fold a simulated user labels ``k`` photos per mood (k = 0, 2, 5, 10; k = 0 is
  the shipped model); the personal model is learnt on them (``moodtagger.core.model.personal``,
  the code `moodtagger learn` runs) and scored by macro-F1 on the *rest* of the fold (labelled
  photos and their byte-identical duplicates left out). Mean (std) over folds x user seeds.
* Bursts: every photo also exists as two near-duplicates -- another crop (the top-left 85% of
  the frame) and another exposure (brightness x1.4) -- saved as JPEGs in the user cache and
  run through the backbone. After learning with k = 5, do the bursts of the labelled photos
  get the user's label? And does `similar` (the code `moodtagger similar` runs) find both of a
  photo's burst shots in its top 3, in a library of all 646 photos + all 1,292 burst shots?

Embedding = the backbone's pooled 1,280-d feature averaged over the centre crop and its mirror
image (what the engine stores). Features come from the feature cache (extracted once).

    python experiments/exp_personal.py            # report seeds 0-4
    python experiments/exp_personal.py --seeds 100,101,102 --grid   # tuning (other seeds)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from moodtagger.core import imaging
from moodtagger.core.embeddings import EmbeddingIndex
from moodtagger.core.model.personal import Params, PersonalModel
from moodtagger.core.moods import MOODS
from moodtagger.core.vectors import unit
from moodtagger.training import datasets, features
from moodtagger.training.configs import CHOSEN
from moodtagger.training.evaluate import predict_config, train_config
from moodtagger.training.features import load_features

KS = (0, 2, 5, 10)


def burst_files(files: list[Path]) -> list[Path]:
    """Two near-duplicates per photo (crop, exposure), made once into the user cache."""
    from PIL import Image, ImageEnhance

    out_dir = imaging.cache_dir() / "bench-bursts"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        crop, expo = out_dir / f"{f.stem}.crop.jpg", out_dir / f"{f.stem}.expo.jpg"
        if not (crop.exists() and expo.exists()):
            with Image.open(f) as im:
                im = im.convert("RGB")
                w, h = im.size
                im.crop((0, 0, int(w * 0.85), int(h * 0.85))).save(crop, quality=90)
                ImageEnhance.Brightness(im).enhance(1.4).save(expo, quality=90)
        out += [crop, expo]
    return out


def shipped_priors(ap, x, xb, fold_seed: int):
    """Out-of-fold probabilities of the shipped configuration for the photos and their bursts."""
    cache = imaging.cache_dir() / "features" / f"bench-personal-priors-{fold_seed}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return z["folds"], z["prior"], z["prior_b"]
    folds = datasets.stratified_group_folds(ap.labels, ap.groups, k=5, seed=fold_seed)
    prior = np.zeros((len(ap.files), 8), np.float32)
    prior_b = np.zeros((len(xb), 8), np.float32)
    for f in range(5):
        tr, te = folds != f, folds == f
        heads = train_config(CHOSEN, x[tr], ap.labels[tr], seed=0)
        prior[te] = predict_config(heads, CHOSEN, x[te])
        teb = np.repeat(te, 2)
        prior_b[teb] = predict_config(heads, CHOSEN, xb[teb])
        print(f"  shipped model, fold {f + 1}/5", file=sys.stderr)
    np.savez(cache, folds=folds, prior=prior, prior_b=prior_b)
    return folds, prior, prior_b


def macro_f1(y, pred):
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, labels=range(len(MOODS)), average="macro", zero_division=0))


def simulate(ap, emb, emb_b, folds, prior, prior_b, seeds, params: Params):
    y = ap.labels
    res = {k: [] for k in KS}
    base = {k: [] for k in KS}  # the shipped model on the same photos (the rest of the fold)
    follow = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for f in range(5):
            te = np.flatnonzero(folds == f)
            order = rng.permutation(te)
            for k in KS:
                lab = np.array([i for m in range(8) for i in order[y[order] == m][:k]], dtype=int)
                groups_l = set(ap.groups[lab].tolist())
                rest = np.array([i for i in te if ap.groups[i] not in groups_l])
                base[k].append(macro_f1(y[rest], prior[rest].argmax(1)))
                if k == 0:
                    res[k].append(base[k][-1])
                    continue
                lib = np.concatenate([emb[te], emb_b[np.concatenate([2 * lab, 2 * lab + 1])]])
                center = unit(lib).mean(0)
                t = np.eye(8, dtype=np.float32)[y[lab]]
                model = PersonalModel.fit(prior[lab], emb[lab], t, center=center, params=params)
                res[k].append(macro_f1(y[rest], model.predict(prior[rest], emb[rest]).argmax(1)))
                if k == 5:
                    bi = np.concatenate([2 * lab, 2 * lab + 1])
                    pb = model.predict(prior_b[bi], emb_b[bi]).argmax(1)
                    follow.extend((pb == np.concatenate([y[lab], y[lab]])).tolist())
    return res, base, follow


def similar_top3(ap, emb, emb_b):
    """For every photo: are both its burst shots in its top 3 (photos + all bursts)?"""
    n = len(emb)
    vecs = np.concatenate([emb, emb_b]).astype(np.float16)
    ids = np.arange(len(vecs))
    index = EmbeddingIndex(ids, vecs)
    group_of = np.concatenate([ap.groups, np.repeat(ap.groups, 2)])
    hits = []
    for i in range(n):
        same = set(np.flatnonzero(group_of == ap.groups[i]).tolist())
        own = {n + 2 * i, n + 2 * i + 1}
        exclude = same - own  # the photo itself and its byte-identical twins (and theirs)
        top = [pid for pid, _ in index.search(vecs[i], 3, exclude=exclude)]
        hits.append(own <= set(top))
    return hits


def main() -> int:
    ap_ = argparse.ArgumentParser()
    ap_.add_argument("--seeds", default="0,1,2,3,4")
    ap_.add_argument("--fold-seed", type=int, default=0)
    ap_.add_argument("--grid", action="store_true", help="try several parameter settings")
    ap_.add_argument("--json", metavar="FILE")
    args = ap_.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    ap = datasets.load_artphoto()
    x = load_features(ap.files, "lite0", ("final", "stages"))
    bfiles = burst_files(ap.files)
    xb = load_features(bfiles, "lite0", ("final", "stages"))
    emb = features.extract(ap.files)["final"][:, :2].mean(1)
    emb_b = features.extract(bfiles)["final"][:, :2].mean(1)
    folds, prior, prior_b = shipped_priors(ap, x, xb, args.fold_seed)
    print(f"features and shipped priors ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    grid = [Params()]
    if args.grid:
        grid = [
            Params(l2=l2, near=nr, same=nr + gap)
            for l2 in (0.02, 0.1, 0.5)
            for nr in (0.55, 0.65)
            for gap in (0.1, 0.2)
        ]
    report = {}
    for prm in grid:
        res, base, follow = simulate(ap, emb, emb_b, folds, prior, prior_b, seeds, prm)
        print(
            f"{prm}\n  k   macro-F1 personal   shipped, same photos   difference (mean, worst fold)"
        )
        for k in KS:
            diff = np.subtract(res[k], base[k])
            print(
                f"  {k:<3} {np.mean(res[k]):.3f} ({np.std(res[k]):.3f})       {np.mean(base[k]):.3f} ({np.std(base[k]):.3f})"
                f"          {np.mean(diff):+.3f}, {diff.min():+.3f}"
            )
        print(f"  bursts follow the label (k=5): {np.mean(follow):.1%} of {len(follow)}")
        report[json.dumps(prm.__dict__)] = {
            "macro_f1": {k: [float(np.mean(v)), float(np.std(v))] for k, v in res.items()},
            "shipped_same_photos": {
                k: [float(np.mean(v)), float(np.std(v))] for k, v in base.items()
            },
            "burst_follow_k5": float(np.mean(follow)),
            "bursts": len(follow),
        }
    hits = similar_top3(ap, emb, emb_b)
    print(f"similar: both burst shots in the top 3 for {np.mean(hits):.1%} of {len(hits)} photos")
    report["similar_top3"] = float(np.mean(hits))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
