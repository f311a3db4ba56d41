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
from threadpoolctl import threadpool_limits

from moodtagger.core.embeddings import principal_basis, spherical_kmeans

EXACT_PAIRS = 2_000_000_000  # photos x labelled photos compared exactly (~2.6e12 multiply-adds)
PROBE = 4


def by_cells(photos: int, examples: int) -> bool:
    """Whether a library of ``photos`` is searched for ``examples`` labelled photos by cells."""
    return photos * examples > EXACT_PAIRS


class Neighbours:
    """The labelled photos' unit vectors ``examples`` (m, d), searched by :meth:`best`.

    By cells, the search itself runs on the vectors projected on the labelled photos' top
    ``dims`` principal directions (a tenth of the multiply-adds), and each photo's ``rerank``
    best candidates are then compared by their full vectors: the cosine returned is exact."""

    def __init__(
        self, examples: np.ndarray, *, cells: bool, dims: int = 64, rerank: int = 2, seed: int = 0
    ):
        self.examples = np.asarray(examples, np.float32)
        self.centroids: np.ndarray | None = None
        self.rerank = rerank
        if cells and len(self.examples) > 1:
            rng = np.random.default_rng(seed)
            ex = self.examples
            d = ex.shape[1]
            if d > dims:
                sample = ex[np.sort(rng.choice(len(ex), min(len(ex), 8192), replace=False))]
                self.basis: np.ndarray | None = principal_basis(sample, dims, rng)
                self.reduced = ex @ self.basis
            else:
                self.basis, self.reduced = None, ex
            self._cells(rng)

    def _cells(self, rng: np.random.Generator, iterations: int = 6) -> None:
        ex = self.reduced
        k = max(1, int(np.sqrt(len(ex))))
        sample = ex[np.sort(rng.choice(len(ex), min(len(ex), 64 * k), replace=False))]
        centroids = spherical_kmeans(sample, k, rng, iterations)
        near = (ex @ centroids.T).argmax(1)
        self.members = np.argsort(near, kind="stable")
        self.starts = np.searchsorted(near[self.members], np.arange(k + 1))
        self.by_cell = np.ascontiguousarray(ex[self.members])  # each cell's rows together
        self.centroids = centroids

    def best(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row of ``z`` (unit vectors): the index of its most similar labelled photo
        and that cosine."""
        if self.centroids is None:
            sims = z @ self.examples.T
            j = sims.argmax(1)
            return j, sims[np.arange(len(z)), j]
        zr = z @ self.basis if self.basis is not None else z
        probe = min(PROBE, len(self.centroids))
        top = np.argpartition(-(zr @ self.centroids.T), probe - 1, axis=1)[:, :probe]
        flat = top.ravel()  # photo i's slot s is flat[i * probe + s]
        order = np.argsort(flat, kind="stable")
        bounds = np.searchsorted(flat[order], np.arange(len(self.centroids) + 1))
        cand = np.zeros(len(flat), np.int64)  # the best labelled photo of each probed cell
        score = np.full(len(flat), -np.inf, np.float32)
        # many small products: one BLAS thread each (two threads spent more time meeting
        # than multiplying, 7x slower on a busy machine)
        with threadpool_limits(1, user_api="blas"):
            for c in range(len(self.centroids)):
                lo, hi = self.starts[c], self.starts[c + 1]
                if bounds[c] == bounds[c + 1] or lo == hi:
                    continue
                slots = order[bounds[c] : bounds[c + 1]]
                sims = zr[slots // probe] @ self.by_cell[lo:hi].T
                a = sims.argmax(1)
                cand[slots] = self.members[lo + a]
                score[slots] = sims[np.arange(len(slots)), a]
        r = min(self.rerank, probe)  # the best few by the projection, compared in full
        pick = np.argpartition(-score.reshape(-1, probe), r - 1, axis=1)[:, :r]
        best_c = np.take_along_axis(cand.reshape(-1, probe), pick, 1)
        best_s = np.take_along_axis(score.reshape(-1, probe), pick, 1)
        exact = np.empty(best_c.shape, np.float32)
        for k in range(r):
            exact[:, k] = np.einsum("nd,nd->n", z, self.examples[best_c[:, k]])
        exact[~np.isfinite(best_s)] = -np.inf  # a cell without labelled photos
        k = exact.argmax(1)
        rows = np.arange(len(z))
        return best_c[rows, k], exact[rows, k]
