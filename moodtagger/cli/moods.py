"""`moodtagger mood add | list | remove`: the user's own moods (issue 27), catalog-wide."""

from __future__ import annotations

import argparse

from moodtagger.cli.common import (
    common_options,
    dump_json,
    err,
    open_catalog,
    plural,
    safe_print,
)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "mood",
        parents=[common],
        help="your own moods beside the eight: add, list, remove",
        description="Custom moods are yes/no concepts beside the eight (which still sum to 1): "
        "choose them like the eight (`choose --mood NAME`); after `learn` (at least 5 examples "
        "each) every photo gets a probability for each. The keyword written into files is the "
        "name as typed (Name, Mood|Name, Mood/Name). Names: letters, digits, spaces and hyphens, "
        "at most 32 characters, unique ignoring case, not one of the eight or a column name.",
    )
    msub = p.add_subparsers(dest="mood_command", metavar="ACTION", required=True)
    common = common_options(nested=True)  # before or after the action, never reset by it
    a = msub.add_parser("add", parents=[common], help="add a custom mood")
    a.add_argument("name", metavar="NAME")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_add)
    a = msub.add_parser("list", parents=[common], help="list the custom moods")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_list)
    a = msub.add_parser(
        "remove",
        parents=[common],
        help="remove a custom mood (files untouched unless --clear-files)",
        description="Remove the custom mood NAME from the catalog: out of every choice, its "
        "probabilities dropped. Keywords already written into files stay there (and are not "
        "imported again) unless --clear-files, which writes those photos without it now.",
    )
    a.add_argument("name", metavar="NAME")
    a.add_argument(
        "--clear-files",
        action="store_true",
        help="also take its keywords out of the files it was written into",
    )
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_remove)


def cmd_add(args: argparse.Namespace) -> int:
    from moodtagger.core import custom_moods

    with open_catalog(args) as cat:
        m = custom_moods.add(cat, args.name)
    if args.json:
        dump_json({"added": m.name})
    elif not args.quiet:
        err(
            f"added the mood {m.name}; choose it with `moodtagger choose --mood {_quoted(m.name)} "
            "PATH` (5 examples or more), then `moodtagger learn`"
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from moodtagger.core import custom_moods

    with open_catalog(args, create=False, readonly=True) as cat:
        counts = custom_moods.counts(cat)
        moods = cat.moods.all()
        scored = {m.name: cat.moods.scored_count(m.id) for m in moods}
    if args.json:
        dump_json(
            [{"name": m.name, "chosen": counts[m.name], "scored": scored[m.name]} for m in moods]
        )
        return 0
    if not moods and not args.quiet:
        err("no custom moods yet (add one with `moodtagger mood add NAME`)")
    for m in moods:
        safe_print(
            f"{m.name:<32}  {plural(counts[m.name], 'photo')} chosen, "
            f"{plural(scored[m.name], 'photo')} with a probability"
        )
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from moodtagger.core import custom_moods
    from moodtagger.core.library import Library

    summary = None
    with open_catalog(args, create=False) as cat:
        m, touched, in_files = custom_moods.remove(cat, args.name, clear_files=args.clear_files)
        if args.clear_files and in_files:
            with Library(cat) as lib:
                summary = lib.write(in_files)
            custom_moods.forget_empty(cat, in_files)
    failed = summary.failed if summary is not None else 0
    if args.json:
        dump_json(
            {
                "removed": m.name,
                "photos": len(touched),
                "written": summary.written if summary else 0,
                "failed": failed,
            }
        )
    elif not args.quiet:
        if summary is not None:
            for r in summary.results:
                if r.status == "failed":
                    err(f"error: {r.path}: {r.error}")
            err(
                f"removed the mood {m.name} from {plural(len(touched), 'photo')}; "
                f"files written {summary.written}, unchanged {summary.unchanged}, failed {failed}"
            )
        else:
            err(
                f"removed the mood {m.name} from {plural(len(touched), 'photo')}; the files keep "
                "its keywords (--clear-files takes them out)"
            )
    return 1 if failed else 0


def _quoted(name: str) -> str:
    return f"'{name}'" if " " in name else name
