"""The catalog's row types and the rules every table family shares: how paths are stored
(bytes), a photo row's columns, what a *current* prediction is and a photo's one state."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from moodtagger.core.moods import MOODS
from moodtagger.core.states import NAMES, photo_state  # noqa: F401  (photo_state: re-exported)

PROB_COLUMNS = tuple(f"p_{m}" for m in MOODS)


def fs(path: str | os.PathLike[str] | bytes) -> bytes:
    """A path as the bytes stored in the catalog."""
    return os.fsencode(path)


def covers(folder: bytes, path: bytes) -> bool:
    """Whether ``path`` is ``folder`` or lies anywhere below it (stored bytes paths)."""
    folder = folder.rstrip(b"/")
    return path.rstrip(b"/") == folder or path.startswith(folder + b"/")


def outermost(folders: Sequence[bytes]) -> list[bytes]:
    """``folders`` without those inside another of them (and without repeats), in order: the
    one rule that a folder inside a library folder is part of it, not a folder of its own."""
    out: list[bytes] = []
    for f in folders:
        if not any(covers(o, f) for o in out):
            out = [o for o in out if not covers(f, o)] + [f]
    return sorted(out, key=folders.index)


def unfs(raw: bytes) -> str:
    """Stored bytes back to a str path (surrogateescape keeps non-UTF-8 names round-trippable)."""
    return os.fsdecode(raw)


@dataclass(frozen=True)
class PhotoRow:
    id: int
    path: str
    size: int | None
    mtime_ns: int | None
    identity: str | None
    width: int | None
    height: int | None
    orientation: int | None
    format: str | None
    status: str  # 'new' | 'ok' | 'error' | 'missing'
    error: str | None
    taken_at: str | None = None  # the capture date, ISO 8601 camera local time (core/dates.py)
    ctime_ns: int | None = None  # the inode change time as scanned (None: an older catalog)
    taken_from: str | None = None  # "exif" | "xmp" | "file" (the file time first seen)


class KnownPhoto(NamedTuple):
    """What a scan needs of a photo the catalog knows (:meth:`PhotoStore.known_under
    <moodtagger.core.catalog.photos.PhotoStore.known_under>`)."""

    path: bytes
    id: int
    size: int | None
    mtime_ns: int | None
    status: str
    error: str | None
    sidecar_sig: str | None
    ctime_ns: int | None


@dataclass
class ScannedFile:
    """What the scanner learned about one file (by decoding it), to be stored in ``photos``."""

    path: bytes
    size: int
    mtime_ns: int
    identity: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    format: str | None = None
    error: str | None = None
    sidecar_sig: str | None = None
    taken_at: str | None = None
    ctime_ns: int | None = None
    taken_from: str | None = None  # "exif" | "xmp" (None: the file has no date of its own)


# How storing a scanned file changed the catalog (:meth:`PhotoStore.store_scanned`).
NEW, MOVED, FOUND_AGAIN, METADATA_CHANGED, CHANGED = (
    "new",
    "moved",
    "found_again",
    "metadata_changed",
    "changed",
)


@dataclass(frozen=True)
class Prediction:
    probs: tuple[float, ...]  # in MOODS order, sums to 1
    valence: float | None = None
    arousal: float | None = None

    @property
    def top(self) -> tuple[str, float]:
        i = max(range(len(self.probs)), key=self.probs.__getitem__)
        return MOODS[i], self.probs[i]


# The one rule for "current prediction" (issue 11 item 5): a prediction by the model in use,
# made for the pixels the photo has now (its image-data fingerprint). Everything that shows,
# exports, accepts or decides what to predict joins predictions with this condition
# (``r`` = predictions, ``p`` = photos, one parameter: the model id).
CURRENT_PREDICTION = "r.photo_id=p.id AND r.model_id=? AND r.identity IS p.identity"


def prediction_join(model_id: str | None) -> tuple[str, list[object]]:
    """The join condition for a photo's current prediction: CURRENT_PREDICTION for
    ``model_id``, or (None: no model installed) the newest current one by any model."""
    if model_id:
        return CURRENT_PREDICTION, [model_id]
    return (
        "r.photo_id=p.id AND r.identity IS p.identity AND r.created_at=(SELECT "
        "MAX(created_at) FROM predictions q WHERE q.photo_id=p.id AND q.identity IS p.identity)"
    ), []


STATES = NAMES  # the photo states, one vocabulary (core/states.py)


# A photo row's columns, in :class:`PhotoRow` order (``P_PHOTO_COLS``: prefixed ``p.``).
PHOTO_COLS = (
    "id, path, size, mtime_ns, identity, width, height, orientation, format, status, error, "
    "taken_at, ctime_ns, taken_from"
)
P_PHOTO_COLS = ", ".join("p." + c for c in PHOTO_COLS.split(", "))
N_PHOTO_COLS = len(PHOTO_COLS.split(", "))


def photo_row(row: Sequence) -> PhotoRow:
    return PhotoRow(row[0], unfs(row[1]), *row[2:])


ProgressFn = Callable[[int, int], None]
"""progress(done, total) callback used by long core operations."""
