"""`similar` and `learn` on a 100,000-photo catalog (issue 14: < 100 ms per query; seconds to learn).

A real catalog file is filled with N photos whose embeddings are real backbone embeddings (the
cached ArtPhoto / Emotion6 / sample features) plus small per-copy noise, so the vectors have the
structure real ones have (random vectors would flatter nothing and test nothing), and with
shipped-model predictions.

Printed, all measured in this run:
* loading the index from the catalog (once per process; the GUI keeps it);
* per query: the index (principal-direction shortlist + exact re-rank) against the baseline a
  user would write -- one exact float32 matrix-vector product over all N unit vectors -- and the
  index's agreement with that exact top 10;
* `learn` with 40 choices: fit + re-predicting and storing all N photos.

    python bench/bench_similar.py [--n 100000] [--queries 200]
    python bench/bench_similar.py --index-only --n 1000000 --queries 30

``--index-only``: just the index on N such vectors in memory (no catalog; at 1,000,000 photos
the cells of the inverted file are used): build time, per query, agreement with the exact top
10 of a float32 scan (the truth needs 5 GB of memory at 1,000,000).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.embeddings import EmbeddingIndex
from moodtagger.core.moods import MOODS
from moodtagger.core.vectors import unit

PARENT = "moodtagger-lite0-mlp256-v1"


def real_vectors() -> np.ndarray:
    from moodtagger.training import datasets, features

    sets = (
        datasets.load_artphoto().files,
        datasets.load_emotion6().files,
    )  # each cached on its own
    return np.concatenate([features.extract(files)["final"][:, :2].mean(1) for files in sets])


def fill(cat: Catalog, n: int, base: np.ndarray, rng) -> None:
    src = rng.integers(0, len(base), n)
    noise = rng.normal(0, 0.05, (n, base.shape[1])) * base.std(0)
    vecs = np.maximum(base[src] + noise, 0).astype(np.float16)
    probs = rng.dirichlet(np.ones(len(MOODS)) * 0.7, n)
    now = time.time()
    with cat.transaction() as c:  # test data: photos as the scanner would have stored them
        c.executemany(
            "INSERT INTO photos(id, path, identity, status, added_at, updated_at) "
            "VALUES (?, ?, ?, 'ok', ?, ?)",
            [
                (i + 1, os.fsencode(f"/lib/{i // 1000:03d}/IMG_{i:06d}.jpg"), f"id{i}", now, now)
                for i in range(n)
            ],
        )
    cat.predictions.save(PARENT, [(i + 1, Prediction(tuple(probs[i]), 5.0, 5.0)) for i in range(n)])
    cat.embeddings.save(PARENT, [(i + 1, vecs[i]) for i in range(n)])


def index_only(n: int, n_queries: int, base: np.ndarray, rng) -> None:
    src = rng.integers(0, len(base), n)
    vecs = np.empty((n, base.shape[1]), np.float16)
    sd = base.std(0)
    for s in range(0, n, 65536):
        m = min(n, s + 65536) - s
        vecs[s : s + m] = np.maximum(
            base[src[s : s + m]] + rng.normal(0, 0.05, (m, len(sd))) * sd, 0
        )
    queries = rng.choice(n, n_queries, replace=False)
    exact = np.empty(vecs.shape, np.float32)
    for s in range(0, n, 65536):
        exact[s : s + 65536] = unit(vecs[s : s + 65536])
    t = time.perf_counter()
    truth = []
    for q in queries:
        sims = exact @ exact[q]
        sims[q] = -2
        truth.append(set(np.argpartition(-sims, 10)[:10].tolist()))
    t_exact = (time.perf_counter() - t) / len(queries)
    del exact
    ids = np.arange(n)
    t = time.perf_counter()
    index = EmbeddingIndex(ids, vecs)
    print(
        f"index of {n:,} vectors built in {time.perf_counter() - t:.1f} s "
        f"({'cells' if index.centroids is not None else 'one scan'})"
    )
    index.search(vecs[queries[0]], 10)
    t = time.perf_counter()
    got = [index.search(vecs[q], 10, exclude={int(q)}) for q in queries]
    t_q = (time.perf_counter() - t) / len(queries)
    agree = np.mean([len(truth[i] & {p for p, _ in g}) / 10 for i, g in enumerate(got)])
    print(
        f"per query, top 10: index {t_q * 1000:.1f} ms vs exact float32 scan "
        f"{t_exact * 1000:.1f} ms ({t_exact / t_q:.1f}x); agreement with the exact top 10: {agree:.1%}"
    )


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--index-only", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    base = real_vectors()
    if args.index_only:
        index_only(args.n, args.queries, base, rng)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MOODTAGGER_PERSONAL_MODELS"] = str(Path(tmp) / "models")
        cat = Catalog(Path(tmp) / "bench.sqlite3")
        t = time.perf_counter()
        fill(cat, args.n, base, rng)
        print(f"catalog with {args.n:,} photos built in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        ids, vecs = cat.embeddings.all(PARENT)
        t_read = time.perf_counter() - t
        t = time.perf_counter()
        index = EmbeddingIndex(ids, vecs)
        t_index = time.perf_counter() - t
        print(
            f"load once: read {len(ids):,} embeddings {t_read * 1000:.0f} ms, build index {t_index * 1000:.0f} ms"
        )

        # baseline: exact float32 scan (the unit vectors kept in memory, 4 bytes x 1,280 per photo)
        exact = unit(vecs)
        queries = rng.choice(len(ids), args.queries, replace=False)
        t = time.perf_counter()
        truth = []
        for q in queries:
            s = exact @ exact[q]
            s[q] = -2
            top = np.argpartition(-s, 10)[:10]
            truth.append(set(ids[top[np.argsort(-s[top])]].tolist()))
        t_exact = (time.perf_counter() - t) / len(queries)
        t = time.perf_counter()
        got = [index.search(vecs[q], 10, exclude={int(ids[q])}) for q in queries]
        t_index_q = (time.perf_counter() - t) / len(queries)
        recall = np.mean([len(truth[i] & {pid for pid, _ in g}) / 10 for i, g in enumerate(got)])
        print(
            f"per query, top 10 of {len(ids):,}: index {t_index_q * 1000:.1f} ms vs exact float32 scan "
            f"{t_exact * 1000:.1f} ms ({t_exact / t_index_q:.1f}x); agreement with the exact top 10: {recall:.1%}"
        )
        del exact
        from moodtagger.core.embeddings import similar

        t = time.perf_counter()
        similar(cat, int(ids[0]), 10, model_id=PARENT)
        print(
            f"one query without a kept index (the CLI: read + one exact pass): "
            f"{(time.perf_counter() - t) * 1000:.0f} ms"
        )

        # learn: 5 choices per mood
        from moodtagger.core.model import personal

        chosen = rng.choice(ids, 5 * len(MOODS), replace=False)
        with cat.transaction():
            for j, pid in enumerate(chosen):
                cat.choices.set(int(pid), [MOODS[j % len(MOODS)]], source="user")
        t = time.perf_counter()
        s = personal.learn(cat, PARENT)
        print(
            f"learn: {sum(s.examples.values())} choices, {s.predicted:,} photos re-predicted and stored in "
            f"{time.perf_counter() - t:.1f} s; {s.changed:,} suggestions changed"
        )
        t = time.perf_counter()
        personal.reset(cat, PARENT)
        print(f"learn --reset: {time.perf_counter() - t:.2f} s")
        cat.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
