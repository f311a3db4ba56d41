""" "More like this": the photos most similar to a selection, searched off the GUI thread.

The search is the core's (:meth:`moodtagger.core.library.Library.similar`, the rule behind
``moodtagger similar``). The embeddings it searches are loaded once into an
:class:`~moodtagger.core.embeddings.EmbeddingIndex` that lives in the ``similar`` lane's one
thread (its owner); :meth:`SimilarService.invalidate` (new predictions, a new catalog) makes the
next query load it again. A 100,000-photo index takes a few seconds to load and answers in
milliseconds, so neither step runs on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal

from moodtagger.core.catalog import Catalog
from moodtagger.core.embeddings import EmbeddingIndex, Similar
from moodtagger.core.library import Library, LibraryError
from moodtagger.gui.jobs import Job, JobRunner
from moodtagger.gui.models.photomodel import RANKING, PhotoModel
from moodtagger.gui.views.filterpanel import FilterPanel

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

    def __init__(
        self, runner: JobRunner, catalog_path: str, base_model_id, parent: QObject | None = None
    ):
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


class SimilarFilter(QObject):
    """ "More like this" as a filter of the grid: the selection and the photos most like it,
    most similar first (the filter panel's "only these photos", sorted by ``RANKING``);
    clearing it restores the sort the grid had before."""

    message = Signal(str)

    def __init__(
        self,
        service: SimilarService,
        model: PhotoModel,
        filters: FilterPanel,
        select_ids: Callable[[list[int]], None],
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.service = service
        self.model = model
        self.filters = filters
        self.select_ids = select_ids
        self.k = DEFAULT_K
        self.result: SimilarResult | None = None
        self._sort_before: tuple[str, bool] | None = None
        service.found.connect(self._found)
        service.failed.connect(self.message)

    def request(self, ids: list[int]) -> None:
        if not ids:
            self.message.emit("Select a photo first: More like this shows the photos most like it")
            return
        self.message.emit("Looking for similar photos…")
        self.service.request(ids, self.k)

    def _found(self, result: SimilarResult) -> None:
        first = self.model.index_of(result.query[0])
        name = first.data(Qt.ItemDataRole.DisplayRole) if first.isValid() else "the selection"
        if len(result.query) > 1:
            name = f"{len(result.query)} photos"
        if self._sort_before is None:
            self._sort_before = self.model.sort_key
        self.result = result
        self.model.set_ranking(result.scores())
        self.filters.set_only(
            result.scores(),
            f"Like {name}: {len(result.hits):,} ✕",
            f"The photos most like {name} (and the selection), most similar first; "
            "click to show all",
        )
        self.filters.show_ranking_sort(True)
        self.filters.sort_by(RANKING, True)
        self.select_ids(list(result.query))
        n = len(result.hits)
        self.message.emit(f"{n} photo{'s' * (n != 1)} like {name}, most similar first")

    def end(self) -> None:
        """Drop the result's order (back to the sort before it); the caller resets the filter."""
        if self.result is None:
            return
        self.result = None
        before, self._sort_before = self._sort_before or ("name", False), None
        self.model.set_ranking(None)
        self.filters.show_ranking_sort(False)
        self.filters.sort_by(*before)
