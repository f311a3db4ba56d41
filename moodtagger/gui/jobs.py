"""The one way the GUI runs background work (Picard's ``run_task`` / Anki's ``QueryOp`` idea).

``runner.submit(fn, on_done=..., on_progress=..., on_batch=...)`` runs ``fn(job)`` on the
runner's thread pool. ``fn`` reports through the :class:`Job` it receives:

* ``job.progress(done, total)`` (throttled to ~20 per second) -> ``on_progress(done, total)``
* ``job.emit_batch(obj)`` (partial results, e.g. a batch of predictions) -> ``on_batch(obj)``
* ``job.cancel`` is a ``threading.Event``; long loops check it (the core functions take it)

When ``fn`` returns, ``on_done(result, error)`` runs on the GUI thread; ``error`` is ``None`` or
the exception, with its formatted traceback in ``error.traceback_text``. Every callback is
delivered through a queued signal, so it always runs on the GUI thread.

A :class:`JobRunner` is a *lane*: its pool has a fixed number of threads that never expire, so
a resource created inside a one-thread lane (the mood model, an exiftool process) stays owned
by that one thread. ``shutdown()`` cancels and joins everything; after it no callback runs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

_RUNNERS: weakref.WeakSet[JobRunner] = weakref.WeakSet()


def live_runners() -> list[JobRunner]:
    """Runners not shut down yet (the test harness asserts there are none after a test)."""
    return [r for r in list(_RUNNERS) if not r.is_shut_down]


class _Relay(QObject):
    """Lives on the GUI thread; the worker emits its signals, its slots (queued) run the
    callbacks on the GUI thread. Bound-method slots of a GUI-thread QObject make the queued
    delivery explicit (a bare lambda slot may run in the emitting thread)."""

    progress = Signal(int, int)
    batch = Signal(object)
    finished = Signal(object, object)  # result, error

    def __init__(self) -> None:
        super().__init__()
        self.on_progress: Callable[[int, int], None] | None = None
        self.on_batch: Callable[[Any], None] | None = None
        self.on_finished: Callable[[Any, Any], None] | None = None
        self.progress.connect(self._progress)
        self.batch.connect(self._batch)
        self.finished.connect(self._finished)

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)

    @Slot(object)
    def _batch(self, obj: object) -> None:
        if self.on_batch is not None:
            self.on_batch(obj)

    @Slot(object, object)
    def _finished(self, result: object, error: object) -> None:
        if self.on_finished is not None:
            self.on_finished(result, error)


class Job(QRunnable):
    """One unit of background work. Created on the GUI thread, run on a pool thread."""

    PROGRESS_INTERVAL = 0.05

    def __init__(self, fn: Callable[[Job], Any], label: str, nice: int = 0):
        super().__init__()
        self.setAutoDelete(False)  # Python keeps the reference (JobRunner._jobs)
        self.fn = fn
        self.label = label
        self.nice = nice
        self.cancel = threading.Event()
        self.signals = _Relay()
        self._last_progress = 0.0
        self.done = False

    # -- called from the worker ---------------------------------------------------------------
    def progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last_progress >= self.PROGRESS_INTERVAL:
            self._last_progress = now
            self.signals.progress.emit(int(done), int(total))

    def emit_batch(self, obj: object) -> None:
        self.signals.batch.emit(obj)

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def run(self) -> None:  # QRunnable API, on the pool thread
        if self.nice:
            _lower_priority(self.nice)
        result: object = None
        error: BaseException | None = None
        try:
            if not self.cancel.is_set():
                result = self.fn(self)
        except BaseException as exc:  # delivered to on_done; never lost in a worker thread
            exc.traceback_text = traceback.format_exc()  # type: ignore[attr-defined]
            error = exc
        self.signals.finished.emit(result, error)


def _lower_priority(nice: int) -> None:
    """Lower this worker thread's CPU priority (Linux: threads are tasks with their own nice
    value; threads it starts inherit it). Keeps the GUI thread snappy on few cores."""
    if not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError:
        pass


class JobRunner(QObject):
    """A lane of background jobs: ``threads`` pool threads that live as long as the runner."""

    busyChanged = Signal(bool)

    def __init__(
        self, name: str, threads: int = 1, *, nice: int = 0, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.name = name
        self.nice = nice
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self.pool.setExpiryTimeout(-1)  # same thread(s) for the runner's life: one owner
        self._jobs: set[Job] = set()
        self.is_shut_down = False
        _RUNNERS.add(self)

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def submit(
        self,
        fn: Callable[[Job], Any],
        *,
        on_done: Callable[[Any, BaseException | None], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        on_batch: Callable[[Any], None] | None = None,
        label: str = "",
    ) -> Job:
        if self.is_shut_down:
            raise RuntimeError(f"job runner {self.name!r} is shut down")
        job = Job(fn, label or getattr(fn, "__name__", "job"), self.nice)
        if on_progress is not None:
            job.signals.on_progress = lambda d, t: self._deliver(job, on_progress, d, t)
        if on_batch is not None:
            job.signals.on_batch = lambda obj: self._deliver(job, on_batch, obj)
        job.signals.on_finished = lambda r, e: self._finished(job, on_done, r, e)
        was_busy = self.busy
        self._jobs.add(job)
        self.pool.start(job)
        if not was_busy:
            self.busyChanged.emit(True)
        return job

    def _deliver(self, job: Job, callback: Callable[..., None], *args: object) -> None:
        if not self.is_shut_down and job in self._jobs:
            callback(*args)

    def _finished(self, job: Job, on_done, result: object, error: BaseException | None) -> None:
        job.done = True
        if job not in self._jobs:
            return
        self._jobs.discard(job)
        if error is not None:
            log.error("job %s failed:\n%s", job.label, getattr(error, "traceback_text", error))
        if not self.is_shut_down:
            try:
                if on_done is not None:
                    on_done(result, error)
            finally:
                if not self._jobs:
                    self.busyChanged.emit(False)

    def cancel_all(self) -> None:
        for job in list(self._jobs):
            job.cancel.set()  # a job not started yet returns at once when it starts

    def shutdown(self) -> None:
        """Cancel every job, wait for the threads to finish, drop pending callbacks."""
        if self.is_shut_down:
            return
        self.is_shut_down = True
        self.cancel_all()
        self.pool.waitForDone()
        self._jobs.clear()
