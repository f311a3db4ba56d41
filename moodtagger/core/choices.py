"""Turning the model's suggestions into the user's choices (one rule for the CLI and the GUI)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from moodtagger.core.catalog import Catalog, PhotoRow, Prediction


@dataclass
class AcceptResult:
    accepted: list[tuple[int, str, float]] = field(default_factory=list)  # photo id, mood, p
    stale: list[str] = field(default_factory=list)  # paths changed on disk since the last scan
    unchosen: list[int] = field(default_factory=list)  # photos without a choice, not stale


def suggested_mood(
    pred: Prediction | None,
    chosen: Sequence[str] | None,
    min_p: float = 0.0,
    *,
    replace: bool = False,
) -> tuple[str, float] | None:
    """The one accept rule: the top suggestion ``(mood, p)`` to make the choice, or None.

    None without a prediction, below ``min_p``, or when the user has chosen already (a choice
    is replaced only with ``replace``: the GUI's Enter on a selection). A choice that is the
    top mood already is no change (None): Enter on a photo written with its top mood leaves it
    written, not "chosen" again with nothing new to write."""
    if pred is None or (chosen is not None and not replace):
        return None
    mood, p = pred.top
    if chosen is not None and list(chosen) == [mood]:
        return None
    return (mood, p) if p >= min_p else None


def file_changed(photo: PhotoRow) -> bool:
    """The file is gone or no longer has the size and date the catalog knows: it changed
    since the last scan, so its prediction may describe another picture."""
    try:
        st = os.stat(photo.path)
    except OSError:
        return True
    return st.st_size != photo.size or st.st_mtime_ns != photo.mtime_ns


def suggestions(
    catalog: Catalog,
    model_id: str,
    min_p: float = 0.0,
    *,
    photo_ids: Iterable[int] | None = None,
    replace: bool = False,
) -> AcceptResult:
    """What :func:`accept` would choose, without choosing: the top *current* prediction of
    each photo (only ``photo_ids`` if given) by :func:`suggested_mood`, files changed since the
    last scan in ``stale``. The GUI's Enter (``replace``: a choice is replaced) and its
    "accept all" make their undoable changes from it."""
    out = AcceptResult()
    ids = None if photo_ids is None else list(photo_ids)
    if ids is not None and not ids:
        return out
    for photo, pred, chosen, _state in catalog.views.library(
        model_id, status=("ok",), photo_ids=ids
    ):
        suggestion = suggested_mood(pred, chosen, min_p, replace=replace)
        if suggestion is None:
            if chosen is None and not file_changed(photo):
                out.unchosen.append(photo.id)
            continue
        if file_changed(photo):
            out.stale.append(photo.path)
            continue
        out.accepted.append((photo.id, *suggestion))
        out.unchosen.append(photo.id)
    return out


def custom_suggestions(
    catalog: Catalog, photo_ids: Sequence[int], min_p: float
) -> dict[int, list[tuple[str, float]]]:
    """The custom moods (issue 27: yes/no beside the eight) whose probability is at least
    ``min_p``, per photo of ``photo_ids`` that has any."""
    moods = catalog.moods.all()
    if not moods or not photo_ids:
        return {}
    probs = catalog.moods.scores(list(photo_ids), moods)
    out: dict[int, list[tuple[str, float]]] = {}
    for i, j in zip(*np.nonzero(np.nan_to_num(probs, nan=-1.0) >= min_p), strict=True):
        out.setdefault(int(photo_ids[i]), []).append((moods[j].name, float(probs[i, j])))
    return out


def accept(
    catalog: Catalog, model_id: str, min_p: float = 0.5, *, photo_ids: Iterable[int] | None = None
) -> AcceptResult:
    """Make the top *current* prediction the chosen mood where it is at least ``min_p``.

    Photos the user already chose for are left alone; each new choice is 'pending' (still to
    be written into the file) and is reported in ``accepted`` as (photo_id, mood, probability).
    Custom moods (issue 27) are accepted too, beside the top mood, where their own probability
    is at least ``min_p`` (one tuple each).

    A prediction is used only if it is current (``CURRENT_PREDICTION``: made by this model for
    the photo's present image data) and the file still has the size and date the catalog
    knows; a file changed since the last scan is skipped (reported in ``stale``), never
    accepted on the previous picture's prediction.
    """
    out = AcceptResult()
    with catalog.writer_lock():
        plan = suggestions(catalog, model_id, min_p, photo_ids=photo_ids)
        out.stale = plan.stale
        per_photo: dict[int, list[tuple[str, float]]] = {}
        for pid, mood, p in plan.accepted:
            per_photo.setdefault(pid, []).append((mood, p))
        for pid, found in custom_suggestions(catalog, plan.unchosen, min_p).items():
            per_photo.setdefault(pid, []).extend(found)
        with catalog.transaction():
            for pid, found in per_photo.items():
                if catalog.choices.get(pid) is not None:  # chosen meanwhile (another process)
                    continue
                catalog.choices.set(pid, [m for m, _p in found], source="model")
                out.accepted.extend((pid, m, p) for m, p in found)
    return out


class ChoiceValue(NamedTuple):
    """A photo's choice as the GUI shows and undoes it (equal to the plain tuple)."""

    moods: tuple[str, ...] | None  # None: the user never chose (not the same as no mood: ())
    state: str = "pending"  # pending | written | failed
    error: str | None = None


def restore(
    catalog: Catalog,
    values: Mapping[int, tuple[tuple[str, ...] | None, str, str | None]],
    sources: Mapping[int, str] | None = None,
) -> dict[int, ChoiceValue]:
    """Put choices back exactly (the GUI's edits, undo and redo), in one transaction; returns
    what was stored. ``moods=None``: the user never chose; ``sources``: whose choice each is
    ('user' by default; 'model': an accepted suggestion, which `learn` does not learn).

    A photo whose moods are written into its file keeps them there until the next write:
    changing its choice (an undo included) is a change still to be written, never a silent
    "forget" that would leave the catalog and the file disagreeing."""
    sources = sources or {}
    stored: dict[int, ChoiceValue] = {}
    with catalog.transaction():
        for pid, value in values.items():
            moods, state, error = ChoiceValue(*value)
            current = catalog.choices.get(pid)
            if current is not None and current.state == "written":
                if sorted(moods or ()) != sorted(current.moods):
                    moods, state, error = tuple(moods or ()), "pending", None
            if moods is None:
                catalog.choices.forget(pid)
            else:
                catalog.choices.set(pid, moods, source=sources.get(pid, "user"), state="pending")
                if state != "pending" or error:
                    catalog.choices.mark(pid, state, error)
            stored[pid] = ChoiceValue(moods, state, error)
    return stored


def choose(
    catalog: Catalog, photo_ids: Iterable[int], moods: Iterable[str], *, source: str = "user"
) -> int:
    """The user chooses ``moods`` (empty: no mood) for ``photo_ids``: what a number key does in
    the app, for the CLI's `moodtagger choose`. Stored as a pending choice (source 'user');
    nothing is written to the files. Returns how many photos."""
    from moodtagger.core.moods import ordered

    chosen = ordered(moods)
    ids = list(dict.fromkeys(int(i) for i in photo_ids))
    with catalog.writer_lock(), catalog.transaction():
        for pid in ids:
            catalog.choices.set(pid, chosen, source=source, state="pending")
    return len(ids)
