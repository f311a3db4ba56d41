"""Mood model v2: one coherent output, honest folds, the nested-CV machinery, calibration error.

The full nested CV (`moodtagger eval`) needs the features of ~3,700 shared photos and runs
outside the suite; these tests check its building blocks on small real or synthetic data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from moodtagger.core.model.head import V2Head
from moodtagger.core.moods import MOODS, POSITIVE
from moodtagger.training import evaluate
from moodtagger.training import multitask as mt
from moodtagger.training import multitask_cv as mtcv
from moodtagger.training import multitask_data as mtd
from moodtagger.training.configs import V2Config
from moodtagger.training.datasets import load_artphoto, load_twitter1


def _random_params(d: int = 12, seed: int = 0) -> mt.V2Params:
    rng = np.random.default_rng(seed)
    f = np.float32
    return mt.V2Params(
        rng.normal(size=d).astype(f),
        rng.uniform(0.5, 2, d).astype(f),
        rng.normal(size=(d, 2)).astype(f),
        rng.normal(size=2).astype(f),
        rng.normal(size=(d, 8)).astype(f),
        rng.normal(size=8).astype(f),
        rng.normal(size=(d, 2)).astype(f),
        rng.normal(size=2).astype(f),
        t_pol=1.7,
        t_mood=2.3,
    )


def test_positive_share_is_the_polarity_the_model_believes() -> None:
    """Bars, "positive moods" filters and polarity never tell different stories."""
    p = _random_params()
    x = np.random.default_rng(1).normal(size=(50, 12)).astype(np.float32) * 3
    head = mt.to_head(p)
    with torch.no_grad():
        logp, va = head(torch.from_numpy(x))
    probs = torch.softmax(logp, 1).numpy()  # what MoodNet does with the head's output
    pol_logit, mood_logits, va_np = p.logits(x)
    p_pos = 1 / (1 + np.exp(-pol_logit / p.t_pol))
    pos = [MOODS.index(m) for m in POSITIVE]
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.allclose(probs[:, pos].sum(1), p_pos, atol=1e-5)
    # the torch head and the numpy training path agree exactly
    np_probs, np_ppos = mt.combine(pol_logit, mood_logits, p.t_pol, p.t_mood)
    assert np.allclose(probs, np_probs, atol=1e-5)
    assert np.allclose(np_ppos, p_pos)
    assert np.allclose(va.numpy(), va_np, atol=1e-4)
    # within a polarity the mood ranking is the mood head's
    within = np_probs[:, pos] / np_probs[:, pos].sum(1, keepdims=True)
    assert np.array_equal(within.argmax(1), mood_logits[:, pos].argmax(1))


def test_twitter_and_artphoto_folds_keep_duplicates_together(shared_data: Path) -> None:
    ap = load_artphoto(shared_data / "artphoto")
    tw = load_twitter1(shared_data / "twitter1")
    assert len(tw.files) == 1090 and (tw.agreement == 5).sum() == 704
    assert len(set(tw.groups.tolist())) < len(tw.files), "Twitter DUPLICATES.txt groups were read"
    for seed in (0, 3):
        f = mtd.make_folds(
            ap.labels, ap.groups, tw.positive, tw.agreement, tw.groups, 1980, 5, seed
        )
        for groups, folds in ((ap.groups, f.ap), (tw.groups, f.tw)):
            for g in np.unique(groups):
                assert len(set(folds[groups == g].tolist())) == 1
        assert sorted(np.bincount(f.e6).tolist()) == [396] * 5
        # stratified: each Twitter fold has both polarities at every agreement level
        for k in range(5):
            strata = set((tw.positive[f.tw == k] * 10 + tw.agreement[f.tw == k]).tolist())
            assert strata == {3, 4, 5, 13, 14, 15}


def _toy_split(seed: int = 0, d: int = 20) -> tuple[mtd.Split, np.ndarray, np.ndarray]:
    """Synthetic data with the real structure: dims 0-7 carry the mood, dim 8 the polarity."""
    rng = np.random.default_rng(seed)
    ap_y = np.repeat(np.arange(8), 12)
    pos = np.isin(ap_y, [MOODS.index(m) for m in POSITIVE])

    def feats(n, mood=None, polarity=None):
        x = rng.normal(size=(n, 2, d)).astype(np.float32)
        if mood is not None:
            x[np.arange(n), :, mood] += 2.5
        if polarity is not None:
            x[:, :, 8] += np.where(polarity, 1.5, -1.5)[:, None]
        return x

    tw_pos = rng.integers(0, 2, 90)
    e6_val = rng.uniform(1, 9, 60)
    split = mtd.Split(
        feats(len(ap_y), ap_y, pos),
        ap_y,
        feats(90, None, tw_pos == 1),
        tw_pos,
        rng.integers(3, 6, 90),
        feats(60, None, e6_val > 5),
        np.stack([e6_val, rng.uniform(1, 9, 60)], 1),
        rng.dirichlet(np.ones(7), 60),
    )
    split.e6_x[:, :, 9] += (e6_val[:, None] - 5) * 0.8  # valence is linearly readable
    return split, np.arange(len(ap_y)), np.arange(90)


def test_nested_cv_chooses_inside_training_and_learns_the_structure() -> None:
    split, ap_groups, tw_groups = _toy_split()
    data = mtd.AllData(split, ap_groups, tw_groups)
    cfg = V2Config(pol_lambdas=(0.1, 1.0), mood_lambdas=(1e-3, 1e-2))
    m, raw = mtcv.nested_cv(data, cfg, seed=0, k=3)
    assert len(raw["chosen"]) == 3  # one choice per outer fold, made on its training part
    assert all(
        c["lam_pol"] in cfg.pol_lambdas and c["lam_mood"] in cfg.mood_lambdas for c in raw["chosen"]
    )
    assert m["ap_macro_f1"] > 0.6
    assert m["tw_all_polarity_acc"] > 0.8
    assert m["e6_valence_r"] > 0.6
    # every ArtPhoto photo got an out-of-fold distribution
    assert np.allclose(raw["ap_probs"].sum(1), 1)


def test_nested_cv_takes_each_outer_folds_features_from_split_for() -> None:
    """``split_for(f, folds)`` (e.g. a backbone fine-tuned on fold f's training part) supplies the
    features of outer fold f, for its training part and its test part alike."""
    split, ap_groups, tw_groups = _toy_split()
    data = mtd.AllData(split, ap_groups, tw_groups)
    cfg = V2Config(pol_lambdas=(0.1, 1.0), mood_lambdas=(1e-3, 1e-2))
    plain, _ = mtcv.nested_cv(data, cfg, seed=0, k=3)
    calls: list[int] = []

    def same(f: int, folds: mtd.Folds) -> mtd.Split:
        calls.append(f)
        assert len(folds.ap) == len(split.ap_y)
        return split

    assert mtcv.nested_cv(data, cfg, seed=0, k=3, split_for=same)[0] == plain
    assert calls == [0, 1, 2]

    rng = np.random.default_rng(1)

    def blurred(f: int, folds: mtd.Folds) -> mtd.Split:
        """fold f's ArtPhoto test photos lose their mood signal: only they are scored there"""
        ap_x = split.ap_x.copy()
        te = folds.ap == f
        ap_x[te] = rng.normal(size=ap_x[te].shape)
        return mtd.Split(ap_x, *[getattr(split, k) for k in list(vars(split))[1:]])

    m, _ = mtcv.nested_cv(data, cfg, seed=0, k=3, split_for=blurred)
    assert m["ap_macro_f1"] < plain["ap_macro_f1"] - 0.3
    assert m["tw_all_polarity_acc"] == plain["tw_all_polarity_acc"]


def test_expected_calibration_error() -> None:
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.3, 1.0, 20000)
    calibrated = rng.uniform(size=conf.size) < conf
    assert mtcv.ece(conf, calibrated) < 0.02
    assert mtcv.ece(np.full(1000, 0.9), np.zeros(1000, bool)) == pytest.approx(0.9)


@pytest.mark.parametrize("mlp_pca", [True, False])
def test_mlp_mood_head_torch_matches_numpy_and_survives_a_state_dict_round_trip(
    mlp_pca: bool,
) -> None:
    """v2 with an MLP mood head (ensemble): the inference module, after save/load through a plain
    state dict into a fresh ``V2Head(in_dim)`` (what the registry does), gives the numpy training
    path's probabilities, and the output stays coherent (positive share = P(pos))."""
    split, _, _ = _toy_split(seed=2)
    cfg = V2Config(
        mlp_hidden=16, mlp_members=3, mlp_mix=(0.5,), mlp_epochs=20, pca_dim=12, mlp_pca=mlp_pca
    )
    p = mt.fit_v2(split, cfg, lam_pol=1.0, lam_mood=0.1, va_alpha=10.0, mlp_mix=0.5)
    p.t_pol, p.t_mood = 1.3, 0.7
    assert p.mlp is not None and p.mlp.w1.shape == (3, 12 if mlp_pca else 20, 16)
    head = mt.to_head(p)
    state = {k: v.clone() for k, v in head.state_dict().items()}
    fresh = V2Head(split.ap_x.shape[-1])
    fresh.load_state_dict(state)
    x = split.ap_x[:, 0]
    with torch.no_grad():
        logp, va = fresh(torch.from_numpy(x))
    probs = torch.softmax(logp, 1).numpy()
    pol_logit, mood_logits, va_np = p.logits(x)
    np_probs, p_pos = mt.combine(pol_logit, mood_logits, p.t_pol, p.t_mood)
    assert np.allclose(probs, np_probs, atol=1e-5)
    assert np.allclose(probs[:, mtd.POS_IDX].sum(1), p_pos, atol=1e-5)
    assert np.allclose(va.numpy(), va_np, atol=1e-4)
    # the MLP really contributes: dropping it changes the moods
    lin = V2Head(split.ap_x.shape[-1])
    lin.load_state_dict({k: v for k, v in state.items() if not k.startswith("mlp")})
    with torch.no_grad():
        assert not torch.allclose(lin(torch.from_numpy(x))[0], logp, atol=1e-3)


def test_nested_cv_with_an_mlp_mood_head_chooses_its_mix_inside_training() -> None:
    split, ap_groups, tw_groups = _toy_split()
    data = mtd.AllData(split, ap_groups, tw_groups)
    cfg = V2Config(
        pol_lambdas=(0.1, 1.0),
        mood_lambdas=(1e-3, 1e-2),
        mlp_hidden=16,
        mlp_epochs=30,
        mlp_mix=(0.0, 1.0),
    )
    m, raw = mtcv.nested_cv(data, cfg, seed=0, k=3)
    assert all(c.get("mlp_mix", 0.0) in cfg.mlp_mix for c in raw["chosen"])
    assert m["ap_macro_f1"] > 0.6
    assert np.allclose(raw["ap_probs"].sum(1), 1)


def test_paired_table_shows_each_rows_difference_from_the_base_seed_by_seed() -> None:
    keys = [k for k, _ in evaluate.MT_COLUMNS]
    base = [dict.fromkeys(keys, 0.5), dict.fromkeys(keys, 0.3)]
    other = [dict.fromkeys(keys, 0.52), dict.fromkeys(keys, 0.29)]  # +0.02, -0.01
    lines = evaluate.format_paired({"base": base, "other": other}, "base").splitlines()
    assert len(lines) == 4 and lines[0].startswith("| row | AP F1")
    assert "0.4000 ± 0.1414 |" in lines[2]  # the base row: no paired column
    assert "0.4050 ± 0.1626 (+0.0050; -0.010..+0.020)" in lines[3]
    assert evaluate.format_seed(base[0]).startswith("AP F1 0.5000, AP acc 0.5000")
