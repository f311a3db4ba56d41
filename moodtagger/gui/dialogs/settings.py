"""The settings dialog: catalog, model, device, thumbnails, ambiguity, what writing writes."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from moodtagger.core.catalog import default_catalog_path
from moodtagger.gui.settings import AppSettings, metadata_fields


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("moodtagger settings")
        self._settings = settings
        form = QFormLayout()

        self.catalog = QLineEdit(settings.catalog_path)
        self.catalog.setPlaceholderText(str(default_catalog_path()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_catalog)
        row = QHBoxLayout()
        row.addWidget(self.catalog, 1)
        row.addWidget(browse)
        form.addRow("Catalog (restart to apply):", row)

        self.model = QComboBox()
        self.model.addItem("default", "")
        try:
            from moodtagger.core.model import registry

            for mid in registry.available():
                self.model.addItem(mid, mid)
        except Exception:  # a broken models/ folder: the default entry still works
            pass
        self.model.setCurrentIndex(max(0, self.model.findData(settings.model_id)))
        form.addRow("Model:", self.model)

        self.device = QComboBox()
        for d in ("auto", "cpu", "cuda", "mps"):
            self.device.addItem(d, d)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        form.addRow("Device:", self.device)

        every, default = metadata_fields()
        chosen = set(settings.write_fields or default)
        self.fields: dict[str, QCheckBox] = {}
        box = QVBoxLayout()
        for f in every:
            cb = QCheckBox(f)
            cb.setChecked(f in chosen)
            self.fields[f] = cb
            box.addWidget(cb)
        self._default_fields = default
        form.addRow("Write keywords to:", box)

        self.root = QLineEdit(settings.keyword_root)
        self.root.setToolTip("Hierarchical keywords are written as ROOT|Mood (e.g. Mood|Awe)")
        form.addRow("Keyword root:", self.root)

        self.sidecar = QComboBox()
        self.sidecar.addItem("photo.xmp", "xmp")
        self.sidecar.addItem("photo.CR2.xmp", "ext")
        self.sidecar.setCurrentIndex(max(0, self.sidecar.findData(settings.sidecar)))
        form.addRow("RAW sidecar name:", self.sidecar)

        self.readonly = QComboBox()
        self.readonly.addItem("report an error", "error")
        self.readonly.addItem("write an XMP sidecar", "sidecar")
        self.readonly.setCurrentIndex(max(0, self.readonly.findData(settings.readonly)))
        form.addRow("Read-only files:", self.readonly)

        self.keep_date = QCheckBox("Keep the file date when writing keywords")
        self.keep_date.setChecked(settings.keep_date)
        form.addRow("", self.keep_date)

        self.thumb = QSpinBox()
        self.thumb.setRange(96, 320)
        self.thumb.setSingleStep(16)
        self.thumb.setSuffix(" px")
        self.thumb.setValue(settings.thumb_size)
        form.addRow("Thumbnail size:", self.thumb)

        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(settings.accept_threshold)
        form.addRow("Accept-all threshold:", self.threshold)

        self.margin = QDoubleSpinBox()
        self.margin.setRange(0.0, 1.0)
        self.margin.setSingleStep(0.01)
        self.margin.setValue(settings.ambiguity_margin)
        form.addRow("Ambiguous when top-1 − top-2 <", self.margin)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Settings are saved when you press OK."))
        layout.addWidget(buttons)

    def _browse_catalog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Catalog file",
            self.catalog.text() or str(default_catalog_path()),
            "SQLite catalog (*.sqlite3 *.db);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.catalog.setText(path)

    def result_settings(self) -> AppSettings:
        fields = tuple(f for f, cb in self.fields.items() if cb.isChecked())
        if set(fields) == set(self._default_fields):
            fields = ()
        return AppSettings(
            catalog_path=self.catalog.text().strip(),
            model_id=self.model.currentData() or "",
            device=self.device.currentData(),
            write_fields=fields,
            keyword_root=self.root.text().strip() or "Mood",
            sidecar=self.sidecar.currentData(),
            readonly=self.readonly.currentData(),
            keep_date=self.keep_date.isChecked(),
            thumb_size=self.thumb.value(),
            accept_threshold=self.threshold.value(),
            ambiguity_margin=self.margin.value(),
        )
