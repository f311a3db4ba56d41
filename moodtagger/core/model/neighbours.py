"""Each photo's most similar labelled photo, for the personal model's near-duplicate rule.

Exact -- one matrix product per chunk of photos -- while photos x labelled photos stays under
:data:`EXACT_PAIRS`. Above it (a million photos and 50,000 choices is 6.4e13 multiply-adds,
about ten minutes on two cores) the labelled photos are grouped into about sqrt(m) cells by
spherical k-means, and each photo is compared only with the labelled photos of the
:data:`PROBE` cells whose centres are nearest to it (an inverted file, as in FAISS's IVF): about
PROBE / sqrt(m) of the work. The rule only looks at neighbours with a cosine of 0.65 and more,
and those sit in the photo's nearest cells; ``bench/bench_scale.py`` prints how often the
answer differs from the exact one.
"""

from __future__ import annotations

import numpy as np

EXACT_PAIRS = 2_000_000_000  # photos x labelled photos compared exactly (~2.6e12 multiply-adds)
PROBE = 4


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def by_cells(photos: int, examples: int) -> bool:
    """Whether a library of ``photos`` is searched for ``examples`` labelled photos by cells."""
    return photos * examples > EXACT_PAIRS


class Neighbours:
    """The labelled photos' unit vectors ``examples`` (m, d), searched by :meth:`best`."""

    def __init__(self, examples: np.ndarray, *, cells: bool, seed: int = 0):
        self.examples = np.asarray(examples, np.float32)
        self.centroids: np.ndarray | None = None
        if cells and len(self.examples) > 1:
            self._cells(np.random.default_rng(seed))

    def _cells(self, rng: np.random.Generator, iterations: int = 10) -> None:
        ex = self.examples
        k = max(1, int(np.sqrt(len(ex))))
        centroids = ex[rng.choice(len(ex), k, replace=False)]
        for _ in range(iterations):
            near = (ex @ centroids.T).argmax(1)
            sums = np.eye(len(centroids), dtype=np.float32)[near].T @ ex  # (np.add.at: slow)
            empty = ~sums.any(1)
            sums[empty] = centroids[empty]
            centroids = _unit(sums)
        near = (ex @ centroids.T).argmax(1)
        self.members = np.argsort(near, kind="stable")
        self.starts = np.searchsorted(near[self.members], np.arange(k + 1))
        self.centroids = centroids

    def best(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row of ``z`` (unit vectors): the index of its most similar labelled photo
        and that cosine."""
        if self.centroids is None:
            sims = z @ self.examples.T
            j = sims.argmax(1)
            return j, sims[np.arange(len(z)), j]
        probe = min(PROBE, len(self.centroids))
        top = np.argpartition(-(z @ self.centroids.T), probe - 1, axis=1)[:, :probe]
        cell_of = top.ravel()
        photo_of = np.repeat(np.arange(len(z)), probe)
        order = np.argsort(cell_of, kind="stable")
        bounds = np.searchsorted(cell_of[order], np.arange(len(self.centroids) + 1))
        best = np.full(len(z), -np.inf, np.float32)
        j = np.zeros(len(z), np.int64)
        for c in range(len(self.centroids)):
            if bounds[c] == bounds[c + 1] or self.starts[c] == self.starts[c + 1]:
                continue
            rows = photo_of[order[bounds[c] : bounds[c + 1]]]  # each photo once per cell
            members = self.members[self.starts[c] : self.starts[c + 1]]
            sims = z[rows] @ self.examples[members].T
            a = sims.argmax(1)
            value = sims[np.arange(len(rows)), a]
            better = value > best[rows]
            best[rows[better]] = value[better]
            j[rows[better]] = members[a[better]]
        return j, best
