"""The capture date: the one rule both front ends sort and filter by (issue 26).

A photo's date is when it was taken, in the camera's local time (no time zone: a photo taken
at 23:30 in Tokyo is on that day wherever the library is opened). The scanner stores it in
``photos.taken_at`` (ISO 8601, ``YYYY-MM-DDTHH:MM:SS``) with where it came from in
``photos.taken_from``:

* ``exif``: EXIF DateTimeOriginal (else DateTimeDigitized), the RAW's own for RAW files;
* ``xmp``: the XMP packet's exif:DateTimeOriginal, xmp:CreateDate or photoshop:DateCreated;
* ``file``: no date in the file: its modification time when the scan first saw it, in this
  computer's local time. It is stored once and kept: a later write (which changes the file
  time) or rescan never moves the photo; a real capture date found later replaces it.

Here the stored dates become numbers (seconds of the local wall-clock time counted from
1970-01-01T00:00:00, no time zone) that :mod:`moodtagger.core.rows` sorts and filters, and
``YYYY-MM-DD`` day bounds are parsed (``list --from/--to``, the app's date filter).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Sequence

import numpy as np

SOURCES = ("exif", "xmp", "file")
DAY = 86_400


def first_seen(mtime_ns: int | None) -> str | None:
    """The fallback date of a file without one: its modification time as local wall-clock
    time, ISO 8601 (what ``taken_at`` stores with ``taken_from='file'``)."""
    if mtime_ns is None:
        return None
    try:
        return _dt.datetime.fromtimestamp(mtime_ns / 1e9).replace(microsecond=0).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def capture_seconds(
    taken_at: Sequence[str | None], mtime_ns: Sequence[int] | np.ndarray
) -> np.ndarray:
    """Per photo its capture date as local wall-clock seconds (float64): ``taken_at`` where
    stored, else (a photo the scanner has not dated yet) its file time as local time."""
    try:  # None -> NaT
        arr = np.array([t if t else None for t in taken_at], dtype="datetime64[s]")
    except ValueError:  # a value that is not ISO (another tool's catalog edit): undated
        arr = np.array([_iso_or_none(t) for t in taken_at], dtype="datetime64[s]")
    out = arr.astype(np.int64).astype(np.float64)
    nat = np.isnat(arr)
    if nat.any():
        out[nat] = [
            _local_seconds(m / 1e9) for m in np.asarray(mtime_ns, dtype=np.int64)[nat].tolist()
        ]
    return out


def _iso_or_none(text: str | None) -> np.datetime64 | None:
    try:
        return np.datetime64(text, "s") if text else None
    except ValueError:
        return None


def _local_seconds(epoch: float) -> float:
    """An instant (seconds since the epoch) as local wall-clock seconds."""
    t = time.localtime(epoch)
    return float((_dt.datetime(*t[:6]) - _dt.datetime(1970, 1, 1)).total_seconds() + epoch % 1)


def parse_day(text: str) -> _dt.date:
    """``YYYY-MM-DD`` as a date; ValueError with a sentence for anything else."""
    try:
        if len(text.strip()) != 10:
            raise ValueError
        return _dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date; give it as YYYY-MM-DD") from None


def day_start(day: _dt.date) -> float:
    """Local wall-clock seconds of the day's first second."""
    return float((day - _dt.date(1970, 1, 1)).days * DAY)


def in_days(
    seconds: np.ndarray, first: _dt.date | None = None, last: _dt.date | None = None
) -> np.ndarray:
    """Which capture dates (:func:`capture_seconds`) fall on ``first`` .. ``last`` (inclusive
    days, either may be None: open)."""
    mask = np.ones(len(seconds), bool)
    if first is not None:
        mask &= seconds >= day_start(first)
    if last is not None:
        mask &= seconds < day_start(last) + DAY
    return mask


def check_range(first: _dt.date | None, last: _dt.date | None) -> None:
    """ValueError with a sentence when the range is empty by construction."""
    if first is not None and last is not None and first > last:
        raise ValueError(f"--from {first} is after --to {last}; no photo can match")


def shown(taken_at: str | None, taken_from: str | None) -> str:
    """The date as the detail panel shows it: "2021-06-15 23:30" (camera), with
    "(file time, first seen)" when the file has no date of its own."""
    if not taken_at:
        return "unknown"
    text = taken_at.replace("T", " ")[:16]
    return f"{text} (file time, first seen)" if taken_from == "file" else text
