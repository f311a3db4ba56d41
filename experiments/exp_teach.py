"""Does "Teach me" choose better photos to label than chance? Simulated users (issue 27).

Protocol (the decision rule, fixed before the first run: teach must beat random by >= 0.02
macro-F1 on average over the seeds, on the photos neither labelled):

* Photos and bursts. ArtPhoto (646 photos, 8 moods) and Twitter I (1,090 photos, positive /
  negative). Every photo gets 1-3 burst shots (so bursts of 2-4), made once into the user cache:
  a random crop of 82-95 % of the frame, brightness x0.8-1.25, half of them turned by up to 3
  degrees. Byte-identical duplicates (DUPLICATES.txt) are one burst too.
* Embeddings and suggestions: the runtime engine (``MoodModel``, what `scan` runs: the shipped
  ONNX model on the CPU), cached in the user cache dir (``features/exp-teach-*.npz``).
* The shipped model was trained on all of ArtPhoto and on Twitter I's polarity, so its own
  suggestions there are not out of sample. The suggestions a user starts from are therefore
  the shipped recipe re-fitted without the user's photos: for fold seed s, 5 folds (stratified,
  duplicate groups inside one fold); for a test fold, on the other four --
  ArtPhoto: v2's mood head recipe (class-balanced 8-way logistic on the 256 principal
  components of the engine's embedding); Twitter I: v2's factorisation, polarity x
  within-polarity mood, with the polarity logistic re-fitted on the other folds (the
  within-polarity split is the shipped model's, which never saw Twitter moods).
* A simulated user's library is one test fold with its bursts. The same run gives N labels
  twice: ``teach`` (``moodtagger.core.teach.pick``, what `moodtagger teach -n N` runs, on the
  library's suggestions and centred embeddings) and N photos drawn at random from the library.
  The user labels with the truth: ArtPhoto its mood; Twitter I (2-class teaching) the
  likeliest mood of the photo's true polarity under the current suggestion. Each is learnt
  (``PersonalModel.fit``, the code `moodtagger learn` runs) and scored by macro-F1 on the
  rest: the original photos of the bursts that *neither* arm labelled (the same photos for
  both; Twitter: polarity of the top mood). Mean (std) over 5 seeds (fold seed = user seed).
  Also shown: each arm on every other photo of its library, burst shots included (where a
  label reaches its burst through `learn`'s near-duplicate term).

    python experiments/exp_teach.py                    # both data sets, N = 10, 20, 40, seeds 0-4
    python experiments/exp_teach.py --data artphoto --n 20 --seeds 0,1
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from moodtagger.core import imaging
from moodtagger.core.model.personal_model import PersonalModel
from moodtagger.core.moods import MOODS, POSITIVE
from moodtagger.core.teach import centred, pick, uncertainty
from moodtagger.core.vectors import unit
from moodtagger.training import datasets

POS = np.array([m in POSITIVE for m in MOODS])


def burst_shots(files: list[Path], tag: str) -> tuple[list[Path], np.ndarray]:
    """1-3 near-duplicates per photo (made once); returns them and their photo's index."""
    from PIL import Image, ImageEnhance

    out_dir = imaging.cache_dir() / "exp-teach-bursts" / tag
    out_dir.mkdir(parents=True, exist_ok=True)
    shots, of = [], []
    for i, f in enumerate(files):
        rng = np.random.default_rng(i)
        k = int(rng.integers(1, 4))
        for j in range(k):
            crop, bright, turn = rng.uniform(0.82, 0.95), rng.uniform(0.8, 1.25), rng.random()
            angle, ox, oy = rng.uniform(-3, 3), rng.random(), rng.random()
            dest = out_dir / f"{f.stem}.{j}.jpg"
            if not dest.exists():
                with Image.open(f) as im:
                    im = im.convert("RGB")
                    if turn < 0.5:
                        im = im.rotate(angle, resample=Image.Resampling.BILINEAR)
                    w, h = im.size
                    cw, ch = int(w * crop), int(h * crop)
                    x0, y0 = int((w - cw) * ox), int((h - ch) * oy)
                    im = im.crop((x0, y0, x0 + cw, y0 + ch))
                    ImageEnhance.Brightness(im).enhance(bright).save(dest, quality=90)
            shots.append(dest)
            of.append(i)
    return shots, np.array(of, int)


def engine_outputs(files: list[Path], tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(probs (n, 8), embeddings (n, 1280)) by the runtime engine, cached."""
    from moodtagger.core.model.engine import MoodModel
    from moodtagger.core.model.registry import default_model_id

    mid = default_model_id()
    h = hashlib.sha256(mid.encode())
    for f in files:
        h.update(f"{f.name}:{f.stat().st_size}\n".encode())
    cache = imaging.cache_dir() / "features" / f"exp-teach-{tag}-{h.hexdigest()[:16]}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return z["probs"], z["emb"]
    model = MoodModel(mid, "cpu")
    probs = np.zeros((len(files), len(MOODS)), np.float32)
    emb = np.zeros((len(files), 1280), np.float16)
    done = 0
    for batch in model.predict_paths([(i, str(f)) for i, f in enumerate(files)], batch_size=32):
        for r in batch:
            if r.prediction is None or r.embedding is None:
                raise SystemExit(f"{r.path}: {r.error}")
            probs[r.key] = r.prediction.probs
            emb[r.key] = r.embedding
        done += len(batch)
        print(f"  {tag}: {done}/{len(files)}", file=sys.stderr, end="\r")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, probs=probs, emb=emb)
    return probs, emb


def _logistic(x, y, xt, *, balanced=True):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced" if balanced else None)
    clf.fit(x, y)
    return clf.predict_proba(xt)


def _pcs(x_train, x_all, k=256):
    z = unit(x_train.astype(np.float32))
    mu = z.mean(0)
    _u, _s, vt = np.linalg.svd(z - mu, full_matrices=False)
    a, b = ((unit(v.astype(np.float32)) - mu) @ vt[:k].T for v in (x_train, x_all))
    scale = float(a.std())  # one common scale (not whitened)
    return a / scale, b / scale


def priors(data: str, y, groups, emb, eprobs, item_of, fold_seed: int):
    """Out-of-fold suggestions for every item (photos and shots) and the folds of the photos."""
    folds = datasets.stratified_group_folds(y, groups, k=5, seed=fold_seed)
    key = hashlib.sha256(np.ascontiguousarray(emb[:: max(1, len(emb) // 64)]).tobytes())
    cache = (
        imaging.cache_dir()
        / "features"
        / f"exp-teach-prior-{data}-{fold_seed}-{key.hexdigest()[:12]}.npy"
    )
    if cache.exists():
        return folds, np.load(cache)
    n_items = len(item_of)
    out = np.zeros((n_items, len(MOODS)), np.float32)
    for f in range(5):
        tr = np.flatnonzero(folds != f)
        te = np.flatnonzero(folds[item_of] == f)
        xtr, xte = _pcs(emb[tr], emb[te])
        if data == "artphoto":
            out[te] = _logistic(xtr, y[tr], xte)
        else:  # v2: polarity x within-polarity mood (the shipped model's split)
            ppos = _logistic(xtr, y[tr], xte)[:, 1]
            p = eprobs[te].astype(np.float64)
            within_pos = p * POS / np.maximum((p * POS).sum(1, keepdims=True), 1e-9)
            within_neg = p * ~POS / np.maximum((p * ~POS).sum(1, keepdims=True), 1e-9)
            out[te] = ppos[:, None] * within_pos + (1 - ppos[:, None]) * within_neg
    np.save(cache, out)
    return folds, out


def macro_f1(y, pred, k):
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, labels=range(k), average="macro", zero_division=0))


def simulate(data, y, groups, emb, prior, item_of, folds, n, seed, ablate=False):
    """Mean over the 5 folds of (shipped, teach, random) macro-F1 on the same rest, and the
    bursts the teach picks hit twice (must be 0) and the random picks hit twice."""
    rng = np.random.default_rng(1000 + seed)
    burst = groups[item_of]  # an item's burst: its photo's duplicate group
    k = 8 if data == "artphoto" else 2
    scores: dict[str, list[float]] = {
        "shipped": [],
        "teach": [],
        "random": [],
        "teach_all": [],
        "random_all": [],
        "spread_all": [],
        "unsure_all": [],
    }
    twice = {"teach": 0, "random": 0, "spread": 0, "unsure": 0}
    for f in range(5):
        lib = np.flatnonzero(folds[item_of] == f)
        z = centred(emb[lib])
        center = unit(emb[lib]).mean(0)
        rows_t = [r for r, _u, _n in pick(prior[lib], z, np.zeros(len(lib), bool), n)]
        rows_r = rng.choice(len(lib), size=min(n, len(lib)), replace=False).tolist()
        touched = set(burst[lib[rows_t]].tolist()) | set(burst[lib[rows_r]].tolist())
        photos = np.flatnonzero(folds == f)
        rest = np.array([i for i in photos if groups[i] not in touched and i == item_of[i]])
        truth = y[rest]
        preds = {"shipped": prior[rest]}
        arms = [("teach", rows_t), ("random", rows_r)]
        if ablate:  # spread + bursts without uncertainty; uncertainty alone (no spread, no bursts)
            flat = np.full((len(lib), 8), 1 / 8)
            arms.append(("spread", [r for r, _u, _n in pick(flat, z, np.zeros(len(lib), bool), n)]))
            arms.append(
                ("unsure", np.argsort(-uncertainty(prior[lib]), kind="stable")[:n].tolist())
            )
        for arm, rows in arms:
            lab = lib[rows]
            twice[arm] += len(lab) - len(set(burst[lab].tolist()))
            yl = y[item_of[lab]]
            if data == "artphoto":
                t = np.eye(8, dtype=np.float32)[yl]
            else:  # the likeliest mood of the true polarity
                side = np.where(yl[:, None] == 1, POS[None, :], ~POS[None, :])
                t = np.eye(8, dtype=np.float32)[np.where(side, prior[lab], -1).argmax(1)]
            model = PersonalModel.fit(prior[lab], emb[lab], t, center=center)
            if arm in ("teach", "random"):
                preds[arm] = model.predict(prior[rest], emb[rest])
            # (b) every other photo of the library, burst shots included (each arm its own)
            others = np.setdiff1d(lib, lab)
            p_all = model.predict(prior[others], emb[others])
            g_all = p_all.argmax(1) if data == "artphoto" else POS[p_all.argmax(1)].astype(int)
            scores[f"{arm}_all"].append(macro_f1(y[item_of[others]], g_all, k))
        for arm, p in preds.items():
            guess = p.argmax(1) if data == "artphoto" else POS[p.argmax(1)].astype(int)
            scores[arm].append(macro_f1(truth, guess, k))
    return {a: float(np.mean(v)) if v else float("nan") for a, v in scores.items()}, twice


def load(data: str):
    if data == "artphoto":
        ds = datasets.load_artphoto()
        y, groups = ds.labels, ds.groups
    else:
        ds = datasets.load_twitter1()
        y, groups = ds.positive, ds.groups
    files = list(ds.files)
    shots, of = burst_shots(files, data)
    eprobs, emb = engine_outputs(files + shots, data)
    item_of = np.concatenate([np.arange(len(files)), of])
    return np.asarray(y), np.asarray(groups), emb, eprobs, item_of


def burst_check(emb, item_of, groups, folds) -> str:
    """How often the burst rule sees a shot's burst (centred cosine to its photo >= 0.65), and
    how often two different photos look like one burst, in the fold libraries."""
    from moodtagger.core.teach import BURST_COSINE

    hit, false, pairs = [], 0, 0
    for f in range(5):
        lib = np.flatnonzero(folds[item_of] == f)
        z = centred(emb[lib])
        s = z @ z.T
        g = groups[item_of[lib]]
        same = g[:, None] == g[None, :]
        shots = np.flatnonzero(item_of[lib] != lib)
        for i in shots:
            hit.append(s[i, np.flatnonzero(lib == item_of[lib[i]])[0]] >= BURST_COSINE)
        other = ~same
        false += int((s[other] >= BURST_COSINE).sum()) // 2
        pairs += int(other.sum()) // 2
    return (
        f"shot vs its photo >= {BURST_COSINE}: {np.mean(hit):.1%} of {len(hit)}; "
        f"pairs of different photos >= {BURST_COSINE}: {false} of {pairs:,}"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="artphoto,twitter1")
    ap.add_argument("--n", default="10,20,40")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument(
        "--ablate", action="store_true", help="also: spread alone, uncertainty alone (all photos)"
    )
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    ns = [int(s) for s in args.n.split(",")]
    t0 = time.perf_counter()
    print("data       N   shipped        teach          random         teach - random (per seed)")
    for data in args.data.split(","):
        y, groups, emb, eprobs, item_of = load(data)
        print(
            f"{data}: {len(y)} photos + {len(item_of) - len(y)} burst shots ready in "
            f"{time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
        runs = {s: priors(data, y, groups, emb, eprobs, item_of, s) for s in seeds}
        print(
            f"  bursts ({data}, fold seed {seeds[0]}): "
            + burst_check(emb, item_of, groups, runs[seeds[0]][0]),
            file=sys.stderr,
        )
        for n in ns:
            res: dict[str, list[float]] = {
                a: []
                for a in (
                    "shipped",
                    "teach",
                    "random",
                    "teach_all",
                    "random_all",
                    "spread_all",
                    "unsure_all",
                )
            }
            twice = {"teach": 0, "random": 0, "spread": 0, "unsure": 0}
            for s in seeds:
                folds, prior = runs[s]
                sc, tw = simulate(data, y, groups, emb, prior, item_of, folds, n, s, args.ablate)
                for a in res:
                    res[a].append(sc[a])
                for a in twice:
                    twice[a] += tw[a]
            d = np.subtract(res["teach"], res["random"])
            arms = ("shipped", "teach", "random")
            cells = "  ".join(f"{np.mean(res[a]):.3f} ± {np.std(res[a]):.3f}" for a in arms)
            per = ", ".join(f"{x:+.3f}" for x in d)
            print(f"{data:<10} {n:<3} {cells}  {np.mean(d):+.3f} ± {np.std(d):.3f} ({per})")
            d_all = np.subtract(res["teach_all"], res["random_all"])
            print(
                f"{'':14} all other photos, burst shots included: teach "
                f"{np.mean(res['teach_all']):.3f} ± {np.std(res['teach_all']):.3f}, random "
                f"{np.mean(res['random_all']):.3f} ± {np.std(res['random_all']):.3f}, "
                f"difference {np.mean(d_all):+.3f} ± {np.std(d_all):.3f}"
            )
            if args.ablate:
                print(
                    f"{'':14} ablation, all other photos: spread + bursts, no uncertainty "
                    f"{np.mean(res['spread_all']):.3f} ± {np.std(res['spread_all']):.3f}; "
                    f"uncertainty alone {np.mean(res['unsure_all']):.3f} ± "
                    f"{np.std(res['unsure_all']):.3f} (two from one burst: {twice['unsure']})"
                )
            print(
                f"{'':14} two labels from one burst: teach {twice['teach']}, random "
                f"{twice['random']} (of {n} x 5 folds x {len(seeds)} seeds)"
            )
    print(f"total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
