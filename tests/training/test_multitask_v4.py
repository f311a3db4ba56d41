"""Mood model v4 (issue 28 item 2): v3 with its valence refitted from the polarity logit,
P(positive), the 8 mood log-probabilities and the descriptor. The runtime head computes the
same valence as the fitted parameters; the moods and the polarity are v3's."""

from __future__ import annotations

import copy

import numpy as np
import torch

from moodtagger.training import multitask as mt
from moodtagger.training import multitask_cv as mtcv
from moodtagger.training import multitask_data as mtd
from moodtagger.training import multitask_v4 as v4
from moodtagger.training.configs import V4_CONFIG, V2Config

from .test_multitask import _random_params, _toy_split


def test_v4_valence_terms_run_in_the_runtime_head() -> None:
    p = _random_params()
    p.va_ppos, p.va_logp = 1.7, np.linspace(-0.5, 0.5, 8).astype(np.float32)
    x = np.random.default_rng(1).normal(size=(40, 12)).astype(np.float32) * 2
    pl, ml, va = p.logits(x)
    probs, ppos = mt.combine(pl, ml, p.t_pol, p.t_mood)
    lin = ((x - p.mu) / p.sigma) @ p.w_va + p.b_va
    assert np.allclose(va[:, 0], lin[:, 0] + 1.7 * ppos + np.log(probs) @ p.va_logp, atol=1e-4)
    assert np.allclose(va[:, 1], lin[:, 1])  # arousal untouched
    with torch.no_grad():
        logp, va_t = mt.to_head(p)(torch.from_numpy(x))
    assert np.allclose(va_t.numpy(), va, atol=1e-4)
    assert np.allclose(torch.softmax(logp, 1).numpy(), probs, atol=1e-5)
    # a head without the terms (v2, v3) loads and runs as before
    q = copy.deepcopy(p)
    q.va_ppos, q.va_logp = 0.0, None
    h = mt.to_head(q)
    assert not h.has_va_moods
    with torch.no_grad():
        assert np.allclose(h(torch.from_numpy(x))[1].numpy(), lin, atol=1e-4)


def test_fit_v4_keeps_v3s_moods_and_polarity_and_changes_only_valence() -> None:
    split, ap_groups, tw_groups = _toy_split()
    split.in_x = np.random.default_rng(5).normal(size=(40, 2, 20)).astype(np.float32)
    cfg = V2Config(
        pol_lambdas=(0.1, 1.0),
        mood_lambdas=(1e-3, 1e-2),
        everyday_prior=1.0,
        valence_from_polarity=True,
        valence_v4=True,
        valence_alpha=100.0,
    )
    p4, p3, _ = v4.fit_v4(split, (ap_groups, tw_groups), cfg, seed=0)
    x = mtd.view_mean(split.e6_x, (0,))
    pl4, ml4, va4 = p4.logits(x)
    pl3, ml3, va3 = p3.logits(x)
    assert np.array_equal(pl4, pl3) and np.array_equal(ml4, ml3)
    assert np.array_equal(va4[:, 1], va3[:, 1])
    assert not np.allclose(va4[:, 0], va3[:, 0])
    assert p4.va_logp is not None and p4.va_logp.shape == (8,)
    # valence follows Emotion6's valence on the photos it was fitted on
    assert np.corrcoef(va4[:, 0], split.e6_va[:, 0])[0, 1] > 0.5


def test_nested_cv_of_v4_reports_v3_and_v2_paired() -> None:
    split, ap_groups, tw_groups = _toy_split()
    split.in_x = np.random.default_rng(5).normal(size=(40, 2, 20)).astype(np.float32)
    data = mtd.AllData(split, ap_groups, tw_groups)
    cfg = V2Config(
        pol_lambdas=(0.1, 1.0),
        mood_lambdas=(1e-3, 1e-2),
        everyday_prior=1.0,
        valence_from_polarity=True,
        valence_v4=True,
        valence_alpha=100.0,
    )
    m, raw = mtcv.nested_cv(data, cfg, seed=0, k=3)
    v3m = raw["v3_metrics"]
    assert "base_metrics" in raw
    # only valence differs from v3's row on the same fits
    for key in ("ap_macro_f1", "tw5_polarity_acc", "tw_top_share_max", "in_top_share_max"):
        assert m[key] == v3m[key], key
    assert m["tw_auc_valence"] != v3m["tw_auc_valence"]


def test_shipped_v4_config_is_round_7s_recipe() -> None:
    assert V4_CONFIG.valence_v4 and V4_CONFIG.everyday_prior == 1.0
    assert V4_CONFIG.valence_v4_spread == 8.0 and V4_CONFIG.valence_v4_tw_weight == 0.3
    assert V4_CONFIG.valence_alpha == 10000.0 and V4_CONFIG.valence_tw_weight == 0.1  # v3's part
