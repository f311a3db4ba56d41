"""Catalog-level prediction: predict every photo that has no prediction by the current model.

Used by ``moodtagger scan`` and by the GUI's inference worker (which owns its MoodModel).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from moodtagger.core.catalog import Catalog, ProgressFn
from moodtagger.core.model import registry

if TYPE_CHECKING:
    from moodtagger.core.model.engine import MoodModel


@dataclass
class PredictSummary:
    model_id: str
    predicted: int = 0
    failed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False


def predict_pending(
    catalog: Catalog,
    *,
    model: MoodModel | None = None,
    device: str = "auto",
    batch_size: int = registry.BATCH_SIZE,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    on_batch=None,
) -> PredictSummary:
    """Predict new/changed photos (and all of them again when the model id changes).

    ``on_batch(list[(photo_id, Prediction)])`` is called after each batch is stored (the GUI
    uses it to refresh just those rows).
    """
    t0 = time.perf_counter()
    model_id = model.model_id if model is not None else registry.entry().id
    todo = catalog.photos_needing_prediction(model_id)
    summary = PredictSummary(model_id)
    if progress:
        progress(0, len(todo))
    if not todo:  # nothing new: don't pay for loading the model
        _refresh_personal(catalog, model_id)
        return summary
    if model is None:
        from moodtagger.core.model.engine import MoodModel

        model = MoodModel(model_id, device=device)
    for results in model.predict_paths(
        [(p.id, p.path) for p in todo],
        batch_size=batch_size,
        progress=progress,
        cancel=cancel,
    ):
        good = [(r.key, r.prediction) for r in results if r.prediction is not None]
        bad = [(r.key, r.path, r.error) for r in results if r.prediction is None]
        if good:
            catalog.save_predictions(model.model_id, good)  # type: ignore[arg-type]
            # the backbone's pooled feature, computed in the same pass (issue 14); an engine
            # without it stores nothing
            embs = [
                (r.key, e)
                for r in results
                if r.prediction is not None and (e := getattr(r, "embedding", None)) is not None
            ]
            if embs:
                catalog.save_embeddings(model.model_id, embs)  # type: ignore[arg-type]
            # the personal model in use (`moodtagger learn`) follows batch by batch, so a front
            # end shows the suggestions that count as each batch lands
            _refresh_personal(catalog, model.model_id, [key for key, _ in good])  # type: ignore[misc]
        if bad:
            catalog.mark_unreadable((cast(int, key), err) for key, _, err in bad)
        summary.predicted += len(good)
        summary.failed += len(bad)
        summary.errors.extend((path, err or "unknown error") for _, path, err in bad)
        if on_batch is not None and good:
            on_batch(good)
    summary.cancelled = bool(cancel is not None and cancel.is_set())
    _refresh_personal(catalog, model_id)
    summary.seconds = time.perf_counter() - t0
    return summary


def _refresh_personal(catalog: Catalog, model_id: str, photo_ids: list[int] | None = None) -> None:
    """A personal model learnt on top of ``model_id`` (``moodtagger learn``) predicts the photos
    just predicted (``photo_ids``; None: every photo it has not predicted yet), from their
    stored embeddings (no decoding)."""
    from moodtagger.core.model import personal

    personal.refresh(catalog, model_id, photo_ids)
