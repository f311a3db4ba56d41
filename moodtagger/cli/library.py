"""Library subcommands: scan, list, export."""

from __future__ import annotations

import argparse
import datetime
import os

from moodtagger.cli.common import (
    check_output,
    dump_json,
    dump_json_text,
    err,
    mood,
    open_catalog,
    output_file,
    phase_progress,
    plural,
    probability,
    resolve_moods,
    safe_print,
    shown,
    warn_unusable_model,
)
from moodtagger.core import export
from moodtagger.core.catalog import STATES
from moodtagger.core.errors import UserError
from moodtagger.core.rows import SORT_KEYS, Filter


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "scan",
        parents=[common],
        help="index photo folders (incremental) and predict moods",
        description="Index photo folders into the catalog. Only new and changed files are decoded; "
        "vanished files are marked missing. New/changed photos get mood predictions and the mood "
        "keywords already in their metadata are imported. Exit status 1 if any file failed.",
    )
    p.add_argument("dirs", nargs="+", metavar="DIR")
    p.add_argument(
        "--no-predict", action="store_true", help="only index; do not run the mood model"
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda", "mps"],
        help="where the mood model runs (default: auto = CUDA, MPS, else CPU)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--root",
        default="Mood",
        help="keyword root of the moods to import from the files (default Mood: Mood|Awe)",
    )
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser(
        "list",
        parents=[common],
        help="list catalogued photos with their top mood",
        description="List photos in the catalog with their top predicted mood. The "
        "filters are the desktop app's: a photo has mood M when its chosen moods "
        "include M or, not chosen yet, its top suggestion is M with p >= --min.",
    )
    p.add_argument(
        "--mood",
        type=mood,
        help="only photos whose chosen moods include M, or (not chosen "
        "yet) whose top suggestion is M; a custom mood: chosen with it, or its own "
        "probability >= --min (default 0.5)",
    )
    p.add_argument(
        "--min",
        type=probability,
        default=None,
        metavar="P",
        help="minimum probability (0..1) of the top suggestion (a choice is kept whatever P; "
        "default 0, for a custom mood 0.5)",
    )
    p.add_argument(
        "--state",
        choices=STATES,
        help="only photos in this state (missing photos only with --state missing)",
    )
    p.add_argument(
        "--sort",
        metavar="KEY",
        help="order by " + ", ".join(SORT_KEYS) + " or a custom mood: name, capture date "
        "(EXIF/XMP, else the file time first seen), top probability, ambiguity (top-1 minus "
        "top-2, most ambiguous first), disagreement (top suggestion vs. the chosen mood) or a "
        "mood's probability (default: by path)",
    )
    p.add_argument("--desc", action="store_true", help="with --sort: descending")
    p.add_argument(
        "--from",
        dest="date_from",
        type=day,
        metavar="DATE",
        help="only photos taken on or after DATE (YYYY-MM-DD, the photo's own local time)",
    )
    p.add_argument(
        "--to",
        dest="date_to",
        type=day,
        metavar="DATE",
        help="only photos taken on or before DATE (YYYY-MM-DD, inclusive)",
    )
    p.add_argument(
        "--errors",
        action="store_true",
        help="list only photos that failed (unreadable, or their last write failed), with the reason",
    )
    p.add_argument(
        "--json", action="store_true", help="JSON output (each row with chosen and state)"
    )
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "export",
        parents=[common],
        help="export predictions as CSV or JSON",
        description="Export every catalogued photo with its mood probabilities. CSV "
        "columns: " + ",".join(export.CSV_COLUMNS) + ", then one per custom mood (its name: "
        "its probability)",
    )
    p.add_argument(
        "--format",
        choices=["csv", "json"],
        default=None,
        help="default: json for an -o FILE ending in .json, else csv",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE ('-' or none: stdout)")
    p.add_argument(
        "--force", action="store_true", help="overwrite FILE even if it is an image or a database"
    )
    p.set_defaults(func=cmd_export)


# ------------------------------------------------------------------------------------------
def cmd_scan(args: argparse.Namespace) -> int:
    from moodtagger.core.library import Library, RefreshEvents
    from moodtagger.core.metadata.fields import WriteSettings

    for d in args.dirs:
        if not os.path.isdir(d):
            raise UserError(f"{d}: not a folder")
    try:
        settings = WriteSettings(root=args.root)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    # the Library's exiftool (keywords, RAW previews) stops when the Library closes
    with (
        open_catalog(args) as cat,
        Library(cat) as lib,
        phase_progress(quiet=args.quiet) as bar,
    ):
        res = lib.refresh(
            args.dirs,
            predict=not args.no_predict,
            device=args.device,
            settings=settings,
            events=RefreshEvents(bar.phase, bar.progress),
        )
    summary, pred = res.scan, res.predict
    assert summary is not None
    result: dict[str, object] = {"scan": summary.as_dict()}
    if res.imported is not None:
        result["imported_choices"] = res.imported
    if res.import_error:
        result["import_error"] = res.import_error
    if res.predict_error:
        result["predict_error"] = res.predict_error
    elif pred is not None:
        result["predict"] = {
            "model_id": pred.model_id,
            "predicted": pred.predicted,
            "failed": pred.failed,
            "errors": [{"path": p, "error": e} for p, e in pred.errors],
        }
    if res.filled:
        result["filled"] = res.filled
    if args.json:
        dump_json(result)
    else:
        for path, msg in res.errors:
            err(f"error: {shown(path)}: {msg}")
        if not args.quiet:
            s = summary
            if s.nothing_changed:
                line = f"nothing changed ({plural(s.unchanged, 'photo')} unchanged)"
            else:
                line = (
                    f"{s.new} new, {s.changed} changed, {s.unchanged} unchanged, "
                    f"{s.moved} moved, {s.found_again} found again, {s.missing} missing, "
                    f"{plural(len(s.errors), 'error')}"
                )
                if s.metadata_changed:
                    line += f", {s.metadata_changed} with new keywords"
            line += f" in {s.seconds:.2f} s"
            if pred is not None and (pred.predicted or pred.failed):
                line += f"; predicted {plural(pred.predicted, 'photo')} with {pred.model_id}"
            if res.filled:
                line += f"; {plural(res.filled, 'photo')} without a personal suggestion filled"
            if s.cancelled:
                line += " (cancelled)"
            print(line)
    warn_unusable_model(res.model_problem)
    if res.import_error:
        err(f"moodtagger: keywords in the files not read: {res.import_error}")
    if res.predict_error:
        err(
            f"moodtagger: moods not predicted: {res.predict_error}; the photos are indexed "
            "(use --no-predict to only index)"
        )
    if res.import_error or res.predict_error:
        return 2
    return 1 if res.errors else 0


def cmd_list(args: argparse.Namespace) -> int:
    from moodtagger.core.library import Library

    with open_catalog(args, create=False, readonly=True) as cat:
        if args.errors:
            rows_out = [{"path": p.path, "error": why} for p, why in cat.views.failed()]
            if args.json:
                dump_json(rows_out)
            else:
                for r in rows_out:
                    safe_print(f"error: {shown(str(r['path']))}: {r['error']}")
            return 0
        lib = Library(cat)
        warn_unusable_model(lib.model_problem())
        if args.mood:
            args.mood = resolve_moods(cat, [args.mood])[0]
        sort = _sort_key(cat, args.sort) if args.sort else None
        rows = lib.query(list_filter(args), (sort, args.desc) if sort else None)
        entries = lib.entries(rows.ids.tolist())
    if args.json:
        dump_json_text(export.json_chunks(entries))
    else:
        for e in entries:
            mood, prob = "-", "-"
            if e.prediction is not None:
                mood, p = e.prediction.top
                prob = f"{round(p, 6):.2f}"  # the record's probability, to 2 decimals
            chosen = ",".join(e.chosen or []) or "-"
            safe_print(f"{mood:<12} {prob:>5}  {e.state!s:<11} {chosen:<12} {shown(e.path)}")
    return 0


def list_filter(args: argparse.Namespace) -> Filter:
    """`list`'s options as the core filter (the same rule as the GUI's filter panel)."""
    from moodtagger.core.dates import check_range

    try:
        check_range(args.date_from, args.date_to)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return Filter(
        moods=frozenset([args.mood]) if args.mood else frozenset(),
        min_prob=args.min or 0.0,
        states=frozenset([args.state]) if args.state else frozenset(),
        date_from=args.date_from,
        date_to=args.date_to,
        custom_min=0.5 if args.min is None else args.min,
    )


def day(text: str) -> datetime.date:
    """argparse type for --from/--to: a day as YYYY-MM-DD."""
    from moodtagger.core.dates import parse_day

    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _sort_key(cat, key: str) -> str:
    """A SORT_KEYS key, a mood ("Awe", "sad") or a custom mood (its name); one sentence else."""
    from moodtagger.core.moods import normalize_mood

    if key in SORT_KEYS:
        return key
    try:
        return normalize_mood(key)
    except ValueError:
        pass
    found = cat.moods.find(key)
    if found is None or found.removed:
        raise UserError(
            f"unknown sort key {key!r}; choose from: {', '.join(SORT_KEYS)} or a custom mood"
        )
    return found.name


def cmd_export(args: argparse.Namespace) -> int:
    from moodtagger.core.library import Library

    fmt = args.format or ("json" if (args.output or "").lower().endswith(".json") else "csv")
    if args.output:
        check_output(args.output, force=args.force, catalog=_catalog_path(args))
    with open_catalog(args, create=False, readonly=True) as cat:
        lib = Library(cat)
        warn_unusable_model(lib.model_problem())
        rows = export.catalog_entries(cat, lib.model_id)
        custom = cat.moods.names()
    with output_file(args.output) as fh:
        if fmt == "csv":
            n = export.write_csv(rows, fh, custom)
        else:
            n = export.write_json(rows, fh)
    if args.output and args.output != "-" and not args.quiet:
        err(f"wrote {plural(n, 'row')} to {args.output}")
    return 0


def _catalog_path(args: argparse.Namespace) -> str:
    from moodtagger.core.catalog import default_catalog_path

    return str(args.catalog or default_catalog_path())
