"""`moodtagger similar | choose | learn`: similar photos, and learning from the user's choices."""

from __future__ import annotations

import argparse

from moodtagger.cli.common import (
    dump_json,
    err,
    expand_paths,
    mood,
    open_catalog,
    plural,
    resolve_moods,
    safe_print,
    shown,
)
from moodtagger.core.errors import UserError
from moodtagger.core.moods import display_name


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "similar",
        parents=[common],
        help="the catalogued photos most like PATH",
        description="The K catalogued photos most similar to PATH (cosine similarity of the "
        "backbone embeddings stored when the photos were predicted), most similar first; PATH "
        "itself is left out. A PATH that is not catalogued is decoded once for its embedding.",
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument("-n", type=int, default=10, metavar="K", help="how many photos (default 10)")
    p.add_argument("--json", action="store_true", help='[{"path": ..., "similarity": ...}]')
    p.add_argument("--model", help="whose embeddings (default: the shipped model)")
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser(
        "choose",
        parents=[common],
        help="choose moods for photos (catalog only; files untouched)",
        description="What a number key does in the app: store the chosen moods of PATHs "
        "(photos or folders) in the catalog as pending choices. Nothing is written to the files "
        "(`moodtagger write` does that); `moodtagger learn` learns from these choices.",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="photos or folders (use -- before names starting with -)",
    )
    p.add_argument(
        "--mood", action="append", type=mood, default=[], metavar="M", help="mood (repeatable)"
    )
    p.add_argument(
        "--none",
        action="store_true",
        help="choose no mood (a write then removes moodtagger's moods)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_choose)

    p = sub.add_parser(
        "learn",
        parents=[common],
        help="learn your taste from your choices (a personal model)",
        description="Fit a personal model on your choices (chosen, written, and mood keywords "
        "imported from files; accepted suggestions are not counted) on top of the shipped model, "
        "save it as a new model id in your data folder and re-predict every photo from the stored "
        "embeddings (no decoding). Photos unlike any you labelled keep (nearly) the shipped "
        "suggestion; near-duplicates of a labelled photo follow it. --reset: the shipped model again.",
    )
    p.add_argument("--reset", action="store_true", help="go back to the shipped model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_learn)

    p = sub.add_parser(
        "teach",
        parents=[common],
        help="the photos whose moods would teach the model most",
        description="List N photos to label next (then `moodtagger choose` and `moodtagger "
        "learn`): the ones the current suggestions (the personal model's once learnt) are least "
        "sure of, spread over the library, at most one per burst of near-duplicates, never one "
        "that already has a choice (or a near-duplicate of one). Exactly N unless fewer "
        "unlabelled bursts exist.",
    )
    p.add_argument("-n", type=int, default=10, metavar="N", help="how many photos (default 10)")
    p.add_argument(
        "--json",
        action="store_true",
        help='[{"path", "mood", "probability", "second", "second_probability", "uncertainty", '
        '"nearest", "why"}]',
    )
    p.set_defaults(func=cmd_teach)


def cmd_teach(args: argparse.Namespace) -> int:
    from moodtagger.core.library import Library, LibraryError

    if args.n < 1:
        raise UserError("-n must be at least 1")
    with open_catalog(args, create=False, readonly=True) as cat:
        try:
            picks = Library(cat).teach(args.n)
        except LibraryError as exc:
            raise UserError(str(exc)) from None
    if args.json:
        dump_json(
            [
                {
                    "path": p.path,
                    "mood": p.mood,
                    "probability": round(p.probability, 4),
                    "second": p.second,
                    "second_probability": round(p.second_probability, 4),
                    "uncertainty": round(p.uncertainty, 4),
                    "nearest": round(p.nearest, 4),
                    "why": p.why,
                }
                for p in picks
            ]
        )
    else:
        for p in picks:
            safe_print(f"{shown(p.path)}\t{display_name(p.mood)} {p.probability:.2f}\t{p.why}")
    if not args.quiet and len(picks) < args.n:
        err(
            f"only {plural(len(picks), 'photo')} to teach: every other photo has a choice or is a near-duplicate of one"
        )
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    from moodtagger.core.library import Library, LibraryError

    if args.n < 1:
        raise UserError("-n must be at least 1")
    with open_catalog(args, create=False, readonly=True) as cat:
        try:
            hits = Library(cat).similar_to_path(args.path, args.n, model_id=args.model)
        except LibraryError as exc:
            raise UserError(str(exc)) from None
    if args.json:
        dump_json([{"path": h.path, "similarity": round(h.similarity, 4)} for h in hits])
    else:
        for h in hits:
            safe_print(f"{h.similarity:6.3f}  {shown(h.path)}")
    return 0


def cmd_choose(args: argparse.Namespace) -> int:
    from moodtagger.core.library import Library
    from moodtagger.core.scanner import add_files

    if not args.mood and not args.none:
        raise UserError("say which moods: --mood M (repeatable), or --none to choose no mood")
    if args.mood and args.none:
        raise UserError("use either --mood or --none, not both")
    files, errors = expand_paths(args.paths)
    with open_catalog(args) as cat:
        args.mood = resolve_moods(cat, args.mood)
        with cat.writer_lock():
            rows, more = add_files(cat, files)
            errors += more
            n = len({r.id for r in rows})
            Library(cat).choose([r.id for r in rows], args.mood)
    names = ", ".join(display_name(m) for m in args.mood) or "no mood"
    if args.json:
        dump_json(
            {
                "chosen": [r.path for r in rows],
                "moods": list(args.mood),
                "errors": [{"path": p, "error": e} for p, e in errors],
            }
        )
    else:
        for p, e in errors:
            err(f"error: {shown(p)}: {e}")
        if not args.quiet:
            err(
                f"chose {names} for {plural(n, 'photo')} (not written to the files yet: `moodtagger write`)"
            )
    return 1 if errors else 0


def cmd_learn(args: argparse.Namespace) -> int:
    from moodtagger.core.library import Library, LibraryError
    from moodtagger.core.model.custom import MIN_EXAMPLES

    with open_catalog(args, create=False) as cat:
        lib = Library(cat)
        try:
            summary = lib.reset_learning() if args.reset else lib.learn()
        except LibraryError as exc:
            raise UserError(str(exc)) from None
    if args.json:
        dump_json(
            {
                "model": summary.model_id,
                "parent": summary.parent_id,
                "examples": summary.examples,
                "predicted": summary.predicted,
                "changed": summary.changed,
                "changes": [
                    {"from": a, "to": b, "photos": n} for (a, b), n in summary.changes.items()
                ],
                "seconds": round(summary.seconds, 3),
                "custom": summary.custom,
            }
        )
        return 0
    if not args.quiet:
        if args.reset:
            err(
                f"back to the shipped model {summary.model_id}; "
                f"{plural(summary.changed, 'suggestion')} changed back"
            )
        else:
            ex = ", ".join(f"{display_name(m)} {n}" for m, n in summary.examples.items())
            err(
                f"learnt {summary.model_id} from {plural(sum(summary.examples.values()), 'choice')} ({ex}); "
                f"re-predicted {plural(summary.predicted, 'photo')} in {summary.seconds:.1f} s"
            )
            if summary.skipped:
                err(
                    f"{plural(summary.skipped, 'chosen photo')} had no embedding yet and taught nothing "
                    "(scan them first)"
                )
            err(f"{plural(summary.changed, 'suggestion')} changed")
            for name, n in summary.custom.items():
                err(
                    f"custom mood {name}: learnt from {plural(n, 'example')}"
                    if n >= MIN_EXAMPLES
                    else f"custom mood {name}: {plural(n, 'example')}, needs {MIN_EXAMPLES} "
                    "(no suggestions yet)"
                )
        for (a, b), n in list(summary.changes.items())[:10]:
            safe_print(f"{n:6d}  {display_name(a)} -> {display_name(b)}")
    return 0
