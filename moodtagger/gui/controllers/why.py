"""Why this mood, in the GUI: the heat map job and the overlay drawn on the detail preview.

The maps come from :mod:`moodtagger.core.model.why` (torch, imported only on the ``why``
lane's one thread, the first time the user asks). A request for another photo replaces a
waiting one; the last few results are kept, so flipping between moods or photos is instant.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QRectF, Signal
from PySide6.QtGui import QColor, QImage, QPainter

from moodtagger.gui.jobs import Job, JobRunner

if TYPE_CHECKING:
    from moodtagger.core.model.why import WhyModel, WhyResult

log = logging.getLogger(__name__)

# a perceptually ordered ramp (dark purple -> red -> yellow), alpha growing with the heat
_RAMP = np.array(
    [
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [252, 255, 164],
    ],
    dtype=np.float32,
)


def heat_image(heat: np.ndarray, max_alpha: int = 200) -> QImage:
    """A small ARGB image of ``heat`` ((h, w) in [0, 1]); cool regions stay see-through."""
    h = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    pos = h * (len(_RAMP) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_RAMP) - 1)
    hi = (lo + 1).clip(0, len(_RAMP) - 1)
    f = (pos - lo)[..., None]
    rgb = _RAMP[lo] * (1 - f) + _RAMP[hi] * f
    alpha = (np.clip((h - 0.1) / 0.9, 0, 1) ** 0.7) * max_alpha
    rgba = np.dstack([rgb, alpha]).astype(np.uint8)
    img = QImage(
        rgba.data, rgba.shape[1], rgba.shape[0], 4 * rgba.shape[1], QImage.Format.Format_RGBA8888
    )
    return img.copy()


def compose(base: QImage, heat: np.ndarray, crop: tuple[float, float, float, float]) -> QImage:
    """``base`` with the heat map over the part the model saw (``crop`` fractions); the rest of
    the photo is dimmed, so it is plain the model never looked there."""
    out = base.convertToFormat(QImage.Format.Format_RGB32)
    w, h = out.width(), out.height()
    rect = QRectF(crop[0] * w, crop[1] * h, crop[2] * w, crop[3] * h)
    p = QPainter(out)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    dim = QColor(0, 0, 0, 110)
    full = QRectF(0, 0, w, h)
    for r in (
        QRectF(0, 0, w, rect.top()),
        QRectF(0, rect.bottom(), w, h - rect.bottom()),
        QRectF(0, rect.top(), rect.left(), rect.height()),
        QRectF(rect.right(), rect.top(), w - rect.right(), rect.height()),
    ):
        r = r.intersected(full)
        if r.width() > 0 and r.height() > 0:
            p.fillRect(r, dim)
    p.drawImage(rect, heat_image(heat))
    p.end()
    return out


class WhyOwner:
    """Holds the loaded heat-map network; only the why lane's thread calls :meth:`get`."""

    def __init__(self) -> None:
        self._model: WhyModel | None = None

    def get(self, model_id: str | None) -> WhyModel:
        if self._model is None or (model_id and self._model.model_id != model_id):
            from moodtagger.core.model.why import WhyModel
            from moodtagger.gui.controllers.pipeline import gc_paused

            self._model = None
            with gc_paused():
                self._model = WhyModel(model_id, flip=False)
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
