"""`moodtagger write | read | accept`: mood keywords in the files' own metadata."""

from __future__ import annotations

import argparse
import os

from moodtagger.cli.common import (
    dump_json,
    err,
    expand_paths,
    mood,
    open_catalog,
    plural,
    probability,
    progress_bar,
    resolve_moods,
    safe_print,
    shown,
    warn_unusable_model,
)
from moodtagger.core.errors import FileError, UserError
from moodtagger.core.moods import display_name


def _settings_args(p: argparse.ArgumentParser) -> None:
    from moodtagger.core.metadata.fields import ALL_FIELDS

    g = p.add_argument_group("where to write (defaults: every field below, root 'Mood')")
    g.add_argument(
        "--field",
        action="append",
        choices=ALL_FIELDS,
        metavar="TAG",
        help=f"write only these fields (repeatable): {', '.join(ALL_FIELDS)}",
    )
    g.add_argument(
        "--root", default="Mood", help="keyword root for hierarchical keywords (Mood|Awe)"
    )
    g.add_argument(
        "--sidecar",
        choices=["xmp", "ext"],
        default="xmp",
        help="RAW sidecar name: photo.xmp (Lightroom, default) or photo.CR2.xmp (darktable)",
    )
    g.add_argument(
        "--readonly",
        choices=["error", "sidecar"],
        default="error",
        help="read-only photos: report an error (default) or write an XMP sidecar",
    )
    g.add_argument(
        "--keep-date", action="store_true", help="keep the files' modification time as it was"
    )
    g.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds exiftool may take per request; when it hangs again after a restart the "
        "write stops (default 60)",
    )
    g.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="write through links that lead out of the scanned folders (or the folders named)",
    )


def _settings(args: argparse.Namespace):
    from moodtagger.core.metadata import WriteSettings

    try:
        kw = {"fields": tuple(dict.fromkeys(args.field))} if getattr(args, "field", None) else {}
        return WriteSettings(
            root=args.root,
            sidecar=getattr(args, "sidecar", "xmp"),
            readonly=getattr(args, "readonly", "error"),
            preserve_mtime=getattr(args, "keep_date", False),
            timeout=getattr(args, "timeout", 60.0),
            follow_symlinks=getattr(args, "follow_symlinks", False),
            **kw,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "write",
        parents=[common],
        help="write chosen moods into the photos' metadata",
        description="With PATHs: choose --mood for those photos and write it into them now. "
        "Without: write every pending choice in the catalog. Files are changed only after the "
        "new version is verified; RAW files get an XMP sidecar.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="photos or folders (use -- before names starting with -)",
    )
    p.add_argument(
        "--mood",
        action="append",
        type=mood,
        default=[],
        metavar="M",
        help="mood to write (repeatable); replaces the moods moodtagger wrote before",
    )
    p.add_argument(
        "--clear", action="store_true", help="remove the moods moodtagger wrote from PATHs"
    )
    p.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    p.add_argument("--json", action="store_true", help="machine-readable result")
    _settings_args(p)
    p.set_defaults(func=cmd_write)

    p = sub.add_parser(
        "read",
        parents=[common],
        help="show the mood keywords already in files",
        description="Moods in the files' metadata and XMP sidecars (by any tool "
        "that writes Mood|M or Mood/M), plus their other keywords.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true")
    p.add_argument("--root", default="Mood", help="keyword root (default Mood)")
    p.set_defaults(func=cmd_read)

    p = sub.add_parser(
        "accept",
        parents=[common],
        help="turn confident suggestions into choices",
        description="For photos without a choice (only those under PATHs, if "
        "given), make the model's current top mood the choice where its "
        "probability is at least --min. Then run `moodtagger write`.",
    )
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="photos or folders (default: the whole catalog)"
    )
    p.add_argument(
        "--min",
        type=probability,
        default=0.5,
        metavar="P",
        help="minimum probability, 0..1 (default 0.5)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_accept)

    p = sub.add_parser(
        "forget",
        parents=[common],
        help="drop the choices of photos (files untouched)",
        description="Forget the chosen moods of PATHs (photos or folders) in the "
        "catalog, as if never chosen. The files are not changed; to remove moods "
        "from the files use `moodtagger write PATH --clear`.",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="photos or folders (use -- before names starting with -)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_forget)


def _print_result(r, dry_run: bool) -> None:
    names = ", ".join(display_name(m) for m in r.after) or "(none)"
    if r.status == "failed":
        err(f"error: {shown(r.path)}: {r.error}")
        return
    safe_print(f"{r.status:<10} {names:<24} {shown(r.path)}")
    if r.note:
        safe_print(f"    note: {r.note}")
    if dry_run or r.status == "written":
        for target, field, before, after in r.diff:
            where = (
                ""
                if target == os.path.realpath(r.path)
                else f" [{shown(os.path.basename(target))}]"
            )
            safe_print(
                f"    {field}{where}: {'; '.join(before) or '-'} -> {'; '.join(after) or '-'}"
            )


def cmd_write(args: argparse.Namespace) -> int:
    from moodtagger.core.library import Library
    from moodtagger.core.metadata import write_files
    from moodtagger.core.metadata.journal import items_for_paths

    settings = _settings(args)
    if not args.paths and (args.mood or args.clear):
        raise UserError("--mood/--clear need the photos to write them to (PATH...)")
    if args.mood and args.clear:
        raise UserError("use either --mood or --clear, not both")
    errors: list[FileError] = []
    with (
        open_catalog(args, create=bool(args.mood or args.clear)) as cat,
        Library(cat) as lib,  # its exiftool stops when it closes
        progress_bar("checking" if args.dry_run else "writing", quiet=args.quiet) as progress,
    ):
        args.mood = resolve_moods(cat, args.mood)
        if args.paths and not (args.mood or args.clear):  # the pending choices under PATHs
            scope = lib.resolve(args.paths)
            errors = scope.errors
            summary = lib.write(
                None,
                under=scope.paths,
                settings=settings,
                dry_run=args.dry_run,
                progress=progress,
            )
        elif args.paths:
            files, errors = expand_paths(args.paths)
            files = list(dict.fromkeys(files))  # a file named twice is written once
            # the folders named: a direct write never leaves them (unless --follow-symlinks)
            folders = [
                os.path.abspath(p if os.path.isdir(p) else os.path.dirname(p) or ".")
                for p in args.paths
            ]
            if args.dry_run:  # change nothing, not even the catalog
                summary = write_files(
                    items_for_paths(cat, files, args.mood, folders),
                    settings,
                    dry_run=True,
                    progress=progress,
                    service=lib.writing_exiftool(settings),
                )
            else:
                added = lib.add_files(files)
                errors += added.errors
                if args.clear:  # cleared photos are unconfirmed again (a later accept works)
                    summary = lib.clear(
                        added.ids,
                        settings=settings,
                        progress=progress,
                        source="cli",
                        folders=folders,
                    )
                else:
                    lib.choose(added.ids, args.mood, source="cli")
                    summary = lib.write(
                        added.ids, settings=settings, progress=progress, folders=folders
                    )
        else:
            summary = lib.write(None, settings=settings, dry_run=args.dry_run, progress=progress)
    if args.json:
        out = summary.as_dict()
        out["errors"] = [{"path": p, "error": e} for p, e in errors]
        dump_json(out)
    else:
        for r in summary.results:
            if not args.quiet or r.status == "failed":
                _print_result(r, args.dry_run)
        for p, e in errors:
            err(f"error: {shown(p)}: {e}")
        if not args.quiet:
            what = (
                f"would write {summary.planned}" if args.dry_run else f"written {summary.written}"
            )
            err(
                f"{what}, unchanged {summary.unchanged}, failed {summary.failed + len(errors)}"
                + (" (cancelled)" if summary.cancelled else "")
            )
            if not summary.results and not errors and not (args.mood or args.clear):
                err(
                    "nothing to write: no pending choices (see `moodtagger accept` or `write PATH --mood M`)"
                )
    if summary.stopped:  # exiftool hung twice: the files above that were not written say so
        err(f"moodtagger: {summary.stopped}")
    return 1 if summary.failed or errors else 0


def cmd_read(args: argparse.Namespace) -> int:
    from moodtagger.core.metadata import WriteSettings, read_moods

    try:
        settings = WriteSettings(root=args.root)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    files, errors = expand_paths(args.paths)
    found = read_moods(files, settings)  # (an exiftool of its own for this call, then closed)
    failed = len(errors) + sum(1 for f in found if f.error)
    if args.json:
        dump_json(
            [
                {
                    "path": f.path,
                    "moods": f.moods,
                    "keywords": f.keywords,
                    "hierarchical": f.hierarchical,
                    "sources": f.sources,
                    "error": f.error,
                }
                for f in found
            ]
            + [
                {
                    "path": p,
                    "moods": [],
                    "keywords": [],
                    "hierarchical": [],
                    "sources": [],
                    "error": e,
                }
                for p, e in errors
            ]
        )
    else:
        for f in found:
            if f.error:
                err(f"error: {shown(f.path)}: {f.error}")
                continue
            moods = ", ".join(display_name(m) for m in f.moods) or "-"
            others = [k for k in f.keywords if k not in {display_name(m) for m in f.moods}]
            extra = f"  (other keywords: {'; '.join(others)})" if others else ""
            safe_print(f"{moods:<24} {shown(f.path)}{extra}")
        for p, e in errors:
            err(f"error: {shown(p)}: {e}")
    return 1 if failed else 0


def cmd_accept(args: argparse.Namespace) -> int:
    from moodtagger.core.library import Library, LibraryError

    with open_catalog(args, create=False) as cat:
        lib = Library(cat)
        warn_unusable_model(lib.model_problem())
        scope = lib.resolve(args.paths) if args.paths else None
        ids = scope.ids if scope is not None else None
        try:
            result = lib.accept(args.min, ids)
        except LibraryError as exc:
            raise UserError(str(exc)) from None
        pending = lib.pending(ids)
    errors = scope.errors if scope is not None else []
    if args.json:
        dump_json(
            {
                "accepted": [
                    {"photo_id": i, "mood": m, "probability": round(p, 4)}
                    for i, m, p in result.accepted
                ],
                "stale": result.stale,
                "pending": pending,
                "errors": [{"path": p, "error": e} for p, e in errors],
            }
        )
    else:
        for p in result.stale:
            err(
                f"skipped: {shown(p)}: the file changed since the last scan; run `moodtagger scan` first"
            )
        for p, e in errors:
            err(f"error: {shown(p)}: {e}")
        if not args.quiet:
            err(
                f"accepted {plural(len(result.accepted), 'suggestion')} with probability >= {args.min:g}; "
                f"{plural(pending, 'choice')} pending: run `moodtagger write` to write them into the files"
            )
    return 1 if errors else 0


def cmd_forget(args: argparse.Namespace) -> int:
    from moodtagger.core.library import Library

    with open_catalog(args, create=False) as cat:
        lib = Library(cat)
        scope = lib.resolve(args.paths)
        n = lib.forget(scope.ids)
    if args.json:
        dump_json({"forgotten": n, "errors": [{"path": p, "error": e} for p, e in scope.errors]})
    else:
        for p, e in scope.errors:
            err(f"error: {shown(p)}: {e}")
        if not args.quiet:
            err(
                f"forgot the {plural(n, 'choice')} of {plural(len(scope.ids), 'photo')}; the files are unchanged"
            )
    return 1 if scope.errors else 0
