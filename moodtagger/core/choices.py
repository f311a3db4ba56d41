"""Turning the model's suggestions into the user's choices (one rule for the CLI and the GUI)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from moodtagger.core.catalog import Catalog, Prediction


@dataclass
class AcceptResult:
    accepted: list[tuple[int, str, float]] = field(default_factory=list)  # photo id, mood, p
    stale: list[str] = field(default_factory=list)  # paths changed on disk since the last scan


def suggested_mood(
    pred: Prediction | None,
    chosen: Sequence[str] | None,
    min_p: float = 0.0,
    *,
    replace: bool = False,
) -> tuple[str, float] | None:
    """The one accept rule: the top suggestion ``(mood, p)`` to make the choice, or None.

    None without a prediction, below ``min_p``, or when the user has chosen already (a choice
    is replaced only with ``replace``: the GUI's Enter on a selection)."""
    if pred is None or (chosen is not None and not replace):
        return None
    mood, p = pred.top
    return (mood, p) if p >= min_p else None


def accept(
    catalog: Catalog, model_id: str, min_p: float = 0.5, *, photo_ids: Iterable[int] | None = None
) -> AcceptResult:
    """Make the top *current* prediction the chosen mood where it is at least ``min_p``.

    Photos the user already chose for are left alone; each new choice is 'pending' (still to
    be written into the file) and is reported in ``accepted`` as (photo_id, mood, probability).

    A prediction is used only if it is current (``CURRENT_PREDICTION``: made by this model for
    the photo's present image data) and the file still has the size and date the catalog
    knows; a file changed since the last scan is skipped (reported in ``stale``), never
    accepted on the previous picture's prediction.
    """
    out = AcceptResult()
    ids = None if photo_ids is None else list(photo_ids)
    if ids is not None and not ids:
        return out
    rows = list(catalog.iter_library(model_id, status=("ok",), photo_ids=ids))
    with catalog.writer_lock(), catalog.transaction():
        for photo, pred, chosen, _state in rows:
            suggestion = suggested_mood(pred, chosen, min_p)
            if suggestion is None:
                continue
            mood, p = suggestion
            try:
                st = os.stat(photo.path)
            except OSError:
                out.stale.append(photo.path)
                continue
            if st.st_size != photo.size or st.st_mtime_ns != photo.mtime_ns:
                out.stale.append(photo.path)
                continue
            if catalog.choice(photo.id) is not None:  # chosen meanwhile (another process)
                continue
            catalog.set_choice(photo.id, [mood], source="model")
            out.accepted.append((photo.id, mood, p))
    return out


def choose(
    catalog: Catalog, photo_ids: Iterable[int], moods: Iterable[str], *, source: str = "user"
) -> int:
    """The user chooses ``moods`` (empty: no mood) for ``photo_ids``: what a number key does in
    the app, for the CLI's `moodtagger choose`. Stored as a pending choice (source 'user');
    nothing is written to the files. Returns how many photos."""
    from moodtagger.core.moods import MOODS

    chosen = [m for m in MOODS if m in set(moods)]
    ids = list(dict.fromkeys(int(i) for i in photo_ids))
    with catalog.writer_lock(), catalog.transaction():
        for pid in ids:
            catalog.set_choice(pid, chosen, source=source, state="pending")
    return len(ids)
