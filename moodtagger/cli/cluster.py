"""Cluster subcommands: import-predictions (``predict --ray`` itself lives beside ``predict``)."""

from __future__ import annotations

import argparse

from moodtagger.cli.common import dump_json, err, open_catalog, plural, shown
from moodtagger.core.errors import UserError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "import-predictions",
        parents=[common],
        help="load a predict CSV/JSON (e.g. from predict --ray) into the catalog",
        description="Store the predictions in FILE (written by `moodtagger predict`, locally or "
        "with --ray) for photos already in the catalog (`moodtagger scan --no-predict`), matched "
        "by path, only where the file is unchanged since the scan and the model id matches. "
        "Every row is checked (8 probabilities in 0..1 summing to 1, valence/arousal in 1..9); "
        "bad rows are per-row errors and the good ones are stored. "
        "Exit status 1 if any row could not be imported.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--model",
        help="model id the file was predicted with (default: the shipped model); rows whose "
        "model column names another model are refused, a file without that column is read as "
        "this model's",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_import_predictions)


def cmd_import_predictions(args: argparse.Namespace) -> int:
    from moodtagger.core.import_predictions import ImportFileError, import_predictions
    from moodtagger.core.model.registry import ModelError, entry

    try:
        model_id = entry(args.model).id
    except ModelError as exc:
        raise UserError(str(exc)) from None
    with open_catalog(args) as cat:
        try:
            summary = import_predictions(cat, args.file, model_id)
        except ImportFileError as exc:
            raise UserError(str(exc)) from None
    if args.json:
        dump_json(
            {
                "model_id": summary.model_id,
                "imported": summary.imported,
                "note": summary.note,
                "errors": [{"path": p, "error": e} for p, e in summary.errors],
            }
        )
    else:
        if summary.note and not args.quiet:
            err(f"note: {summary.note}")
        for path, msg in summary.errors:
            err(f"error: {shown(path)}: {msg}")
        if not args.quiet:
            err(
                f"imported {plural(summary.imported, 'prediction')} by {summary.model_id}; "
                f"{plural(len(summary.errors), 'error')}"
            )
    return 1 if summary.errors else 0
