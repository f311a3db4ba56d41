"""Why this mood, in the GUI: the heat map job (the overlay on the detail preview is drawn by
:mod:`moodtagger.gui.views.heatmap`).

The maps come from :mod:`moodtagger.core.model.why` (``why.load``: the model's ONNX export,
no torch; torch Grad-CAM only for a model whose export lacks the map's outputs), loaded on the
``why`` lane's one thread the first time the user asks. A request for another photo replaces a
waiting one; the last few results are kept, so flipping between moods or photos is instant.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from moodtagger.gui.jobs import Job, JobRunner

if TYPE_CHECKING:
    from moodtagger.core.model.why import CamModel, WhyModel, WhyResult

log = logging.getLogger(__name__)


class WhyOwner:
    """Holds the loaded heat-map network; only the why lane's thread calls :meth:`get`."""

    def __init__(self) -> None:
        self._model: CamModel | WhyModel | None = None

    def get(self, model_id: str | None) -> CamModel | WhyModel:
        if self._model is None or (model_id and self._model.model_id != model_id):
            from moodtagger.core.model import why
            from moodtagger.gui.controllers.pipeline import gc_paused

            self._model = None
            with gc_paused():
                self._model = why.load(model_id, flip=False)
        return self._model

    def drop(self) -> None:
        self._model = None


class WhyService(QObject):
    """Computes heat maps on a one-thread lane; emits ``ready(photo_id, WhyResult)`` or
    ``failed(photo_id, message)``."""

    ready = Signal(int, object)
    failed = Signal(int, str)

    CACHE = 24

    def __init__(self, runner: JobRunner, model_id_fn, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self.model_id_fn = model_id_fn
        self.owner = WhyOwner()
        self._cache: OrderedDict[int, WhyResult] = OrderedDict()
        self._job: Job | None = None
        self._waiting: tuple[int, str] | None = None
        self._running: int | None = None
        self.last_seconds: float | None = None

    @property
    def idle(self) -> bool:
        return self._job is None and self._waiting is None

    def cached(self, photo_id: int) -> WhyResult | None:
        r = self._cache.get(photo_id)
        if r is not None:
            self._cache.move_to_end(photo_id)
        return r

    def forget(self, photo_id: int) -> None:
        self._cache.pop(photo_id, None)

    def request(self, photo_id: int, path: str) -> None:
        hit = self.cached(photo_id)
        if hit is not None:
            self.ready.emit(photo_id, hit)
            return
        if self._running == photo_id:
            return
        self._waiting = (photo_id, path)
        self._start()

    def _start(self) -> None:
        if self._job is not None or self._waiting is None or self.runner.is_shut_down:
            return
        pid, path = self._waiting
        self._waiting = None
        self._running = pid
        model_id = self.model_id_fn()
        owner = self.owner

        def work(job: Job):
            return owner.get(model_id).explain(path)

        self._job = self.runner.submit(
            work, on_done=lambda r, e: self._done(pid, r, e), label="why-map"
        )

    def _done(self, pid: int, result, error) -> None:
        self._job = None
        self._running = None
        if error is not None:
            log.warning("why-map for photo %s failed: %s", pid, error)
            self.failed.emit(pid, str(error))
        else:
            self.last_seconds = result.seconds
            self._cache[pid] = result
            while len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
            self.ready.emit(pid, result)
        self._start()
