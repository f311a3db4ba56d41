"""Catalog-level prediction: predict every photo that has no prediction by the current model.

Used by ``moodtagger scan`` and by the GUI's inference worker (which owns its MoodModel).
:class:`InputStream` predicts from inputs the scan decoded already (``Library.refresh``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np

from moodtagger.core.catalog import Catalog, Prediction, ProgressFn
from moodtagger.core.errors import FileError
from moodtagger.core.model import personal, registry
from moodtagger.core.model.engine import MoodModel

if TYPE_CHECKING:
    from moodtagger.core.metadata.exiftool import ExifToolService


@dataclass
class PredictSummary:
    model_id: str
    predicted: int = 0
    failed: int = 0
    errors: list[FileError] = field(default_factory=list)
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
    exiftool: ExifToolService | None = None,
    ids: Sequence[int] | None = None,
) -> PredictSummary:
    """Predict new/changed photos (and all of them again when the model id changes); with
    ``ids``, only among those photos (a folder watcher's few files).

    ``on_batch(list[(photo_id, Prediction)])`` is called after each batch is stored (the GUI
    uses it to refresh just those rows). ``exiftool`` reads RAW previews (the Library's).
    """
    t0 = time.perf_counter()
    model_id = model.model_id if model is not None else registry.entry().id
    todo = catalog.predictions.photos_needing(model_id, ids)
    summary = PredictSummary(model_id)
    if progress:
        progress(0, len(todo))
    if not todo:  # nothing new: don't pay for loading the model
        if ids is None or len(ids):
            _refresh_personal(catalog, model_id, None if ids is None else list(ids))
        return summary
    if model is None:
        model = MoodModel(model_id, device=device)
    for results in model.predict_paths(
        [(p.id, p.path) for p in todo],
        batch_size=batch_size,
        progress=progress,
        cancel=cancel,
        exiftool=exiftool,
    ):
        good = [(r.key, r.prediction, r.embedding) for r in results if r.prediction is not None]
        bad = [(r.key, r.path, r.error) for r in results if r.prediction is None]
        _save(catalog, model.model_id, good)  # type: ignore[arg-type]
        if bad:
            catalog.photos.mark_unreadable((cast(int, key), err) for key, _, err in bad)
        summary.predicted += len(good)
        summary.failed += len(bad)
        summary.errors.extend(FileError(path, err or "unknown error") for _, path, err in bad)
        if on_batch is not None and good:
            on_batch([(key, pred) for key, pred, _ in good])
    summary.cancelled = bool(cancel is not None and cancel.is_set())
    _refresh_personal(catalog, model_id)
    summary.seconds = time.perf_counter() - t0
    return summary


def _save(
    catalog: Catalog, model_id: str, good: list[tuple[int, Prediction, np.ndarray | None]]
) -> None:
    """Store one batch: predictions, the backbone's pooled feature computed in the same pass
    (issue 14; an engine without it stores none), and the personal model's predictions of
    those photos (``moodtagger learn``), so a front end shows the suggestions that count as
    each batch lands. All in one transaction (issue 24)."""
    if not good:
        return
    with catalog.transaction():  # one commit: a kill never leaves the batch half-predicted
        catalog.predictions.save(model_id, [(key, pred) for key, pred, _ in good])
        embs = [(key, e) for key, _, e in good if e is not None]
        if embs:
            catalog.embeddings.save(model_id, embs)
        _refresh_personal(catalog, model_id, [key for key, _, _ in good])


class InputStream:
    """Predicts photos from model inputs decoded elsewhere: the scan's own decode (issue 13,
    decode once). ``feed`` takes ``(photo_id, uint8 input)`` pairs as the scan commits them,
    keeps only the photos with no current prediction, and runs the model each ``batch_size``;
    ``finish`` predicts the rest. The model is loaded (``load()``) only once something needs it;
    if it cannot be, ``error`` says why and the inputs are dropped (the scan goes on).

    Owned by the thread that runs the scan; holds at most one batch of inputs."""

    def __init__(
        self,
        catalog: Catalog,
        model_id: str,
        load: Callable[[], MoodModel],
        *,
        batch_size: int = registry.BATCH_SIZE,
        on_batch: Callable[[list[tuple[int, Prediction]]], None] | None = None,
    ):
        self.catalog, self.model_id, self._load = catalog, model_id, load
        self.preprocess = registry.entry(model_id).preprocess
        self.batch_size = max(1, batch_size)
        self.on_batch = on_batch
        self.model: MoodModel | None = None
        self.error: str | None = None
        self.summary = PredictSummary(model_id)
        self._keys: list[int] = []
        self._arrays: list[np.ndarray] = []

    def feed(self, items: list[tuple[int, np.ndarray]]) -> None:
        if self.error is not None or not items:
            return
        t0 = time.perf_counter()
        by_id = dict(items)
        for photo in self.catalog.predictions.photos_needing(self.model_id, list(by_id)):
            self._keys.append(photo.id)
            self._arrays.append(by_id[photo.id])
        while len(self._keys) >= self.batch_size:
            self._run(self.batch_size)
        self.summary.seconds += time.perf_counter() - t0

    def finish(self) -> PredictSummary:
        t0 = time.perf_counter()
        while self._keys and self.error is None:
            self._run(self.batch_size)
        self._keys, self._arrays = [], []
        self.summary.seconds += time.perf_counter() - t0
        return self.summary

    def _run(self, n: int) -> None:
        keys, arrays = self._keys[:n], self._arrays[:n]
        del self._keys[:n], self._arrays[:n]
        if self.model is None:
            try:
                self.model = self._load()
            except registry.ModelError as exc:
                self.error = str(exc)
                self._keys, self._arrays = [], []
                return
        preds, embs = self.model.predict_arrays_with_embeddings(np.stack(arrays))
        good = list(zip(keys, preds, embs, strict=True))
        _save(self.catalog, self.model.model_id, good)
        self.summary.predicted += len(good)
        if self.on_batch is not None:
            self.on_batch([(key, pred) for key, pred, _ in good])


def _refresh_personal(catalog: Catalog, model_id: str, photo_ids: list[int] | None = None) -> None:
    """A personal model learnt on top of ``model_id`` (``moodtagger learn``) predicts the photos
    just predicted (``photo_ids``; None: every photo it has not predicted yet), from their
    stored embeddings (no decoding)."""
    personal.refresh(catalog, model_id, photo_ids)
