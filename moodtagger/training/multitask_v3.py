"""Mood model v3: v2's heads, fitted exactly as v2's, plus two corrections fitted on top. Both
are linear in the standardised descriptor, so v3 runs in v2's head (:class:`V2Head`) unchanged.

1. **Everyday prior correction** of the within-polarity mood logits. v2's mood head learnt the
   positive moods from ArtPhoto's staged art photos, class-balanced, i.e. with a flat prior over
   the moods of each polarity. Everyday photos (Twitter I, the ImageNet sample) lie far from
   those photos, their within-polarity logits are small and alike, and the softmax falls back to
   what the head's intercepts and generic directions favour: excitement. The correction adds one
   offset per mood (after the temperature) chosen so that on *unlabelled* everyday photos the
   mean 8-mood distribution splits each polarity's share evenly among its moods — the head's own
   class-balanced prior, restored on the everyday domain (prior matching on unlabelled data, the
   fixed-point iteration of Saerens et al. 2002 with the target prior held flat instead of
   re-estimated). The polarity is untouched. Each photo gets the offsets in proportion to a
   linear domain score (0 at the mean ArtPhoto photo, 1 at the mean everyday photo), so staged
   ArtPhoto-like photos keep v2's moods and the correction stays linear. Fitted on the Twitter I
   and ImageNet-sample photos of the training part only (their held-out folds report the shares).
2. **Valence from the polarity and the descriptor together:**
   ``valence = a * polarity logit + ridge(descriptor) + b`` with ``a`` unpenalised, fitted on
   Emotion6 (valence) and Twitter I (weak ordinal target ``3 + 4 * share of workers saying
   positive``, Emotion6's polarity target inverted), the polarity logits of the training photos
   taken out-of-fold from the inner CV so that ``a`` is not inflated by the head's own fit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from moodtagger.core.moods import MOODS
from moodtagger.training.configs import V2Config
from moodtagger.training.multitask import (
    OOF,
    V2Params,
    _softmax,
    combine,
    fit_selected,
    polarity_targets,
)
from moodtagger.training.multitask_data import NEG_IDX, POS_IDX, Split, view_mean

# total weight of Twitter I and of the ImageNet sample in the everyday prior correction
EVERYDAY_SHARES = (0.5, 0.5)


def within_prior_offsets(
    mood_logits: np.ndarray,
    p_pos: np.ndarray,
    weight: np.ndarray,
    scale: np.ndarray | None = None,
    *,
    iters: int = 500,
) -> np.ndarray:
    """Offsets c (8,) for the within-polarity mood logits (temperature applied) such that on these
    photos the mean of ``P(pos) x softmax_pos(logits + scale * c)`` is the same for every
    positive mood (and likewise for the negative moods with ``1 - P(pos)``); ``scale``: how much
    of the offsets each photo gets (default 1). Offsets sum to 0 per polarity. A damped
    fixed-point iteration (Saerens et al.'s prior update with the target prior held flat)."""
    sc = np.ones(len(mood_logits)) if scale is None else np.asarray(scale, dtype=np.float64)
    c = np.zeros(len(MOODS))
    for idx, g in ((POS_IDX, weight * p_pos), (NEG_IDX, weight * (1.0 - p_pos))):
        g = g / g.sum()
        lg = mood_logits[:, idx]
        cg = np.zeros(len(idx))
        for _ in range(iters):
            m = g @ _softmax(lg + sc[:, None] * cg)
            step = np.log(m * len(idx))
            cg -= step if scale is None else 0.5 * step
            cg -= cg.mean()
            if np.abs(step).max() < 1e-7:
                break
        c[idx] = cg
    return c


def everyday_rows(s: Split, cfg: V2Config) -> tuple[np.ndarray, np.ndarray]:
    """(descriptors, weights) of the everyday photos of ``s``: Twitter I and the ImageNet sample,
    each with total weight :data:`EVERYDAY_SHARES`."""
    xs, ws = [view_mean(s.tw_x, cfg.test_views)], [np.full(len(s.tw_x), EVERYDAY_SHARES[0])]
    ws[0] /= len(s.tw_x)
    if s.in_x is not None and len(s.in_x):
        xs.append(view_mean(s.in_x, cfg.test_views))
        ws.append(np.full(len(s.in_x), EVERYDAY_SHARES[1] / len(s.in_x)))
    return np.concatenate(xs), np.concatenate(ws)


def domain_score(
    p: V2Params, s: Split, cfg: V2Config, axes: np.ndarray
) -> tuple[np.ndarray, float]:
    """A linear "how everyday is this photo" score ``z @ a + a0`` on the standardised descriptor
    z: 0 at the mean ArtPhoto photo, 1 at the mean everyday photo (Twitter I and the ImageNet
    sample, weighted as :func:`everyday_rows`). Direction: shrunk linear discriminant in the
    training part's principal components ``axes`` (within-set covariance + its mean variance)."""

    def z(x):
        return (view_mean(x, cfg.test_views) - p.mu) / p.sigma

    za = z(s.ap_x)
    xe, we = everyday_rows(s, cfg)
    ze = (xe - p.mu) / p.sigma
    m_ap, m_ev = za.mean(0), (we[:, None] * ze).sum(0) / we.sum()
    parts = [za - m_ap, z(s.tw_x) - z(s.tw_x).mean(0)]
    if s.in_x is not None and len(s.in_x):
        zi = z(s.in_x)
        parts.append(zi - zi.mean(0))
    u = np.concatenate(parts) @ axes
    cov = u.T @ u / len(u)
    d = (m_ev - m_ap) @ axes
    a = axes @ np.linalg.solve(cov + np.trace(cov) / len(cov) * np.eye(len(cov)), d)
    den = float((m_ev - m_ap) @ a)
    return (a / den).astype(np.float32), float(-(m_ap @ a) / den)


def apply_prior_offsets(
    p: V2Params, c: np.ndarray, score: tuple[np.ndarray, float] | None = None
) -> None:
    """Fold offsets ``c`` (after the temperature; times the domain score ``z @ a + a0`` when
    ``score`` is given) into the mood weights and intercepts of ``p``."""
    if p.mlp is not None and p.mlp_mix > 0:
        raise ValueError("the everyday prior correction needs a linear mood head")
    if score is None:
        p.b_mood = (p.b_mood + c * p.t_mood).astype(np.float32)
        return
    a, a0 = score
    p.w_mood = (p.w_mood + np.outer(a, c * p.t_mood)).astype(np.float32)
    p.b_mood = (p.b_mood + a0 * c * p.t_mood).astype(np.float32)


def fit_everyday_prior(p: V2Params, s: Split, cfg: V2Config, axes: np.ndarray) -> np.ndarray:
    """:func:`within_prior_offsets` on the everyday photos of ``s``, each photo's share of the
    offsets its :func:`domain_score` (ArtPhoto-like photos keep v2's moods), scaled by
    ``cfg.everyday_prior`` and folded into ``p``; returns the offsets."""
    x, w = everyday_rows(s, cfg)
    a, a0 = domain_score(p, s, cfg, axes)
    pl, ml, _ = p.logits(x)
    _, p_pos = combine(pl, ml, p.t_pol, p.t_mood)
    sc = ((x - p.mu) / p.sigma) @ a + a0
    c = cfg.everyday_prior * within_prior_offsets(ml / p.t_mood, p_pos, w, sc)
    apply_prior_offsets(p, c, (a, a0))
    return c


def _weighted_ridge_with_free(
    free: np.ndarray, z: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """min sum w (y - free a - z W - b)^2 + alpha |W|^2 (``a``, ``b`` unpenalised)."""
    w = w / w.sum() * len(w)
    u = np.concatenate([free, z], 1).astype(np.float64)
    mu = (w[:, None] * u).sum(0) / w.sum()
    ym = float((w * y).sum() / w.sum())
    uc = u - mu
    a = uc.T @ (w[:, None] * uc)
    pen = np.full(u.shape[1], alpha)
    pen[: free.shape[1]] = 0.0
    coef = np.linalg.solve(a + np.diag(pen), uc.T @ (w * (y - ym)))
    k = free.shape[1]
    return coef[:k], coef[k:], ym - float(mu @ coef)


def fit_joint_valence(
    p: V2Params,
    s: Split,
    inner: OOF,
    cfg: V2Config,
    axes: np.ndarray,
    *,
    alpha: float | None = None,
    tw_weight: float | None = None,
) -> dict[str, float]:
    """Replace ``p``'s valence output by ``a * polarity logit + ridge(descriptor) + b`` (see the
    module docstring); ``axes``: the principal axes the heads were fitted in. Returns a, b."""
    alpha = cfg.valence_alpha if alpha is None else alpha
    tw_weight = cfg.valence_tw_weight if tw_weight is None else tw_weight
    assert inner.e6_pol is not None
    ze = ((view_mean(s.e6_x, cfg.test_views) - p.mu) / p.sigma) @ axes
    zt = ((view_mean(s.tw_x, cfg.test_views) - p.mu) / p.sigma) @ axes
    tw_target = 3.0 + 4.0 * polarity_targets(s)[1]
    free = np.concatenate([inner.e6_pol, inner.tw_pol])[:, None]
    z = np.concatenate([ze, zt])
    y = np.concatenate([s.e6_va[:, 0], tw_target])
    w = np.concatenate([np.ones(len(ze)), np.full(len(zt), tw_weight * len(ze) / max(len(zt), 1))])
    keep = w > 0
    (a,), coef, b = _weighted_ridge_with_free(free[keep], z[keep], y[keep], w[keep], alpha)
    dw = p.w_pol[:, 1] - p.w_pol[:, 0]
    db = float(p.b_pol[1] - p.b_pol[0])
    w_va = p.w_va.copy()
    b_va = p.b_va.copy()
    w_va[:, 0] = a * dw + axes @ coef
    b_va[0] = a * db + b
    p.w_va, p.b_va = w_va.astype(np.float32), b_va.astype(np.float32)
    return {"valence_a": float(a), "valence_b": float(b)}


def fit_v3(
    s: Split,
    groups: tuple[np.ndarray, np.ndarray],
    cfg: V2Config,
    *,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> tuple[V2Params, V2Params]:
    """(v3 params, the v2 params they were made from): v2's :func:`fit_selected` on ``s``, then
    the corrections ``cfg`` asks for, fitted on ``s`` only."""
    import copy

    from moodtagger.training.multitask import projection

    base, inner = fit_selected(s, groups, cfg, seed=seed, log=log)
    p = copy.deepcopy(base)
    axes = projection(s, cfg).axes  # the same (deterministic) axes fit_selected used
    if cfg.valence_from_polarity:
        p.chosen.update(fit_joint_valence(p, s, inner, cfg, axes))
    if cfg.everyday_prior:
        c = fit_everyday_prior(p, s, cfg, axes)
        p.chosen["everyday_offsets"] = [float(v) for v in c]  # type: ignore[assignment]
    return p, base
