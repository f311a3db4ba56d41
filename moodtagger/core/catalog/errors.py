"""The catalog's one error type and the sentence a user gets for an SQLite error."""

from __future__ import annotations

import os

from moodtagger.core.errors import MoodtaggerError


class CatalogError(MoodtaggerError):
    """The catalog cannot be opened, written or is newer than this program (one sentence)."""


def describe_db_error(path: str | os.PathLike[str], exc: BaseException) -> str:
    """One sentence a user can act on for an SQLite error on the catalog at ``path``."""
    msg = str(exc).lower()
    if "disk is full" in msg or "no space" in msg:
        return (
            f"the disk holding the catalog {path} is full; free some space and run the "
            "command again (nothing was half-written)"
        )
    if "readonly" in msg or "read-only" in msg:
        return f"the catalog {path} is read-only; make it writable or use another --catalog"
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return (
            f"the catalog {path} is damaged ({exc}); move it away and run `moodtagger scan` "
            "again (your photos and the keywords in them are safe)"
        )
    if "locked" in msg or "busy" in msg:
        return f"the catalog {path} is busy in another process; try again when it has finished"
    if "unable to open" in msg:
        return f"cannot open the catalog {path}: check that its folder exists and is writable"
    return f"cannot use the catalog {path}: {exc}"
