"""The refresh pipeline behind :meth:`Library.refresh <moodtagger.core.library.Library.refresh>`:
scan -> read the mood keywords -> predict, as one :class:`Refresh` with a method per stage.

Decode once: new and changed photos are predicted during the scan from the same decode that
makes their thumbnails (an :class:`~moodtagger.core.model.service.InputStream` fed by the
scan); only photos the scan did not decode (known before, or waiting for a model that changed)
are decoded again for the model.

One error policy: a file that cannot be read is that file's error (data in the result, the run
goes on); a stage that cannot run at all (exiftool missing or broken, no mood model) is
recorded as ``import_error`` / ``predict_error`` and the other stages still run, so the index
is always saved. Cancelling stops after the current batch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from moodtagger.core.catalog import Catalog, ProgressFn
from moodtagger.core.errors import FileError
from moodtagger.core.metadata.exiftool import ExifToolError, ExifToolService
from moodtagger.core.metadata.fields import WriteSettings
from moodtagger.core.model.registry import BATCH_SIZE, ModelError, default_model_id
from moodtagger.core.tools import ToolMissing

if TYPE_CHECKING:
    from moodtagger.core.model.engine import MoodModel
    from moodtagger.core.model.service import InputStream, PredictSummary
    from moodtagger.core.scanner import ScanSummary

# refresh phases, in order (front ends show them; the CLI draws one progress bar per phase)
SCANNING = "scanning"
READING_KEYWORDS = "reading keywords"
LOADING_MODEL = "loading the mood model"
PREDICTING = "predicting moods"


@dataclass
class RefreshResult:
    scan: ScanSummary | None = None
    imported: int | None = None  # choices imported from the files' keywords (None: not run)
    import_error: str | None = None  # the keywords could not be read at all (exiftool)
    predict: PredictSummary | None = None
    predict_error: str | None = None  # no prediction at all (no or broken model)
    cancelled: bool = False
    filled: int = 0  # photos the personal model in use had no prediction for (issue 24)
    model_problem: str | None = None  # the personal model in use cannot be used (one sentence)

    @property
    def errors(self) -> list[FileError]:
        """Every per-file error of every stage, ``(path, reason)``."""
        out = list(self.scan.errors) if self.scan else []
        return out + (list(self.predict.errors) if self.predict else [])


@dataclass
class RefreshEvents:
    """Callbacks of :meth:`Library.refresh` (all optional; called on the refreshing thread)."""

    phase: Callable[[str], None] | None = None  # a new stage starts (SCANNING, ...)
    progress: ProgressFn | None = None  # (done, total) within the stage
    changed: Callable[[list[int]], None] | None = None  # these photos' rows changed
    missing: Callable[[list[int]], None] | None = None  # every photo now missing (after the scan)


class RefreshOwner(Protocol):
    """What the pipeline needs of the :class:`~moodtagger.core.library.Library` that runs it
    (a protocol, so this module never imports the facade that imports it)."""

    catalog: Catalog
    base_model_id: str | None

    @property
    def exiftool(self) -> ExifToolService: ...

    def exiftool_if_installed(self) -> ExifToolService | None: ...

    def use_base_model(self, model_id: str | None) -> None: ...


class Refresh:
    """One run of the pipeline for ``library`` (see :meth:`Library.refresh` for the options);
    :meth:`run` returns the :class:`RefreshResult`. The library's model ids follow the model
    that was loaded, as each stage settles it."""

    def __init__(
        self,
        library: RefreshOwner,
        *,
        predict: bool = True,
        device: str = "auto",
        settings: WriteSettings | None = None,
        events: RefreshEvents | None = None,
        cancel: threading.Event | None = None,
        load_model: Callable[[str, str], MoodModel] | None = None,
        batch_size: int = BATCH_SIZE,
    ):
        self.library = library
        self.catalog = library.catalog
        self.predict = predict
        self.device = device
        self.settings = settings
        self.ev = events or RefreshEvents()
        self.cancel = cancel
        self.load_model = load_model
        self.batch_size = batch_size
        self.out = RefreshResult()
        self.only_ids: list[int] | None = None  # a scan of just some paths: predict only these

    # -- the stages -----------------------------------------------------------------------------
    def run(
        self,
        roots: Sequence[str | os.PathLike[str]],
        files: Sequence[str | os.PathLike[str]] | None = None,
    ) -> RefreshResult:
        """Scan ``roots`` (none: only predict) or just the paths ``files`` (a folder watcher's:
        :func:`moodtagger.core.rescan.scan_paths`), import the mood keywords of new/changed
        files, then predict what has no current prediction."""
        out = self.out
        stream: InputStream | None = None
        streamed: PredictSummary | None = None  # what the stream predicted during the scan
        if roots or files:
            stream = self._input_stream() if self.predict else None
            streamed = self._scan(roots, stream, files)
            if files and self.out.scan is not None:  # nothing else is looked at (O(changed))
                self.only_ids = list(self.out.scan.updated_ids)
            if self.stopped():
                out.predict = streamed
                return out
            self._import_keywords()
        if not self.predict or self.stopped():
            out.predict = streamed
            return out
        if stream is not None and stream.error is not None:  # the model would not load
            out.predict_error = stream.error
            return out
        self._predict_rest(stream, streamed)
        return out

    def _input_stream(self) -> InputStream | None:
        """Decode once: the scan's decode also makes the model input, and the model predicts
        the new photos as the scan commits them (the model loads only if one needs it)."""
        from moodtagger.core.model.service import InputStream

        try:
            mid = self.library.base_model_id or default_model_id()
            return InputStream(
                self.catalog,
                mid,
                lambda: self.load(mid),
                batch_size=self.batch_size,
                on_batch=lambda good: self.changed([pid for pid, _ in good]),
            )
        except ModelError:
            return None  # no/unknown model: the predict stage says why

    def _scan(
        self,
        roots: Sequence[str | os.PathLike[str]],
        stream: InputStream | None,
        files: Sequence[str | os.PathLike[str]] | None = None,
    ) -> PredictSummary | None:
        from moodtagger.core.rescan import scan_paths
        from moodtagger.core.scanner import scan

        ev, cat = self.ev, self.catalog
        self.phase(SCANNING)
        kw = dict(
            progress=ev.progress,
            cancel=self.cancel,
            on_stored=self.changed if ev.changed else None,
            model=stream.preprocess if stream is not None else None,
            on_inputs=stream.feed if stream is not None else None,
            exiftool=self.library.exiftool_if_installed(),
        )
        summary = self.out.scan = (
            scan_paths(cat, files, **kw) if files else scan(cat, roots, **kw)  # type: ignore[arg-type]
        )
        streamed = stream.finish() if stream is not None else None
        if stream is not None and stream.model is not None:
            self.library.use_base_model(stream.model_id)
        if (summary.missing or summary.moved) and ev.missing:
            ev.missing(cat.photos.missing_ids())
        return streamed

    def _import_keywords(self) -> None:
        from moodtagger.core.metadata.importer import import_file_moods
        from moodtagger.core.scanner import photos_by_ids

        out, cat = self.out, self.catalog
        summary = out.scan
        assert summary is not None
        if summary.updated_ids:
            self.phase(READING_KEYWORDS)
            try:
                out.imported = import_file_moods(
                    cat,
                    photos_by_ids(cat, summary.updated_ids),
                    settings=self.settings,
                    progress=self.ev.progress,
                    service=self.library.exiftool,
                )
            except (
                ToolMissing,
                ExifToolError,
                OSError,
            ) as exc:  # the moods still get predicted
                out.import_error = str(exc)
            if out.imported:
                self.changed(summary.updated_ids)

    def _predict_rest(self, stream: InputStream | None, streamed: PredictSummary | None) -> None:
        """What the scan did not decode: photos known before, or a model changed since."""
        from moodtagger.core.model.service import PredictSummary, predict_pending

        out, cat = self.out, self.catalog
        try:
            model_id = self.library.base_model_id or default_model_id()  # none: ModelError
            if not cat.predictions.photos_needing(model_id, self.only_ids):
                out.predict = streamed or PredictSummary(model_id)
                self._fill(model_id)
                return
            if stream is not None and stream.model is not None:
                model = stream.model
            else:
                self.phase(LOADING_MODEL)
                model = self.load(model_id)
        except ModelError as exc:  # no/broken model: the index is still saved
            out.predict_error = str(exc)
            return
        self.library.use_base_model(model_id)
        self.phase(PREDICTING)
        pred = out.predict = predict_pending(
            cat,
            model=model,
            batch_size=self.batch_size,
            progress=self.ev.progress,
            cancel=self.cancel,
            on_batch=lambda good: self.changed([pid for pid, _ in good]),
            exiftool=self.library.exiftool_if_installed(),
            ids=self.only_ids,
        )
        if streamed is not None:
            pred.predicted += streamed.predicted
            pred.seconds += streamed.seconds
        if pred.errors:  # now unreadable: their rows show the error
            failed = (cat.photos.by_path(path) for path, _ in pred.errors)
            self.changed([p.id for p in failed if p is not None])
        if not self.stopped():
            self._fill(model_id)

    def _fill(self, model_id: str) -> None:
        """Heal (issue 24): photos with no current prediction by the personal model in use (a
        kill between the shipped model's prediction and the personal one, an older `learn`)
        get one from the stored embeddings; a personal model that cannot be used is reported
        (``model_problem``) while the shipped model's suggestions are shown."""
        from moodtagger.core.model import personal

        out = self.out
        out.model_problem = personal.problem(self.catalog, model_id)
        if out.model_problem is None and self.only_ids is None:  # healing looks at every photo
            with self.catalog.writer_lock():
                filled = personal.fill_missing(self.catalog, model_id)
            out.filled = len(filled)
            self.changed(filled)
        from moodtagger.core import custom_moods

        with self.catalog.writer_lock():  # custom moods (issue 27) for photos new since `learn`
            self.changed(custom_moods.fill_missing(self.catalog, model_id))
        self.library.use_base_model(self.library.base_model_id)

    # -- what the closures of the old Library.refresh did ---------------------------------------
    def phase(self, name: str) -> None:
        if self.ev.phase:
            self.ev.phase(name)

    def changed(self, ids: list[int]) -> None:
        if self.ev.changed and ids:
            self.ev.changed(ids)

    def stopped(self) -> bool:
        self.out.cancelled = bool(self.cancel is not None and self.cancel.is_set())
        return self.out.cancelled

    def load(self, model_id: str) -> MoodModel:
        if self.load_model is not None:
            return self.load_model(model_id, self.device)
        from moodtagger.core.model.engine import MoodModel

        return MoodModel(model_id, device=self.device)
