""""More like this": the photos most similar to a selection, searched off the GUI thread.

The search is the core's (:meth:`moodtagger.core.library.Library.similar`, the rule behind
``moodtagger similar``). The embeddings it searches are loaded once into an
:class:`~moodtagger.core.embeddings.EmbeddingIndex` that lives in the ``similar`` lane's one
thread (its owner); :meth:`SimilarService.invalidate` (new predictions, a new catalog) makes the
next query load it again. A 100,000-photo index takes a few seconds to load and answers in
milliseconds, so neither step runs on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from moodtagger.core.catalog import Catalog
from moodtagger.core.embeddings import EmbeddingIndex, Similar
from moodtagger.core.library import Library, LibraryError
from moodtagger.gui.jobs import Job, JobRunner

DEFAULT_K = 60  # photos a "More like this" filter shows besides the selection


@dataclass(frozen=True)
class SimilarResult:
    query: tuple[int, ...]  # the selected photos
    hits: tuple[Similar, ...]  # the most similar first

    def scores(self) -> dict[int, float]:
        """photo id -> similarity, the selected photos first (1.0)."""
        out = {pid: 1.0 for pid in self.query}
        out.update((h.photo_id, h.similarity) for h in self.hits)
        return out


class _IndexOwner:
    """The loaded index; only the lane's thread touches it."""

    def __init__(self) -> None:
        self.index: EmbeddingIndex | None = None
        self.stale = True


class SimilarService(QObject):
    found = Signal(object)  # SimilarResult
    failed = Signal(str)  # one sentence for the status bar (no embeddings yet, ...)
    crashed = Signal(object)  # a bug (the exception, for the crash reporter)

    def __init__(self, runner: JobRunner, catalog_path: str, base_model_id, parent: QObject | None = None):
        """``base_model_id()``: the model whose embeddings to search (None: the installed one)."""
        super().__init__(parent)
        self.runner = runner
        self.catalog_path = catalog_path
        self.base_model_id = base_model_id
        self.owner = _IndexOwner()
        self._job: Job | None = None

    @property
    def idle(self) -> bool:
        return self._job is None

    def invalidate(self) -> None:
        """The catalog's embeddings changed: the next query reloads them."""
        self.owner.stale = True

    def request(self, ids: list[int], k: int = DEFAULT_K) -> None:
        if self._job is not None:
            self._job.cancel.set()  # superseded: its answer is dropped
        owner, path, model_id = self.owner, self.catalog_path, self.base_model_id()
        query = tuple(dict.fromkeys(int(i) for i in ids))

        def work(job: Job) -> SimilarResult:
            with Catalog(path) as cat:
                lib = Library(cat, model_id)
                if owner.stale or owner.index is None:
                    owner.index = None
                    owner.index = lib.embedding_index()
                    owner.stale = False
                return SimilarResult(query, tuple(lib.similar(list(query), k, index=owner.index)))

        def done(result: SimilarResult | None, error: BaseException | None) -> None:
            if self._job is not job:
                return
            self._job = None
            if isinstance(error, LibraryError):
                self.failed.emit(str(error))
            elif error is not None:
                self.crashed.emit(error)
            elif result is not None and not job.cancelled:
                self.found.emit(result)

        job = self._job = self.runner.submit(work, on_done=done, label="more like this")
