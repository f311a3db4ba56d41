"""The library lane's work: :meth:`moodtagger.core.library.Library.refresh` (scan -> import the
keywords found in files -> predict moods), the same call as ``moodtagger scan``; and ``learn``.

Runs on one worker thread (see :class:`moodtagger.gui.jobs.JobRunner`) with its own catalog
connection. The mood model is loaded once, in that thread, and kept by :class:`ModelOwner` for
the next run. Results stream back as ``("rows", Rows)`` batches -- the rows of the photos the
refresh reports changed: new photos while scanning, predictions batch by batch --,
``("missing", ids)`` and ``("phase", text)``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moodtagger.core import rows as R
from moodtagger.core.catalog import Catalog
from moodtagger.core.folders import FolderNode, folder_tree
from moodtagger.core.library import Library, RefreshEvents, RefreshResult
from moodtagger.core.rows import Rows
from moodtagger.gui.jobs import Job

if TYPE_CHECKING:
    from moodtagger.core.metadata.exiftool import ExifToolService
    from moodtagger.core.metadata.fields import WriteSettings
    from moodtagger.core.model.engine import MoodModel
    from moodtagger.core.model.personal import LearnSummary


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
class LearnOutcome:
    summary: LearnSummary
    model_id: str | None  # the model whose suggestions count now (personal, or the shipped one)
    rows: Rows  # every grid row, with those suggestions


def learn(
    job: Job, catalog_path: str, base_model_id: str | None, *, reset: bool = False
) -> LearnOutcome:
    """``moodtagger learn`` (``--reset``) on the library lane: the core's
    :meth:`~moodtagger.core.library.Library.learn`, then the rows it changed (all of them)."""
    with Catalog(catalog_path) as cat:
        lib = Library(cat, base_model_id)
        summary = lib.reset_learning() if reset else lib.learn(progress=job.progress)
        return LearnOutcome(summary, lib.model_id, lib.rows())


@dataclass
class LoadedRows:
    """Every grid row, and what the grid computes from them before it can paint (the derived
    columns, the name order, each photo's row), made off the GUI thread."""

    rows: Rows
    derived: R.Derived
    row_of: dict[int, int]
    roots: list[str]  # the library folders, and the folder tree of the rows under them
    folders: list[FolderNode]


def load_all(job: Job, catalog_path: str, model_id: str) -> LoadedRows:
    """Every grid row, read on the open lane (the window stays responsive meanwhile)."""
    with Catalog(catalog_path) as cat:
        rows = Library(cat, model_id).rows()
        roots = [p for _rid, p in cat.photos.roots()]
    derived = R.derive(rows)
    R.name_rank(rows, derived)  # cached in ``derived``: the grid's first order is by name
    row_of = {pid: r for r, pid in enumerate(rows.ids.tolist())}
    return LoadedRows(rows, derived, row_of, roots, folder_tree(rows.paths, roots))


def run_pipeline(
    job: Job,
    catalog_path: str,
    roots: list[str],
    model_id: str,
    device: str,
    owner: ModelOwner,
    *,
    predict: bool = True,
    batch_size: int = 16,
    settings: WriteSettings | None = None,
    exiftool: ExifToolService | None = None,
    files: list[str] | None = None,
) -> RefreshResult:
    """:meth:`Library.refresh` of ``roots`` with ``model_id`` (the base model; the grid's rows
    show the personal model on top of it, if one is in use). Its events become the job's
    batches; the model comes from ``owner`` (loaded once, kept for the next run), the exiftool
    from the GUI thread's Library (``exiftool``, lent); ``files``: just these paths."""
    with Catalog(catalog_path) as cat, Library(cat, model_id, exiftool=exiftool) as lib:
        events = RefreshEvents(
            phase=lambda name: job.emit_batch(("phase", name[:1].upper() + name[1:])),
            progress=job.progress,
            changed=lambda ids: job.emit_batch(("rows", lib.rows(ids))),
            missing=lambda ids: job.emit_batch(("missing", ids)),
        )
        return lib.refresh(
            roots,
            files=files,
            predict=predict,
            device=device,
            settings=settings,
            events=events,
            cancel=job.cancel,
            load_model=owner.get,
            batch_size=batch_size,
        )
