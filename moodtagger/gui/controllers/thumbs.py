"""Background image loading for the grid (thumbnails) and the detail panel (previews).

Requests come from the model's ``ThumbnailRole`` (only for rows the view paints). The newest
request is served first (what the user scrolled to), the queue is bounded (rows scrolled past
are dropped and asked for again when they come back), and results arrive in small batches as
``QImage`` (safe to build off the GUI thread; ``QPixmap`` is not).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from PIL import Image
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage

from moodtagger.core import imaging
from moodtagger.core.metadata.exiftool import ExifToolService
from moodtagger.gui.jobs import Job, JobRunner

MAX_QUEUE = 300
BATCH = 12


def pil_to_qimage(im: Image.Image) -> QImage:
    im = im.convert("RGB")
    data = im.tobytes()
    qimg = QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888)
    return qimg.copy()  # own the pixels (``data`` goes away)


def load_thumbnail(
    path: str, identity: str | None, box: QSize, exiftool: ExifToolService | None = None
) -> QImage:
    """The cached grid thumbnail, scaled to fit ``box`` (device pixels). Raises on bad files.
    ``exiftool`` (the Library's) reads RAW previews."""
    im = imaging.cached_thumbnail(path, identity, max(box.width(), box.height()), exiftool=exiftool)
    q = pil_to_qimage(im)
    if q.width() > box.width() or q.height() > box.height():
        q = q.scaled(
            box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    return q


def load_preview(path: str, long_side: int, exiftool: ExifToolService | None = None) -> QImage:
    info = imaging.open_image(path, min_side=long_side, exiftool=exiftool)
    return pil_to_qimage(imaging.thumbnail(info.image, long_side))


class ThumbnailLoader(QObject):
    """Serves thumbnail requests on a job runner; emits ``loaded({photo_id: QImage | None})``."""

    loaded = Signal(object)
    dropped = Signal(object)  # list of photo ids whose request was dropped (scrolled past)
    idleChanged = Signal(bool)

    def __init__(
        self,
        runner: JobRunner,
        box: QSize,
        parent: QObject | None = None,
        *,
        exiftool: Callable[[], ExifToolService | None] = lambda: None,
    ):
        super().__init__(parent)
        self.runner = runner
        self.box = box
        self.exiftool = exiftool  # the Library's exiftool (RAW previews)
        self._lock = threading.Lock()
        self._queue: deque[tuple[int, str, str | None]] = deque()
        self._queued: set[int] = set()
        self._job: Job | None = None

    @property
    def idle(self) -> bool:
        return self._job is None and not self._queue

    def set_box(self, box: QSize) -> None:
        self.box = box

    def request(self, photo_id: int, path: str, identity: str | None) -> None:
        if photo_id in self._queued or self.runner.is_shut_down:
            return
        with self._lock:
            self._queue.append((photo_id, path, identity))
            self._queued.add(photo_id)
            dropped = []
            while len(self._queue) > MAX_QUEUE:
                dropped.append(self._queue.popleft()[0])
        if dropped:
            for pid in dropped:
                self._queued.discard(pid)
            self.dropped.emit(dropped)  # asked for again when their rows are painted again
        self._start()

    def _start(self) -> None:
        if self._job is None and self._queue and not self.runner.is_shut_down:
            was_idle = True
            box = QSize(self.box)
            self._job = self.runner.submit(
                lambda job: self._work(job, box),
                on_batch=self._on_batch,
                on_done=self._on_done,
                label="thumbnails",
            )
            if was_idle:
                self.idleChanged.emit(False)

    def _work(self, job: Job, box: QSize) -> None:  # worker thread
        while not job.cancelled:
            with self._lock:
                items = [self._queue.pop() for _ in range(min(BATCH, len(self._queue)))]
            if not items:
                return
            out: dict[int, QImage | None] = {}
            exiftool = self.exiftool() if items else None
            for pid, path, identity in items:
                if job.cancelled:
                    break
                try:
                    out[pid] = load_thumbnail(path, identity, box, exiftool)
                except Exception:  # a per-file problem: the delegate shows "no preview"
                    out[pid] = None
            job.emit_batch(out)

    def _on_batch(self, images: dict[int, QImage | None]) -> None:
        for pid in images:
            self._queued.discard(pid)
        self.loaded.emit(images)

    def _on_done(self, _result: object, _error: BaseException | None) -> None:
        self._job = None
        if self._queue:
            self._start()
        else:
            self.idleChanged.emit(True)
