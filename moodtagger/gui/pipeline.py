"""The library lane's work: scan -> import keywords found in files -> predict moods.

Runs on one worker thread (see :class:`moodtagger.gui.jobs.JobRunner`) with its own catalog
connection. The mood model is loaded once, in that thread, and kept by :class:`ModelOwner` for
the next run. Results stream back as ``("rows", Rows)`` batches (new photos while scanning,
predictions batch by batch), ``("missing", ids)`` and ``("phase", text)``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from moodtagger.core.catalog import Catalog
from moodtagger.core.library import Library
from moodtagger.core.rows import Rows, load_rows, max_photo_id, missing_ids
from moodtagger.gui.jobs import Job

if TYPE_CHECKING:
    from moodtagger.core.model.engine import MoodModel
    from moodtagger.core.model.personal import LearnSummary
    from moodtagger.core.model.service import PredictSummary
    from moodtagger.core.scanner import ScanSummary

ROWS_INTERVAL = 0.3  # seconds between "new photos" batches while scanning


@contextmanager
def gc_paused() -> Iterator[None]:
    """Importing torch & co. creates ~a million objects; the garbage collector's full passes over
    them hold the GIL for 100-200 ms each, freezing the GUI thread. Pause it while loading, then
    ``gc.freeze()`` the loaded modules so later collections skip them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def warm_up(job: Job, model_id: str | None = None, device: str = "auto") -> None:
    """Import the inference stack on the library lane right after start-up, so no import (whose
    shared-library loading holds the GIL) happens later while the user works."""
    with gc_paused():
        import onnxruntime  # noqa: F401

        from moodtagger.core.model import engine

        if engine.needs_torch(model_id, device):  # first run (ONNX export) or a GPU
            import torch  # noqa: F401


class ModelOwner:
    """Holds the loaded mood model. Only the library lane's thread calls :meth:`get`."""

    def __init__(self) -> None:
        self._model: MoodModel | None = None
        self._key: tuple[str, str] | None = None

    def get(self, model_id: str, device: str) -> MoodModel:
        if self._model is None or self._key != (model_id, device):
            from moodtagger.core.model.engine import MoodModel

            self._model = None
            with gc_paused():
                self._model = MoodModel(model_id, device=device)
            self._key = (model_id, device)
        return self._model

    def drop(self) -> None:
        self._model = None
        self._key = None


@dataclass
class PipelineResult:
    scan: ScanSummary | None = None
    predict: PredictSummary | None = None
    imported: int = 0
    predict_error: str | None = None
    import_error: str | None = None
    cancelled: bool = False
    errors: list[tuple[str, str]] = field(default_factory=list)


def load_all(job: Job, catalog_path: str, model_id: str):
    """Every grid row, read on the library lane (the window stays responsive meanwhile)."""
    with Catalog(catalog_path) as cat:
        return load_rows(cat, model_id)


@dataclass
class LearnOutcome:
    summary: LearnSummary
    model_id: str | None  # the model whose suggestions count now (personal, or the shipped one)
    rows: Rows  # every grid row, with those suggestions


def learn(job: Job, catalog_path: str, base_model_id: str | None, *, reset: bool = False) -> LearnOutcome:
    """``moodtagger learn`` (``--reset``) on the library lane: the core's
    :meth:`~moodtagger.core.library.Library.learn`, then the rows it changed (all of them)."""
    with Catalog(catalog_path) as cat:
        lib = Library(cat, base_model_id)
        summary = lib.reset_learning() if reset else lib.learn(progress=job.progress)
        return LearnOutcome(summary, lib.model_id, lib.rows())


def run_pipeline(
    job: Job, catalog_path: str, roots: list[str], model_id: str, device: str, owner: ModelOwner,
    *, predict: bool = True, batch_size: int = 16,
) -> PipelineResult:
    from moodtagger.core.scanner import photos_by_ids, scan

    out = PipelineResult()
    t_start = time.time() - 1.0  # updated_at resolution and clock slack
    with Catalog(catalog_path) as cat:
        shown = Library(cat, model_id).model_id  # the personal model on top of model_id, if in use
        # -- scan: new photos show up in the grid every ROWS_INTERVAL --------------------------
        job.emit_batch(("phase", "Scanning"))
        start_max = last_id = max_photo_id(cat)  # photos added from here on are new to the grid
        last_emit = time.monotonic()

        def emit_new_rows() -> None:
            nonlocal last_id
            rows = load_rows(cat, shown, after_id=last_id)
            if len(rows):
                last_id = max(last_id, int(rows.ids.max()))
                job.emit_batch(("rows", rows))

        def scan_progress(done: int, total: int) -> None:
            nonlocal last_emit
            job.progress(done, total)
            now = time.monotonic()
            if now - last_emit >= ROWS_INTERVAL:
                last_emit = now
                emit_new_rows()

        summary = scan(cat, roots, progress=scan_progress, cancel=job.cancel) if roots else None
        out.scan = summary
        if summary is not None:
            out.errors.extend(summary.errors)
            if not summary.nothing_changed:
                emit_new_rows()  # the last new photos
                changed = load_rows(cat, shown, since=t_start, upto_id=start_max)  # known ones
                if len(changed):
                    job.emit_batch(("rows", changed))
                if summary.missing or summary.moved:
                    job.emit_batch(("missing", missing_ids(cat)))
        if job.cancelled:
            out.cancelled = True
            return out

        # -- keywords already in the files become choices ('written') ---------------------------
        if summary is not None and summary.updated_ids:
            try:
                from moodtagger.core.metadata import import_file_moods
            except ImportError:
                import_file_moods = None  # type: ignore[assignment]
            if import_file_moods is not None:
                job.emit_batch(("phase", "Reading keywords"))
                try:
                    out.imported = import_file_moods(cat, photos_by_ids(cat, summary.updated_ids),
                                                     progress=job.progress)
                except Exception as exc:  # exiftool missing/broken: moods still get predicted
                    from moodtagger.gui.errors import is_expected

                    if not is_expected(exc) and type(exc).__name__ != "ExifToolError":
                        raise
                    out.import_error = str(exc)
                if out.imported:
                    job.emit_batch(("rows", load_rows(cat, shown, ids=summary.updated_ids)))
        if job.cancelled or not predict:
            out.cancelled = job.cancelled
            return out

        # -- predict: the model is loaded once, in this thread -----------------------------------
        from moodtagger.core.model.registry import ModelError
        from moodtagger.core.model.service import predict_pending

        if not cat.photos_needing_prediction(model_id):
            return out
        job.emit_batch(("phase", "Loading the mood model"))
        try:
            model = owner.get(model_id, device)
        except ModelError as exc:
            out.predict_error = str(exc)
            return out
        job.emit_batch(("phase", "Predicting moods"))
        t_pred = time.time() - 1.0

        def on_batch(good) -> None:
            job.emit_batch(("rows", load_rows(cat, shown, ids=[pid for pid, _ in good])))

        pred = predict_pending(cat, model=model, batch_size=batch_size, progress=job.progress,
                               cancel=job.cancel, on_batch=on_batch)
        out.predict = pred
        out.errors.extend(pred.errors)
        if pred.failed:
            job.emit_batch(("rows", load_rows(cat, shown, since=t_pred)))
        out.cancelled = pred.cancelled
    return out
