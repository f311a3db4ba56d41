"""Honest evaluation: ArtPhoto 5-fold stratified cross-validation, duplicates kept in one fold.

Every candidate head and the published baseline (ImageNet class scores -> random forest, 300
trees; Machajdik & Hanbury 2010 report avg F1 ~0.33) are scored on the *same* folds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from moodtagger.core.moods import MOODS, POSITIVE
from moodtagger.training import datasets, features, multitask_cv
from moodtagger.training import multitask_data as mtd
from moodtagger.training.configs import CHOSEN, HeadConfig
from moodtagger.training.features import load_features
from moodtagger.training.multitask import V2Config
from moodtagger.training.v1_head import fit_head, fit_va, predict_head, predict_logits, view_probs

EMO6_TO_MIKELS = {"anger": "anger", "disgust": "disgust", "fear": "fear", "sadness": "sadness"}


@dataclass
class Report:
    name: str
    y_true: np.ndarray
    y_pred: np.ndarray
    probs: np.ndarray | None = None
    logits: np.ndarray | None = None  # out-of-fold per-view logits (single-head configs)
    extra: dict[str, float] = field(default_factory=dict)

    def metrics(self) -> dict[str, object]:
        from sklearn.metrics import (
            accuracy_score,
            confusion_matrix,
            precision_recall_fscore_support,
        )

        p, r, f, s = precision_recall_fscore_support(
            self.y_true, self.y_pred, labels=range(len(MOODS)), zero_division=0
        )
        return {
            "macro_f1": float(f.mean()),
            "macro_precision": float(p.mean()),
            "macro_recall": float(r.mean()),
            "accuracy": float(accuracy_score(self.y_true, self.y_pred)),
            "per_class": {
                m: {
                    "precision": float(p[i]),
                    "recall": float(r[i]),
                    "f1": float(f[i]),
                    "support": int(s[i]),
                }
                for i, m in enumerate(MOODS)
            },
            "confusion": confusion_matrix(
                self.y_true, self.y_pred, labels=range(len(MOODS))
            ).tolist(),
            **self.extra,
        }


def _emotion6_extra(
    variant: str, parts: tuple[str, ...], views: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Emotion6 images whose majority vote is a negative Ekman emotion that Mikels shares."""
    e6 = datasets.load_emotion6()
    feats = load_features(e6.files, variant, parts)
    bins = datasets.EMOTION6_BINS
    top = e6.votes.argmax(1)
    keep = [
        i for i in range(len(top)) if bins[top[i]] in EMO6_TO_MIKELS and e6.votes[i, top[i]] >= 0.5
    ]
    y = np.array([MOODS.index(EMO6_TO_MIKELS[bins[top[i]]]) for i in keep])
    return feats[keep][:, list(views)], y


def _train_rows(
    x: np.ndarray, y: np.ndarray, views: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    xv = x[:, list(views)]
    return xv.reshape(-1, xv.shape[-1]), np.repeat(y, len(views))


def train_config(cfg: HeadConfig, x: np.ndarray, y: np.ndarray, seed: int = 0):
    """Fit ``cfg`` on (n, views, d) features; returns the list of heads (seed ensemble)."""
    xs, ys = _train_rows(x, y, cfg.train_views)
    weights = np.ones(len(xs))
    if cfg.emotion6 > 0:
        ex, ey = _emotion6_extra(cfg.variant, cfg.parts, cfg.train_views)
        ex2, ey2 = ex.reshape(-1, ex.shape[-1]), np.repeat(ey, len(cfg.train_views))
        xs = np.concatenate([xs, ex2])
        ys = np.concatenate([ys, ey2])
        weights = np.concatenate([weights, np.full(len(ex2), cfg.emotion6)])
    return [
        fit_head(
            xs,
            ys,
            hidden=cfg.hidden,
            weight_decay=cfg.weight_decay,
            epochs=cfg.epochs,
            lr=cfg.lr,
            class_weight=cfg.class_weight,
            sample_weight=weights,
            dropout=cfg.dropout,
            seed=seed + s,
        )
        for s in range(cfg.seeds)
    ]


def predict_config(heads, cfg: HeadConfig, x: np.ndarray) -> np.ndarray:
    xt = x[:, list(cfg.test_views)]
    return np.mean([predict_head(h, xt)[0] for h in heads], axis=0)


def cross_validate(
    cfg: HeadConfig, *, k: int = 5, seed: int = 0, log: Callable[[str], None] | None = None
) -> Report:
    ap = datasets.load_artphoto()
    x = load_features(ap.files, cfg.variant, cfg.parts)
    folds = datasets.stratified_group_folds(ap.labels, ap.groups, k=k, seed=seed)
    probs = np.zeros((len(ap.files), len(MOODS)), dtype=np.float32)
    logits = np.zeros((len(ap.files), len(cfg.test_views), len(MOODS)), dtype=np.float32)
    for f in range(k):
        tr, te = folds != f, folds == f
        heads = train_config(cfg, x[tr], ap.labels[tr], seed=seed)
        probs[te] = predict_config(heads, cfg, x[te])
        logits[te] = predict_logits(heads[0], x[te][:, list(cfg.test_views)])[0]
        if log:
            log(f"  {cfg.name}: fold {f + 1}/{k} done")
    return Report(cfg.name, ap.labels, probs.argmax(1), probs, logits if cfg.seeds == 1 else None)


def rf_baseline(*, k: int = 5, seed: int = 0, variant: str = "lite0") -> Report:
    """The published baseline on the same folds: ImageNet class scores -> random forest (300 trees)."""
    from scipy.special import softmax
    from sklearn.ensemble import RandomForestClassifier

    ap = datasets.load_artphoto()
    logits = features.extract(ap.files, variant)["logits"][:, 0]  # center crop only
    scores = softmax(logits, axis=1)
    folds = datasets.stratified_group_folds(ap.labels, ap.groups, k=k, seed=seed)
    pred = np.zeros(len(ap.files), dtype=int)
    for f in range(k):
        tr, te = folds != f, folds == f
        rf = RandomForestClassifier(
            n_estimators=300, random_state=seed, n_jobs=2, class_weight="balanced"
        )
        rf.fit(scores[tr], ap.labels[tr])
        pred[te] = rf.predict(scores[te])
    return Report(f"baseline: ImageNet scores -> RF300 ({variant})", ap.labels, pred)


def emotion6_check(heads, cfg: HeadConfig) -> dict[str, float]:
    """Generalisation beyond ArtPhoto: Emotion6 valence vs. the model's positive-mood mass."""
    from scipy.stats import pearsonr, spearmanr

    e6 = datasets.load_emotion6()
    x = load_features(e6.files, cfg.variant, cfg.parts)
    probs = predict_config(heads, cfg, x)
    pos = probs[:, [MOODS.index(m) for m in POSITIVE]].sum(1)
    return {
        "emotion6_valence_vs_positive_mass_pearson": float(pearsonr(pos, e6.valence)[0]),
        "emotion6_valence_vs_positive_mass_spearman": float(spearmanr(pos, e6.valence)[0]),
    }


def valence_arousal_cv(
    cfg: HeadConfig, heads, *, k: int = 5, seed: int = 0, alpha: float = 1000.0
) -> dict[str, float]:
    """5-fold CV on Emotion6 of the ridge valence/arousal regressor (Pearson r, MAE)."""
    from scipy.stats import pearsonr

    e6 = datasets.load_emotion6()
    x = load_features(e6.files, cfg.variant, cfg.parts)
    target = np.stack([e6.valence, e6.arousal], 1)
    rng = np.random.default_rng(seed)
    folds = rng.permutation(len(x)) % k
    pred = np.zeros_like(target)
    head = heads[0]
    for f in range(k):
        tr, te = folds != f, folds == f
        xs = x[tr][:, list(cfg.train_views)]
        fit_va(
            head,
            xs.reshape(-1, xs.shape[-1]),
            np.repeat(target[tr], len(cfg.train_views), axis=0),
            alpha,
        )
        pred[te] = predict_head(head, x[te][:, list(cfg.test_views)])[1]
    return {
        "emotion6_valence_pearson": float(pearsonr(pred[:, 0], target[:, 0])[0]),
        "emotion6_valence_mae": float(np.abs(pred[:, 0] - target[:, 0]).mean()),
        "emotion6_arousal_pearson": float(pearsonr(pred[:, 1], target[:, 1])[0]),
        "emotion6_arousal_mae": float(np.abs(pred[:, 1] - target[:, 1]).mean()),
    }


def format_table(reports: list[tuple[str, dict]]) -> str:
    lines = [f"{'model':<58} {'macro-F1':>8} {'acc':>6} {'P':>6} {'R':>6}"]
    for name, m in reports:
        lines.append(
            f"{name:<58} {m['macro_f1']:8.3f} {m['accuracy']:6.3f} {m['macro_precision']:6.3f} {m['macro_recall']:6.3f}"
        )
    return "\n".join(lines)


def format_detail(m: dict) -> str:
    lines = [f"{'mood':<12} {'P':>6} {'R':>6} {'F1':>6} {'n':>4}"]
    for mood, c in m["per_class"].items():
        lines.append(
            f"{mood:<12} {c['precision']:6.3f} {c['recall']:6.3f} {c['f1']:6.3f} {c['support']:4d}"
        )
    lines.append(
        "confusion (rows = true, columns = predicted, order "
        + ",".join(x[:4] for x in MOODS)
        + "):"
    )
    for mood, row in zip(MOODS, m["confusion"], strict=True):
        lines.append(f"  {mood[:4]:<5}" + " ".join(f"{v:4d}" for v in row))
    return "\n".join(lines)


# -- the multi-task table (v2 protocol): every row on the same folds of all three data sets -------

V1_TEMPERATURE = 4.47  # historical: fitted by `train` v1 on its out-of-fold ArtPhoto logits


def v1_recipe_cv(data, cfg: HeadConfig, *, seed: int, k: int = 5, log=None) -> dict[str, float]:
    """The v1 recipe (MLP on ArtPhoto, ridge valence on Emotion6) on the v2 folds of ``seed``."""
    s = data.split
    folds = mtd.make_folds(
        s.ap_y, data.ap_groups, s.tw_pos, s.tw_agree, data.tw_groups, len(s.e6_va), k, seed
    )
    ap_probs = np.zeros((len(s.ap_y), len(MOODS)))
    tw_ppos = np.zeros(len(s.tw_pos))
    e6_va = np.zeros((len(s.e6_va), 2))
    pos = [MOODS.index(m) for m in POSITIVE]
    for f in range(k):
        tr = folds.ap != f
        heads = train_config(cfg, s.ap_x[tr], s.ap_y[tr], seed=seed)
        h = heads[0]

        def probs(x, h=h):
            return view_probs(predict_logits(h, x[:, list(cfg.test_views)])[0], V1_TEMPERATURE)

        ap_probs[folds.ap == f] = probs(s.ap_x[folds.ap == f])
        tw_ppos[folds.tw == f] = probs(s.tw_x[folds.tw == f])[:, pos].sum(1)
        xe = s.e6_x[folds.e6 != f][:, list(cfg.train_views)]
        fit_va(
            h,
            xe.reshape(-1, xe.shape[-1]),
            np.repeat(s.e6_va[folds.e6 != f], len(cfg.train_views), axis=0),
            1000.0,
        )
        e6_va[folds.e6 == f] = predict_head(h, s.e6_x[folds.e6 == f][:, list(cfg.test_views)])[1]
        if log:
            log(f"  v1 recipe: seed {seed} fold {f + 1}/{k} done")
    return multitask_cv.score(ap_probs, s.ap_y, tw_ppos, s.tw_pos, s.tw_agree, e6_va, s.e6_va)


def rf_multitask_cv(data, *, seed: int, k: int = 5, variant: str = "lite0") -> dict[str, float]:
    """The published baseline (ImageNet class scores -> RF300, trained on ArtPhoto) on the v2 folds;
    polarity = its positive moods' share. It has no valence output."""
    from scipy.special import softmax
    from sklearn.ensemble import RandomForestClassifier

    s = data.split
    folds = mtd.make_folds(
        s.ap_y, data.ap_groups, s.tw_pos, s.tw_agree, data.tw_groups, len(s.e6_va), k, seed
    )
    ap = datasets.load_artphoto()
    tw = datasets.load_twitter1()
    ap_sc = softmax(features.extract(ap.files, variant)["logits"][:, 0], axis=1)
    tw_sc = softmax(features.extract(tw.files, variant)["logits"][:, 0], axis=1)
    ap_probs = np.zeros((len(s.ap_y), len(MOODS)))
    tw_ppos = np.zeros(len(s.tw_pos))
    pos = [MOODS.index(m) for m in POSITIVE]
    for f in range(k):
        tr = folds.ap != f
        rf = RandomForestClassifier(
            n_estimators=300, random_state=seed, n_jobs=2, class_weight="balanced"
        )
        rf.fit(ap_sc[tr], s.ap_y[tr])
        ap_probs[folds.ap == f] = rf.predict_proba(ap_sc[folds.ap == f])
        tw_ppos[folds.tw == f] = rf.predict_proba(tw_sc[folds.tw == f])[:, pos].sum(1)
    return multitask_cv.score(ap_probs, s.ap_y, tw_ppos, s.tw_pos, s.tw_agree, None, None)


MT_COLUMNS = (
    ("ap_macro_f1", "AP F1"),
    ("ap_acc", "AP acc"),
    ("ap_ece_top", "AP ECE"),
    ("tw5_polarity_acc", "TW5 pol"),
    ("tw5_ece_polarity", "TW5 ECE"),
    ("e6_valence_r", "E6 val r"),
    ("e6_arousal_r", "E6 aro r"),
    ("e6_valence_spearman", "E6 val ρ"),
    ("e6_ppos_spearman", "E6 P+ ρ"),
    ("tw_auc_valence", "TW AUC val"),
    ("tw_auc_ppos", "TW AUC P+"),
    ("tw_top_share_max", "TW top max"),
    ("in_top_share_max", "IN top max"),
)


def format_multitask(rows: list[tuple[str, dict[str, tuple[float, float]]]]) -> str:
    """rows: (name, {metric: (mean, std)}) -> a fixed-width table, mean±std per cell."""
    head = f"{'model':<44}" + "".join(f"{label:>14}" for _, label in MT_COLUMNS)
    lines = [head]
    for name, m in rows:
        cells = []
        for key, _ in MT_COLUMNS:
            if key in m:
                mean, std = m[key]
                cells.append(f"{mean:.3f}±{std:.3f}".rjust(14))
            else:
                cells.append("—".rjust(14))
        lines.append(f"{name[:44]:<44}" + "".join(cells))
    return "\n".join(lines)


def format_seed(m: dict[str, float]) -> str:
    """One fold seed's numbers on one line (the experiments' progress lines)."""
    return ", ".join(f"{label} {m[key]:.4f}" for key, label in MT_COLUMNS if key in m)


def format_paired(runs: dict[str, list[dict[str, float]]], base: str) -> str:
    """A markdown table, mean ± std over seeds per row; every other row also shows its mean paired
    difference from row ``base`` (same folds, seed by seed) and that difference's range."""
    lines = [
        "| row | " + " | ".join(label for _, label in MT_COLUMNS) + " |",
        "|---" * (len(MT_COLUMNS) + 1) + "|",
    ]
    for row, r in runs.items():
        summary = multitask_cv.summarise(r)
        cells = []
        for key, _ in MT_COLUMNS:
            if key not in summary:
                cells.append("—")
                continue
            cell = f"{summary[key][0]:.4f} ± {summary[key][1]:.4f}"
            if row != base:
                d = [a[key] - b[key] for a, b in zip(r, runs[base], strict=True)]
                cell += f" ({np.mean(d):+.4f}; {min(d):+.3f}..{max(d):+.3f})"
            cells.append(cell)
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


V2_PAIRED = "v2 (v3's fits before its corrections)"
V3_PAIRED = "v3 (v4's fits before its valence)"


def multitask_table(
    seeds: int = 5,
    *,
    configs=None,
    baselines: bool = True,
    log: Callable[[str], None] | None = None,
) -> tuple[list[tuple[str, dict[str, tuple[float, float]]]], dict[str, list[dict[str, float]]]]:
    """Rows of the model card's multi-task table: the RF baseline, the v1 recipe and the v2
    configuration(s), each on the same folds for fold seeds 0..seeds-1 (mean ± std over seeds)."""

    from threadpoolctl import threadpool_limits

    with threadpool_limits(
        1
    ):  # many small BLAS calls: threads only add overhead (10x slower on 2 busy cores)
        return _multitask_table(seeds, configs=configs, baselines=baselines, log=log)


def _multitask_table(seeds, *, configs, baselines, log):
    configs = configs or [V2Config()]
    runs: dict[str, list[dict[str, float]]] = {}
    if baselines:
        raw = mtd.load_all(CHOSEN.parts, raw=True)
        for s in range(seeds):
            runs.setdefault("baseline: ImageNet scores -> RF300", []).append(
                rf_multitask_cv(raw, seed=s)
            )
            runs.setdefault("v1: MLP256 (ArtPhoto) + ridge VA", []).append(
                v1_recipe_cv(raw, CHOSEN, seed=s, log=log)
            )
        del raw
    for cfg in configs:
        # every row sees the ImageNet sample's held-out folds (top-mood shares); only v3 trains on it
        data = mtd.load_all(cfg.parts, flip_tta=cfg.flip_tta, everyday=True)
        for s in range(seeds):
            m, raw = multitask_cv.nested_cv(data, cfg, seed=s, log=log)
            runs.setdefault(cfg.name, []).append(m)
            if "base_metrics" in raw:  # v3: its v2 fits before the corrections, paired
                runs.setdefault(V2_PAIRED, []).append(raw["base_metrics"])
            if "v3_metrics" in raw:  # v4: its v3 fits before v4's valence, paired
                runs.setdefault(V3_PAIRED, []).append(raw["v3_metrics"])
            if log:
                log(f"{cfg.name} seed {s}: " + format_seed(m))
    rows = [(name, multitask_cv.summarise(r)) for name, r in runs.items()]
    return rows, runs
