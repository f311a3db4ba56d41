"""Model subcommands: predict (no catalog), train, eval."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from moodtagger.cli.common import err, expand_paths, progress_bar


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "predict", parents=[common], help="predict moods for files/folders (catalog untouched)",
        description="Predict the 8 mood probabilities for image files and folders (recursively) "
        "without touching the catalog. CSV columns are the same as `moodtagger export`.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    p.add_argument("--json", action="store_true", help="JSON instead of CSV")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--model", help="model id from models/*.json (default: the shipped model)")
    p.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster (ray://host:10001, "
                   "host:6379, auto) or 'local' to start Ray here; needs moodtagger[cluster]")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "train", parents=[common], help="train the mood head from ../shared/data (reproducible)",
        description="Train the shipped head on ArtPhoto (+ Emotion6 for valence/arousal) from "
        "cached frozen-backbone features, and write models/<id>.pt and models/<id>.json.",
    )
    p.add_argument("--out", default=None, help="output folder (default: the project's models/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-eval", action="store_true", help="skip cross-validation (faster)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "eval", parents=[common], help="ArtPhoto 5-fold cross-validation table with the RF baseline",
        description="Reproduce the model card's cross-validation table: the shipped configuration "
        "and the published baseline (ImageNet class scores -> random forest, 300 trees) on the same "
        "stratified folds, duplicate groups kept inside one fold.",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--all", action="store_true", help="also run the other candidate heads")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)


def cmd_predict(args: argparse.Namespace) -> int:
    from moodtagger.cli import UserError
    from moodtagger.core import export
    from moodtagger.core.model.engine import MoodModel
    from moodtagger.core.model.registry import ModelError

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
                    errors.append((r.path, r.error))
    out = open(args.output + ".part", "w", encoding="utf-8", newline="", errors="surrogateescape") if args.output else sys.stdout
    try:
        if args.json:
            recs = [export.record(r.path, r.prediction, **({"error": r.error} if r.error else {})) for r in rows]
            json.dump(recs, out, indent=1, ensure_ascii=False)
            out.write("\n")
        else:
            export.write_csv([(r.path, r.prediction) for r in rows if r.prediction is not None], out)
    finally:
        if args.output:
            out.close()
            os.replace(args.output + ".part", args.output)
    for path, msg in errors:
        err(f"error: {path}: {msg}")
    if not args.quiet:
        err(f"predicted {sum(r.prediction is not None for r in rows)} photos with {model.model_id} "
            f"({model.device}, {model.backend}); {len(errors)} errors")
    return 1 if errors else 0


class _RayRun:
    """``predict --ray``: the same loop and writer as local prediction, the work on Ray."""

    def __init__(self, args: argparse.Namespace):
        from moodtagger.core.model import registry

        self.args = args
        self.model_id = registry.entry(args.model).id
        self.device, self.backend = "ray", f"Ray at {args.ray}"

    def predict_paths(self, files, *, batch_size, progress):
        from moodtagger.cli import UserError
        from moodtagger.core import cluster

        try:
            yield cluster.predict_paths(files, address=self.args.ray, model_id=self.model_id,
                                        batch_size=batch_size, progress=progress)
        except cluster.ClusterError as exc:
            raise UserError(str(exc)) from None


def cmd_train(args: argparse.Namespace) -> int:
    from moodtagger.core.model.registry import models_dir
    from moodtagger.core.model.train import train_and_save

    out = Path(args.out) if args.out else models_dir()
    train_and_save(out, seed=args.seed, evaluate=not args.no_eval,
                   log=(lambda m: None) if args.quiet else (lambda m: err(m)))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from moodtagger.core.model import evaluate as ev
    from moodtagger.core.model.train import CANDIDATES, CHOSEN

    logf = (lambda m: None) if args.quiet else err
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
    print("ArtPhoto, 5-fold stratified CV (duplicate groups inside one fold), 646 photos, 8 classes")
    print(ev.format_table(rows))
    print()
    print(f"chosen: {CHOSEN.name}")
    print(ev.format_detail(chosen_metrics))
    print()
    print(f"baseline: {base.name}")
    print(ev.format_detail(rows[0][1]))
    return 0
