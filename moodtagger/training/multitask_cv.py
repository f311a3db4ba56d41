"""The honest protocol the model card reports for mood model v2: nested cross-validation (every
choice made inside the outer training part) and the multi-task table's metrics."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from moodtagger.core.moods import MOODS
from moodtagger.training.configs import V2Config
from moodtagger.training.multitask import combine, fit_selected
from moodtagger.training.multitask_data import POS_IDX, AllData, Folds, Split, make_folds, view_mean


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error (equal-width bins, top-label confidence)."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(confidence[m].mean() - correct[m].mean())
    return float(total / len(confidence))


def macro_f1(y, pred) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, average="macro", labels=range(len(MOODS)), zero_division=0))


def score(
    ap_probs, ap_y, tw_ppos, tw_pos, tw_agree, e6_va_pred, e6_va, e6_ppos=None
) -> dict[str, float]:
    """The multi-task table's numbers from out-of-fold outputs (None entries are skipped)."""
    from scipy.stats import pearsonr, spearmanr

    m: dict[str, float] = {}
    if ap_probs is not None:
        pred = ap_probs.argmax(1)
        m["ap_macro_f1"] = macro_f1(ap_y, pred)
        m["ap_acc"] = float((pred == ap_y).mean())
        m["ap_ece_top"] = ece(ap_probs.max(1), pred == ap_y)
        m["ap_polarity_acc"] = float(
            ((ap_probs[:, POS_IDX].sum(1) > 0.5) == np.isin(ap_y, POS_IDX)).mean()
        )
    if tw_ppos is not None:
        five = tw_agree == 5
        pred = tw_ppos > 0.5
        m["tw5_polarity_acc"] = float((pred[five] == (tw_pos[five] == 1)).mean())
        m["tw_all_polarity_acc"] = float((pred == (tw_pos == 1)).mean())
        conf = np.maximum(tw_ppos, 1 - tw_ppos)
        m["tw5_ece_polarity"] = ece(conf[five], pred[five] == (tw_pos[five] == 1))
        m["tw_all_ece_polarity"] = ece(conf, pred == (tw_pos == 1))
    if e6_va_pred is not None:
        m["e6_valence_r"] = float(pearsonr(e6_va_pred[:, 0], e6_va[:, 0])[0])
        m["e6_valence_spearman"] = float(spearmanr(e6_va_pred[:, 0], e6_va[:, 0])[0])
        m["e6_arousal_r"] = float(pearsonr(e6_va_pred[:, 1], e6_va[:, 1])[0])
    if e6_ppos is not None:
        m["e6_valence_vs_ppos_r"] = float(pearsonr(e6_ppos, e6_va[:, 0])[0])
    return m


def nested_cv(
    data: AllData,
    cfg: V2Config,
    *,
    seed: int = 0,
    k: int = 5,
    log: Callable[[str], None] | None = None,
    split_for: Callable[[int, Folds], Split] | None = None,
) -> tuple[dict[str, float], dict]:
    """Outer ``k``-fold CV (folds from ``seed``); every choice (strengths, temperatures) is made
    inside the outer training part. Returns the metrics and the raw outer OOF outputs.

    ``split_for(f, folds)``: the features to use for outer fold ``f`` (same photos and labels,
    e.g. from a backbone fine-tuned on that fold's training part only,
    ``experiments/exp_finetune.py``); default: ``data.split`` for every fold."""
    s = data.split
    folds = make_folds(
        s.ap_y, data.ap_groups, s.tw_pos, s.tw_agree, data.tw_groups, len(s.e6_va), k, seed
    )
    ap_probs = np.zeros((len(s.ap_y), len(MOODS)))
    tw_ppos = np.zeros(len(s.tw_pos))
    e6_va = np.zeros((len(s.e6_va), 2))
    e6_ppos = np.zeros(len(s.e6_va))
    raw = {
        "ap_pol": np.zeros(len(s.ap_y)),
        "ap_mood": np.zeros((len(s.ap_y), len(MOODS))),
        "tw_pol": np.zeros(len(s.tw_pos)),
        "chosen": [],
    }
    for f in range(k):
        s = split_for(f, folds) if split_for else data.split
        tr_ap, tr_tw, tr_e6 = folds.ap != f, folds.tw != f, folds.e6 != f
        tr = s.subset(tr_ap, tr_tw, tr_e6)
        p, _ = fit_selected(
            tr, (data.ap_groups[tr_ap], data.tw_groups[tr_tw]), cfg, seed=seed * 100 + f, log=log
        )
        raw["chosen"].append({**p.chosen, "t_pol": p.t_pol, "t_mood": p.t_mood})
        te = folds.ap == f
        pl, ml, _ = p.logits(view_mean(s.ap_x[te], cfg.test_views))
        ap_probs[te] = combine(pl, ml, p.t_pol, p.t_mood, cfg.factorised)[0]
        raw["ap_pol"][te], raw["ap_mood"][te] = pl, ml
        te = folds.tw == f
        pl, ml, _ = p.logits(view_mean(s.tw_x[te], cfg.test_views))
        tw_ppos[te] = combine(pl, ml, p.t_pol, p.t_mood, cfg.factorised)[1]
        raw["tw_pol"][te] = pl
        te = folds.e6 == f
        pl, ml, va = p.logits(view_mean(s.e6_x[te], cfg.test_views))
        e6_va[te] = va
        e6_ppos[te] = combine(pl, ml, p.t_pol, p.t_mood, cfg.factorised)[1]
        if log:
            log(f"  {cfg.name}: seed {seed} fold {f + 1}/{k} done")
    m = score(ap_probs, s.ap_y, tw_ppos, s.tw_pos, s.tw_agree, e6_va, s.e6_va, e6_ppos)
    raw.update(ap_probs=ap_probs, tw_ppos=tw_ppos, e6_va=e6_va, folds=folds)
    return m, raw


def summarise(runs: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """mean and (sample) std over seeds per metric."""
    keys = runs[0].keys()
    return {
        k: (
            float(np.mean([r[k] for r in runs])),
            float(np.std([r[k] for r in runs], ddof=1) if len(runs) > 1 else 0.0),
        )
        for k in keys
    }
