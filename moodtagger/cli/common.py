"""Helpers shared by the CLI subcommands: catalog opening, progress bars, output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from moodtagger.core.catalog import Catalog, CatalogError


def open_catalog(args) -> Catalog:
    from moodtagger.cli import UserError

    try:
        return Catalog(args.catalog) if getattr(args, "catalog", None) else Catalog()
    except CatalogError as exc:
        raise UserError(str(exc)) from None


def err(msg: str) -> None:
    print(msg, file=sys.stderr)


@contextmanager
def progress_bar(label: str, *, quiet: bool = False) -> Iterator:
    """Yield a ``progress(done, total)`` callback; draws a rich bar only on a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), transient=True, console=None,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def shown(path: str) -> str:
    """A path for one line of terminal output: undecodable bytes as ``\\xNN``, control
    characters (a newline in a file name) escaped, so one file is always one line."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def dump_json(obj: object, fh: IO[str] | None = None) -> None:
    """JSON that never fails on paths with undecodable bytes (they become ``\\udcNN``)."""
    fh = fh or sys.stdout
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    fh.write(text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")


def safe_print(text: str) -> None:
    """Print text that may hold undecodable path bytes (surrogates) without crashing."""
    try:
        print(text)
    except UnicodeEncodeError:
        print(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def expand_paths(paths: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Files and folders (walked, hidden entries skipped) -> (image files, (path, error) pairs)."""
    from moodtagger.core import imaging
    from moodtagger.core.scanner import walk

    files, errors = [], []
    for p in paths:
        if os.path.isdir(p):
            found = walk(os.fsencode(os.path.abspath(p)), on_error=lambda d, e: errors.append((os.fsdecode(d), e)))
            files.extend(os.fsdecode(f) for f in sorted(f for f, _ in found))
        elif os.path.exists(p):
            files.append(p) if imaging.is_image_path(p) else errors.append((p, "not an image file type"))
        else:
            errors.append((p, _why_missing(p)))
    return files, errors


def _why_missing(path: str) -> str:
    try:
        os.stat(path)
    except PermissionError:
        return "permission denied (a folder on its path cannot be opened)"
    except OSError:
        pass
    return "no such file or folder"
