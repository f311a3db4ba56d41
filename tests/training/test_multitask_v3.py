"""Mood model v3's two corrections on top of v2's fit (issue 28): the everyday prior correction
of the within-polarity moods and valence from the polarity and the descriptor together. Both
fold into v2's linear head, so the runtime head and the ONNX graph are v2's.
"""

from __future__ import annotations

import numpy as np
import torch

from moodtagger.core.moods import MOODS, POSITIVE
from moodtagger.training import multitask as mt
from moodtagger.training import multitask_cv as mtcv
from moodtagger.training import multitask_data as mtd
from moodtagger.training import multitask_v3 as v3
from moodtagger.training.configs import V2Config

from .test_multitask import _random_params, _toy_split

POS = [MOODS.index(m) for m in POSITIVE]


def test_prior_offsets_flatten_each_polarity_on_the_photos_they_were_fitted_on() -> None:
    """Logits biased toward one mood (what v2 does to everyday photos: excitement): after the
    correction the mean 8-mood distribution splits each polarity's share evenly."""
    rng = np.random.default_rng(0)
    ml = rng.normal(size=(400, 8)) * 0.5
    ml[:, MOODS.index("excitement")] += 2.0
    ml[:, MOODS.index("sadness")] += 1.0
    p_pos = rng.uniform(0.2, 0.9, 400)
    w = np.full(400, 1 / 400)
    before = mt.combine(np.log(p_pos / (1 - p_pos)), ml)[0]
    assert before[:, MOODS.index("excitement")].mean() > 2 * before[:, POS].mean(1).mean()
    c = v3.within_prior_offsets(ml, p_pos, w)
    probs, ppos = mt.combine(np.log(p_pos / (1 - p_pos)), ml + c)
    assert np.allclose(ppos, p_pos)  # polarity untouched
    mean = probs.mean(0)
    neg = [i for i in range(8) if i not in POS]
    assert np.allclose(mean[POS], mean[POS].mean(), atol=1e-6)
    assert np.allclose(mean[neg], mean[neg].mean(), atol=1e-6)
    assert abs(c[POS].sum()) < 1e-9 and abs(c[neg].sum()) < 1e-9
    top = np.bincount(probs.argmax(1), minlength=8) / 400
    assert top.max() < 0.35


def test_offsets_fold_into_the_intercepts_and_the_runtime_head() -> None:
    p = _random_params()
    x = np.random.default_rng(1).normal(size=(30, 12)).astype(np.float32)
    pl, ml, _ = p.logits(x)
    c = np.linspace(-1, 1, 8)
    want = mt.combine(pl, ml + c * p.t_mood, p.t_pol, p.t_mood)[0]
    q = mt.V2Params(**vars(p))
    v3.apply_prior_offsets(p, c)
    with torch.no_grad():
        logp, _ = mt.to_head(p)(torch.from_numpy(x))
    assert np.allclose(torch.softmax(logp, 1).numpy(), want, atol=1e-5)
    # scaled per photo by a linear domain score: still one linear head
    a, a0 = np.random.default_rng(2).normal(size=12).astype(np.float32), 0.3
    score = ((x - q.mu) / q.sigma) @ a + a0
    want = mt.combine(pl, ml + np.outer(score, c) * q.t_mood, q.t_pol, q.t_mood)[0]
    v3.apply_prior_offsets(q, c, (a, a0))
    with torch.no_grad():
        logp, _ = mt.to_head(q)(torch.from_numpy(x))
    assert np.allclose(torch.softmax(logp, 1).numpy(), want, atol=1e-4)


def test_joint_valence_is_linear_in_the_descriptor_and_uses_the_polarity() -> None:
    split, ap_groups, tw_groups = _toy_split()
    cfg = V2Config(pol_lambdas=(0.1, 1.0), mood_lambdas=(1e-3, 1e-2), valence_alpha=1e6)
    p, inner = mt.fit_selected(split, (ap_groups, tw_groups), cfg, seed=0)
    axes = mt.projection(split, cfg).axes
    pol_before = p.logits(split.e6_x[:, 0])[0]
    info = v3.fit_joint_valence(p, split, inner, cfg, axes)
    pl, _, va = p.logits(split.e6_x[:, 0])
    assert np.allclose(pl, pol_before)
    # a huge ridge penalty leaves valence = a * polarity logit + b
    assert np.allclose(va[:, 0], info["valence_a"] * pl + info["valence_b"], atol=1e-2)
    assert info["valence_a"] > 0


def test_nested_cv_of_v3_reports_v2_paired_and_everyday_shares() -> None:
    split, ap_groups, tw_groups = _toy_split()
    split.in_x = np.random.default_rng(5).normal(size=(40, 2, 20)).astype(np.float32)
    data = mtd.AllData(split, ap_groups, tw_groups)
    cfg = V2Config(
        pol_lambdas=(0.1, 1.0),
        mood_lambdas=(1e-3, 1e-2),
        everyday_prior=1.0,
        valence_from_polarity=True,
    )
    m, raw = mtcv.nested_cv(data, cfg, seed=0, k=3)
    base = raw["base_metrics"]
    for key in ("in_top_share_max", "tw_top_share_max", "tw_auc_valence", "e6_ppos_spearman"):
        assert key in m and key in base
    # the correction leaves polarity alone: same P(pos) -> same Twitter accuracy
    assert m["tw5_polarity_acc"] == base["tw5_polarity_acc"]
    assert len(raw["chosen"]) == 3 and "everyday_offsets" in raw["chosen"][0]
    # the ImageNet sample's folds: every photo held out exactly once
    assert sorted(np.bincount(raw["in_folds"]).tolist()) == [13, 13, 14]
