"""The folder panel (left column): "All folders", then the library's folders as a tree with
photo counts (a folder's photos and its subfolders'), and the "Include subfolders" toggle.

The tree and its counts are the core's (:func:`moodtagger.core.folders.folder_tree`), built from
the photos the grid's model holds, so the counts are the grid's: each photo counted once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QTreeWidget, QTreeWidgetItem, QWidget

from moodtagger.core.folders import FolderNode, folder_tree

_PATH = Qt.ItemDataRole.UserRole
_COUNT = Qt.ItemDataRole.UserRole + 1


class _Item(QTreeWidgetItem):
    def text(self, column: int = 0) -> str:  # the folder's name by default
        return super().text(column)


class FolderTree(QTreeWidget):
    """ "All folders" and the folder tree (each item's path in its data, None for "All
    folders"); ``currentItemChanged`` and ``subfolders_box.toggled`` tell the window the folder
    filter changed."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumWidth(150)
        self.setColumnCount(2)
        self.setHeaderHidden(True)
        self.setUniformRowHeights(True)
        self.header().setStretchLastSection(False)
        self.header().setSectionResizeMode(0, self.header().ResizeMode.Stretch)
        self.header().setSectionResizeMode(1, self.header().ResizeMode.ResizeToContents)
        self.subfolders_box = QCheckBox("Include subfolders")
        self.subfolders_box.setChecked(True)
        self.subfolders_box.setToolTip(
            "On: a folder shows its photos and those of all its subfolders; off: only its own"
        )
        self._roots: list[str] = []
        self._paths: Callable[[], list[str]] = list
        self._timer = QTimer(self, singleShot=True, interval=200, timeout=self.rebuild)
        self.tops: list[FolderNode] = []
        self._wanted: str | None = None  # a folder to select once it has photos
        # the tree of the rows just loaded, counted off the GUI thread: (paths, roots, tree)
        self._ready: tuple[list[str], list[str], list[FolderNode]] | None = None

    # -- feeding ------------------------------------------------------------------------------
    def attach(self, model) -> None:
        """Follow the photos of ``model`` (the grid's PhotoModel): rebuilt shortly after its rows
        change (a scan adds rows in batches)."""
        self._paths = lambda: model.rows.paths
        for sig in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.rowsMerged):
            sig.connect(self.schedule)

    def schedule(self, *_args) -> None:
        self._ready = None  # the rows changed since it was counted
        self._timer.start()

    def use_tree(self, paths: list[str], roots: list[str], tops: list[FolderNode]) -> None:
        """The tree of ``paths`` (the model's rows just loaded) under ``roots``, counted
        elsewhere (the open lane): the next rebuild shows it unless the rows change first."""
        self._ready = (paths, list(roots), tops)

    def set_roots(self, roots: Iterable[tuple[int, str]]) -> None:
        """The library folders ``(root id, path)``; the tree is rebuilt now, keeping the
        current folder (no change signal)."""
        self._roots = [p for _rid, p in roots]
        self.rebuild()

    def rebuild(self) -> None:
        self._timer.stop()
        paths = self._paths()
        ready, self._ready = self._ready, None
        if ready is not None and ready[0] is paths and ready[1] == self._roots:
            self.tops = ready[2]
        else:
            self.tops = folder_tree(paths, self._roots)
        current = self.current_path()
        expanded = {
            it.data(0, _PATH) for it in self._items() if it.isExpanded() and it.data(0, _PATH)
        }
        first = not self.topLevelItemCount()
        self.blockSignals(True)
        self.clear()
        all_item = _Item(["All folders", f"{len(paths):,}"])
        all_item.setData(0, _PATH, None)
        all_item.setData(0, _COUNT, len(paths))
        self.addTopLevelItem(all_item)
        select = all_item
        wanted = None
        stack = [(None, node) for node in self.tops]
        while stack:
            parent, node = stack.pop(0)
            it = _Item([node.name, f"{node.count:,}"])
            it.setToolTip(0, node.path)
            it.setData(0, _PATH, node.path)
            it.setData(0, _COUNT, node.count)
            it.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
            if parent is None:
                self.addTopLevelItem(it)
            else:
                parent.addChild(it)
            it.setExpanded(node.path in expanded or (first and parent is None))
            if node.path == current:
                select = it
            if node.path == self._wanted:
                wanted = it
            stack.extend((it, child) for child in node.sorted_children())
        self.setCurrentItem(select)
        self.blockSignals(False)
        if wanted is not None:
            self.setCurrentItem(wanted)  # announced: the grid shows the folder just opened
            self._wanted = None

    # -- selecting ----------------------------------------------------------------------------
    def select_path(self, path: str) -> None:
        """Make the folder ``path`` the current one (the folder the user just opened; one
        without photos yet becomes current when the scan brings them)."""
        self._wanted = None
        for it in self._items():
            if it.data(0, _PATH) == path:
                self.setCurrentItem(it)
                return
        self._wanted = path

    def current_path(self) -> str | None:
        """The current folder's path; None for "All folders"."""
        item = self.currentItem()
        return item.data(0, _PATH) if item else None

    def include_subfolders(self) -> bool:
        return self.subfolders_box.isChecked()

    def count_of(self, path: str | None) -> int | None:
        """The count shown for a folder (None: "All folders"), None when not shown."""
        for it in self._items():
            if it.data(0, _PATH) == path:
                return int(it.data(0, _COUNT))
        return None

    def count(self) -> int:
        """How many rows the panel has ("All folders" and every folder of the tree)."""
        return len(self._items())

    def _items(self) -> list[QTreeWidgetItem]:
        out: list[QTreeWidgetItem] = []
        stack = [self.topLevelItem(i) for i in range(self.topLevelItemCount())]
        while stack:
            it = stack.pop()
            out.append(it)
            stack.extend(it.child(k) for k in range(it.childCount()))
        return out


FolderList = FolderTree  # the name the window and the controllers know it by
