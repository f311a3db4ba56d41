"""Custom moods taught by example (issue 27): which scorer ranks a concept's photos on top?

    python experiments/exp_custom_moods.py               # 20 seeds, 6 examples (prints the table)
    python experiments/exp_custom_moods.py --examples 5 10 --seeds 10

Two libraries, so that every concept's labels are complete in its library: the 1,000 photos of
``../shared/data/imagenet-sample`` (one per ImageNet class; concepts: groups of related classes --
dogs, birds, vehicles, food, fish, landscapes, snakes, insects) and the 1,980 photos of
``../shared/data/emotion6`` (concepts: its six emotions). (Mixed into one library, an ImageNet
group's "other photos" would miss Emotion6's many unlabelled dogs, dishes and landscapes.)
Embeddings by the runtime engine (the shipped model's pooled backbone feature, exactly what a
scan stores), cached under the user cache dir.

Per concept and seed: N random photos of the concept are the user's examples; the background is
the examples of the *other* concepts (the user's other choices, 6 each) plus a random library
sample (``moodtagger.core.model.custom.background``); every other photo is unlabelled. Metric:
the fraction of the concept's other photos found in the top k of the ranking (k = their count,
i.e. R-precision), mean ± std over seeds, per concept and averaged; plus, after the leave-one-out
calibration, the share of the concept's other photos with p >= 0.5 (recall) and the share of
the photos with p >= 0.5 that belong to the concept (precision).
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # small matrices: BLAS threads only fight (15x slower)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from moodtagger.core import imaging  # noqa: E402
from moodtagger.core import vectors as vectors_  # noqa: E402
from moodtagger.core.model import custom  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

# ImageNet-1k class index ranges (the sorted wnid order of the file names)
GROUPS = {
    "dogs": [range(151, 269)],
    "birds": [range(7, 25), range(80, 101), range(127, 147)],
    "fish": [range(0, 7), range(389, 398)],
    "snakes": [range(52, 69)],
    "insects": [range(300, 327)],
    "food": [range(924, 970)],
    "landscapes": [range(970, 981)],
    "vehicles": [
        [407, 436, 468, 511, 609, 627, 656, 661, 717, 751, 817, 864, 867, 547, 565, 705, 779]
        + [803, 829, 874, 555, 569, 573, 575, 586, 595, 603, 612, 665, 670, 671, 675, 734]
    ],
}


def library() -> tuple[list[Path], dict[str, np.ndarray]]:
    inet = sorted((DATA / "imagenet-sample").glob("*.JPEG"))
    e6 = sorted((DATA / "emotion6" / "images").glob("*/*.jpg"))
    files = inet + e6
    concepts: dict[str, np.ndarray] = {}
    for name, parts in GROUPS.items():
        idx = sorted({i for part in parts for i in part})
        concepts[name] = np.array(idx)
    for emo in sorted({f.parent.name for f in e6}):
        concepts[f"e6-{emo}"] = np.array(
            [len(inet) + i for i, f in enumerate(e6) if f.parent.name == emo]
        )
    return files, concepts


def embeddings(files: list[Path]) -> np.ndarray:
    from moodtagger.core.model.engine import MoodModel

    model = MoodModel(device="cpu")
    key = hashlib.sha256(("\n".join(map(str, files)) + model.model_id).encode()).hexdigest()[:16]
    cache = imaging.cache_dir() / "exp_custom_moods" / f"emb-{model.model_id}-{key}.npy"
    if cache.exists():
        return np.load(cache)
    out = np.zeros((len(files), 1280), np.float16)
    done = 0
    for batch in model.predict_paths([(i, str(f)) for i, f in enumerate(files)]):
        for r in batch:
            if r.embedding is not None:
                out[int(r.key)] = r.embedding  # type: ignore[call-overload]
        done += len(batch)
        print(f"\rembedding {done}/{len(files)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, out)
    return out


def run(z, concepts, method, n_ex, seeds):
    """{concept: (topk fractions, recalls, precisions) over seeds}"""
    res: dict[str, list[tuple[float, float, float]]] = {c: [] for c in concepts}
    prm = custom.CustomParams(method=method)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        picks = {c: rng.choice(rows, n_ex, replace=False) for c, rows in concepts.items()}
        for c, rows in concepts.items():
            pos = picks[c]
            others = np.concatenate([p for o, p in picks.items() if o != c])
            fit, cal = custom.background(len(z), pos, others, prm, rng)
            p = custom.probabilities(z, pos, fit, cal, prm)
            rest = np.setdiff1d(rows, pos)
            cand = np.setdiff1d(np.arange(len(z)), pos)
            order = cand[np.argsort(-p[cand], kind="stable")]
            top = order[: len(rest)]
            frac = len(np.intersect1d(top, rest)) / len(rest)
            yes = cand[p[cand] >= 0.5]
            rec = float((p[rest] >= 0.5).mean())
            prec = len(np.intersect1d(yes, rest)) / max(len(yes), 1)
            res[c].append((frac, rec, prec))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--examples", type=int, nargs="+", default=[6])
    ap.add_argument("--methods", nargs="+", default=list(custom.METHODS))
    args = ap.parse_args()
    files, concepts = library()
    emb = embeddings(files)
    n_inet = sum(1 for f in files if f.suffix == ".JPEG")
    parts = [
        ("imagenet-sample", emb[:n_inet], {c: r for c, r in concepts.items() if "e6-" not in c}),
        (
            "emotion6",
            emb[n_inet:],
            {c: r - n_inet for c, r in concepts.items() if c.startswith("e6-")},
        ),
    ]
    seeds = range(args.seeds)
    for n_ex in args.examples:
        for lib_name, vectors, all_cs in parts:
            cs = {c: r for c, r in all_cs.items() if len(r) >= n_ex + 3}  # others to find
            z = vectors_.centred(vectors, vectors_.library_center(vectors))
            print(f"\n## {lib_name} ({len(z)} photos), {n_ex} examples, {args.seeds} seeds")
            print("fraction of the concept's other photos in its top k (k = their count)\n")
            results = {m: run(z, cs, m, n_ex, seeds) for m in args.methods}
            print("| concept | photos | " + " | ".join(args.methods) + " |")
            print("|---|---|" + "---|" * len(args.methods))
            for c, rows in cs.items():
                cells = []
                for m in args.methods:
                    f = np.array([r[0] for r in results[m][c]])
                    cells.append(f"{f.mean():.3f} ± {f.std():.3f}")
                print(f"| {c} | {len(rows)} | " + " | ".join(cells) + " |")
            cells = []
            for m in args.methods:
                per_seed = np.array([[r[0] for r in results[m][c]] for c in cs]).mean(0)
                cells.append(f"**{per_seed.mean():.3f} ± {per_seed.std():.3f}**")
            print("| mean over concepts | | " + " | ".join(cells) + " |")
            print("\ncalibrated p >= 0.5 (mean over concepts and seeds): recall / precision")
            for m in args.methods:
                r = np.array([x[1] for c in cs for x in results[m][c]])
                p = np.array([x[2] for c in cs for x in results[m][c]])
                print(f"  {m:<9} recall {r.mean():.3f}  precision {p.mean():.3f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
