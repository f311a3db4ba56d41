"""The folder list (left column): "All folders" and each library folder the user added."""

from __future__ import annotations

import os
from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

_ROOT_ID = Qt.ItemDataRole.UserRole
_ROOT_PATH = Qt.ItemDataRole.UserRole + 1


class FolderList(QListWidget):
    """One row per library folder (its root id and path in the item's data), "All folders"
    first; ``currentItemChanged`` tells the window the folder filter changed."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumWidth(150)

    def set_roots(self, roots: Iterable[tuple[int, str]]) -> None:
        """Show ``(root id, path)`` rows, keeping the current folder (no change signal)."""
        item = self.currentItem()
        current = item.data(_ROOT_ID) if item else None
        self.blockSignals(True)
        self.clear()
        all_item = QListWidgetItem("All folders")
        all_item.setData(_ROOT_ID, None)
        self.addItem(all_item)
        select = all_item
        for rid, path in roots:
            it = QListWidgetItem(os.path.basename(path.rstrip("/")) or path)
            it.setToolTip(path)
            it.setData(_ROOT_ID, rid)
            it.setData(_ROOT_PATH, path)
            self.addItem(it)
            if rid == current:
                select = it
        self.setCurrentItem(select)
        self.blockSignals(False)

    def select_root(self, root_id: int) -> None:
        """Make the folder ``root_id`` the current one (the folder the user just opened)."""
        for i in range(self.count()):
            if self.item(i).data(_ROOT_ID) == root_id:
                self.setCurrentRow(i)
                return

    def current_path(self) -> str | None:
        """The current folder's path; None for "All folders"."""
        item = self.currentItem()
        return item.data(_ROOT_PATH) if item else None
