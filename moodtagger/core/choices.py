"""Turning the model's suggestions into the user's choices."""

from __future__ import annotations

from collections.abc import Iterable

from moodtagger.core.catalog import Catalog


def accept_suggestions(
    catalog: Catalog, model_id: str, min_p: float = 0.5, *, photo_ids: Iterable[int] | None = None
) -> list[tuple[int, str, float]]:
    """Make the top prediction the chosen mood where it is at least ``min_p``.

    Photos the user already chose for are left alone. Returns (photo_id, mood, probability)
    for each new choice (state 'pending': still to be written into the file).
    """
    wanted = set(photo_ids) if photo_ids is not None else None
    accepted: list[tuple[int, str, float]] = []
    rows = list(catalog.iter_with_predictions(model_id, status=("ok",)))
    with catalog.transaction():
        for photo, pred in rows:
            if pred is None or (wanted is not None and photo.id not in wanted):
                continue
            mood, p = pred.top
            if p < min_p or catalog.choice(photo.id) is not None:
                continue
            catalog.set_choice(photo.id, [mood], source="model")
            accepted.append((photo.id, mood, p))
    return accepted
