"""Library subcommands: scan, list, export."""

from __future__ import annotations

import argparse
import os

from moodtagger.cli.common import (
    check_output,
    dump_json,
    err,
    mood,
    open_catalog,
    output_file,
    plural,
    probability,
    progress_bar,
    safe_print,
    shown,
)
from moodtagger.core import export
from moodtagger.core.catalog import STATES
from moodtagger.core.moods import MOODS


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "scan", parents=[common], help="index photo folders (incremental) and predict moods",
        description="Index photo folders into the catalog. Only new and changed files are decoded; "
        "vanished files are marked missing. New/changed photos get mood predictions and the mood "
        "keywords already in their metadata are imported. Exit status 1 if any file failed.",
    )
    p.add_argument("dirs", nargs="+", metavar="DIR")
    p.add_argument("--no-predict", action="store_true", help="only index; do not run the mood model")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="where the mood model runs (default: auto = CUDA, MPS, else CPU)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--root", default="Mood",
                   help="keyword root of the moods to import from the files (default Mood: Mood|Awe)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("list", parents=[common], help="list catalogued photos with their top mood",
                       description="List photos in the catalog with their top predicted mood.")
    p.add_argument("--mood", type=mood, help="only photos whose top mood is M")
    p.add_argument("--min", type=probability, default=0.0, metavar="P",
                   help="only photos whose probability for --mood (or top mood) is at least P (0..1)")
    p.add_argument("--state", choices=STATES, help="only photos in this state")
    p.add_argument("--errors", action="store_true", help="list only files that failed, with the reason")
    p.add_argument("--json", action="store_true", help="JSON output (each row with chosen and state)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("export", parents=[common], help="export predictions as CSV or JSON",
                       description="Export every catalogued photo with its mood probabilities. CSV "
                       "columns: " + ",".join(export.CSV_COLUMNS))
    p.add_argument("--format", choices=["csv", "json"], default=None,
                   help="default: json for an -o FILE ending in .json, else csv")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE ('-' or none: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite FILE even if it is an image or a database")
    p.set_defaults(func=cmd_export)




def current_model_id(catalog=None) -> str | None:
    """The model id of the default model if it is installed, else None. With ``catalog``: the
    personal model learnt on top of it in that catalog (`moodtagger learn`), if one is in use."""
    try:
        from moodtagger.core.model.registry import default_model_id
    except ImportError:
        return None
    try:
        mid = default_model_id()
    except Exception:
        return None
    if catalog is not None:
        from moodtagger.core.model.personal import model_in_use

        return model_in_use(catalog, mid)
    return mid


# ------------------------------------------------------------------------------------------
def cmd_scan(args: argparse.Namespace) -> int:
    from moodtagger.cli import UserError
    from moodtagger.core.scanner import photos_by_ids, scan

    for d in args.dirs:
        if not os.path.isdir(d):
            raise UserError(f"{d}: not a folder")
    from moodtagger.core.metadata.fields import WriteSettings

    try:
        settings = WriteSettings(root=args.root)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    failed = 0
    model_problem: str | None = None
    with open_catalog(args) as cat:
        with progress_bar("scanning", quiet=args.quiet) as progress:
            summary = scan(cat, args.dirs, progress=progress)
        result: dict[str, object] = {"scan": summary.as_dict()}
        failed += len(summary.errors)

        if summary.updated_ids:
            try:
                from moodtagger.core.metadata.importer import import_file_moods
            except ImportError:
                import_file_moods = None  # type: ignore[assignment]  # not installed yet
            if import_file_moods is not None:
                with progress_bar("reading keywords", quiet=args.quiet) as progress:
                    result["imported_choices"] = import_file_moods(
                        cat, photos_by_ids(cat, summary.updated_ids), settings=settings,
                        progress=progress,
                    )

        if not args.no_predict:
            try:
                from moodtagger.core.model.registry import ModelError
                from moodtagger.core.model.service import predict_pending
            except ImportError:
                predict_pending = None  # type: ignore[assignment]  # not installed yet
            if predict_pending is not None:
                try:
                    with progress_bar("predicting moods", quiet=args.quiet) as progress:
                        pred = predict_pending(cat, device=args.device, progress=progress)
                except ModelError as exc:  # no/broken model: the index is still saved
                    model_problem = str(exc)
                    result["predict_error"] = model_problem
                else:
                    result["predict"] = {
                        "model_id": pred.model_id, "predicted": pred.predicted,
                        "failed": pred.failed,
                        "errors": [{"path": p, "error": e} for p, e in pred.errors],
                    }
                    failed += pred.failed

    if args.json:
        dump_json(result)
    else:
        for path, msg in summary.errors:
            err(f"error: {shown(path)}: {msg}")
        if "predict" in result:
            for e in result["predict"]["errors"]:  # type: ignore[index]
                err(f"error: {shown(e['path'])}: {e['error']}")
        if not args.quiet:
            s = summary
            if s.nothing_changed:
                line = f"nothing changed ({plural(s.unchanged, 'photo')} unchanged)"
            else:
                line = (f"{s.new} new, {s.changed} changed, {s.unchanged} unchanged, "
                        f"{s.moved} moved, {s.found_again} found again, {s.missing} missing, "
                        f"{plural(len(s.errors), 'error')}")
                if s.metadata_changed:
                    line += f", {s.metadata_changed} with new keywords"
            line += f" in {s.seconds:.2f} s"
            if "predict" in result:
                pr = result["predict"]
                if pr["predicted"] or pr["failed"]:  # type: ignore[index]
                    line += f"; predicted {plural(pr['predicted'], 'photo')} with {pr['model_id']}"  # type: ignore[index]
            if s.cancelled:
                line += " (cancelled)"
            print(line)
    if model_problem:
        err(f"moodtagger: moods not predicted: {model_problem}; the photos are indexed "
            "(use --no-predict to only index)")
        return 2
    return 1 if failed else 0


def cmd_list(args: argparse.Namespace) -> int:
    rows_out: list[dict[str, object]] = []
    with open_catalog(args, create=False, readonly=True) as cat:
        if args.errors:
            for photo in cat.photos(status="error"):
                rows_out.append({"path": photo.path, "error": photo.error})
            if args.json:
                dump_json(rows_out)
            else:
                for r in rows_out:
                    safe_print(f"error: {shown(str(r['path']))}: {r['error']}")
            return 0
        model_id = current_model_id(cat)
        status = ("ok",) if args.state in (None, "unconfirmed", "chosen", "written") else ("ok", "error", "missing")
        for e in export.catalog_entries(cat, model_id, status=status):
            if args.state and e.state != args.state:
                continue
            pred = e.prediction
            if args.mood or args.min:
                if pred is None:
                    continue
                top, p = pred.top
                if args.mood:
                    p = pred.probs[MOODS.index(args.mood)]
                    if top != args.mood:
                        continue
                if p < args.min:
                    continue
            rows_out.append(export.entry_record(e))
    if args.json:
        dump_json(rows_out)
    else:
        for r in rows_out:
            mood = r["mood"] or "-"
            prob = f"{r['probability']:.2f}" if r["probability"] is not None else "-"
            chosen = ",".join(r.get("chosen") or []) or "-"  # type: ignore[arg-type]
            safe_print(f"{mood:<12} {prob:>5}  {str(r['state']):<11} {chosen:<12} {shown(str(r['path']))}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    fmt = args.format or ("json" if (args.output or "").lower().endswith(".json") else "csv")
    if args.output:
        check_output(args.output, force=args.force, catalog=_catalog_path(args))
    with open_catalog(args, create=False, readonly=True) as cat:
        rows = export.catalog_entries(cat, current_model_id(cat))
    writer = export.write_csv if fmt == "csv" else export.write_json
    with output_file(args.output) as fh:
        n = writer(rows, fh)
    if args.output and args.output != "-" and not args.quiet:
        err(f"wrote {plural(n, 'row')} to {args.output}")
    return 0


def _catalog_path(args: argparse.Namespace) -> str:
    from moodtagger.core.catalog import default_catalog_path

    return str(args.catalog or default_catalog_path())
