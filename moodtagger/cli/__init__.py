"""Headless command line: one thin front end over the core (the GUI is the other).

Each subcommand module exposes ``register(subparsers, common)`` and sets ``func`` on its parser;
``func(args) -> int`` returns the exit status (0 ok, 1 some file failed, 2 usage/setup error).
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys

from moodtagger import __version__
from moodtagger.cli.common import common_options
from moodtagger.core.catalog import default_catalog_path, describe_db_error
from moodtagger.core.errors import EXPECTED_ERRORS, UserError, describe

__all__ = ["UserError", "build_parser", "main"]

# Subcommand modules, in --help order. Each owns its own subcommands.
_MODULES = ("library", "model", "tags", "learn", "moods", "cluster", "gui")


class _Version(argparse.Action):
    """``--version``: moodtagger's version, then the exiftool it uses (path, version, source)."""

    def __init__(
        self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None
    ):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from moodtagger.core.tools import describe_exiftool

        print(f"moodtagger {__version__}\n{describe_exiftool()}")
        parser.exit(0)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one sentence (exit 2), pointing at --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = _Parser(
        prog="moodtagger",
        description="See how your photos feel, filter by mood, and write mood keywords into them.",
    )
    parser.add_argument(
        "--version", action=_Version, help="show the version and the exiftool used, then exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _MODULES:
        importlib.import_module(f"moodtagger.cli.{name}").register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # No subcommand: open the GUI (it explains how to use the CLI when there is no display).
        args = parser.parse_args(["gui", *(argv or sys.argv[1:])])
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `moodtagger export | head`: the reader left, that is fine
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except sqlite3.Error as exc:  # the catalog failed mid-command (disk full, damaged, read-only)
        path = getattr(args, "catalog", None) or default_catalog_path()
        print(f"moodtagger: {describe_db_error(path, exc)}", file=sys.stderr)
        return 2
    except EXPECTED_ERRORS as exc:  # the one list (core/errors.py); anything else is a bug
        print(f"moodtagger: {describe(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("moodtagger: interrupted", file=sys.stderr)
        return 130
