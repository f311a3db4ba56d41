"""Train the shipped head (``moodtagger train``) and write it with its registry entry.

Reproducible: features are cached, every random choice is seeded, and the JSON entry records
the configuration, the data used (with its licence terms), the cross-validated metrics and the
sha256 of the head file. Run ``moodtagger train`` to rebuild ``models/`` from ../shared/data.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from moodtagger.core.model import registry
from moodtagger.core.moods import MOODS
from moodtagger.training import datasets
from moodtagger.training import multitask as mt
from moodtagger.training import multitask_data as mtd
from moodtagger.training.configs import CHOSEN, HeadConfig
from moodtagger.training.evaluate import (
    cross_validate,
    emotion6_check,
    rf_baseline,
    train_config,
    valence_arousal_cv,
)
from moodtagger.training.features import load_features
from moodtagger.training.v1_head import fit_temperature, fit_va, view_probs

VA_ALPHA = 1000.0

TRAINING_DATA = {
    "artphoto": {
        "what": "ArtPhoto (Machajdik & Hanbury, ACM MM 2010), 646 artistic photos, 8 Mikels emotions",
        "licence": "research use only ('provided solely for scientific use'); images not redistributed",
        "used_for": "8-mood head",
    },
    "emotion6": {
        "what": "Emotion6 (Peng et al., CVPR 2015), 1,980 photos with valence/arousal (1-9)",
        "licence": "research use only; images not redistributed",
        "used_for": "valence/arousal regressor",
    },
}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def train_and_save(
    out_dir: Path,
    cfg: HeadConfig = CHOSEN,
    *,
    seed: int = 0,
    evaluate: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Fit ``cfg`` on all of ArtPhoto (+ Emotion6 for valence/arousal), save head + JSON."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    ap = datasets.load_artphoto()
    e6 = datasets.load_emotion6()
    log(f"extracting {cfg.variant} features (cached after the first run)")
    x = load_features(ap.files, cfg.variant, cfg.parts)
    xe = load_features(e6.files, cfg.variant, cfg.parts)

    metrics: dict[str, object] = {}
    temperature = 1.0
    if evaluate:
        log("5-fold cross-validation on ArtPhoto (same folds for the baseline)")
        rep = cross_validate(cfg, seed=seed, log=log)
        base = rf_baseline(seed=seed, variant=cfg.variant)
        metrics["artphoto_cv"] = rep.metrics()
        if rep.logits is not None:
            temperature = fit_temperature(rep.logits, ap.labels)
            metrics["temperature"] = temperature
            metrics["artphoto_cv_nll_before_after_temperature"] = [
                float(
                    -np.log(view_probs(rep.logits, t)[np.arange(len(ap.labels)), ap.labels]).mean()
                )
                for t in (1.0, temperature)
            ]
        metrics["artphoto_cv_baseline_rf"] = base.metrics()

    log("fitting the final heads on all of ArtPhoto")
    heads = train_config(cfg, x, ap.labels, seed=seed)
    views = list(cfg.train_views)
    va_target = np.stack([e6.valence, e6.arousal], 1)
    xs = xe[:, views].reshape(-1, xe.shape[-1])
    for h in heads:
        fit_va(h, xs, np.repeat(va_target, len(views), axis=0), VA_ALPHA)
        h.temperature.fill_(temperature)
    if evaluate:
        metrics.update(emotion6_check(heads, cfg))
        metrics.update(valence_arousal_cv(cfg, [heads[0]], seed=seed, alpha=VA_ALPHA))
        fit_va(heads[0], xs, np.repeat(va_target, len(views), axis=0), VA_ALPHA)  # refit on all

    # The head file holds a list of state dicts (one per ensemble member; the registry averages
    # their probabilities).
    model_id = (
        f"moodtagger-{cfg.variant}-mlp{cfg.hidden}-v1"
        if cfg.hidden
        else f"moodtagger-{cfg.variant}-lr-v1"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    head_file = out_dir / f"{model_id}.pt"
    # fp16 storage halves the file; the loader casts back to fp32 (differences < 1e-3)
    torch.save(
        [
            {
                k: (v.half() if v.is_floating_point() and v.ndim else v)
                for k, v in h.state_dict().items()
            }
            for h in heads
        ],
        head_file,
    )
    entry = {
        "id": model_id,
        # backbone, its weights' sha256 and the preprocessing: the registry's own fields
        **registry.backbone_fields(cfg.variant),
        "labels": list(MOODS),
        "outputs": ["probs", "valence", "arousal"],
        "head_file": head_file.name,
        "sha256": sha256_file(head_file),
        "head": {
            "in_dim": int(x.shape[-1]),
            "hidden": cfg.hidden,
            "parts": list(cfg.parts),
            "flip_tta": list(cfg.test_views) == [0, 1],
            "ensemble": cfg.seeds,
        },
        "config": cfg.as_dict(),
        "seed": seed,
        "training_data": TRAINING_DATA,
        "metrics": metrics,
        "how_measured": (
            "ArtPhoto 5-fold StratifiedGroupKFold (seed 0), each DUPLICATES.txt group inside one "
            "fold; heads trained on 4 folds (center, flip and whole-frame views as augmentation), "
            "scored on the 5th with center+flip test-time averaging; macro-F1 over 8 classes. The "
            "baseline (ImageNet class scores -> RandomForest 300 trees) uses the same folds. "
            "Valence/arousal: ridge on the same features, 5-fold CV on Emotion6. Reproduce with "
            "`moodtagger eval`."
        ),
        "created": time.strftime("%Y-%m-%d"),
    }
    (out_dir / f"{model_id}.json").write_text(json.dumps(entry, indent=1) + "\n")
    log(
        f"wrote {head_file} and {model_id}.json; ship its ONNX export: {registry.EXPORT_SCRIPT} --model {model_id}"
    )
    return head_file


# -- v2 -------------------------------------------------------------------------------------------

V2_ID = "moodtagger-lite0-multitask-v2"
V3_ID = "moodtagger-lite0-multitask-v3"
V4_ID = "moodtagger-lite0-multitask-v4"

TRAINING_DATA_V2 = {
    **TRAINING_DATA,
    "emotion6": {
        "what": "Emotion6 (Peng et al., CVPR 2015), 1,980 photos with valence/arousal (1-9) and "
        "votes over 6 emotions + neutral",
        "licence": "research use only; images not redistributed",
        "used_for": "valence/arousal regressor, polarity (valence), within-negative moods (anger, "
        "disgust, fear, sadness vote shares)",
    },
    "twitter1": {
        "what": "Twitter I (You et al., AAAI 2015), 1,090 photos from Twitter with positive/negative "
        "polarity from five AMT workers (agreement 3-5)",
        "licence": "research use (collected from public tweets for the benchmark); images not "
        "redistributed",
        "used_for": "polarity head (soft target = share of agreeing workers)",
    },
    "artphoto": {**TRAINING_DATA["artphoto"], "used_for": "8-mood head, polarity head"},
}

TRAINING_DATA_V3 = {
    **TRAINING_DATA_V2,
    "twitter1": {
        **TRAINING_DATA_V2["twitter1"],
        "used_for": "polarity head (soft target = share of agreeing workers), valence (weak "
        "ordinal target 3 + 4 x that share), everyday prior correction of the moods (unlabelled)",
    },
    "imagenet_sample": {
        "what": "ImageNet sample in ../shared/data/imagenet-sample, 1,000 photos (one per class), "
        "used without labels",
        "licence": "ImageNet terms: research and non-commercial use; images not redistributed",
        "used_for": "everyday prior correction of the within-polarity moods (unlabelled)",
    },
}

TRAINING_DATA_V4 = {
    **TRAINING_DATA_V3,
    "twitter1": {
        **TRAINING_DATA_V3["twitter1"],
        "used_for": "polarity head (soft target = share of agreeing workers), valence (target "
        "5 + 8 x (that share - 1/2), its own intercept), everyday prior correction of the moods "
        "(unlabelled)",
    },
}


def train_v2_and_save(
    out_dir: Path,
    cfg=None,
    *,
    seed: int = 0,
    metrics: dict | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Fit the v4 (default), v3 or v2 multi-task head on all of ../shared/data (strengths,
    temperatures and v3's/v4's corrections chosen or fitted on all of it) and write
    ``models/<id>.pt`` + ``.json``. ``cfg``: a :class:`V2Config` (default: the shipped v4's);
    ``metrics``: the nested-CV summary to record (``moodtagger eval`` produces it)."""
    from moodtagger.training.configs import V4_CONFIG

    cfg = cfg or V4_CONFIG
    log(
        "loading cached lite0 features of ArtPhoto, Twitter I, Emotion6"
        f"{' and the ImageNet sample' if cfg.v3 else ''} (extracted once)"
    )
    data = mtd.load_all(cfg.parts, flip_tta=cfg.flip_tta, everyday=cfg.v3)
    groups = (data.ap_groups, data.tw_groups)
    with threadpool_limits(1):  # many small BLAS calls: threads only add overhead
        if cfg.valence_v4:
            from moodtagger.training.multitask_v4 import fit_v4

            keep = shipped_params(V3_ID, out_dir)
            if keep is not None:
                log(f"v4 keeps {V3_ID}'s moods, polarity and arousal exactly (its head file)")
            params = fit_v4(data.split, groups, cfg, seed=seed, log=log, keep=keep)[0]
        elif cfg.v3:
            from moodtagger.training.multitask_v3 import fit_v3

            params, _ = fit_v3(data.split, groups, cfg, seed=seed, log=log)
        else:
            params, _ = mt.fit_selected(data.split, groups, cfg, seed=seed, log=log)
    return save_multitask(out_dir, cfg, params, seed=seed, metrics=metrics, log=log)


def shipped_params(model_id: str, models: Path) -> mt.V2Params | None:
    """The linear multi-task head ``model_id`` in the folder ``models`` as :class:`V2Params`
    (hash-checked; None when that folder has no such entry)."""
    path = models / f"{model_id}.json"
    if not path.is_file():
        return None
    e = registry.ModelEntry(model_id, path, json.loads(path.read_text()))
    state = registry._head_state(e)[0]
    if int(state["mlp_w1"].shape[0]):
        raise ValueError(f"{model_id} has an MLP mood head; v4 needs a linear one")
    arr = {k: v.float().numpy() for k, v in state.items()}
    chosen = e.data.get("head", {}).get("chosen", {})
    return mt.V2Params(
        *(arr[k] for k in ("mu", "sigma", "w_pol", "b_pol", "w_mood", "b_mood", "w_va", "b_va")),
        t_pol=float(arr["t_pol"]),
        t_mood=float(arr["t_mood"]),
        chosen={k: v for k, v in chosen.items() if not k.startswith("valence_")},
    )


def save_multitask(
    out_dir: Path,
    cfg,
    params: mt.V2Params,
    *,
    seed: int = 0,
    metrics: dict | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Write ``params`` (fitted with ``cfg``) as ``models/<id>.pt`` + ``.json`` (v3's id when
    ``cfg`` asks for its corrections, else v2's)."""
    model_id = V4_ID if cfg.valence_v4 else V3_ID if cfg.v3 else V2_ID
    head = mt.to_head(params)
    out_dir.mkdir(parents=True, exist_ok=True)
    head_file = out_dir / f"{model_id}.pt"
    torch.save([{k: v.clone() for k, v in head.state_dict().items()}], head_file)
    entry = {
        "id": model_id,
        # backbone, its weights' sha256 and the preprocessing: the registry's own fields
        **registry.backbone_fields("lite0"),
        "labels": list(MOODS),
        "outputs": ["probs", "valence", "arousal", "embedding"],
        "head_file": head_file.name,
        "sha256": sha256_file(head_file),
        "head": {
            "kind": "multitask-v2",
            "in_dim": int(len(params.mu)),
            "parts": list(cfg.parts),
            "flip_tta": cfg.flip_tta,
            "chosen": params.chosen,
            "temperature_polarity": params.t_pol,
            "temperature_mood": params.t_mood,
        },
        "config": cfg.as_dict(),
        "seed": seed,
        "training_data": (
            TRAINING_DATA_V4 if cfg.valence_v4 else TRAINING_DATA_V3 if cfg.v3 else TRAINING_DATA_V2
        ),
        "metrics": metrics or {},
        "how_measured": (
            "Nested cross-validation: outer 5 folds per data set (ArtPhoto stratified by mood, "
            "Twitter I by polarity x agreement, both with DUPLICATES.txt groups inside one fold; "
            "Emotion6 random), 5 fold seeds (0-4), mean and std over seeds. Inside each outer "
            "training part a 3-fold inner CV picks the L2 strengths (log-loss), the ridge alpha "
            "(valence r) and fits both temperatures on inner out-of-fold logits. Reproduce with "
            "`moodtagger eval`."
            + (
                " v3: its two corrections (everyday prior offsets of the within-polarity moods, "
                "valence from the polarity logit + descriptor) are fitted on the outer training "
                "part only; the ImageNet sample has its own 5 folds, and the top-mood shares on "
                "Twitter I and the ImageNet sample are those of the held-out folds."
                if cfg.v3
                else ""
            )
            + (
                " v4: v3's fits, then its valence (polarity logit, P(positive), the 8 mood "
                "log-probabilities and a ridge on the descriptor, on Emotion6 + Twitter I) fitted "
                "on the outer training part only."
                if cfg.valence_v4
                else ""
            )
        ),
        "created": time.strftime("%Y-%m-%d"),
    }
    (out_dir / f"{model_id}.json").write_text(json.dumps(entry, indent=1) + "\n")
    log(
        f"wrote {head_file} ({head_file.stat().st_size // 1024} KB) and {model_id}.json; "
        f"ship its ONNX export: {registry.EXPORT_SCRIPT}"
    )
    return head_file
