"""The Help menu's windows: the keyboard shortcuts and "About moodtagger"."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)


def shortcuts_dialog(parent: QWidget, rows: list[tuple[str, str]]) -> QDialog:
    dlg = QDialog(parent)
    dlg.setWindowTitle("Keyboard shortcuts")
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    lay = QVBoxLayout(dlg)
    table = QTreeWidget()
    table.setRootIsDecorated(False)
    table.setHeaderLabels(["Keys", "Does"])
    for keys, text in rows:
        table.addTopLevelItem(QTreeWidgetItem([keys, text]))
    table.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    lay.addWidget(table)
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    box.rejected.connect(dlg.reject)
    lay.addWidget(box)
    dlg.resize(560, 460)
    dlg.table = table  # type: ignore[attr-defined]
    dlg.open()
    return dlg


def about_box(parent: QWidget) -> None:
    from moodtagger import __version__

    QMessageBox.about(
        parent,
        "About moodtagger",
        f"moodtagger {__version__}\nSee how your photos feel, filter them by mood and write "
        "mood keywords into them.",
    )
