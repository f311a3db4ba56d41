"""The detail panel's controller: which photo (or selection) the panel shows, its preview,
and its "why this mood?" map.

:class:`~moodtagger.gui.views.detail.DetailPanel` is the widget; :class:`DetailController` follows the
grid's selection and the model's changes (coalesced through a zero-interval timer), loads the
larger preview on the ``images`` lane and asks the :class:`~moodtagger.gui.controllers.why.WhyService`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractItemView, QWidget

from moodtagger.core import dates
from moodtagger.core.catalog import Catalog
from moodtagger.core.metadata.exiftool import ExifToolService
from moodtagger.core.moods import MOODS
from moodtagger.gui.controllers.thumbs import load_preview
from moodtagger.gui.controllers.why import WhyService
from moodtagger.gui.jobs import Job, JobRunner
from moodtagger.gui.models.photomodel import PhotoModel, PhotoProxy, Roles
from moodtagger.gui.views.detail import PREVIEW_SIDE, DetailPanel, PreviewDialog


class DetailController(QObject):
    shown = Signal()  # the panel now shows the current selection (the mood map highlights it)

    def __init__(
        self,
        panel: DetailPanel,
        grid: QAbstractItemView,
        proxy: PhotoProxy,
        model: PhotoModel,
        catalog: Catalog,
        image_jobs: JobRunner,
        why: WhyService,
        window: QWidget,
        selected_ids: Callable[[], list[int]],
        *,
        exiftool: Callable[[], ExifToolService | None] = lambda: None,
    ):
        super().__init__(window)
        self.exiftool = exiftool  # the Library's exiftool (RAW previews)
        self.panel = panel
        self.grid = grid
        self.proxy = proxy
        self.model = model
        self.catalog = catalog
        self.image_jobs = image_jobs
        self.why = why
        self.window = window
        self.selected_ids = selected_ids
        self.closed = False
        self._preview_job: Job | None = None
        self.preview_dialog: PreviewDialog | None = None
        self._timer = QTimer(self, singleShot=True, interval=0, timeout=self.refresh)
        why.ready.connect(panel.set_why)
        why.failed.connect(panel.why_failed)
        panel.whyChanged.connect(self.request_why)
        grid.selectionModel().selectionChanged.connect(self.schedule)
        grid.selectionModel().currentChanged.connect(self.schedule)
        model.dataChanged.connect(self._model_data_changed)

    def schedule(self, *_args) -> None:
        self._timer.start()

    def stop(self) -> None:
        self.closed = True
        self._timer.stop()

    def _model_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles=()) -> None:
        pid = self.panel.photo_id
        if pid is None:
            if len(self.grid.selectionModel().selectedIndexes()) > 1:
                self.schedule()
            return
        r = self.model.row_of(pid)
        if (
            r is not None
            and top.row() <= r <= bottom.row()
            and list(roles) != [int(Roles.ThumbnailRole)]
        ):
            self.schedule()

    def refresh(self) -> None:
        if self.closed:
            return
        self.panel.set_custom_moods(self.model.rows.custom_names)
        sel = self.grid.selectionModel().selectedIndexes()
        if len(sel) > 1:
            ids = self.proxy.photo_ids(sel)
            rows = [self.model.row_of(i) for i in ids]
            rows = [r for r in rows if r is not None]
            counts: dict[str, int] = {}
            for r in rows:
                for m in self.model.rows.choice(r) or ():
                    counts[m] = counts.get(m, 0) + 1
            probs = self.model.rows.probs[rows]
            have = probs[~np.isnan(probs[:, 0])]
            mean = {m: float(have[:, i].mean()) for i, m in enumerate(MOODS)} if len(have) else None
            self.panel.show_many(len(rows), counts, mean)
            self.panel.set_taken("")
            return
        idx = self.grid.currentIndex()
        if sel:
            idx = sel[0]
        if not idx.isValid():
            self.panel.show_nothing()
            self.panel.set_taken("")
            return
        pid = int(idx.data(Roles.PhotoIdRole))
        new = pid != self.panel.photo_id
        d, r = self.model.rows, self.model.row_of(pid)
        custom = {
            n: (
                None if r is None or np.isnan(d.custom_probs[r, j]) else float(d.custom_probs[r, j])
            )
            for j, n in enumerate(d.custom_names)
        }
        self.panel.show_photo(
            pid,
            name=idx.data(Qt.ItemDataRole.DisplayRole),
            path=idx.data(Roles.PathRole),
            scores=idx.data(Roles.MoodScoresRole),
            choice=idx.data(Roles.ChoiceRole),
            state=idx.data(Roles.StateRole),
            error=idx.data(Roles.ErrorRole),
            va=idx.data(Roles.ValenceArousalRole),
            keywords=self.catalog.file_keywords.get(pid),
            image=idx.data(Roles.ThumbnailRole) if new else None,
            custom=custom,
        )
        photo = self.catalog.photos.by_id(pid)
        self.panel.set_taken(dates.shown(photo.taken_at, photo.taken_from) if photo else "")
        if new and idx.data(Roles.StateRole) != "failed":
            self.load_preview(pid, idx.data(Roles.PathRole), PREVIEW_SIDE, self.panel.set_preview)
        if new and self.panel.why_on:
            self.request_why()
        self.shown.emit()

    def load_preview(self, pid: int, path: str, side: int, deliver) -> None:
        if self._preview_job is not None:
            self._preview_job.cancel.set()
        side = int(side * max(1.0, self.window.devicePixelRatioF()))

        exiftool = self.exiftool()

        def work(job: Job):
            return load_preview(path, side, exiftool)

        def done(image, error) -> None:
            if error is None:
                deliver(pid, image)

        self._preview_job = self.image_jobs.submit(work, on_done=done, label="preview")

    def preview_current(self) -> None:
        idx = self.grid.currentIndex()
        if not idx.isValid():
            return
        pid = int(idx.data(Roles.PhotoIdRole))
        dlg = PreviewDialog(
            idx.data(Qt.ItemDataRole.DisplayRole), idx.data(Roles.ThumbnailRole), self.window
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.preview_dialog = dlg
        dlg.finished.connect(lambda _r: setattr(self, "preview_dialog", None))
        screen = self.window.screen().availableGeometry() if self.window.screen() else None
        side = max(1024, screen.width() if screen else 1600)
        self.load_preview(
            pid,
            idx.data(Roles.PathRole),
            side,
            lambda _pid, img: dlg.set_image(img) if self.preview_dialog is dlg else None,
        )
        dlg.open()

    def request_why(self) -> None:
        pid = self.panel.photo_id
        if pid is None or not self.panel.why_on:
            return
        idx = self.model.index_of(pid)
        if idx.isValid():
            self.why.request(pid, idx.data(Roles.PathRole))
