"""The user's own moods (issue 27): yes/no concepts beside the eight, taught by example.

A custom mood is not part of the eight-way distribution (the eight still sum to 1): each photo
gets its own probability that the mood applies, from the stored backbone embeddings (numpy
only, nothing is decoded). The photos the user chose for the mood are the positives; every
other photo is *unlabelled*, not a negative (a PU setting). The background the scorer compares
with is the photos chosen for other moods plus a random sample of the library.

Scorers (compared in ``experiments/exp_custom_moods.py`` on simulated concepts, 6 examples):

* ``centroid``: cosine of the photo's centred embedding with the mean of the examples' (a
  prototype rule; subtracting the background's mean as well was worse: 0.29 vs 0.39 on Emotion6);
* ``knn``: the mean of the photo's 3 highest cosines with the examples (a nearest-neighbour rule);
* ``linear``: class-balanced L2 logistic regression, examples vs. the background.

Calibration: each example's score when it is left out (leave-one-out; at most 20 folds) and the
scores of a held-out background sample are fitted by a class-balanced logistic curve (Platt), so
``p >= 0.5`` means "scores like the mood's own photos rather than like the library".
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from moodtagger.core.vectors import CentredRows, centred, unit

MIN_EXAMPLES = 5  # photos chosen for a custom mood before `learn` scores it
METHODS = ("centroid", "knn", "linear")


@dataclass(frozen=True)
class CustomParams:
    method: str = "knn"  # the winner of exp_custom_moods (see docs/custom-moods.md)
    background: int = 400  # random library photos beside the other moods' chosen ones
    k: int = 3  # knn: the mean of the k best cosines
    l2: float = 0.05  # linear: penalty on the weights
    steps: int = 200
    max_loo: int = 20  # leave-one-out folds for the calibration (at most)
    # the background's weight against the examples' in the calibration (1: balanced, p = 0.5
    # where a photo scores as much like the examples as like the library; more: stricter)
    background_weight: float = 3.0  # exp_custom_moods: ImageNet precision 0.28 -> 0.47


class Scorer:
    """A fitted raw scorer: :meth:`score` ranks photos (higher: more like the examples)."""

    def __init__(self, z_pos: np.ndarray, z_bg: np.ndarray, params: CustomParams):
        self.params = params
        self.method = params.method
        if params.method == "centroid":
            self.proto = unit(z_pos.mean(0))
        elif params.method == "knn":
            self.examples = z_pos
        elif params.method == "linear":
            self.w, self.b = _logistic(z_pos, z_bg, params)
        else:
            raise ValueError(f"unknown method {params.method!r}; use {', '.join(METHODS)}")

    def score(self, z: np.ndarray | CentredRows, chunk: int = 8192) -> np.ndarray:
        out = np.empty(len(z), np.float32)
        for s in range(0, len(z), chunk):
            zz = z[s : s + chunk]
            if self.method == "centroid":
                out[s : s + chunk] = zz @ self.proto
            elif self.method == "knn":
                sims = zz @ self.examples.T
                k = min(self.params.k, sims.shape[1])
                out[s : s + chunk] = -np.sort(-sims, axis=1)[:, :k].mean(1)
            else:
                out[s : s + chunk] = zz @ self.w + self.b
        return out


def _logistic(
    z_pos: np.ndarray, z_bg: np.ndarray, params: CustomParams
) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression (full-batch gradient descent with momentum)."""
    x = np.concatenate([z_pos, z_bg]).astype(np.float32)
    y = np.concatenate([np.ones(len(z_pos)), np.zeros(len(z_bg))]).astype(np.float32)
    wt = np.where(y > 0, 0.5 / max(len(z_pos), 1), 0.5 / max(len(z_bg), 1)).astype(np.float32)
    w = np.zeros(x.shape[1], np.float32)
    b = 0.0
    vel_w, vel_b, lr, mom = np.zeros_like(w), 0.0, 2.0, 0.9
    for _ in range(params.steps):
        p = _sigmoid(x @ w + b)
        g = (p - y) * wt
        vel_w = mom * vel_w - lr * (x.T @ g + params.l2 * w)
        vel_b = mom * vel_b - lr * float(g.sum())
        w += vel_w
        b += vel_b
    return w, b


def platt(pos: np.ndarray, neg: np.ndarray, neg_weight: float = 1.0) -> tuple[float, float]:
    """(a, c) of ``p = 1 / (1 + exp(-(a * s + c)))`` fitted class-balanced on the held-out
    scores of the examples (1) and of background photos (0)."""
    s = np.concatenate([pos, neg]).astype(np.float64)
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    wt = np.where(y > 0, 0.5 / max(len(pos), 1), 0.5 * neg_weight / max(len(neg), 1))
    mu, sd = s.mean(), s.std() + 1e-9
    t = (s - mu) / sd
    a, c = 1.0, 0.0
    ridge = 0.01  # keeps the slope finite when the held-out scores separate perfectly
    for _ in range(100):  # Newton steps on a 2-parameter convex problem
        p = _sigmoid(a * t + c)
        g = (p - y) * wt
        h = p * (1 - p) * wt
        grad = np.array([(g * t).sum() + ridge * a, g.sum()])
        hess = np.array([[(h * t * t).sum() + ridge, (h * t).sum()], [(h * t).sum(), h.sum()]])
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        a, c = a - step[0], c - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return a / sd, c - a * mu / sd


@dataclass
class Fitted:
    """A custom mood's fitted scorer and its calibration: what ``learn`` stores per mood, so
    photos scanned later get a probability without learning again (:meth:`predict`)."""

    scorer: Scorer
    a: float
    c: float
    center: np.ndarray  # the library's mean unit embedding the photos are centred on

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        """Probabilities for raw embeddings (centred here with the stored center)."""
        return self.calibrated(self.scorer.score(centred(vectors, self.center)))

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        return _sigmoid(self.a * raw.astype(np.float64) + self.c).astype(np.float32)

    def to_bytes(self) -> bytes:
        s = self.scorer
        arrays: dict[str, np.ndarray] = {
            "method": np.array(s.method),
            "center": self.center,
            "platt": np.array([self.a, self.c]),
        }
        if s.method == "centroid":
            arrays.update(proto=s.proto)
        elif s.method == "knn":
            arrays.update(examples=s.examples, k=np.array([s.params.k]))
        else:
            arrays.update(w=s.w, b=np.array([s.b]))
        buf = io.BytesIO()
        np.savez(buf, allow_pickle=False, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fitted:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            method = str(f["method"])
            params = CustomParams(method=method, k=int(f["k"][0]) if "k" in f else 3)
            scorer = Scorer.__new__(Scorer)
            scorer.params, scorer.method = params, method
            if method == "centroid":
                scorer.proto = f["proto"]
            elif method == "knn":
                scorer.examples = f["examples"]
            else:
                scorer.w, scorer.b = f["w"], float(f["b"][0])
            a, c = (float(x) for x in f["platt"])
            return cls(scorer, a, c, f["center"])


def fit(
    z: np.ndarray | CentredRows,
    pos_rows: np.ndarray,
    bg_rows: np.ndarray,
    cal_rows: np.ndarray,
    params: CustomParams | None = None,
    *,
    center: np.ndarray | None = None,
) -> tuple[Fitted, np.ndarray]:
    """Fit the mood on ``z`` (centred unit embeddings, centred on ``center``): ``pos_rows``
    are its examples, ``bg_rows`` the background the scorer is fitted against, ``cal_rows``
    held-out background rows for the calibration. Returns the fitted mood and the calibrated
    probability of every row of ``z``."""
    prm = params or CustomParams()
    pos_rows = np.asarray(pos_rows, np.int64)
    bg = z[np.setdiff1d(bg_rows, pos_rows)]
    scorer = Scorer(z[pos_rows], bg, prm)
    raw = scorer.score(z)
    # leave-one-out scores of the examples (the calibration's held-out positives)
    loo = []
    for r in pos_rows[: prm.max_loo]:
        rest = pos_rows[pos_rows != r]
        if len(rest):
            loo.append(float(Scorer(z[rest], bg, prm).score(z[[r]])[0]))
    cal = np.setdiff1d(cal_rows, pos_rows)
    a, c = platt(np.array(loo), raw[cal], prm.background_weight) if loo and len(cal) else (1.0, 0.0)
    fitted = Fitted(scorer, a, c, np.zeros(z.shape[1], np.float32) if center is None else center)
    return fitted, fitted.calibrated(raw)


def probabilities(
    z: np.ndarray,
    pos_rows: np.ndarray,
    bg_rows: np.ndarray,
    cal_rows: np.ndarray,
    params: CustomParams | None = None,
) -> np.ndarray:
    """The calibrated probability of every row of ``z`` (see :func:`fit`)."""
    return fit(z, pos_rows, bg_rows, cal_rows, params)[1]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def background(
    n: int,
    pos_rows: np.ndarray,
    others: np.ndarray,
    params: CustomParams,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(fitting background, calibration background) row indices among ``n`` photos: the other
    moods' chosen photos (``others``) plus a random library sample, and a disjoint random sample
    held out for the calibration. The mood's own examples are never background."""
    pool = np.setdiff1d(np.arange(n), pos_rows)
    perm = rng.permutation(pool)
    m = min(params.background, len(perm) // 2)
    fit = np.union1d(perm[:m], np.setdiff1d(others, pos_rows))
    cal = np.setdiff1d(perm[m : 2 * m], fit)
    return fit, cal
