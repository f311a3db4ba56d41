"""Expected errors vs bugs: the one list both front ends use (qutebrowser's ``crashsignal``).

An *expected* error is a problem the user can act on: its message is one sentence, the CLI
prints it (``moodtagger: …``, exit status 2) and the GUI shows it as a plain message. Anything
else is a *bug*: the CLI lets the traceback through, the GUI opens the crash dialog with the
traceback and the log file's path.

Every expected error of moodtagger derives from :class:`MoodtaggerError`; each kind keeps its
home (and its import path) beside the code that raises it:

=====================================================  ==========================================
kind                                                   what went wrong
=====================================================  ==========================================
:class:`UserError` (here)                              a request that cannot be carried out as
                                                       given (usage, options, output file)
``core.catalog.CatalogError``                          the catalog cannot be opened or written
``core.tools.ToolMissing``                             exiftool (or another program) missing/old
``core.model.registry.ModelError``                     the model is missing or fails its hash
``core.model.backbone.BackboneMissing``                the backbone's weights are not installed
``core.model.personal.PersonalError``                  nothing to learn from / unusable model
``core.import_predictions.ImportFileError``            a predictions file that cannot be read
``core.library.LibraryError``                          a request the library refuses
``core.cluster.ClusterError``                          Ray missing, cluster unreachable
``core.embeddings.EmbeddingError``                     no embedding to search with
``core.imaging.ImageError``                            a file that is not a decodable image
``core.metadata.exiftool.ExifToolError``               exiftool failed or hung on one request
``core.metadata.exiftool.UnsafeArgument``              a value exiftool cannot be given safely
``core.metadata.writer.WriteFailed``                   a file's write failed its checks
=====================================================  ==========================================

Besides those, :data:`EXPECTED_ERRORS` counts the operating system's (``OSError``: disk full,
permission denied, …) and SQLite's (the catalog's disk failed mid-command) as expected. Per-file
problems of a batch are not raised at all: they are data (``error: PATH: reason``).
"""

from __future__ import annotations

import errno
import sqlite3
from typing import NamedTuple


class MoodtaggerError(Exception):
    """An expected problem the user can act on; the message is one sentence."""


class FileError(NamedTuple):
    """One file's problem in a batch (scan, predict, import, a scope of PATHs): data, not an
    exception; shown as ``error: PATH: reason``, the batch goes on."""

    path: str
    reason: str


class UserError(MoodtaggerError):
    """A request that cannot be carried out as given (printed as one sentence, exit status 2)."""


EXPECTED_ERRORS: tuple[type[BaseException], ...] = (MoodtaggerError, OSError, sqlite3.Error)
"""The one list of expected errors: the CLI's ``main`` and the GUI's crash reporter use it."""

_ERRNO_WORDS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENAMETOOLONG: "file name too long",
    errno.EIO: "input/output error on the device",
}


def is_expected(exc: BaseException) -> bool:
    """True for an error whose message is for the user; False for a bug."""
    return isinstance(exc, EXPECTED_ERRORS)


def os_error_words(exc: OSError) -> str:
    """A few plain words for an operating-system error (no errno number, no path)."""
    return _ERRNO_WORDS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()


def describe(exc: BaseException) -> str:
    """The one sentence shown for an expected error (``str`` for our own, plain words with the
    file name for the operating system's)."""
    if isinstance(exc, MoodtaggerError):
        return str(exc)
    if isinstance(exc, OSError):
        words = os_error_words(exc)
        return f"{exc.filename}: {words}" if exc.filename else words
    return str(exc) or type(exc).__name__
