"""Mood model v2: one multi-task head on frozen lite0 descriptors, trained on all shared data.

Heads (all linear on the standardised 2,848-d descriptor, so flip TTA = averaging the two views'
descriptors before the head):

* **polarity** P(positive): logistic, trained on Twitter I (soft target = share of the five
  workers who agreed), ArtPhoto's mood polarity and Emotion6's valence (soft target
  ``clip((v - 3) / 4, 0, 1)``);
* **mood**: 8-way multinomial logistic on ArtPhoto (class-balanced), plus Emotion6's vote shares
  of anger/disgust/fear/sadness as soft targets (these only shape the *within-negative* part);
* **valence/arousal**: ridge on Emotion6 (1-9 scale).

One coherent output: ``probs[positive moods] = P(pos) * softmax(mood logits of the positive
moods)`` and ``probs[negative] = (1 - P(pos)) * softmax(negative mood logits)``. So the
positive moods' share *is* the polarity the model believes; bars, filters and polarity agree.

Regularisation strengths are chosen inside each training set by an inner cross-validation
(log-loss); temperatures for both heads are fitted on the inner out-of-fold logits. See
:func:`moodtagger.training.multitask_cv.nested_cv` for the honest protocol that the model card reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from moodtagger.core.model.head import V2Head
from moodtagger.core.moods import MOODS
from moodtagger.training import datasets
from moodtagger.training.configs import V2Config
from moodtagger.training.multitask_data import NEG_IDX, POS_IDX, Folds, Split, make_folds, view_mean

EMO6_NEG = {"anger": "anger", "disgust": "disgust", "fear": "fear", "sadness": "sadness"}
VA_ALPHAS = (300.0, 1000.0, 3000.0, 10000.0)


# -- fitting --------------------------------------------------------------------------------------


def _lbfgs_softmax(
    x: np.ndarray, target: np.ndarray, w: np.ndarray, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted soft-target multinomial logistic regression, L2 ``lam/2 * ||W||^2`` (bias free),
    by scipy's L-BFGS on numpy arrays (small problems: far less overhead than torch autograd)."""
    from scipy.optimize import minimize

    x = np.asarray(x, dtype=np.float64)
    d, k = x.shape[1], target.shape[1]
    wn = (w / w.sum())[:, None]

    def f(theta):
        W = theta[: d * k].reshape(d, k)
        b = theta[d * k :]
        z = x @ W + b
        z -= z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        loss = -(wn * target * logp).sum() + 0.5 * lam * (W * W).sum()
        g = wn * (np.exp(logp) * target.sum(1, keepdims=True) - target)
        return loss, np.concatenate([(x.T @ g + lam * W).ravel(), g.sum(0)])

    res = minimize(
        f, np.zeros(d * k + k), jac=True, method="L-BFGS-B", options={"maxiter": 500, "gtol": 1e-6}
    )
    return res.x[: d * k].reshape(d, k).astype(np.float32), res.x[d * k :].astype(np.float32)


def _rows(x: np.ndarray, views: tuple[int, ...]) -> np.ndarray:
    xv = x[:, list(views)]
    return xv.reshape(-1, xv.shape[-1])


def e6_polarity_target(valence: np.ndarray) -> np.ndarray:
    return np.clip((valence - 3.0) / 4.0, 0.0, 1.0)


def polarity_targets(s: Split) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft P(positive) targets of ArtPhoto (its mood's polarity), Twitter I (the share of the
    five workers who said positive) and Emotion6 (:func:`e6_polarity_target`)."""
    return (
        np.isin(s.ap_y, POS_IDX).astype(float),
        np.where(s.tw_pos == 1, s.tw_agree / 5.0, 1 - s.tw_agree / 5.0),
        e6_polarity_target(s.e6_va[:, 0]),
    )


def class_balance(y: np.ndarray) -> np.ndarray:
    """Per-mood weights giving every mood the same total weight over the labels ``y``
    (index them with ``y`` for per-photo weights)."""
    counts = np.bincount(y, minlength=len(MOODS)).clip(1)
    return counts.sum() / (len(MOODS) * counts)


def polarity_rows(s: Split, views, shares=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x rows, soft target P(pos), weight) for the polarity head."""
    nv = len(views)
    ap_t, tw_t, e6_t = polarity_targets(s)
    x = np.concatenate([_rows(s.ap_x, views), _rows(s.tw_x, views), _rows(s.e6_x, views)])
    t = np.repeat(np.concatenate([ap_t, tw_t, e6_t]), nv).astype(np.float32)
    sizes = [len(s.ap_y), len(s.tw_pos), len(s.e6_va)]
    if shares is not None:
        w = np.concatenate(
            [np.full(n * nv, sh / max(n, 1)) for n, sh in zip(sizes, shares, strict=True)]
        )
        w = w.astype(np.float32)
    else:
        w = np.ones(len(t), dtype=np.float32)
    return x, t, w


def mood_rows(s: Split, views, e6_weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x rows, soft 8-way targets, weight) for the mood head: ArtPhoto (class-balanced) plus
    Emotion6 photos whose votes are mostly anger/disgust/fear/sadness."""
    nv = len(views)
    t_ap = np.eye(len(MOODS), dtype=np.float32)[s.ap_y]
    w_ap = class_balance(s.ap_y)[s.ap_y]
    xs, ts, ws = [_rows(s.ap_x, views)], [np.repeat(t_ap, nv, 0)], [np.repeat(w_ap, nv)]
    if e6_weight > 0:
        bins = datasets.EMOTION6_BINS
        cols = [bins.index(b) for b in EMO6_NEG]
        neg = s.e6_votes[:, cols]
        share = neg.sum(1)
        keep = share >= 0.5
        t = np.zeros((keep.sum(), len(MOODS)), dtype=np.float32)
        for j, b in enumerate(EMO6_NEG):
            t[:, MOODS.index(EMO6_NEG[b])] = neg[keep, j] / share[keep]
        xs.append(_rows(s.e6_x[keep], views))
        ts.append(np.repeat(t, nv, 0))
        ws.append(np.repeat(e6_weight * share[keep], nv))
    return np.concatenate(xs), np.concatenate(ts), np.concatenate(ws).astype(np.float32)


@dataclass
class V2Params:
    """Everything the v2 head needs at inference (numpy, float32)."""

    mu: np.ndarray
    sigma: np.ndarray
    w_pol: np.ndarray  # (d, 2)
    b_pol: np.ndarray
    w_mood: np.ndarray  # (d, 8)
    b_mood: np.ndarray
    w_va: np.ndarray  # (d, 2)
    b_va: np.ndarray
    t_pol: float = 1.0
    t_mood: float = 1.0
    chosen: dict[str, float] = field(default_factory=dict)
    mlp: MLPParams | None = None
    mlp_mix: float = 0.0  # mood logits = (1 - mix) * linear + mix * MLP
    # v4 (multitask_v4): valence += va_ppos * P(positive) + log P(moods) @ va_logp
    va_ppos: float = 0.0
    va_logp: np.ndarray | None = None

    def logits(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x (n, d) -> (polarity logit (n,), mood logits (n, 8), va (n, 2)), temperatures not
        applied to the logits (v4's valence terms use them, as the head does)."""
        z = (x - self.mu) / self.sigma
        pl = z @ self.w_pol + self.b_pol
        mood = z @ self.w_mood + self.b_mood
        if self.mlp is not None and self.mlp_mix > 0:
            mood = (1 - self.mlp_mix) * mood + self.mlp_mix * self.mlp.logits(z)
        pol = pl[:, 1] - pl[:, 0]
        va = z @ self.w_va + self.b_va
        if self.va_logp is not None:
            va = va.copy()
            va[:, 0] += (
                self.va_ppos / (1 + np.exp(-pol / self.t_pol))
                + mood_log_probs(pol, mood / self.t_mood, self.t_pol) @ self.va_logp
            )
        return pol, mood, va


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


@dataclass
class MLPParams:
    """Ensemble of one-hidden-layer MLPs on the standardised descriptor z: every member sees
    ``z @ proj`` (the training part's principal axes, whitened), mean of the members' logits."""

    proj: np.ndarray | None  # (d, r); None: the members see z itself
    w1: np.ndarray  # (members, r, h)
    b1: np.ndarray  # (members, h)
    w2: np.ndarray  # (members, h, 8)
    b2: np.ndarray  # (members, 8)

    def logits(self, z: np.ndarray) -> np.ndarray:
        u = z if self.proj is None else z @ self.proj
        h = _gelu(np.einsum("nr,erh->enh", u, self.w1) + self.b1[:, None])
        return (np.einsum("enh,ehk->enk", h, self.w2) + self.b2[:, None]).mean(0)


def mood_log_probs(pol_logit: np.ndarray, mood_logits_t: np.ndarray, t_pol: float) -> np.ndarray:
    """The 8 mood log-probabilities (n, 8) from the raw polarity logit and the mood logits with
    their temperature applied: log P(polarity) + log softmax within it (what V2Head computes)."""
    x = pol_logit / t_pol
    out = np.zeros(mood_logits_t.shape)
    for idx, lp in ((POS_IDX, -np.logaddexp(0, -x)), (NEG_IDX, -np.logaddexp(0, x))):
        z = mood_logits_t[:, idx]
        z = z - z.max(1, keepdims=True)
        out[:, idx] = lp[:, None] + z - np.log(np.exp(z).sum(1, keepdims=True))
    return out


def combine(
    pol_logit: np.ndarray,
    mood_logits: np.ndarray,
    t_pol: float = 1.0,
    t_mood: float = 1.0,
    factorised: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(8-mood probabilities, P(pos)). Factorised: P(pos) x within-polarity softmax."""
    if not factorised:
        p = _softmax(mood_logits / t_mood)
        return p, p[:, POS_IDX].sum(1)
    p_pos = 1.0 / (1.0 + np.exp(-pol_logit / t_pol))
    out = np.zeros(mood_logits.shape, dtype=np.float64)
    out[:, POS_IDX] = p_pos[:, None] * _softmax(mood_logits[:, POS_IDX] / t_mood)
    out[:, NEG_IDX] = (1 - p_pos)[:, None] * _softmax(mood_logits[:, NEG_IDX] / t_mood)
    return out, p_pos


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _fit_linear(x: np.ndarray, t: np.ndarray, w: np.ndarray, lam: float):
    return _lbfgs_softmax(x, t.astype(np.float64), w.astype(np.float64), lam)


def _ridge(z: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    zm, ym = z.mean(0), y.mean(0)
    zc = (z - zm).astype(np.float64)
    coef = np.linalg.solve(zc.T @ zc + alpha * np.eye(z.shape[1]), zc.T @ (y - ym))
    return coef.astype(np.float32), (ym - zm @ coef).astype(np.float32)


@dataclass
class Projection:
    """Standardisation and principal axes of a training part: z = ((x - mu) / sigma) @ axes."""

    mu: np.ndarray
    sigma: np.ndarray
    axes: np.ndarray  # (d, r)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (((x - self.mu) / self.sigma) @ self.axes).astype(np.float32)


def projection(s: Split, cfg: V2Config) -> Projection:
    from sklearn.utils.extmath import randomized_svd

    views = cfg.train_views
    allx = np.concatenate([_rows(s.ap_x, views), _rows(s.tw_x, views), _rows(s.e6_x, views)])
    mu = allx.mean(0)
    sigma = allx.std(0).clip(1e-4)
    zc = (allx - mu) / sigma
    r = min(cfg.pca_dim, *zc.shape)
    _, _, vt = randomized_svd(zc.astype(np.float32), r, n_iter=2, random_state=0)
    return Projection(mu.astype(np.float32), sigma.astype(np.float32), vt.T.astype(np.float32))


def fit_mlp(s: Split, cfg: V2Config, proj: Projection, seed: int = 0) -> MLPParams:
    """The MLP mood head (``cfg.mlp_members`` seeds) on the mood head's rows (ArtPhoto
    class-balanced + Emotion6 negative vote shares), in the training part's principal components.
    Mini-batch AdamW, fixed recipe (v1's: 60 epochs, lr 1e-3, dropout 0.5 / 0.25)."""
    views = (0, 1) if cfg.mlp_full_view else cfg.train_views
    e6w = cfg.e6_mood_weight if cfg.mlp_e6_weight is None else cfg.mlp_e6_weight
    xm, tm, wm = mood_rows(s, views, e6w)
    if cfg.mlp_pca:
        u = proj(xm)
        scale = (
            u.std(0).clip(1e-4)
            if cfg.mlp_whiten
            else np.full(u.shape[1], np.sqrt(u.var(0).mean()), np.float32)
        )
        u = torch.from_numpy((u / scale).astype(np.float32))
    else:
        u = torch.from_numpy(((xm - proj.mu) / proj.sigma).astype(np.float32))
    target = torch.from_numpy(tm.astype(np.float32))
    w = torch.from_numpy((wm / wm.mean()).astype(np.float32))
    r, k, hdim = u.shape[1], target.shape[1], cfg.mlp_hidden
    w1, b1, w2, b2 = [], [], [], []
    for e in range(cfg.mlp_members):
        torch.manual_seed(seed * 1000 + e)
        net = nn.Sequential(
            nn.Dropout(cfg.mlp_dropout),
            nn.Linear(r, hdim),
            nn.GELU(),
            nn.Dropout(cfg.mlp_dropout / 2),
            nn.Linear(hdim, k),
        )
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=cfg.mlp_weight_decay)
        gen = torch.Generator().manual_seed(seed * 1000 + e)
        net.train()
        for _ in range(cfg.mlp_epochs):
            perm = torch.randperm(len(u), generator=gen)
            for i in range(0, len(u), 256):
                idx = perm[i : i + 256]
                loss = (-(target[idx] * torch.log_softmax(net(u[idx]), 1)).sum(1) * w[idx]).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        l1, l2 = net[1], net[4]
        w1.append(l1.weight.detach().numpy().T)
        b1.append(l1.bias.detach().numpy())
        w2.append(l2.weight.detach().numpy().T)
        b2.append(l2.bias.detach().numpy())
    f = np.float32
    return MLPParams(
        (proj.axes / scale).astype(f) if cfg.mlp_pca else None,
        np.stack(w1).astype(f),
        np.stack(b1).astype(f),
        np.stack(w2).astype(f),
        np.stack(b2).astype(f),
    )


def fit_v2(
    s: Split,
    cfg: V2Config,
    *,
    lam_pol: float,
    lam_mood: float,
    va_alpha: float,
    proj: Projection | None = None,
    mlp_mix: float | None = None,
    seed: int = 0,
) -> V2Params:
    """Fit all heads on ``s`` with fixed strengths (temperatures left at 1); ``proj`` from
    :func:`projection` of this (or an enclosing) training part. ``mlp_mix``: weight of the MLP
    mood head (None or 0: linear only, no MLP fitted)."""
    views = cfg.train_views
    proj = proj or projection(s, cfg)
    xp, tp, wp = polarity_rows(s, views, cfg.pol_shares)
    Wp, bp = _fit_linear(proj(xp), np.stack([1 - tp, tp], 1), wp, lam_pol)
    xm, tm, wm = mood_rows(s, views, cfg.e6_mood_weight)
    Wm, bm = _fit_linear(proj(xm), tm, wm, lam_mood)
    # valence/arousal: one row per photo (the inference descriptor)
    Wv, bv = _ridge(proj(view_mean(s.e6_x, cfg.test_views)), s.e6_va, va_alpha)
    A = proj.axes
    p = V2Params(
        proj.mu,
        proj.sigma,
        A @ Wp,
        bp,
        A @ Wm,
        bm,
        A @ Wv,
        bv,
        chosen={"lam_pol": lam_pol, "lam_mood": lam_mood, "va_alpha": va_alpha},
    )
    if cfg.mlp_hidden and mlp_mix:
        p.mlp, p.mlp_mix = fit_mlp(s, cfg, proj, seed), float(mlp_mix)
        p.chosen["mlp_mix"] = float(mlp_mix)
    return p


def fit_temperature_binary(logit: np.ndarray, target: np.ndarray) -> float:
    grid = np.exp(np.linspace(np.log(0.2), np.log(10.0), 120))
    nll = []
    for t in grid:
        p = (1 / (1 + np.exp(-logit / t))).clip(1e-7, 1 - 1e-7)
        nll.append(-(target * np.log(p) + (1 - target) * np.log(1 - p)).mean())
    return float(grid[int(np.argmin(nll))])


def fit_temperature_within(mood_logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature of the within-polarity mood softmax (NLL of the true mood within its polarity)."""
    grid = np.exp(np.linspace(np.log(0.2), np.log(10.0), 120))
    pos = np.isin(y, POS_IDX)
    nll = []
    for t in grid:
        lp = np.zeros(len(y))
        for mask, idx in ((pos, POS_IDX), (~pos, NEG_IDX)):
            if mask.any():
                p = _softmax(mood_logits[mask][:, idx] / t)
                col = np.array([idx.index(v) for v in y[mask]])
                lp[mask] = np.log(p[np.arange(mask.sum()), col] + 1e-12)
        nll.append(-lp.mean())
    return float(grid[int(np.argmin(nll))])


def fit_temperature_softmax(mood_logits: np.ndarray, y: np.ndarray) -> float:
    grid = np.exp(np.linspace(np.log(0.2), np.log(10.0), 120))
    nll = [-np.log(_softmax(mood_logits / t)[np.arange(len(y)), y] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(nll))])


def _within_nll(mood_logits: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted NLL of the true mood within its polarity."""
    pos = np.isin(y, POS_IDX)
    lp = np.zeros(len(y))
    for mask, idx in ((pos, POS_IDX), (~pos, NEG_IDX)):
        if mask.any():
            p = _softmax(mood_logits[mask][:, idx])
            col = np.array([idx.index(v) for v in y[mask]])
            lp[mask] = np.log(p[np.arange(mask.sum()), col] + 1e-12)
    return float(-(w * lp).sum() / w.sum())


@dataclass
class OOF:
    """Out-of-fold raw outputs for the three data sets (temperatures not applied)."""

    ap_pol: np.ndarray
    ap_mood: np.ndarray
    tw_pol: np.ndarray
    e6_va: np.ndarray
    e6_pol: np.ndarray | None = None  # polarity logits of Emotion6 (v3's valence uses them)
    tw_mood: np.ndarray | None = None  # mood logits of Twitter I and Emotion6 (exp_valence.py)
    e6_mood: np.ndarray | None = None


def _oof(
    s: Split, folds: Folds, k: int, fit: Callable[[Split], V2Params], test_views
) -> tuple[OOF, list[V2Params]]:
    o = OOF(
        np.zeros(len(s.ap_y)),
        np.zeros((len(s.ap_y), len(MOODS))),
        np.zeros(len(s.tw_pos)),
        np.zeros((len(s.e6_va), 2)),
        np.zeros(len(s.e6_va)),
        np.zeros((len(s.tw_pos), len(MOODS))),
        np.zeros((len(s.e6_va), len(MOODS))),
    )
    models = []
    for f in range(k):
        tr = s.subset(folds.ap != f, folds.tw != f, folds.e6 != f)
        p = fit(tr)
        models.append(p)
        te_ap, te_tw, te_e6 = folds.ap == f, folds.tw == f, folds.e6 == f
        o.ap_pol[te_ap], o.ap_mood[te_ap], _ = p.logits(view_mean(s.ap_x[te_ap], test_views))
        o.tw_pol[te_tw], o.tw_mood[te_tw], _ = p.logits(view_mean(s.tw_x[te_tw], test_views))
        o.e6_pol[te_e6], o.e6_mood[te_e6], o.e6_va[te_e6] = p.logits(
            view_mean(s.e6_x[te_e6], test_views)
        )
    return o, models


def _logloss_binary(logit, t):
    p = (1 / (1 + np.exp(-logit))).clip(1e-7, 1 - 1e-7)
    return float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean())


def fit_selected(
    s: Split,
    groups: tuple[np.ndarray, np.ndarray],
    cfg: V2Config,
    *,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> tuple[V2Params, OOF]:
    """Choose the strengths by an inner CV on ``s`` (log-loss), fit temperatures on the inner
    out-of-fold logits, then fit on all of ``s``. Returns the params and the inner OOF outputs."""
    k = cfg.inner_folds
    folds = make_folds(
        s.ap_y, groups[0], s.tw_pos, s.tw_agree, groups[1], len(s.e6_va), k, seed + 1000
    )
    # One inner pass per strength; polarity and mood strengths are picked independently.
    proj = projection(
        s, cfg
    )  # unsupervised, from this training part only; shared by the inner fits
    pol_res, mood_res = {}, {}
    for lp, lm in zip(cfg.pol_lambdas, cfg.mood_lambdas, strict=True):
        o, _ = _oof(
            s,
            folds,
            k,
            lambda tr, lp=lp, lm=lm: fit_v2(
                tr, cfg, lam_pol=lp, lam_mood=lm, va_alpha=1000.0, proj=proj
            ),
            cfg.test_views,
        )
        pol_res[lp], mood_res[lm] = o, o
    pol_t = np.concatenate(polarity_targets(s)[:2])
    pol_loss = {
        lam: _logloss_binary(np.concatenate([o.ap_pol, o.tw_pol]), pol_t)
        for lam, o in pol_res.items()
    }
    cw = class_balance(s.ap_y)[s.ap_y]

    def mood_loss(o):
        p = _softmax(o.ap_mood)[np.arange(len(s.ap_y)), s.ap_y]
        return float(-(cw * np.log(p + 1e-12)).sum() / cw.sum())

    m_loss = {lam: mood_loss(o) for lam, o in mood_res.items()}
    lam_pol = min(pol_loss, key=pol_loss.get)
    lam_mood = min(m_loss, key=m_loss.get)
    # valence alpha: closed-form ridge, cheap: its own inner CV on Emotion6
    best_alpha, best_r = VA_ALPHAS[0], -2.0
    e6z = proj(view_mean(s.e6_x, cfg.test_views))
    for a in VA_ALPHAS:
        pred = np.zeros(len(s.e6_va))
        for f in range(k):
            tr, te = folds.e6 != f, folds.e6 == f
            W, b = _ridge(e6z[tr], s.e6_va[tr, :1], a)
            pred[te] = (e6z[te] @ W + b)[:, 0]
        r = float(np.corrcoef(pred, s.e6_va[:, 0])[0, 1])
        if r > best_r:
            best_alpha, best_r = a, r
    # inner OOF at the chosen strengths -> temperatures
    o_pol, o_mood = pol_res[lam_pol], mood_res[lam_mood]
    inner = OOF(
        o_pol.ap_pol,
        o_mood.ap_mood,
        o_pol.tw_pol,
        o_mood.e6_va,
        o_pol.e6_pol,
        o_mood.tw_mood,
        o_mood.e6_mood,
    )
    mix = 0.0
    if cfg.mlp_hidden:
        # the MLP mood head's inner out-of-fold logits (fixed recipe, one fit per inner fold)
        mlp_oof = np.zeros_like(inner.ap_mood)
        for f in range(k):
            tr = s.subset(folds.ap != f, folds.tw != f, folds.e6 != f)
            z = (view_mean(s.ap_x[folds.ap == f], cfg.test_views) - proj.mu) / proj.sigma
            mlp_oof[folds.ap == f] = fit_mlp(tr, cfg, proj, seed).logits(z)
        mixed = {m: (1 - m) * inner.ap_mood + m * mlp_oof for m in cfg.mlp_mix}
        if len(mixed) > 1:

            def within_loss(lg):
                t = fit_temperature_within(lg, s.ap_y)
                return _within_nll(lg / t, s.ap_y, cw)

            losses = {m: within_loss(lg) for m, lg in mixed.items()}
            mix = min(losses, key=losses.get)
        else:
            mix = cfg.mlp_mix[0]
        inner.ap_mood = mixed[mix]
    params = fit_v2(
        s,
        cfg,
        lam_pol=lam_pol,
        lam_mood=lam_mood,
        va_alpha=best_alpha,
        proj=proj,
        mlp_mix=mix,
        seed=seed,
    )
    # temperature on the *majority* labels (hard), so that "P(pos) = 0.9" means right 9 times in 10
    # (the soft training targets leave the head under-confident on clear-cut photos)
    pol_hard = np.concatenate([np.isin(s.ap_y, POS_IDX).astype(float), s.tw_pos.astype(float)])
    params.t_pol = fit_temperature_binary(np.concatenate([inner.ap_pol, inner.tw_pol]), pol_hard)
    if cfg.factorised:
        params.t_mood = fit_temperature_within(inner.ap_mood, s.ap_y)
    else:
        params.t_mood = fit_temperature_softmax(inner.ap_mood, s.ap_y)
    if log:
        log(
            f"    chosen lam_pol={lam_pol:g} lam_mood={lam_mood:g} va_alpha={best_alpha:g} mix={mix:g} "
            f"T_pol={params.t_pol:.2f} T_mood={params.t_mood:.2f}"
        )
    return params, inner


def to_head(p: V2Params) -> V2Head:
    """The torch head the runtime loads (:class:`~moodtagger.core.model.head.V2Head`) with the
    fitted parameters ``p``."""
    h = V2Head(len(p.mu))
    with torch.no_grad():
        for name in ("mu", "sigma", "w_pol", "b_pol", "w_mood", "b_mood", "w_va", "b_va"):
            getattr(h, name).copy_(torch.from_numpy(np.asarray(getattr(p, name), dtype=np.float32)))
        h.t_pol.fill_(p.t_pol)
        h.t_mood.fill_(p.t_mood)
        if p.mlp is not None and p.mlp_mix > 0:
            proj = p.mlp.proj if p.mlp.proj is not None else np.zeros((len(p.mu), 0))
            h.set_mlp(p.mlp_mix, (proj, p.mlp.w1, p.mlp.b1, p.mlp.w2, p.mlp.b2))
        if p.va_logp is not None:
            h.set_va_moods(p.va_ppos, p.va_logp)
    return h.eval()
