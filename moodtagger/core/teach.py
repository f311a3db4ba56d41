""" "Teach me": the photos whose labels would improve the user's suggestions most (issue 27).

``moodtagger teach`` and the app's Teach me queue call :func:`teach`; the simulated users of
``experiments/exp_teach.py`` call :func:`pick` on arrays. The rule, in one place:

* **Candidates**: readable photos with a current suggestion (the model in use: the personal
  model once `learn` has run, else the shipped one) and a stored embedding, that have **no
  choice at all** (chosen, accepted, written or imported) -- and are not a near-duplicate of
  a photo that has one (its label is known; `learn` makes its burst follow it).
* **Uncertain first**: a photo's uncertainty is ``1 - (p1 - p2)``, one minus the margin
  between its two likeliest moods (the "ambiguous" measure of the grid), so 1 = a tie.
  ``extra`` (the hook for yes/no moods beside the eight, e.g. custom moods): columns of
  probabilities whose uncertainty ``1 - |2p - 1|`` counts when it is larger.
* **Spread over the library**: uncertainty-weighted k-center greedy on the centred unit
  embeddings (the personal model's geometry): the first pick is the most uncertain photo;
  each next one maximises ``uncertainty x distance to the nearest photo already picked or
  labelled`` (distance = ``1 - cosine``), so the picks cover different scenes.
* **One per burst**: two photos are one burst when their centred cosine is >= ``BURST_COSINE``
  (a crop, exposure or slightly moved frame of a photo sits at 0.7-0.95; the most similar
  *other* photo rarely above 0.65-0.7), or when they were taken within ``BURST_SECONDS`` of
  each other and their cosine is >= ``BURST_TIME_COSINE``. A photo is never picked when it is
  one burst with a photo already picked or labelled, or with one of that photo's burst (two
  steps: a crop and an exposure of a shot can be less alike than either is to the shot); and
  the chains of very close pairs (cosine >= ``CHAIN_COSINE``) count as one burst too, so a
  burst that drifts (A like B, B like C) still gives one pick, while a library of merely
  similar photos is not merged into one.

Exactly ``n`` photos come back; fewer only when the library has fewer unlabelled bursts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from moodtagger.core.catalog import Catalog
from moodtagger.core.errors import MoodtaggerError
from moodtagger.core.moods import MOODS
from moodtagger.core.vectors import CentredRows, library_center

BURST_COSINE = 0.65  # centred cosine: near-duplicates (personal.Params.near)
CHAIN_COSINE = 0.8  # chains of pairs this close are one burst whatever their ends' cosine
BURST_TIME_COSINE = 0.4  # ... or this similar and taken within BURST_SECONDS
BURST_SECONDS = 2.0
POOL_MIN = 2000  # candidates considered: the most uncertain max(POOL_MIN, POOL_PER_PICK * n)
POOL_PER_PICK = 40


class TeachError(MoodtaggerError):
    """Nothing to teach from (one sentence for the user)."""


@dataclass(frozen=True)
class Pick:
    photo_id: int
    path: str
    mood: str  # the current top suggestion
    probability: float
    second: str  # the runner-up
    second_probability: float
    uncertainty: float  # 1 - margin (or a yes/no mood's, when larger)
    nearest: float  # centred cosine to the closest photo labelled or picked before it (-1: none)

    @property
    def why(self) -> str:
        """Why it was picked, in words."""
        what = (
            f"unsure between {self.mood} ({self.probability:.2f}) and {self.second} "
            f"({self.second_probability:.2f})"
        )
        if self.nearest <= -1:
            return what
        return f"{what}; unlike the photos labelled or picked before (closest cosine {self.nearest:.2f})"


def uncertainty(probs: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """``1 - (p1 - p2)`` per row of ``probs`` (n, k); with ``extra`` (n, m) yes/no
    probabilities, the larger of that and each column's ``1 - |2p - 1|``."""
    p = np.nan_to_num(np.asarray(probs, np.float64), nan=0.0)
    if p.shape[1] >= 2:
        top2 = -np.partition(-p, 1, axis=1)[:, :2]
        u = 1.0 - (top2[:, 0] - top2[:, 1])
    else:
        u = np.ones(len(p))
    if extra is not None and extra.size:
        e = np.nan_to_num(np.asarray(extra, np.float64), nan=0.0)
        u = np.maximum(u, (1.0 - np.abs(2.0 * e - 1.0)).max(1))
    return u


def centred(vectors: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """Unit embeddings relative to ``center`` (default: their own mean unit vector), unit length."""
    from moodtagger.core import vectors as v

    return v.centred(vectors, v.unit(vectors).mean(0) if center is None else center)


def bursts(z: np.ndarray) -> np.ndarray:
    """The chain number of each row of the centred unit embeddings ``z``: connected groups of
    pairs with cosine >= ``CHAIN_COSINE``."""
    n = len(z)
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    zf = np.asarray(z, np.float32)
    for s in range(0, n, 2048):
        linked = (zf[s : s + 2048] @ zf.T) >= CHAIN_COSINE
        for a, b in zip(*np.nonzero(linked), strict=True):
            ra, rb = root(int(a) + s), root(int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(i) for i in range(n)])


def _same_burst(sims: np.ndarray, dt: np.ndarray | None) -> np.ndarray:
    """Pairs that are one burst: near-duplicates, or similar and taken moments apart."""
    same = sims >= BURST_COSINE
    if dt is not None:
        same |= (np.abs(dt) <= BURST_SECONDS) & (sims >= BURST_TIME_COSINE)  # NaN: False
    return same


def pick(
    probs: np.ndarray,
    z: np.ndarray | CentredRows,
    labelled: np.ndarray,
    n: int,
    *,
    times: np.ndarray | None = None,
    extra: np.ndarray | None = None,
    eligible: np.ndarray | None = None,
) -> list[tuple[int, float, float]]:
    """The rows to label next: ``(row, uncertainty, nearest cosine)``, best first.

    ``probs`` (N, k) current suggestions, ``z`` (N, d) centred unit embeddings (:func:`centred`),
    ``labelled`` (N,) bool: rows that already have a choice (never picked; their bursts
    neither). ``eligible`` (N,) bool: rows that may be picked (default: all unlabelled).
    Exactly ``n`` rows unless fewer unlabelled bursts exist."""
    labelled = np.asarray(labelled, bool)
    ok = ~labelled if eligible is None else (np.asarray(eligible, bool) & ~labelled)
    u = uncertainty(probs, extra)
    cand = np.flatnonzero(ok)
    if n <= 0 or len(cand) == 0:
        return []
    size = max(POOL_MIN, POOL_PER_PICK * n)
    while True:
        pool = cand[np.argsort(-u[cand], kind="stable")[:size]]
        out = _pick_in(pool, np.flatnonzero(labelled), u, z, n, times)
        if len(out) >= n or len(pool) == len(cand):
            return out
        size *= 4  # bursts used the pool up: look further down the uncertainty order


def _pick_in(pool, lab, u, z, n, times) -> list[tuple[int, float, float]]:
    rows = np.concatenate([pool, lab])
    zz = np.asarray(z[rows], np.float32)
    t = None if times is None else np.asarray(times, np.float64)[rows]
    m = len(pool)
    zp = zz[:m]
    tp = None if t is None else t[:m]
    chain = bursts(zp)  # among the candidates (labelled photos: by the pairs below)
    # one burst with each other (pool x pool); the burst of a photo = its near-duplicates and
    # theirs (two steps: a crop and an exposure of one shot may be less alike than either is
    # to the shot)
    pair = _same_burst(zp @ zp.T, None if tp is None else tp[:, None] - tp[None, :])
    np.fill_diagonal(pair, True)
    near_lab = np.zeros(m, bool)  # one burst with a labelled photo: its label is known
    near = np.full(m, -1.0, np.float32)  # cosine to the nearest labelled (then picked) photo
    for s in range(m, len(rows), 4096):
        sims = zp @ zz[s : s + 4096].T
        dt = None if t is None else tp[:, None] - t[None, s : s + 4096]  # type: ignore[index]
        near_lab |= _same_burst(sims, dt).any(1)
        near = np.maximum(near, sims.max(1))
    known = near_lab | pair[near_lab].any(0)
    alive = ~np.isin(chain, chain[known])
    out: list[tuple[int, float, float]] = []
    up = u[pool]
    while len(out) < n and alive.any():
        score = np.where(alive, up * (1.0 - near), -np.inf)
        if not out and len(lab) == 0:
            score = np.where(alive, up, -np.inf)  # the first pick: the most uncertain
        j = int(np.argmax(score))
        out.append((int(pool[j]), float(up[j]), float(near[j]) if near[j] > -1 else -1.0))
        alive &= (chain != chain[j]) & ~pair[pair[j]].any(0)
        near = np.maximum(near, zp @ zp[j])
    return out


def _seconds(taken_at: str | None) -> float:
    if not taken_at:
        return float("nan")
    try:
        return datetime.fromisoformat(taken_at).timestamp()
    except ValueError:
        return float("nan")


def teach(catalog: Catalog, n: int, model_id: str, embedding_model_id: str) -> list[Pick]:
    """The ``n`` photos to label next (:func:`pick` on the catalog): suggestions by
    ``model_id`` (the model in use), embeddings by ``embedding_model_id`` (its base model)."""
    from moodtagger.core.rows import NO_CHOICE, OK, load_rows

    if n < 1:
        raise TeachError("ask for at least one photo to teach")
    rows = load_rows(catalog, model_id)
    ids, vectors = catalog.embeddings.all(embedding_model_id)
    if len(ids) == 0:
        raise TeachError(
            f"the catalog has no embeddings by {embedding_model_id}; run `moodtagger scan` first"
        )
    where = {int(p): i for i, p in enumerate(ids)}
    row_of = np.array([where.get(int(p), -1) for p in rows.ids], np.int64)
    have = (row_of >= 0) & (rows.status == OK)
    rows = rows.take(np.flatnonzero(have))
    row_of = row_of[have]
    # centred only for the rows pick looks at (its pool and the labelled photos)
    z = CentredRows(vectors, library_center(vectors), row_of)
    labelled = rows.choice_state != NO_CHOICE
    eligible = ~np.isnan(rows.probs).any(1)
    times = _times(catalog, rows.ids)
    chosen = pick(rows.probs, z, labelled, n, times=times, eligible=eligible & ~labelled)
    out = []
    for i, u, near in chosen:
        p = rows.probs[i].astype(np.float64)
        first, second = np.argsort(-p, kind="stable")[:2]
        out.append(
            Pick(
                int(rows.ids[i]),
                rows.paths[i],
                MOODS[first],
                float(p[first]),
                MOODS[second],
                float(p[second]),
                u,
                near,
            )
        )
    return out


def _times(catalog: Catalog, ids: Sequence[int] | np.ndarray) -> np.ndarray | None:
    taken = {p.id: p.taken_at for p in catalog.photos.all(status="ok") if p.taken_at}
    if not taken:
        return None
    return np.array([_seconds(taken.get(int(i))) for i in ids], np.float64)
