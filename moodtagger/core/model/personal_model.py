"""The personal model itself (:mod:`moodtagger.core.model.personal` learns, stores and uses it):
a linear correction on the shipped model's logits plus a nearest-neighbour term, fitted and
applied with numpy only; saved as an ``.npz`` of arrays (no pickles) and checked array by
array when it is loaded, so a damaged file is one sentence (:func:`damaged`), never a crash."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodtagger.core.errors import MoodtaggerError
from moodtagger.core.model import neighbours
from moodtagger.core.model.neighbours import Neighbours
from moodtagger.core.moods import MOODS


class PersonalError(MoodtaggerError):
    """Nothing to learn from, or a personal model that cannot be used (one sentence)."""


@dataclass(frozen=True)
class Params:
    """Chosen on ArtPhoto simulated users (``bench/bench_personal.py``, tuning seeds only)."""

    l2: float = 0.1  # penalty on W per labelled photo (larger: closer to the shipped model)
    steps: int = 300
    near: float = 0.65  # cosine (centred) where a labelled neighbour starts to count
    same: float = 0.75  # ... and where it counts fully
    follow: float = 0.95  # weight of a near-duplicate's label at `same` and above


def centred(vectors: np.ndarray, center: np.ndarray) -> np.ndarray:
    """``unit(unit(vectors) - center)`` in one float32 copy, normalised in place."""
    z = np.array(vectors, dtype=np.float32)
    z /= np.maximum(np.sqrt(np.einsum("nd,nd->n", z, z)), 1e-12)[:, None]
    z -= center
    z /= np.maximum(np.sqrt(np.einsum("nd,nd->n", z, z)), 1e-12)[:, None]
    return z


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _log_prior(probs: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-6, 1.0)
    return np.log(p / p.sum(-1, keepdims=True)).astype(np.float32)


FIT_MAX = 5_000  # labelled photos the linear correction is fitted on


def fit_rows(targets: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """Rows of ``targets`` to fit on: all up to ``limit``; above, each mood (a photo's first
    chosen one) keeps all its photos up to a common quota, the largest that fits ``limit``
    (rare moods keep every example), drawn at random with a fixed seed."""
    n = len(targets)
    if n <= limit:
        return np.arange(n)
    mood = np.asarray(targets).argmax(1)
    counts = np.bincount(mood, minlength=len(MOODS))
    lo, hi = 0, int(counts.max())
    while lo < hi:  # the largest quota q with sum(min(counts, q)) <= limit
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if np.minimum(counts, mid).sum() <= limit else (lo, mid - 1)
    rng = np.random.default_rng(seed)
    keep = [
        rng.choice(np.flatnonzero(mood == m), min(int(c), lo), replace=False)
        for m, c in enumerate(counts)
        if c
    ]
    return np.sort(np.concatenate(keep))


def targets_from_moods(mood_lists: list[list[str]]) -> np.ndarray:
    """One row per photo: its chosen moods shared equally (a soft target)."""
    t = np.zeros((len(mood_lists), len(MOODS)), np.float32)
    for i, moods in enumerate(mood_lists):
        idx = [MOODS.index(m) for m in moods if m in MOODS]
        if idx:
            t[i, idx] = 1.0 / len(idx)
    return t


@dataclass
class PersonalModel:
    center: np.ndarray  # (d,) mean unit embedding of the library it was fitted in
    weight: np.ndarray  # (8, d) correction on the parent's logits
    examples: np.ndarray  # (n, d) float16 centred unit embeddings of the labelled photos
    targets: np.ndarray  # (n, 8) their labels
    params: Params = field(default_factory=Params)

    # -- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        prior_probs: np.ndarray,
        vectors: np.ndarray,
        targets: np.ndarray,
        *,
        center: np.ndarray,
        params: Params | None = None,
    ) -> PersonalModel:
        """``prior_probs`` (n, 8) and ``vectors`` (n, d) of the labelled photos, ``targets``
        (n, 8) their labels; ``center`` the library's mean unit embedding."""
        prm = params or Params()
        z_all = centred(vectors, center)
        t_all = np.asarray(targets, np.float32)
        # the linear term from at most FIT_MAX of them (every labelled photo still counts as
        # a neighbour): 300 full passes over 50,000 x 1,280 floats took minutes, and a
        # correction of 8 x 1,280 weights is settled long before that many examples
        use = fit_rows(t_all, FIT_MAX)
        z, t = z_all[use], t_all[use]
        b = _log_prior(np.asarray(prior_probs)[use])
        n, d = z.shape
        counts = t.sum(0)
        present = counts > 0
        cw = np.where(
            present, counts.sum() / (max(1, present.sum()) * np.maximum(counts, 1e-9)), 0.0
        )
        w = (t * cw).sum(1)
        w = (w / max(w.mean(), 1e-9)).astype(np.float32)
        weight = np.zeros((len(MOODS), d), np.float32)
        # full-batch gradient descent with momentum on a convex loss (small: n x d x 8)
        lr, mom = 0.5, 0.9
        vel = np.zeros_like(weight)
        # z transposed once: (8 x n) @ (n x d) with a transposed operand ran 10x slower in
        # multi-threaded BLAS than (d x n) @ (n x 8) on a contiguous copy
        zt = np.ascontiguousarray(z.T)
        for _ in range(prm.steps):
            q = _softmax(b + z @ weight.T)
            grad = (zt @ ((q - t) * w[:, None])).T / n + 2 * prm.l2 * weight
            vel = mom * vel - lr * grad
            weight += vel
        return cls(center.astype(np.float32), weight, z_all.astype(np.float16), t_all, prm)

    # -- prediction --------------------------------------------------------------------------
    def predict(
        self, prior_probs: np.ndarray, vectors: np.ndarray, *, chunk: int = 8192
    ) -> np.ndarray:
        """(n, 8) probabilities for photos with parent probabilities and embeddings."""
        n = len(prior_probs)
        out = np.empty((n, len(MOODS)), np.float32)
        prm = self.params
        near = self._neighbours(n) if len(self.examples) else None
        for s in range(0, n, chunk):
            z = centred(vectors[s : s + chunk], self.center)
            q = _softmax(_log_prior(prior_probs[s : s + chunk]) + z @ self.weight.T)
            if near is not None:
                j, best = near.best(z)
                a = prm.follow * np.clip(
                    (best - prm.near) / max(prm.same - prm.near, 1e-6), 0.0, 1.0
                )
                q = (1 - a)[:, None] * q + a[:, None] * self.targets[j]
            out[s : s + chunk] = q
        return out

    def _neighbours(self, photos: int) -> Neighbours:
        """The labelled photos searched exactly, or by cells in a large library (kept: the
        cells of a model are computed once)."""
        cells = neighbours.by_cells(photos, len(self.examples))
        cache = self.__dict__.setdefault("_near", {})
        if cells not in cache:
            cache[cells] = Neighbours(self.examples.astype(np.float32), cells=cells)
        return cache[cells]

    # -- files -----------------------------------------------------------------------------
    def save(self, path: Path) -> str:
        """Write the arrays to ``path`` (.npz, atomically); returns its sha256."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(
            tmp,
            center=self.center,
            weight=self.weight,
            examples=self.examples,
            targets=self.targets,
            params=np.array(json.dumps(self.params.__dict__)),
        )
        os.replace(tmp, path)
        return _sha256(path)

    @classmethod
    def load(cls, path: Path, sha256: str | None = None) -> PersonalModel:
        """Read and check a saved model: arrays only (``allow_pickle=False``: no code ever runs
        from a model file), the keys, shapes and finite values :meth:`predict` needs, and the
        sha256 of its registry entry. Anything else is a :class:`PersonalError` naming ``path``."""
        try:
            if not path.is_file():
                raise _Bad("it is not a file")
            if sha256 is not None and _sha256(path) != sha256:
                raise _Bad("its sha256 differs from the one recorded when it was learnt")
            with np.load(path, allow_pickle=False) as z:
                missing = sorted(set(_ARRAYS) - set(z.files))
                if missing:
                    raise _Bad(f"it lacks {', '.join(missing)}")
                arrays = {k: z[k] for k in _ARRAYS}
            return cls._checked(arrays)
        except PersonalError:
            raise
        except _Bad as exc:
            raise PersonalError(damaged(path, str(exc))) from None
        except Exception as exc:  # noqa: BLE001 - whatever a damaged file raises: one sentence
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "allow_pickle" in reason or "Object arrays" in reason:
                reason = "it holds pickled objects, which are never loaded"
            else:
                reason = f"it is not a readable .npz of arrays: {reason}"
            raise PersonalError(damaged(path, reason)) from None

    @classmethod
    def _checked(cls, a: dict[str, np.ndarray]) -> PersonalModel:
        center, weight, examples, targets = (a[k] for k in _ARRAYS[:4])
        for name in _ARRAYS[:4]:
            if a[name].dtype.kind not in "fiu":
                raise _Bad(f"its {name} array is not numeric")
        d = center.shape[0] if center.ndim == 1 else 0
        if d == 0:
            raise _Bad(f"its center has shape {center.shape}, not (d,)")
        if weight.shape != (len(MOODS), d):
            raise _Bad(f"its weight has shape {weight.shape}, not {(len(MOODS), d)}")
        if examples.ndim != 2 or examples.shape[1] != d:
            raise _Bad(f"its examples have shape {examples.shape}, not (n, {d})")
        if targets.shape != (len(examples), len(MOODS)):
            raise _Bad(f"its targets have shape {targets.shape}, not {(len(examples), len(MOODS))}")
        for name in _ARRAYS[:4]:
            # in the array's own type: a float64 copy of 50,000 x 1,280 examples took 1.5 s
            # on the GUI thread when the app opened (integers are always finite)
            if a[name].dtype.kind == "f" and not np.isfinite(a[name]).all():
                raise _Bad(f"its {name} holds NaN or infinite values")
        raw = a["params"]
        if raw.shape != () or raw.dtype.kind != "U":
            raise _Bad("its params are not one JSON text")
        try:
            values = json.loads(str(raw))
        except ValueError:
            raise _Bad("its params are not JSON") from None
        known = Params.__dataclass_fields__
        if not isinstance(values, dict) or not set(values) <= set(known):
            raise _Bad("its params are not Params")
        for k, v in values.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v):
                raise _Bad(f"its parameter {k} is not a finite number")
        params = Params(**values)
        if not 0 < params.steps <= 100_000:
            raise _Bad("its parameter steps is out of range")
        return cls(
            center.astype(np.float32),
            weight.astype(np.float32),
            examples.astype(np.float16),
            targets.astype(np.float32),
            params,
        )


class _Bad(ValueError):
    """What is wrong with a model file that reads (one clause, for :func:`damaged`)."""


_ARRAYS = ("center", "weight", "examples", "targets", "params")


def damaged(path: Path | str, reason: str) -> str:
    """The one sentence for a personal model that cannot be used."""
    return (
        f"the personal model {path} cannot be used ({reason}); the shipped model's suggestions "
        "are shown until you run `moodtagger learn` to learn it again "
        "or `moodtagger learn --reset`"
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
