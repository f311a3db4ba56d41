"""The honest protocol the model card reports for mood model v2: nested cross-validation (every
choice made inside the outer training part) and the multi-task table's metrics."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from moodtagger.core.moods import MOODS
from moodtagger.training.configs import V2Config
from moodtagger.training.multitask import combine, fit_selected
from moodtagger.training.multitask_data import (
    POS_IDX,
    AllData,
    Folds,
    Split,
    inet_folds,
    make_folds,
    view_mean,
)


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
    ap_probs,
    ap_y,
    tw_ppos,
    tw_pos,
    tw_agree,
    e6_va_pred,
    e6_va,
    e6_ppos=None,
    *,
    tw_probs=None,
    tw_valence=None,
    in_probs=None,
) -> dict[str, float]:
    """The multi-task table's numbers from out-of-fold outputs (None entries are skipped).
    ``tw_probs``/``in_probs``: 8-mood probabilities of Twitter I / the ImageNet sample (the
    share of photos whose top mood is each mood; ``*_top_share_max``: the largest)."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import roc_auc_score

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
        m["tw_auc_ppos"] = float(roc_auc_score(tw_pos, tw_ppos))
    if tw_valence is not None:
        m["tw_auc_valence"] = float(roc_auc_score(tw_pos, tw_valence))
    if e6_va_pred is not None:
        m["e6_valence_r"] = float(pearsonr(e6_va_pred[:, 0], e6_va[:, 0])[0])
        m["e6_valence_spearman"] = float(spearmanr(e6_va_pred[:, 0], e6_va[:, 0])[0])
        m["e6_arousal_r"] = float(pearsonr(e6_va_pred[:, 1], e6_va[:, 1])[0])
    if e6_ppos is not None:
        m["e6_valence_vs_ppos_r"] = float(pearsonr(e6_ppos, e6_va[:, 0])[0])
        m["e6_ppos_spearman"] = float(spearmanr(e6_ppos, e6_va[:, 0])[0])
    for name, probs in (("tw", tw_probs), ("in", in_probs)):
        if probs is not None:
            shares = np.bincount(probs.argmax(1), minlength=len(MOODS)) / len(probs)
            m[f"{name}_top_share_max"] = float(shares.max())
            m.update(
                {
                    f"{name}_top_share_{mood}": float(v)
                    for mood, v in zip(MOODS, shares, strict=True)
                }
            )
    return m


class _Outputs:
    """Out-of-fold outputs of one model over the outer folds."""

    def __init__(self, s: Split):
        n_in = 0 if s.in_x is None else len(s.in_x)
        self.ap_probs = np.zeros((len(s.ap_y), len(MOODS)))
        self.tw_probs = np.zeros((len(s.tw_pos), len(MOODS)))
        self.tw_ppos = np.zeros(len(s.tw_pos))
        self.tw_val = np.zeros(len(s.tw_pos))
        self.e6_va = np.zeros((len(s.e6_va), 2))
        self.e6_ppos = np.zeros(len(s.e6_va))
        self.in_probs = np.zeros((n_in, len(MOODS))) if n_in else None

    def add(self, p, cfg: V2Config, s: Split, folds: Folds, in_folds, f: int, raw=None) -> None:
        def run(x):
            pl, ml, va = p.logits(view_mean(x, cfg.test_views))
            probs, ppos = combine(pl, ml, p.t_pol, p.t_mood, cfg.factorised)
            return pl, ml, va, probs, ppos

        te = folds.ap == f
        pl, ml, _, self.ap_probs[te], _ = run(s.ap_x[te])
        if raw is not None:
            raw["ap_pol"][te], raw["ap_mood"][te] = pl, ml
        te = folds.tw == f
        pl, _, va, self.tw_probs[te], self.tw_ppos[te] = run(s.tw_x[te])
        self.tw_val[te] = va[:, 0]
        if raw is not None:
            raw["tw_pol"][te] = pl
        te = folds.e6 == f
        _, _, self.e6_va[te], _, self.e6_ppos[te] = run(s.e6_x[te])
        if self.in_probs is not None and s.in_x is not None:
            te = in_folds == f
            self.in_probs[te] = run(s.in_x[te])[3]

    def score(self, s: Split) -> dict[str, float]:
        return score(
            self.ap_probs,
            s.ap_y,
            self.tw_ppos,
            s.tw_pos,
            s.tw_agree,
            self.e6_va,
            s.e6_va,
            self.e6_ppos,
            tw_probs=self.tw_probs,
            tw_valence=self.tw_val,
            in_probs=self.in_probs,
        )


def nested_cv(
    data: AllData,
    cfg: V2Config,
    *,
    seed: int = 0,
    k: int = 5,
    log: Callable[[str], None] | None = None,
    split_for: Callable[[int, Folds], Split] | None = None,
) -> tuple[dict[str, float], dict]:
    """Outer ``k``-fold CV (folds from ``seed``); every choice (strengths, temperatures, v3's
    corrections) is made inside the outer training part. Returns the metrics and the raw outer
    OOF outputs. The ImageNet sample (``data.split.in_x``, when loaded) has its own folds: v3's
    prior correction sees its training folds, and its held-out folds give the top-mood shares.
    For a v3 ``cfg`` ``raw["base_metrics"]`` holds the metrics of the v2 fits it was made from
    (the same fits, before the corrections: v2's row, paired), for a v4 ``cfg`` also
    ``raw["v3_metrics"]`` (the same fits before v4's valence: v3's row, paired).

    ``split_for(f, folds)``: the features to use for outer fold ``f`` (same photos and labels,
    e.g. from a backbone fine-tuned on that fold's training part only,
    ``experiments/exp_finetune.py``); default: ``data.split`` for every fold."""
    s = data.split
    folds = make_folds(
        s.ap_y, data.ap_groups, s.tw_pos, s.tw_agree, data.tw_groups, len(s.e6_va), k, seed
    )
    in_folds = inet_folds(len(s.in_x), k, seed) if s.in_x is not None else None
    outs, base_outs = _Outputs(s), (_Outputs(s) if cfg.v3 else None)
    v3_outs = _Outputs(s) if cfg.valence_v4 else None
    raw: dict = {
        "ap_pol": np.zeros(len(s.ap_y)),
        "ap_mood": np.zeros((len(s.ap_y), len(MOODS))),
        "tw_pol": np.zeros(len(s.tw_pos)),
        "chosen": [],
    }
    for f in range(k):
        s = split_for(f, folds) if split_for else data.split
        tr_ap, tr_tw, tr_e6 = folds.ap != f, folds.tw != f, folds.e6 != f
        tr = s.subset(tr_ap, tr_tw, tr_e6, None if in_folds is None else in_folds != f)
        groups = (data.ap_groups[tr_ap], data.tw_groups[tr_tw])
        if cfg.valence_v4:
            from moodtagger.training.multitask_v4 import fit_v4

            p, p3, base = fit_v4(tr, groups, cfg, seed=seed * 100 + f, log=log)
            assert base_outs is not None and v3_outs is not None
            base_outs.add(base, cfg, s, folds, in_folds, f)
            v3_outs.add(p3, cfg, s, folds, in_folds, f)
        elif cfg.v3:
            from moodtagger.training.multitask_v3 import fit_v3

            p, base = fit_v3(tr, groups, cfg, seed=seed * 100 + f, log=log)
            assert base_outs is not None
            base_outs.add(base, cfg, s, folds, in_folds, f)
        else:
            p, _ = fit_selected(tr, groups, cfg, seed=seed * 100 + f, log=log)
        raw["chosen"].append({**p.chosen, "t_pol": p.t_pol, "t_mood": p.t_mood})
        outs.add(p, cfg, s, folds, in_folds, f, raw)
        if log:
            log(f"  {cfg.name}: seed {seed} fold {f + 1}/{k} done")
    m = outs.score(s)
    if base_outs is not None:
        raw["base_metrics"] = base_outs.score(s)
    if v3_outs is not None:
        raw["v3_metrics"] = v3_outs.score(s)
    raw.update(
        ap_probs=outs.ap_probs,
        tw_ppos=outs.tw_ppos,
        e6_va=outs.e6_va,
        folds=folds,
        in_folds=in_folds,
    )
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
