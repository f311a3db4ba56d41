"""Helpers shared by the CLI subcommands: catalog opening, progress bars, output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO

from moodtagger.core.catalog import Catalog, CatalogError
from moodtagger.core.errors import FileError, UserError


def common_options(*, nested: bool = False) -> argparse.ArgumentParser:
    """The options every command takes (``--catalog``, ``--quiet``), as a parent parser. For an
    action under a command (``mood --catalog C add NAME``) ``nested``: left out there, the
    value given before the action stays (argparse would otherwise reset it to the default)."""
    keep = {"default": argparse.SUPPRESS} if nested else {}
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--catalog", metavar="PATH", help="catalog database (default: per-user data dir)", **keep
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars or summaries", **keep
    )
    return p


def open_catalog(args, *, create: bool = True, readonly: bool = False) -> Catalog:
    """The catalog named by ``--catalog`` (or the default one).

    ``create=False`` for commands that only make sense on an existing catalog (list, export,
    accept, forget, write without paths): a missing one is "no catalog at PATH; run scan first",
    not a new empty file. A second process writing to the same catalog makes this one wait;
    it says so once on stderr."""

    path = getattr(args, "catalog", None) or None
    quiet = getattr(args, "quiet", False)

    def waiting() -> None:
        if not quiet:
            err(
                f"moodtagger: waiting for another moodtagger that is writing to the catalog "
                f"{path or 'in the user data folder'} ..."
            )

    try:
        return Catalog(path, create=create, readonly=readonly, on_lock_wait=waiting)
    except CatalogError as exc:
        raise UserError(str(exc)) from None


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 photo``, ``2 photos``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def mood(text: str) -> str:
    """argparse type for a mood name ("Awe", "awe", "sad", or a custom mood's name: resolved
    against the catalog by :func:`resolve_moods` once it is open); one message for every
    subcommand."""
    import argparse

    from moodtagger.core.moods import mood_id

    try:
        return mood_id(text)
    except ValueError:
        from moodtagger.core.moods import MOODS

        raise argparse.ArgumentTypeError(
            f"unknown mood {text!r}; choose from: {', '.join(MOODS)} or a custom mood "
            "(`moodtagger mood list`)"
        ) from None


def resolve_moods(catalog: Catalog | None, moods: list[str]) -> list[str]:
    """``--mood`` values as stored: the eight as parsed, custom moods by the catalog's
    spelling; an unknown one is one sentence (exit 2)."""
    from moodtagger.core.custom_moods import resolve

    return [resolve(catalog, m) for m in moods]


def probability(text: str) -> float:
    """argparse type for --min: a number from 0 to 1."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number; give a probability from 0 to 1"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside 0..1; give a probability from 0 to 1")
    return value


_SQLITE_MAGIC = b"SQLite format 3\0"


def check_output(path: str, *, force: bool = False, catalog: str | None = None) -> None:
    """Refuse an ``-o`` target that cannot or should not be written, in one sentence:
    a missing folder, a folder, the catalog, another SQLite database or an image (unless
    ``force``). ``-`` is standard output and always fine."""
    from moodtagger.core import imaging

    if path == "-":
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise UserError(f"cannot write {path}: it is a folder; give a file name")
    if not os.path.exists(path) or force:
        return
    if catalog and os.path.exists(catalog) and os.path.samefile(path, catalog):
        raise UserError(f"{path} is the catalog; refusing to overwrite it (choose another file)")
    try:
        with imaging.open_regular(path) as fh:
            head = fh.read(16)
    except (OSError, imaging.ImageError):
        raise UserError(f"cannot write {path}: it is not a regular file") from None
    if head.startswith(_SQLITE_MAGIC):
        raise UserError(
            f"{path} is a database (a catalog?); refusing to overwrite it (use --force)"
        )
    if imaging.is_image_path(path) or _looks_like_image(head):
        raise UserError(f"{path} is an image; refusing to overwrite it with a table (use --force)")


def _looks_like_image(head: bytes) -> bool:
    return (
        head[:2] == b"\xff\xd8"
        or head[:8] == b"\x89PNG\r\n\x1a\n"
        or head[:4] in (b"II*\0", b"MM\0*")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or head[4:8] == b"ftyp"
    )


@contextmanager
def output_file(path: str | None) -> Iterator[IO[str]]:
    """Text output to ``path`` (written to a temporary file beside it and renamed into place
    only when complete), or standard output for None / ``-``."""

    if path is None or path == "-":
        # non-UTF-8 names go out as their original bytes, like `ls` would print them
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(errors="surrogateescape")
        yield sys.stdout
        sys.stdout.flush()
        return
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".moodtagger-", suffix=".part")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="", errors="surrogateescape") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        reason = "no space left on the device" if exc.errno == 28 else (exc.strerror or str(exc))
        raise UserError(f"cannot write {path}: {reason}; nothing was written") from None
    except BaseException:
        _unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def err(msg: str) -> None:
    print(msg, file=sys.stderr)


def warn_unusable_model(problem: str | None) -> None:
    """Every command that shows suggestions says, in the same sentence as `scan`, when the
    personal model in use cannot be used and the shipped model's suggestions are shown."""
    if problem:
        err(f"warning: {problem}")


@contextmanager
def progress_bar(label: str, *, quiet: bool = False) -> Iterator:
    """Yield a ``progress(done, total)`` callback; draws a rich bar only on a terminal."""
    with phase_progress(quiet=quiet) as bars:
        if not bars.drawing:
            yield None
            return
        bars.phase(label)
        yield bars.progress


class PhaseProgress:
    """One progress bar per phase of a multi-stage run (``Library.refresh``): ``phase(name)``
    starts a new bar, ``progress(done, total)`` updates it. Draws only on a terminal."""

    def __init__(self, bar=None) -> None:
        self._bar = bar
        self._task = None

    @property
    def drawing(self) -> bool:
        """Whether a bar is shown (a terminal, not --quiet)."""
        return self._bar is not None

    def phase(self, name: str) -> None:
        if self._bar is not None:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._task = self._bar.add_task(name, total=None)

    def progress(self, done: int, total: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total)


@contextmanager
def phase_progress(*, quiet: bool = False) -> Iterator[PhaseProgress]:
    if quiet or not sys.stderr.isatty():
        yield PhaseProgress()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=None,
    ) as bar:
        yield PhaseProgress(bar)


def shown(path: str) -> str:
    """A path for one line of terminal output: undecodable bytes as ``\\xNN``, control
    characters (a newline in a file name) escaped, so one file is always one line."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def dump_json(obj: object, fh: IO[str] | None = None) -> None:
    """JSON that never fails on paths with undecodable bytes (they become ``\\udcNN``) and
    is always strict (a non-finite number, which JSON has no word for, becomes null)."""
    from moodtagger.core.export import strict_json

    text = json.dumps(strict_json(obj), indent=1, ensure_ascii=False, allow_nan=False)
    dump_json_text([text], fh)


def dump_json_text(chunks: Iterable[str], fh: IO[str] | None = None) -> None:
    """:func:`dump_json` for JSON text already made, in pieces (a million photos' records,
    :func:`moodtagger.core.export.json_chunks`, never become one string)."""
    fh = fh or sys.stdout
    for text in chunks:
        fh.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))
    fh.write("\n")


def safe_print(text: str) -> None:
    """Print text that may hold undecodable path bytes (surrogates) without crashing."""
    try:
        print(text)
    except UnicodeEncodeError:
        print(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def expand_paths(paths: list[str]) -> tuple[list[str], list[FileError]]:
    """Files and folders (walked, hidden entries skipped) -> (image files, per-path errors)."""
    from moodtagger.core import imaging
    from moodtagger.core.scanner import walk

    files: list[str] = []
    errors: list[FileError] = []
    for p in paths:
        if os.path.isdir(p):
            found = walk(
                os.fsencode(os.path.abspath(p)),
                on_error=lambda d, e: errors.append(FileError(os.fsdecode(d), e)),
            )
            files.extend(os.fsdecode(f) for f in sorted(f for f, _ in found))
        else:
            try:
                os.stat(p)
            except FileNotFoundError:
                errors.append(FileError(p, "no such file or folder"))
                continue
            except PermissionError:
                errors.append(FileError(p, "permission denied (its folder cannot be searched)"))
                continue
            except OSError as exc:
                errors.append(FileError(p, exc.strerror or str(exc)))
                continue
            files.append(p) if imaging.is_image_path(p) else errors.append(
                FileError(p, "not an image file type")
            )
    return files, errors
