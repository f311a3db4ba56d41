"""The settings, from the window: the settings dialog and what a new setting changes at once
(thumbnail size, ambiguity margin, model or device: the rows are predicted again), and the
window's own geometry kept between runs."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSize
from PySide6.QtWidgets import QMessageBox, QWidget

from moodtagger.gui.controllers.host import Window
from moodtagger.gui.dialogs.settings import SettingsDialog
from moodtagger.gui.settings import AppSettings, open_qsettings


def thumb_box(widget: QWidget, settings: AppSettings) -> QSize:
    """The thumbnails' size in device pixels (the setting times the screen's scale)."""
    dpr = max(1.0, widget.devicePixelRatioF())
    side = int(settings.thumb_size * dpr)
    return QSize(side, side)


class Preferences(QObject):
    def __init__(self, window: Window):
        super().__init__(window)
        self.window = window

    def open_dialog(self) -> None:
        dlg = SettingsDialog(self.window.settings, self.window)
        if dlg.exec() != SettingsDialog.DialogCode.Accepted:
            return
        self.apply(dlg.result_settings())

    def apply(self, new: AppSettings) -> None:
        w = self.window
        old = w.settings
        w.settings = new
        new.save()
        if new.thumb_size != old.thumb_size:
            w.delegate.set_thumb_size(new.thumb_size)
            w.grid.set_base_cell(w.delegate.cell_size())
            w.loader.set_box(thumb_box(w, new))
            w.model.clear_thumbnails()
        if new.ambiguity_margin != old.ambiguity_margin:
            w.model.margin = new.ambiguity_margin
            w.model.version += 1
            w.filtering.changed()
            w.grid.viewport().update()
        if (new.model_id or "") != (old.model_id or "") or new.device != old.device:
            w.library.resolve_models()
            w.similar.invalidate()
            w.reload()
            w.scan([], predict=True)
        if new.resolved_catalog() != old.resolved_catalog():
            QMessageBox.information(
                w, "Catalog", "The new catalog is used the next time moodtagger starts."
            )

    def restore_window_state(self) -> None:
        w = self.window
        qs = open_qsettings()
        geo = qs.value("window/geometry")
        if geo is not None:
            w.restoreGeometry(geo)
        else:
            w.resize(1400, 900)
        split = qs.value("window/splitter")
        if split is not None:
            w.splitter.restoreState(split)

    def save_window_state(self) -> None:
        w = self.window
        qs = open_qsettings()
        qs.setValue("window/geometry", w.saveGeometry())
        qs.setValue("window/splitter", w.splitter.saveState())
        w.settings.save(qs)
