"""The library: what both front ends do with a catalog, in one Qt-free place.

``moodtagger scan/list/accept/forget/write`` and the desktop app call the same methods:

* :meth:`Library.refresh` — scan folders, import the mood keywords already in new/changed files,
  predict moods for photos without a current prediction. It streams the ids of the photos whose
  rows changed (``on_changed``) batch by batch, as each stage commits them; nobody guesses
  them from timestamps.
* :meth:`Library.query` — the rows that pass a :class:`~moodtagger.core.rows.Filter`, sorted;
  the one filter/sort rule (:func:`~moodtagger.core.rows.filter_mask`,
  :func:`~moodtagger.core.rows.sort_order`).
* :meth:`Library.choose`, :meth:`accept`, :meth:`forget`, :meth:`clear`, :meth:`write` — the
  user's choices and writing them into the files (through the crash-safe journal).
* :meth:`Library.similar` ("more like this"), :meth:`learn` and :meth:`reset_learning` — the
  photos most like a selection (embeddings), and the personal model learnt from the choices.

One error policy for :meth:`refresh`: a file that cannot be read is that file's error (data in
the result, the run goes on); a stage that cannot run at all (exiftool missing or broken, no
mood model) is recorded as ``import_error`` / ``predict_error`` and the other stages still run,
so the index is always saved. Cancelling (``cancel``) stops after the current batch.

A :class:`Library` wraps one :class:`~moodtagger.core.catalog.Catalog` connection and, like it,
is used from one thread. It owns one long-lived exiftool (:attr:`Library.exiftool`, started on
first use) for keywords, RAW previews and writes; :meth:`Library.close` (or ``with Library(...)
as lib``) stops it. The refresh pipeline lives in :mod:`moodtagger.core.refresh`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from moodtagger.core import rows as R
from moodtagger.core.catalog import Catalog, ProgressFn
from moodtagger.core.choices import AcceptResult, ChoiceValue, accept, choose, restore, suggestions
from moodtagger.core.errors import FileError, MoodtaggerError
from moodtagger.core.export import Entries
from moodtagger.core.metadata.exiftool import ExifToolService
from moodtagger.core.metadata.fields import WriteSettings
from moodtagger.core.model.registry import BATCH_SIZE, ModelError, default_model_id
from moodtagger.core.refresh import LOADING_MODEL as LOADING_MODEL  # (the front ends' names)
from moodtagger.core.refresh import PREDICTING as PREDICTING
from moodtagger.core.refresh import READING_KEYWORDS as READING_KEYWORDS
from moodtagger.core.refresh import SCANNING as SCANNING
from moodtagger.core.refresh import Refresh
from moodtagger.core.refresh import RefreshEvents as RefreshEvents
from moodtagger.core.refresh import RefreshResult as RefreshResult
from moodtagger.core.tools import ToolMissing

if TYPE_CHECKING:
    from moodtagger.core.embeddings import EmbeddingIndex, Similar
    from moodtagger.core.metadata.results import FileResult, WriteSummary
    from moodtagger.core.model.engine import MoodModel
    from moodtagger.core.model.personal import LearnSummary
    from moodtagger.core.teach import Pick


class LibraryError(MoodtaggerError):
    """A request the library cannot carry out (one sentence the user can act on)."""


def current_model_id(catalog: Catalog | None = None) -> str | None:
    """The id of the installed default mood model, or None when no model is installed. With
    ``catalog``: the personal model learnt on top of it in that catalog (`moodtagger learn`)
    when one is in use; its predictions are the ones the catalog shows."""
    try:
        mid = default_model_id()
    except ModelError:
        return None
    if catalog is not None:
        from moodtagger.core.model.personal import model_in_use

        return model_in_use(catalog, mid)
    return mid


@dataclass
class Scope:
    """PATHs (files or folders) resolved against the catalog."""

    ids: list[int] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # the PATHs the catalog knows (absolute)
    errors: list[FileError] = field(default_factory=list)  # per unknown PATH


class Library:
    def __init__(
        self,
        catalog: Catalog,
        model_id: str | None = None,
        *,
        exiftool: ExifToolService | None = None,
    ):
        """``model_id``: the mood model that decodes and predicts (default: the installed one).
        ``exiftool``: a service lent by its owner (another Library on another thread's catalog
        connection), used as :attr:`exiftool` and left running by :meth:`close`."""
        self.catalog = catalog
        # base_model_id decodes and predicts; model_id is the one whose predictions count (the
        # personal model on top of the base one after `learn`, computed from the embeddings)
        self._chosen_model = model_id
        self.base_model_id = model_id if model_id is not None else current_model_id()
        self.model_id = self._model_in_use()
        self._exiftool: ExifToolService | None = exiftool  # else started on first use
        self._owns_exiftool = exiftool is None
        self._exiftool_lock = threading.Lock()
        self._closed = False

    def _model_in_use(self) -> str | None:
        if self.base_model_id is None:
            return None
        from moodtagger.core.model.personal import model_in_use

        return model_in_use(self.catalog, self.base_model_id)

    # -- the exiftool this library owns ----------------------------------------------------------
    @property
    def exiftool(self) -> ExifToolService:
        """The library's one long-lived exiftool: keywords, RAW previews and writes go through
        it. Started on first use (raises :class:`~moodtagger.core.tools.ToolMissing` when no
        exiftool is installed); its own thread owns the process, any thread may send it
        requests; :meth:`close` stops it."""
        with self._exiftool_lock:
            if self._exiftool is None:
                if self._closed:
                    raise LibraryError("the library was closed")
                self._exiftool = ExifToolService()
                self._owns_exiftool = True
            return self._exiftool

    def exiftool_if_installed(self) -> ExifToolService | None:
        """:attr:`exiftool`, or None when no exiftool is installed (a RAW file then says so as
        its own error; every other format needs none)."""
        try:
            return self.exiftool
        except ToolMissing:
            return None

    def close(self) -> None:
        """Stop the library's exiftool, unless it was lent (the catalog stays open: its opener
        closes it)."""
        with self._exiftool_lock:
            service, self._exiftool = self._exiftool, None
            self._closed = True
        if service is not None and self._owns_exiftool:
            service.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def writing_exiftool(self, settings: WriteSettings | None = None) -> ExifToolService:
        """:attr:`exiftool` for a write batch: its watchdog takes the write's timeout, and one
        that hung before (gave up) is tried once more."""
        service = self.exiftool
        service.timeout = (settings or WriteSettings()).timeout
        service.retry()
        return service

    def use_base_model(self, model_id: str | None) -> None:
        """``model_id`` decodes and predicts from now on; :attr:`model_id` follows it (the
        personal model on top of it, when one is in use)."""
        self.base_model_id = model_id
        self.model_id = self._model_in_use()

    # -- refresh: scan -> keywords -> predict ---------------------------------------------------
    def refresh(
        self,
        roots: Sequence[str | os.PathLike[str]],
        *,
        files: Sequence[str | os.PathLike[str]] | None = None,
        predict: bool = True,
        device: str = "auto",
        settings: WriteSettings | None = None,
        events: RefreshEvents | None = None,
        cancel: threading.Event | None = None,
        load_model: Callable[[str, str], MoodModel] | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> RefreshResult:
        """Scan ``roots`` (none: only predict), import the mood keywords (under
        ``settings.root``) of new/changed files, then predict what has no current prediction
        (:class:`~moodtagger.core.refresh.Refresh`). ``files``: scan just these paths (photos,
        sidecars, folders a watcher saw change) instead of ``roots``.

        Decode once: new and changed photos are predicted during the scan from the same decode
        that makes their thumbnails; only photos the scan did not decode (known before, or
        waiting for a model that changed) are decoded again for the model.

        ``load_model(model_id, device)`` lets a caller keep one loaded model across refreshes
        (the GUI's library lane); by default a model is loaded only when something needs it."""
        return Refresh(
            self,
            predict=predict,
            device=device,
            settings=settings,
            events=events,
            cancel=cancel,
            load_model=load_model,
            batch_size=batch_size,
        ).run(roots, files)

    def model_problem(self) -> str | None:
        """Why the personal model in use cannot be used (one sentence naming its file and the
        fix), or None; meanwhile :attr:`model_id` is the shipped model's."""
        from moodtagger.core.model import personal

        if self.base_model_id is None:
            return None
        return personal.problem(self.catalog, self.base_model_id)

    # -- reading -------------------------------------------------------------------------------
    def rows(self, ids: Sequence[int] | None = None, *, include_missing: bool = False) -> R.Rows:
        """The rows of ``ids`` (None: every photo not missing), in path order."""
        return R.load_rows(self.catalog, self.model_id, ids=ids, include_missing=include_missing)

    def query(
        self,
        flt: R.Filter = R.Filter(),  # noqa: B008
        sort: tuple[str, bool] | None = None,
        *,
        include_missing: bool = False,
    ) -> R.Rows:
        """The rows passing ``flt`` (the one filter rule, see :mod:`moodtagger.core.rows`),
        ordered by ``sort = (key, descending)`` (None: by path). Missing photos only with
        ``include_missing`` (or a filter on the state 'missing')."""
        rows = self.rows(include_missing=include_missing or "missing" in flt.states)
        haystack = None
        if flt.text.strip():
            keywords = {pid: " ".join(kws) for pid, kws in self.catalog.file_keywords.all().items()}
            haystack = R.search_haystack(rows, keywords)
        rows = rows.take(R.filter_mask(rows, flt, haystack=haystack).nonzero()[0])
        if sort is not None:
            rows = rows.take(R.sort_order(rows, *sort))
        return rows

    def entries(self, ids: Sequence[int]) -> Entries:
        """Export entries (exact probabilities, choice, state, custom moods) of ``ids``, in
        that order, column-wise."""
        from moodtagger.core.export import catalog_entries

        return catalog_entries(self.catalog, self.model_id, status=None, photo_ids=ids)

    def resolve(self, paths: Sequence[str]) -> Scope:
        """Catalogued photos that are one of ``paths`` or lie in a folder among them; a PATH
        the catalog does not know is an error."""
        scope = Scope()
        known: list[str] = []
        for p in paths:
            if self.catalog.photos.ids_under([p]):
                known.append(os.path.abspath(p))
            elif not os.path.exists(p):
                scope.errors.append(FileError(p, "no such file or folder"))
            else:
                scope.errors.append(
                    FileError(p, "not in the catalog; run `moodtagger scan` on its folder first")
                )
        scope.ids = self.catalog.photos.ids_under(known)
        scope.paths = known
        return scope

    def add_files(self, paths: Sequence[str]) -> Scope:
        """Index single files (new or changed ones are decoded; no folder walk)."""
        from moodtagger.core.scanner import add_files

        rows, errors = add_files(self.catalog, paths, exiftool=self.exiftool_if_installed())
        return Scope([r.id for r in rows], [r.path for r in rows], errors)

    # -- choices -------------------------------------------------------------------------------
    def choose(self, ids: Sequence[int], moods: Sequence[str], *, source: str = "user") -> None:
        """Make ``moods`` the choice of ``ids`` (pending: still to be written; [] = no mood)."""
        choose(self.catalog, ids, moods, source=source)

    def accept(self, min_p: float = 0.5, ids: Sequence[int] | None = None) -> AcceptResult:
        """The current top suggestion with p >= ``min_p`` becomes the choice of each photo
        (only ``ids`` if given) the user has not chosen for; files changed since the scan
        are skipped (``stale``)."""
        if self.model_id is None:
            raise LibraryError("no mood model is installed; predictions are needed to accept")
        return accept(self.catalog, self.model_id, min_p, photo_ids=ids)

    def forget(self, ids: Sequence[int]) -> int:
        """Drop the choices of ``ids`` in the catalog (the files are untouched); how many."""
        with self.catalog.writer_lock():
            return self.catalog.choices.forget_many(ids)

    # -- the desktop app's choices: undoable, so each says what it changes ----------------------
    def suggest(
        self, ids: Sequence[int], min_p: float = 0.0, *, replace: bool = False
    ) -> AcceptResult:
        """What :meth:`accept` would choose for ``ids`` (``replace``: a choice is replaced too),
        without choosing; files changed since the scan are ``stale``. The app turns it into
        one undoable change (:meth:`restore`)."""
        if self.model_id is None:
            raise LibraryError("no mood model is installed; predictions are needed to accept")
        return suggestions(self.catalog, self.model_id, min_p, photo_ids=ids, replace=replace)

    def restore(
        self,
        values: dict[int, tuple[tuple[str, ...] | None, str, str | None]],
        sources: dict[int, str] | None = None,
    ) -> dict[int, ChoiceValue]:
        """Store the app's choices exactly (an edit, its undo, its redo): one transaction, the
        written-file rule of :func:`moodtagger.core.choices.restore`; returns what was stored.

        It does not wait for the writer lock: a scan or a write batch holds it for minutes and
        the window must not freeze; a choice changed while a batch runs stays pending for the
        next write (the journal's rule)."""
        return restore(self.catalog, values, sources)

    def choice_sources(self, ids: Sequence[int]) -> dict[int, str]:
        """Whose choice each of ``ids`` is ('user', 'model' ...); never chosen: left out."""
        return self.catalog.choices.sources(ids)

    def pending(self, ids: Sequence[int] | None = None) -> int:
        """How many choices (of ``ids``) are not yet in the files."""
        return len(self.catalog.choices.pending(ids))

    # -- similar photos, learning from the user's choices ---------------------------------------
    def similar(
        self, ids: Sequence[int], k: int = 10, *, index: EmbeddingIndex | None = None
    ) -> list[Similar]:
        """ "More like this": the ``k`` photos most similar to any of ``ids`` (those left out),
        most similar first (:func:`moodtagger.core.embeddings.similar_to_photos`). ``index``:
        an :class:`~moodtagger.core.embeddings.EmbeddingIndex` the caller keeps between queries."""
        from moodtagger.core import embeddings as E

        if k < 1:
            raise LibraryError("ask for at least one similar photo")
        try:
            return E.similar_to_photos(
                self.catalog, ids, k, model_id=self._chosen_model, index=index
            )
        except E.EmbeddingError as exc:
            raise LibraryError(str(exc)) from None

    def embedding_index(self) -> EmbeddingIndex:
        """The embeddings :meth:`similar` searches, loaded once for many queries."""
        from moodtagger.core import embeddings as E

        try:
            return E.EmbeddingIndex.load(
                self.catalog, E.embedding_model_id(self.catalog, self._chosen_model)
            )
        except E.EmbeddingError as exc:
            raise LibraryError(str(exc)) from None

    def similar_to_path(
        self, path: str, k: int = 10, *, model_id: str | None = None
    ) -> list[Similar]:
        """``moodtagger similar PATH``: a catalogued photo by its stored embedding, any other
        file decoded once (:func:`moodtagger.core.embeddings.similar_to_path`)."""
        from moodtagger.core import embeddings as E

        try:
            return E.similar_to_path(self.catalog, path, k, model_id=model_id or self._chosen_model)
        except E.EmbeddingError as exc:
            raise LibraryError(str(exc)) from None

    def learn(self, progress: ProgressFn | None = None) -> LearnSummary:
        """Fit a personal model on the user's choices on top of the base model, make it the
        model in use and re-predict every photo from the stored embeddings (no decoding);
        :attr:`model_id` becomes the personal model's id. ``summary.changes``: how many
        suggestions changed, from which mood to which."""
        from moodtagger.core import custom_moods
        from moodtagger.core.model import personal
        from moodtagger.core.model.custom import MIN_EXAMPLES

        parent = self._parent()
        custom = custom_moods.learn(self.catalog, parent)
        try:
            summary = personal.learn(self.catalog, parent, progress=progress)
        except (personal.PersonalError, ModelError) as exc:
            if not any(n >= MIN_EXAMPLES for n in custom.values()):
                raise LibraryError(str(exc)) from None
            summary = personal.LearnSummary(self.model_id or parent, parent)  # custom moods only
        summary.custom = custom
        self.model_id = self._model_in_use()
        return summary

    def teach(self, n: int = 10) -> list[Pick]:
        """ "Teach me": the ``n`` photos whose labels would improve the suggestions most
        (uncertain, spread over the library, one per burst, never chosen ones; see
        :mod:`moodtagger.core.teach`); fewer only when fewer unlabelled bursts exist."""
        from moodtagger.core import teach

        if self.model_id is None or self.base_model_id is None:
            raise LibraryError("no mood model is installed; teaching needs its suggestions")
        try:
            return teach.teach(self.catalog, n, self.model_id, self.base_model_id)
        except teach.TeachError as exc:
            raise LibraryError(str(exc)) from None

    def reset_learning(self) -> LearnSummary:
        """Back to the shipped model (``learn --reset``); :attr:`model_id` becomes the base id."""
        from moodtagger.core.model import personal

        try:
            summary = personal.reset(self.catalog, self._parent())
        except (personal.PersonalError, ModelError) as exc:
            raise LibraryError(str(exc)) from None
        self.model_id = self._model_in_use()
        return summary

    def learning(self) -> bool:
        """Whether a personal model (``learn``) is in use."""
        return self.model_id is not None and self.model_id != self.base_model_id

    def _parent(self) -> str:
        if self.base_model_id is None:
            raise LibraryError("no mood model is installed; learning needs its predictions")
        return self.base_model_id

    # -- files ---------------------------------------------------------------------------------
    def write(
        self,
        ids: Sequence[int] | None = None,
        *,
        under: Sequence[str] | None = None,
        settings: WriteSettings | None = None,
        dry_run: bool = False,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_result: Callable[[FileResult], None] | None = None,
        folders: Sequence[str] = (),
    ) -> WriteSummary:
        """Write the choices of ``ids`` into the files; ``ids=None``: every pending or failed
        choice (only those under the files/folders ``under``, when given). Files must resolve
        into the scanned roots or ``folders`` (those named for a direct write)."""
        from moodtagger.core.metadata.journal import write_choices

        return write_choices(
            self.catalog,
            ids,
            settings=settings,
            service=self.writing_exiftool(settings),
            dry_run=dry_run,
            progress=progress,
            cancel=cancel,
            on_result=on_result,
            paths=under,
            folders=folders,
        )

    def clear(
        self,
        ids: Sequence[int],
        *,
        settings: WriteSettings | None = None,
        progress: ProgressFn | None = None,
        source: str = "user",
        folders: Sequence[str] = (),
    ) -> WriteSummary:
        """Remove moodtagger's moods from the files of ``ids``; each photo whose file was
        cleared is unconfirmed again (as if never chosen), so a later accept can choose."""
        self.choose(ids, [], source=source)
        return self.write(ids, settings=settings, progress=progress, folders=folders)
