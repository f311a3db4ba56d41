"""Model subcommands: predict (no catalog), train, eval."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from moodtagger.cli.common import (
    check_output,
    err,
    expand_paths,
    output_file,
    plural,
    progress_bar,
    shown,
)
from moodtagger.core.errors import FileError, UserError
from moodtagger.core.model.registry import BATCH_SIZE
from moodtagger.core.moods import MOODS


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "predict",
        parents=[common],
        help="predict moods for files/folders (catalog untouched)",
        description="Predict the 8 mood probabilities for image files and folders (recursively) "
        "without touching the catalog. CSV columns are the same as `moodtagger export`.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE ('-' or none: stdout)")
    p.add_argument(
        "--force", action="store_true", help="overwrite FILE even if it is an image or a database"
    )
    p.add_argument(
        "--json", action="store_true", help="JSON instead of CSV (also for -o FILE.json)"
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        help=f"photos per inference batch (default {BATCH_SIZE})",
    )
    p.add_argument("--model", help="model id from models/*.json (default: the shipped model)")
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run on a Ray cluster (ray://host:10001, "
        "host:6379, auto) or 'local' to start Ray here; needs moodtagger[cluster]",
    )
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "why",
        parents=[common],
        help="write a photo's why-this-mood heat map as a PNG (catalog untouched)",
        description="Draw the regions that speak for a mood (default: the photo's top mood) over "
        "the photo and write it as a PNG. The map comes from the model's ONNX export (no torch); "
        "--backend torch computes torch Grad-CAM instead.",
    )
    p.add_argument("photo", metavar="PHOTO")
    p.add_argument("--mood", choices=MOODS, help="the mood to explain (default: the top one)")
    p.add_argument(
        "-o", "--output", metavar="FILE.png", help="default: PHOTO's name + .why-MOOD.png, here"
    )
    p.add_argument("--force", action="store_true", help="overwrite FILE.png if it exists")
    p.add_argument("--model", help="model id from models/*.json (default: the shipped model)")
    p.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    p.set_defaults(func=cmd_why)

    p = sub.add_parser(
        "train",
        parents=[common],
        help="train the mood model from ../shared/data (reproducible)",
        description="Train the default model (v4: v2's multi-task heads on ArtPhoto, Twitter I and "
        "Emotion6, plus v3's everyday prior correction of the moods fitted on unlabelled Twitter I "
        "and ImageNet-sample photos, and valence from polarity, P(positive), the mood "
        "log-probabilities and the descriptor) from cached frozen-backbone features and write "
        "models/<id>.pt and models/<id>.json. --v3, --v2 or --v1 rebuilds an older head instead.",
    )
    p.add_argument("--out", default=None, help="output folder (default: the project's models/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--seeds", type=int, default=5, help="fold seeds of the nested CV recorded in the JSON"
    )
    p.add_argument("--no-eval", action="store_true", help="skip cross-validation (faster)")
    p.add_argument("--v1", action="store_true", help="train the v1 head (ArtPhoto MLP) instead")
    p.add_argument(
        "--v2", action="store_true", help="train the v2 head (no v3 corrections) instead"
    )
    p.add_argument("--v3", action="store_true", help="train the v3 head (v3's valence) instead")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "eval",
        parents=[common],
        help="multi-task cross-validation table: RF baseline, v1, v2, v3",
        description="Reproduce the model card's table: 8-mood macro-F1, accuracy and ECE on "
        "ArtPhoto, polarity accuracy and ECE on Twitter I (five-agree), valence/arousal r on "
        "Emotion6, valence Spearman and AUCs, and the top-mood shares on held-out Twitter I and "
        "ImageNet-sample folds, for the published RF baseline, the v1 recipe, v3 and v2 (v3's "
        "fits before its corrections), on the same folds (duplicate groups inside one fold), "
        "mean ± std over fold seeds. v2/v3 are nested: strengths, temperatures and v3's "
        "corrections are chosen inside each training part.",
    )
    p.add_argument("--seeds", type=int, default=5, help="fold seeds 0..N-1 (default 5)")
    p.add_argument(
        "--all",
        action="store_true",
        help="also the other v2 candidates (card: configurations tried)",
    )
    p.add_argument("--no-baselines", action="store_true", help="only the v3 and v2 rows")
    p.add_argument(
        "--v1-table",
        action="store_true",
        help="the historical v1 ArtPhoto-only table (seed 0 folds)",
    )
    p.add_argument("--seed", type=int, default=0, help="fold seed of --v1-table")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)


def cmd_why(args: argparse.Namespace) -> int:
    from moodtagger.core import imaging
    from moodtagger.core.model import why
    from moodtagger.core.model.registry import ModelError

    try:
        model = why.load(args.model, backend=args.backend)
    except ModelError as exc:
        err(f"moodtagger: {exc}")
        return 2
    try:
        result = model.explain(args.photo)
    except (imaging.ImageError, OSError) as exc:
        err(f"error: {shown(args.photo)}: {exc}")
        return 1
    mood = args.mood or MOODS[int(result.probs.argmax())]
    out = args.output or f"{Path(args.photo).stem}.why-{mood}.png"
    if Path(out).exists() and not args.force:
        err(f"moodtagger: {out} exists; refusing to overwrite it (use --force)")
        return 2
    try:
        check_output(out, force=True)  # a folder, a missing folder
    except UserError as exc:
        err(f"moodtagger: {exc}")
        return 2
    image = imaging.open_image(args.photo, min_side=512).image.copy()
    image.thumbnail((1024, 1024))
    why.overlay(image, result.map_for(mood), result.crop).save(out, "PNG")
    p = float(result.probs[MOODS.index(mood)])
    print(f"{mood} {p:.2f}: wrote {shown(out)} ({model.backend}, {result.seconds:.2f} s)")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from moodtagger.core import export
    from moodtagger.core.model.engine import MoodModel
    from moodtagger.core.model.registry import ModelError

    if args.output:
        check_output(args.output, force=args.force)
    as_json = args.json or (args.output or "").lower().endswith(".json")
    files, errors = expand_paths(args.paths)
    try:
        model = _RayRun(args) if args.ray else MoodModel(args.model, device=args.device)
    except ModelError as exc:
        raise UserError(str(exc)) from None
    rows = []
    with progress_bar("predicting", quiet=args.quiet) as progress:
        for batch in model.predict_paths(files, batch_size=args.batch_size, progress=progress):
            for r in batch:
                rows.append(r)
                if r.error:
                    errors.append(FileError(r.path, r.error))
    entries = [export.Entry(r.path, r.prediction, model=model.model_id) for r in rows]
    with output_file(args.output) as out:
        if as_json:
            extra = [{"error": r.error} if r.error else {} for r in rows]
            export.write_json(export.Entries.of(entries, extra), out)
        else:  # no catalog: the chosen and state columns stay empty
            export.write_csv([e for e in entries if e.prediction is not None], out)
    for path, msg in errors:
        err(f"error: {shown(path)}: {msg}")
    if not args.quiet:
        err(
            f"predicted {plural(sum(r.prediction is not None for r in rows), 'photo')} with {model.model_id} "
            f"({model.device}, {model.backend}{' int8' if getattr(model, 'precision', '') == 'int8' else ''}); "
            f"{plural(len(errors), 'error')}"
        )
    return 1 if errors else 0


class _RayRun:
    """``predict --ray``: the same loop and writer as local prediction, the work on Ray."""

    def __init__(self, args: argparse.Namespace):
        from moodtagger.core.model import registry

        self.args = args
        self.model_id = registry.entry(args.model).id
        self.device, self.backend = "ray", f"Ray at {args.ray}"

    def predict_paths(self, files, *, batch_size, progress):
        from moodtagger.core import cluster

        try:
            yield cluster.predict_paths(
                files,
                address=self.args.ray,
                model_id=self.model_id,
                batch_size=batch_size,
                progress=progress,
            )
        except cluster.ClusterError as exc:
            raise UserError(str(exc)) from None


def _training_ready(command: str) -> None:
    """`train`/`eval` need the [train] extra and the team data: say so in one sentence."""
    from moodtagger.training.datasets import shared_data_dir

    try:
        import sklearn  # noqa: F401  (the [train] extra)
    except ImportError:
        raise UserError(
            f"`moodtagger {command}` needs the training extra: pip install 'moodtagger[train]'"
        ) from None
    data = shared_data_dir() / "artphoto"
    if not data.is_dir():
        raise UserError(
            f"`moodtagger {command}` needs the training photos at {data}; "
            "put the team data there or set MOODTAGGER_SHARED_DATA"
        )


def cmd_train(args: argparse.Namespace) -> int:
    _training_ready("train")
    from moodtagger.core.model.registry import models_dir

    out = Path(args.out) if args.out else models_dir()
    logf = (lambda m: None) if args.quiet else (lambda m: err(m))
    if args.v1:
        from moodtagger.training.train import train_and_save

        train_and_save(out, seed=args.seed, evaluate=not args.no_eval, log=logf)
        return 0
    from moodtagger.training import evaluate as ev
    from moodtagger.training.configs import V2_CANDIDATES, V3_CONFIG
    from moodtagger.training.train import train_v2_and_save

    cfg = V2_CANDIDATES[1] if args.v2 else V3_CONFIG if args.v3 else V2_CANDIDATES[0]
    metrics = None
    if not args.no_eval:
        rows, _ = ev.multitask_table(args.seeds, configs=[cfg], baselines=False, log=logf)
        metrics = {
            "nested_cv_mean_std": {k: list(v) for k, v in rows[0][1].items()},
            "fold_seeds": args.seeds,
        }
        if len(rows) > 1:  # v3: v2's row from the same fits, paired
            metrics["nested_cv_mean_std_v2_same_fits"] = {k: list(v) for k, v in rows[1][1].items()}
        if len(rows) > 2:  # v4: v3's row from the same fits, paired
            metrics["nested_cv_mean_std_v3_same_fits"] = {k: list(v) for k, v in rows[2][1].items()}
    train_v2_and_save(out, cfg, seed=args.seed, metrics=metrics, log=logf)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    _training_ready("eval")
    from moodtagger.training import evaluate as ev

    logf = (lambda m: None) if args.quiet else err
    if args.v1_table:
        return _eval_v1_table(args, logf)
    from moodtagger.training.configs import V2_CANDIDATES

    configs = list(V2_CANDIDATES) if args.all else [V2_CANDIDATES[0]]
    rows, runs = ev.multitask_table(
        args.seeds, configs=configs, baselines=not args.no_baselines, log=logf
    )
    if args.json:
        json.dump({"rows": {name: m for name, m in rows}, "per_seed": runs}, sys.stdout, indent=1)
        print()
        return 0
    print(
        f"Nested CV, 5 outer folds x {args.seeds} fold seeds (mean ± std over seeds); same folds for every row."
    )
    print(
        "AP = ArtPhoto 8 moods (646), TW5 = Twitter I five-agree polarity (704 of 1,090), "
        "E6 = Emotion6 valence/arousal Pearson r (1,980); ECE: 15 bins, top label; ρ: Spearman "
        "of valence / of P(positive) with Emotion6 valence; TW AUC: of valence / P(positive) for "
        "Twitter I's polarity (all 1,090); top max: the largest share of photos one mood is the "
        "top suggestion of, on held-out Twitter I (TW) and ImageNet-sample (IN) folds."
    )
    print(ev.format_multitask(rows))
    return 0


def _eval_v1_table(args: argparse.Namespace, logf) -> int:
    from moodtagger.training import evaluate as ev
    from moodtagger.training.configs import CANDIDATES, CHOSEN

    configs = [CHOSEN] + ([c for c in CANDIDATES if c != CHOSEN] if args.all else [])
    rows = []
    base = ev.rf_baseline(seed=args.seed)
    rows.append((base.name, base.metrics()))
    chosen_metrics = None
    for cfg in configs:
        logf(f"cross-validating {cfg.name}")
        rep = ev.cross_validate(cfg, seed=args.seed, log=logf)
        m = rep.metrics()
        rows.append((cfg.name, m))
        if cfg == CHOSEN:
            chosen_metrics = m
    if args.json:
        json.dump({name: m for name, m in rows}, sys.stdout, indent=1)
        print()
        return 0
    print(
        "historical v1 table: ArtPhoto only, 5-fold stratified CV (seed 0 folds), 646 photos, 8 classes"
    )
    print(ev.format_table(rows))
    print()
    print(f"chosen: {CHOSEN.name}")
    print(ev.format_detail(chosen_metrics))
    print()
    print(f"baseline: {base.name}")
    print(ev.format_detail(rows[0][1]))
    return 0
