"""Mood model v4: v3 exactly (v2's heads + the everyday prior correction), with its valence
refitted from the polarity *and* the moods (issue 28 item 2; ROUNDS.md rounds 6-7).

``valence = a * polarity logit + c * P(positive) + log P(moods) . d + ridge(descriptor) + b``,
``a``, ``c``, ``d``, ``b`` unpenalised, the ridge (alpha ``cfg.valence_alpha``) in the training
part's principal components; fitted on Emotion6 (valence) and Twitter I (target ``5 + spread x
(share of workers saying positive - 1/2)`` with Twitter I's own intercept, dropped at inference;
total weight ``cfg.valence_v4_tw_weight`` of Emotion6's). The training photos' polarity and
mood logits are the inner CV's out-of-fold ones (the everyday offsets applied as the head
applies them), so the free coefficients are not inflated by the heads' own fit. P(positive) and
the mood log-probabilities are what the head outputs, so v4 runs in v2's head with two extra
buffers (:meth:`~moodtagger.core.model.head.V2Head.set_va_moods`); the moods, the polarity and
so the top-mood shares are v3's exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from moodtagger.training.configs import V2Config
from moodtagger.training.multitask import (
    OOF,
    V2Params,
    fit_selected,
    mood_log_probs,
    polarity_targets,
    projection,
)
from moodtagger.training.multitask_data import Split, view_mean
from moodtagger.training.multitask_v3 import (
    _weighted_ridge_with_free,
    domain_score,
    fit_everyday_prior,
    fit_joint_valence,
)


def fit_v4_valence(
    p: V2Params,
    s: Split,
    inner: OOF,
    cfg: V2Config,
    axes: np.ndarray,
    score: tuple[np.ndarray, float],
    offsets: np.ndarray,
) -> dict[str, float]:
    """Replace the v3 params ``p``'s valence by v4's (module docstring). ``score`` and
    ``offsets``: v3's everyday correction (domain score, offsets after the temperature), applied
    to the inner out-of-fold mood logits as the fitted head applies them. Returns a, c, b."""
    assert inner.e6_pol is not None and inner.e6_mood is not None and inner.tw_mood is not None
    ze = (view_mean(s.e6_x, cfg.test_views) - p.mu) / p.sigma
    zt = (view_mean(s.tw_x, cfg.test_views) - p.mu) / p.sigma
    z = np.concatenate([ze, zt])
    pol = np.concatenate([inner.e6_pol, inner.tw_pol])
    ml = np.concatenate([inner.e6_mood, inner.tw_mood]) / p.t_mood
    ml = ml + (z @ score[0] + score[1])[:, None] * offsets[None]
    ppos = 1.0 / (1.0 + np.exp(-pol / p.t_pol))
    is_tw = np.concatenate([np.zeros(len(ze)), np.ones(len(zt))])
    free = np.concatenate(
        [pol[:, None], ppos[:, None], mood_log_probs(pol, ml, p.t_pol), is_tw[:, None]], 1
    )
    share = polarity_targets(s)[1]
    y = np.concatenate([s.e6_va[:, 0], 5.0 + cfg.valence_v4_spread * (share - 0.5)])
    w_tw = cfg.valence_v4_tw_weight * len(ze) / max(len(zt), 1)
    w = np.concatenate([np.ones(len(ze)), np.full(len(zt), w_tw)])
    a, coef, b = _weighted_ridge_with_free(free, z @ axes, y, w, cfg.valence_alpha)
    dw = p.w_pol[:, 1] - p.w_pol[:, 0]
    db = float(p.b_pol[1] - p.b_pol[0])
    w_va, b_va = p.w_va.copy(), p.b_va.copy()
    w_va[:, 0] = a[0] * dw + axes @ coef
    b_va[0] = a[0] * db + b
    p.w_va, p.b_va = w_va.astype(np.float32), b_va.astype(np.float32)
    p.va_ppos = float(a[1])
    p.va_logp = a[2:10].astype(np.float32)  # a[10]: Twitter I's own intercept, training only
    return {"valence_a": float(a[0]), "valence_ppos": float(a[1]), "valence_b": float(b)}


def fit_v4(
    s: Split,
    groups: tuple[np.ndarray, np.ndarray],
    cfg: V2Config,
    *,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    keep: V2Params | None = None,
) -> tuple[V2Params, V2Params, V2Params]:
    """(v4 params, the v3 params they were made from, the v2 params those were made from): v3
    exactly as :func:`~moodtagger.training.multitask_v3.fit_v3` fits it, then v4's valence.
    ``keep``: v3 params to give v4's valence instead (the shipped v3 head, so that v4's moods,
    polarity and arousal are its own bit for bit; a refit agrees with it to ~1e-5 only)."""
    base, inner = fit_selected(s, groups, cfg, seed=seed, log=log)
    p3 = copy.deepcopy(base)
    axes = projection(s, cfg).axes  # the same (deterministic) axes fit_selected used
    if cfg.valence_from_polarity:
        p3.chosen.update(fit_joint_valence(p3, s, inner, cfg, axes))
    score = domain_score(p3, s, cfg, axes)
    c = fit_everyday_prior(p3, s, cfg, axes) if cfg.everyday_prior else np.zeros(len(p3.b_mood))
    if cfg.everyday_prior:
        p3.chosen["everyday_offsets"] = [float(v) for v in c]  # type: ignore[assignment]
    p4 = copy.deepcopy(p3 if keep is None else keep)
    chosen = p3.chosen if keep is None or not keep.chosen else keep.chosen
    p4.chosen = {k: v for k, v in chosen.items() if not k.startswith("valence_")}
    p4.chosen.update(fit_v4_valence(p4, s, inner, cfg, axes, score, c))
    return p4, p3, base
