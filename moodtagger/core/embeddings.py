"""Photo embeddings: "more like this" by cosine similarity on the backbone's pooled feature.

The engine computes each photo's 1,280-d pooled backbone feature in the same pass as its moods
and the catalog keeps it (float16, per model id, tied to the photo's pixels like a prediction).

Search: :class:`EmbeddingIndex` loads a model's embeddings once and answers queries in a few
milliseconds on 100,000 photos (``bench/bench_similar.py``). An exact float32 scan of 100,000 x
1,280 values is memory-bound (~75-100 ms on a busy 2-core machine, 512 MB), so the index keeps
the unit vectors projected on their top principal directions (float32, ``dims`` columns, fitted
on a sample) to shortlist candidates, and ranks the shortlist by the exact cosine of the full
vectors. The similarities returned are always the exact cosine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from moodtagger.core.catalog import Catalog
from moodtagger.core.errors import MoodtaggerError
from moodtagger.core.vectors import unit


class EmbeddingError(MoodtaggerError):
    """No embedding to search with or in (one sentence for the user)."""


@dataclass(frozen=True)
class Similar:
    photo_id: int
    path: str
    similarity: float


def principal_basis(sample: np.ndarray, dims: int, rng: np.random.Generator) -> np.ndarray:
    """(d, dims): the uncentred principal directions of ``sample``'s rows (the best rank-`dims`
    approximation of their dot products), by a few rounds of subspace iteration (a full eigh
    of 1,280 x 1,280 took seconds)."""
    gram = sample.T @ sample
    basis = rng.standard_normal((sample.shape[1], dims)).astype(np.float32)
    for _ in range(4):
        basis, _r = np.linalg.qr(gram @ basis)
    return np.ascontiguousarray(basis, dtype=np.float32)


def spherical_kmeans(
    sample: np.ndarray, k: int, rng: np.random.Generator, iterations: int
) -> np.ndarray:
    """(k, d) unit centres of ``sample``'s rows, grouped by cosine (k of them drawn to start)."""
    centroids = unit(sample[rng.choice(len(sample), k, replace=False)])
    for _ in range(iterations):
        near = (sample @ centroids.T).argmax(1)
        sums = np.eye(k, dtype=np.float32)[near].T @ sample  # (np.add.at: slow)
        empty = ~sums.any(1)
        sums[empty] = centroids[empty]
        centroids = unit(sums)
    return centroids


class EmbeddingIndex:
    """A model's embeddings in memory, loaded once (the GUI keeps one; the CLI builds one per run).

    Up to ``exact_below`` photos: an exact scan of the unit vectors. Above: the unit vectors
    projected on their top ``dims`` principal directions shortlist candidates, ranked by the
    exact cosine of the full vectors. Above ``cells_above`` (a million photos: one pass over
    the projections alone is 0.5-1 GB, 100-270 ms here) the projections are also grouped into
    about sqrt(n) cells by spherical k-means, stored cell after cell, and a query scans only
    the ``probe`` cells nearest to it (an inverted file, as in FAISS's IVF)."""

    def __init__(
        self,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        dims: int = 256,
        exact_below: int = 20_000,
        cells_above: int = 250_000,
        probe: int = 16,
        seed: int = 0,
    ):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.full = np.asarray(vectors, dtype=np.float16)  # raw float16, as stored (or mapped)
        self._pos = {int(pid): i for i, pid in enumerate(self.ids)}
        n = len(self.ids)
        self.norms = np.ones(n, np.float32)
        self.order: np.ndarray | None = None  # row of self.full for each row of self.reduced
        self.starts: np.ndarray | None = None  # first row of each cell in self.reduced
        self.centroids: np.ndarray | None = None
        self.probe = probe
        d = self.full.shape[1] if n else 0
        if n <= exact_below or d <= dims:
            self.basis = None  # small library: exact scan of the unit vectors
            self.reduced = unit(self.full) if n else np.zeros((0, d), np.float32)
            return
        rng = np.random.default_rng(seed)
        if n > cells_above:
            dims = min(dims, 128)  # the cells shortlist; half the memory of 256 columns
        sample = unit(self.full[np.sort(rng.choice(n, size=min(n, 4096), replace=False))])
        self.basis = principal_basis(sample, dims, rng)
        self.reduced = np.empty((n, dims), np.float32)
        for s in range(0, n, 16384):  # chunked: never a float32 copy of everything at once
            chunk = self.full[s : s + 16384].astype(np.float32)
            norms = np.maximum(np.linalg.norm(chunk, axis=1), 1e-12)
            self.norms[s : s + 16384] = norms
            self.reduced[s : s + 16384] = (chunk @ self.basis) / norms[:, None]
        if n > cells_above:
            self._cells(rng)

    def _cells(self, rng: np.random.Generator, iterations: int = 8) -> None:
        n = len(self.reduced)
        k = int(np.sqrt(n))
        sample = self.reduced[np.sort(rng.choice(n, size=min(n, 32 * k), replace=False))]
        centroids = spherical_kmeans(sample, k, rng, iterations)
        cell = np.empty(n, np.int32)
        for s in range(0, n, 16384):
            cell[s : s + 16384] = (self.reduced[s : s + 16384] @ centroids.T).argmax(1)
        self.order = np.argsort(cell, kind="stable")
        self.reduced = self.reduced[self.order]
        self.starts = np.searchsorted(cell[self.order], np.arange(k + 1))
        self.centroids = centroids

    @classmethod
    def load(cls, catalog: Catalog, model_id: str, **kw) -> EmbeddingIndex:
        ids, vectors = catalog.embeddings.all(model_id)
        return cls(ids, vectors, **kw)

    def __len__(self) -> int:
        return len(self.ids)

    def vector(self, photo_id: int) -> np.ndarray | None:
        i = self._pos.get(int(photo_id))
        return None if i is None else self.full[i]

    def search(
        self,
        query: np.ndarray,
        k: int = 10,
        *,
        exclude: set[int] | None = None,
        shortlist: int | None = None,
    ) -> list[tuple[int, float]]:
        """The ``k`` most similar (photo id, cosine) to ``query``, most similar first."""
        exclude = exclude or set()
        n = len(self.ids)
        if n == 0 or k <= 0:
            return []
        q = unit(np.asarray(query, dtype=np.float32).reshape(-1))
        want = min(n, k + len(exclude))
        if self.basis is None:
            scores = self.reduced @ q
            cand = _top(scores, want)
            exact = scores[cand]
        else:
            # the shortlist re-ranked by the full vectors: with cells the scan is short, so a
            # longer list (reads of 1,000 rows) buys back what 128 columns lose
            m = min(
                n,
                max(
                    shortlist or 0,
                    *((100 * want, 1000) if self.order is not None else (20 * want, 200)),
                ),
            )
            qr = q @ self.basis
            if self.centroids is None or self.starts is None or self.order is None:
                cand = _top(self.reduced @ qr, m)
            else:  # only the cells nearest to the query
                cells = _top(self.centroids @ qr, min(self.probe, len(self.centroids)))
                rows = np.concatenate(
                    [np.arange(self.starts[c], self.starts[c + 1]) for c in np.sort(cells)]
                )
                cand = self.order[rows[_top(self.reduced[rows] @ qr, min(m, len(rows)))]]
            cand = np.sort(cand)  # reads of the (mapped) full vectors in file order
            exact = (self.full[cand].astype(np.float32) @ q) / self.norms[cand]
        order = np.argsort(-exact, kind="stable")
        out: list[tuple[int, float]] = []
        for j in order:
            pid = int(self.ids[cand[j]])
            if pid in exclude:
                continue
            out.append((pid, float(exact[j])))
            if len(out) == k:
                break
        return out


def search_once(
    ids: np.ndarray,
    vectors: np.ndarray,
    query: np.ndarray,
    k: int,
    *,
    exclude: set[int] | None = None,
) -> list[tuple[int, float]]:
    """Exact top ``k`` (photo id, cosine) by one chunked pass (no index kept)."""
    exclude = exclude or set()
    if len(ids) == 0 or k <= 0:
        return []
    q = unit(np.asarray(query, dtype=np.float32).reshape(-1))
    scores = np.empty(len(ids), np.float32)
    for s in range(0, len(ids), 16384):
        chunk = vectors[s : s + 16384].astype(np.float32)
        scores[s : s + 16384] = (chunk @ q) / np.maximum(np.linalg.norm(chunk, axis=1), 1e-12)
    cand = _top(scores, min(len(ids), k + len(exclude)))
    out = []
    for j in cand[np.argsort(-scores[cand], kind="stable")]:
        if int(ids[j]) not in exclude:
            out.append((int(ids[j]), float(scores[j])))
    return out[:k]


def _top(scores: np.ndarray, m: int) -> np.ndarray:
    if m >= len(scores):
        return np.arange(len(scores))
    return np.argpartition(-scores, m - 1)[:m]


def embedding_model_id(catalog: Catalog, model_id: str | None = None) -> str:
    """The model whose embeddings to use: ``model_id``, else the shipped default if the catalog
    has embeddings by it, else the one it has."""
    if model_id:
        return model_id
    from moodtagger.core.model import registry

    try:
        default = registry.default_model_id()
    except registry.ModelError:
        default = None
    have = catalog.embeddings.models()
    if default in have or not have:
        if default is None:
            raise EmbeddingError("no mood model is installed, so there are no embeddings")
        return default
    return have[0]


def similar(
    catalog: Catalog,
    photo_id: int,
    k: int = 10,
    *,
    model_id: str | None = None,
    index: EmbeddingIndex | None = None,
) -> list[Similar]:
    """The ``k`` catalogued photos most similar to ``photo_id`` (itself excluded), most similar
    first. Pass ``index`` (kept by the caller) to search many times without reloading."""
    return similar_to_photos(catalog, [photo_id], k, model_id=model_id, index=index)


def similar_to_photos(
    catalog: Catalog,
    photo_ids: Sequence[int],
    k: int = 10,
    *,
    model_id: str | None = None,
    index: EmbeddingIndex | None = None,
) -> list[Similar]:
    """ "More like these": the ``k`` catalogued photos most similar to any of ``photo_ids``
    (those excluded), most similar first. A photo's similarity is its best cosine to one of
    them (a selection of two scenes finds both scenes, not their blurred average). Photos of
    the selection without an embedding are left out of the query; none with one is an error."""
    mid = embedding_model_id(catalog, model_id)
    ids = list(dict.fromkeys(int(i) for i in photo_ids))
    vectors = []
    for pid in ids:
        vec = index.vector(pid) if index is not None else None
        if vec is None:
            vec = catalog.embeddings.get(pid, mid)
        if vec is not None:
            vectors.append(vec)
    if not vectors:
        if len(ids) != 1:
            raise EmbeddingError(
                f"none of the {len(ids)} photos has an embedding yet; run `moodtagger scan` "
                "on their folder (with a model that computes embeddings)"
            )
        photo = catalog.photos.by_id(ids[0])
        name = photo.path if photo else f"photo {ids[0]}"
        raise EmbeddingError(
            f"{name} has no embedding yet; run `moodtagger scan` on its folder "
            "(with a model that computes embeddings)"
        )
    exclude = set(ids)
    best: dict[int, float] = {}
    if index is None and len(vectors) > 1:  # one pass over the catalog's vectors for all of them
        all_ids, all_vectors = catalog.embeddings.all(mid)
        for vec in vectors:
            for pid, s in search_once(all_ids, all_vectors, vec, k, exclude=exclude):
                best[pid] = max(s, best.get(pid, -2.0))
    else:
        for vec in vectors:
            for hit in similar_to_vector(
                catalog, vec, k, model_id=mid, index=index, exclude=exclude
            ):
                best[hit.photo_id] = max(hit.similarity, best.get(hit.photo_id, -2.0))
    top = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    paths = _paths(catalog, [pid for pid, _ in top])
    return [Similar(pid, paths[pid], s) for pid, s in top if pid in paths]


def similar_to_path(
    catalog: Catalog,
    path: str | os.PathLike[str],
    k: int = 10,
    *,
    model_id: str | None = None,
    embed: Callable[[str, str], np.ndarray] | None = None,
) -> list[Similar]:
    """``moodtagger similar PATH``: a catalogued photo with an embedding is searched by its
    stored vector; any other file is decoded once for its embedding (``embed(path, model_id)``,
    default :func:`embed_file`), its own catalog entry (stale pixels) left out of the answer."""
    mid = embedding_model_id(catalog, model_id)
    photo = catalog.photos.by_path(path)
    if photo is not None and catalog.embeddings.get(photo.id, mid) is not None:
        return similar(catalog, photo.id, k, model_id=mid)
    if not os.path.isfile(path):
        raise EmbeddingError(f"{os.fsdecode(path)}: no such file")
    vec = (embed or embed_file)(os.fsdecode(path), mid)
    exclude = {photo.id} if photo is not None else set()
    return similar_to_vector(catalog, vec, k, model_id=mid, exclude=exclude)


def embed_file(path: str, model_id: str) -> np.ndarray:
    """The embedding of one file, decoded once with the model (no catalog involved)."""
    from moodtagger.core.model.engine import MoodModel
    from moodtagger.core.model.registry import ModelError

    try:
        model = MoodModel(model_id)
    except ModelError as exc:
        raise EmbeddingError(str(exc)) from None
    for batch in model.predict_paths([path], batch_size=1):
        for r in batch:
            if r.error:
                raise EmbeddingError(f"{path}: {r.error}")
            vec = getattr(r, "embedding", None)
            if vec is None:
                raise EmbeddingError(
                    f"{path} is not in the catalog and the model {model_id} computes no "
                    "embedding; scan its folder first"
                )
            return np.asarray(vec)
    raise EmbeddingError(f"{path}: nothing decoded")


def similar_to_vector(
    catalog: Catalog,
    vector: np.ndarray,
    k: int = 10,
    *,
    model_id: str | None = None,
    index: EmbeddingIndex | None = None,
    exclude: set[int] | None = None,
) -> list[Similar]:
    mid = embedding_model_id(catalog, model_id)
    if index is not None:
        hits = index.search(vector, k, exclude=exclude)
    else:  # one query (the CLI): an exact chunked scan costs less than building an index
        ids, vectors = catalog.embeddings.all(mid)
        hits = search_once(ids, vectors, vector, k, exclude=exclude)
    paths = _paths(catalog, [pid for pid, _ in hits])
    return [Similar(pid, paths[pid], s) for pid, s in hits if pid in paths]


def _paths(catalog: Catalog, ids: list[int]) -> dict[int, str]:
    out = {}
    for pid in ids:
        photo = catalog.photos.by_id(pid)
        if photo is not None:
            out[pid] = photo.path
    return out
