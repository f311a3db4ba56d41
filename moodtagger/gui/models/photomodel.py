"""The grid's model (one row per photo, named roles) and its filter proxy.

:class:`PhotoModel` keeps the rows column-wise (:class:`~moodtagger.core.rows.Rows`), so a
100,000-photo catalog loads with one query and filters/sorts vectorised. Thumbnails are not
part of the rows: ``ThumbnailRole`` asks a loader for a missing one and returns ``None``
(the delegate paints a placeholder) until it arrives; then only that row's ``ThumbnailRole``
changes. Updates from workers (``merge``) emit ``dataChanged`` for just the rows and roles
that changed.

:class:`PhotoProxy` filters live (moods, minimum probability, state, ambiguous only, folder,
search, map selection) with a mask computed in numpy once per model change. Filter and order
are the core's one rule (:func:`moodtagger.core.rows.filter_mask`, :func:`~moodtagger.core.rows.sort_order`),
the same as ``moodtagger list``. Sorting never moves the model's rows: it computes their
order (:meth:`PhotoModel.order`, one numpy sort) and the proxy shows the rows passing the
filter in that order (:mod:`~moodtagger.gui.models.photoproxy`, numpy-indexed).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import fields
from enum import IntEnum

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QImage

from moodtagger.core import rows as R
from moodtagger.core.moods import MOODS, display_name
from moodtagger.core.rows import DEFAULT_MARGIN, SORT_KEYS, Filter, Rows
from moodtagger.gui.models.photoproxy import PhotoProxy

__all__ = ["DEFAULT_MARGIN", "SORT_KEYS", "Filter", "PhotoModel", "PhotoProxy", "Roles"]


class Roles(IntEnum):
    PhotoIdRole = Qt.ItemDataRole.UserRole + 1
    PathRole = Qt.ItemDataRole.UserRole + 2
    ThumbnailRole = Qt.ItemDataRole.UserRole + 3  # QImage or None (not loaded yet)
    MoodScoresRole = Qt.ItemDataRole.UserRole + 4  # tuple of 8 floats (MOODS order) or None
    ChoiceRole = Qt.ItemDataRole.UserRole + 5  # tuple of chosen moods, or None (never chose)
    StateRole = (
        Qt.ItemDataRole.UserRole + 6
    )  # 'unconfirmed' | 'chosen' | 'written' | 'failed' | 'missing' (core/states.py)
    ErrorRole = Qt.ItemDataRole.UserRole + 7  # str or None (unreadable file, failed write)
    AmbiguousRole = Qt.ItemDataRole.UserRole + 8  # bool
    TopMoodRole = Qt.ItemDataRole.UserRole + 9  # (mood, probability) or None
    ValenceArousalRole = Qt.ItemDataRole.UserRole + 10  # (valence, arousal) or None


SCORE_ROLES = [
    Roles.MoodScoresRole,
    Roles.TopMoodRole,
    Roles.AmbiguousRole,
    Roles.ValenceArousalRole,
    Roles.StateRole,
    Qt.ItemDataRole.ToolTipRole,
]
CHOICE_ROLES = [Roles.ChoiceRole, Roles.StateRole, Roles.ErrorRole, Qt.ItemDataRole.ToolTipRole]

# the order of a "more like this" result (PhotoModel.set_ranking): not in the sort menu until one is shown
RANKING = "similarity"
# keys whose natural order is ascending (the rest start descending: highest first)
ASCENDING_KEYS = ("name", "ambiguity")


def sort_key_label(key: str) -> str:
    return {
        "name": "Name",
        "date": "Date taken",
        "top": "Top mood probability",
        "ambiguity": "Ambiguity (top-1 − top-2)",
        "disagreement": "Suggestion disagrees with choice",
    }.get(key) or display_name(key)


class PhotoModel(QAbstractListModel):
    """One row per photo. Filled by :meth:`load`/:meth:`merge`; thumbnails on demand."""

    thumbnailWanted = Signal(int, str, object)  # photo id, path, identity
    rowsMerged = Signal()
    orderChanged = Signal()  # sort_by: a new order() (the rows themselves stay where they are)
    VIEW_ONLY_ROLES = (int(Roles.ThumbnailRole),)  # changes that never change what a filter shows

    THUMB_CACHE = 800

    def __init__(self, parent: QObject | None = None, *, margin: float = DEFAULT_MARGIN):
        super().__init__(parent)
        self._d = Rows.empty()
        self._row_of: dict[int, int] = {}
        self._order = np.zeros(0, np.int64)  # rows in the sort order (sort_key)
        self.version = 0  # bumped on every change of the rows (the proxy caches its mask by it)
        self._derived: tuple[int, R.Derived] = (-1, R.Derived())
        self.margin = margin
        self._thumbs: OrderedDict[int, QImage | None] = OrderedDict()
        self._thumb_wanted: set[int] = set()
        self.thumbnails_enabled = True
        self.sort_key = ("name", False)
        self._ranking: dict[int, float] = {}  # photo id -> similarity ("more like this")
        self.keywords: dict[int, str] = {}  # photo id -> keywords already in the file (for search)
        self._haystack: tuple[int, list[str]] | None = None

    def set_keywords(self, keywords: dict[int, list[str]]) -> None:
        """Keywords found in the files (search looks at them); the filter is recomputed."""
        self.keywords = {pid: " ".join(kws) for pid, kws in keywords.items()}
        self.version += 1
        if self._derived[0] == self.version - 1:  # keywords change no derived column
            self._derived = (self.version, self._derived[1])

    def update_keywords(self, keywords: dict[int, list[str]]) -> None:
        """The keywords now in these photos' files (an empty list: none)."""
        for pid, kws in keywords.items():
            if kws:
                self.keywords[pid] = " ".join(kws)
            else:
                self.keywords.pop(pid, None)
        if keywords:
            self.version += 1
            self._patch_caches(
                np.array([r for r in map(self._row_of.get, keywords) if r is not None], np.int64)
            )

    def _patch_caches(self, rows: np.ndarray, names_changed: bool = False) -> None:
        """After a change of just ``rows`` (version bumped once): the cached derived columns
        and search haystack are patched for those rows instead of recomputed for every row
        (issue 26.3: a change costs its rows, not the library's size)."""
        was = self.version - 1
        if self._derived[0] == was:
            dv, sub = self._derived[1], R.derive(self._d.take(rows))
            for f in fields(dv):
                if not f.metadata.get("lazy"):
                    getattr(dv, f.name)[rows] = getattr(sub, f.name)
            if names_changed:
                dv.name_rank = None
            self._derived = (self.version, dv)
        if self._haystack is not None and self._haystack[0] == was:
            hay = self._haystack[1]
            for r, text in zip(
                rows.tolist(), R.search_haystack(self._d.take(rows), self.keywords), strict=True
            ):
                hay[r] = text
            self._haystack = (self.version, hay)

    def haystack(self) -> list[str]:
        """Per row: folder, file name and keywords, case-folded (what the search box looks at)."""
        if self._haystack is None or self._haystack[0] != self.version:
            d = self._d
            self._haystack = (self.version, R.search_haystack(d, self.keywords))
        return self._haystack[1]

    # -- filling -----------------------------------------------------------------------------
    def set_rows(
        self,
        rows: Rows,
        derived: R.Derived | None = None,
        row_of: dict[int, int] | None = None,
    ) -> None:
        """Show ``rows``; ``derived`` (:func:`~moodtagger.core.rows.derive`) and ``row_of``
        (photo id -> row) if already computed from them (off the GUI thread)."""
        self.beginResetModel()
        self._d = rows
        if row_of is not None:
            self._row_of = row_of
        else:
            self._reindex()
        self.version += 1
        if derived is not None:
            self._derived = (self.version, derived)
        self._order = self._sorted(*self.sort_key)
        self.endResetModel()

    def merge(self, rows: Rows) -> None:
        """Update rows already shown (only changed roles are announced), append new ones."""
        if not len(rows):
            return
        pos = np.array([self._row_of.get(int(i), -1) for i in rows.ids], dtype=np.int64)
        known = pos >= 0
        if known.any():
            where = pos[known]
            sub = rows.take(np.nonzero(known)[0])
            d = self._d
            prob_changed = ~_same(d.probs[where], sub.probs).all(axis=1) | ~_same(
                d.valence[where], sub.valence
            )
            choice_changed = (
                (d.choice_bits[where] != sub.choice_bits)
                | (d.choice_state[where] != sub.choice_state)
                | np.array(
                    [
                        d.choice_errors[r] != e
                        for r, e in zip(where.tolist(), sub.choice_errors, strict=True)
                    ],
                    bool,
                )
            )
            status_changed = (d.status[where] != sub.status) | np.array(
                [d.errors[r] != e for r, e in zip(where.tolist(), sub.errors, strict=True)], bool
            )
            ident_changed = np.array(
                [
                    d.identities[r] != i or d.paths[r] != p
                    for r, i, p in zip(where.tolist(), sub.identities, sub.paths, strict=True)
                ],
                bool,
            )
            names_changed = any(
                d.paths[r] != p for r, p in zip(where.tolist(), sub.paths, strict=True)
            )
            d.assign(where, sub)
            for r in where[ident_changed].tolist():
                self._forget_thumb(int(d.ids[r]))
            self.version += 1
            self._patch_caches(where, names_changed)
            for mask, roles in (
                (prob_changed, SCORE_ROLES),
                (choice_changed | status_changed, CHOICE_ROLES),
                (ident_changed, [Roles.ThumbnailRole, Roles.PathRole, Qt.ItemDataRole.DisplayRole]),
            ):
                self._emit_changed(where[mask], roles)
        if (~known).any():
            new = rows.take(np.nonzero(~known)[0])
            first = len(self._d)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._d.extend(new)
            for k, pid in enumerate(new.ids.tolist()):
                self._row_of[pid] = first + k
            # new photos come last until the next sort (the window sorts again while that is quick)
            self._order = np.concatenate([self._order, np.arange(first, len(self._d))])
            self.version += 1
            self.endInsertRows()
        self.rowsMerged.emit()

    def remove_ids(self, ids) -> None:
        rows = sorted((self._row_of[i] for i in ids if i in self._row_of), reverse=True)
        for start, stop in _runs_desc(rows):
            self.beginRemoveRows(QModelIndex(), start, stop - 1)
            for pid in self._d.ids[start:stop].tolist():
                self._forget_thumb(pid)
            self._d.delete(start, stop)
            order = self._order[(self._order < start) | (self._order >= stop)]
            self._order = np.where(order >= stop, order - (stop - start), order)
            self.version += 1
            self.endRemoveRows()
        if rows:
            self._reindex()

    def set_choice_values(
        self, values: dict[int, tuple[tuple[str, ...] | None, str, str | None]]
    ) -> None:
        """Show new choices: ``{photo_id: (moods or None, state, error)}`` (already in the catalog)."""
        changed = []
        d = self._d
        for pid, (moods, state, error) in values.items():
            r = self._row_of.get(pid)
            if r is None:
                continue
            d.set_choice(r, moods)
            d.choice_state[r] = R.NO_CHOICE if moods is None else R.CHOICE_CODE[state]
            d.choice_errors[r] = error
            changed.append(r)
        if changed:
            self.version += 1
            self._emit_changed(np.array(sorted(changed)), CHOICE_ROLES)

    def _reindex(self) -> None:
        self._row_of = {pid: r for r, pid in enumerate(self._d.ids.tolist())}

    def _emit_changed(self, rows: np.ndarray, roles) -> None:
        if not len(rows):
            return
        for start, stop in _runs(sorted(rows.tolist())):
            self.dataChanged.emit(self.index(start), self.index(stop - 1), [int(r) for r in roles])

    # -- sorting -----------------------------------------------------------------------------
    def set_ranking(self, scores: dict[int, float] | None) -> None:
        """The similarities of a "more like this" result, for the sort key ``RANKING``
        (photos not in it come last); None drops them."""
        self._ranking = dict(scores or {})
        if self.sort_key[0] == RANKING:
            self.resort()

    def ranking(self, photo_id: int) -> float | None:
        return self._ranking.get(photo_id)

    def sort_by(self, key: str, descending: bool = False) -> None:
        """Order the rows by ``key`` (see SORT_KEYS): a new :meth:`order`, the rows stay put
        (so every index and persistent index keeps its photo); the proxy follows it."""
        if key not in SORT_KEYS and key != RANKING:
            raise ValueError(f"unknown sort key {key!r}")
        self.sort_key = (key, descending)
        self._order = self._sorted(key, descending)
        self.orderChanged.emit()

    def resort(self) -> None:
        self.sort_by(*self.sort_key)

    def order(self) -> np.ndarray:
        """The rows (positions) in the sort order ``sort_key``; new rows last until a resort."""
        return self._order

    def _sorted(self, key: str, descending: bool) -> np.ndarray:
        dv = self.derived()
        if (
            key == RANKING
        ):  # the core's "more like this" order (Library.similar), most similar first
            rank = self._ranking
            primary = np.array([rank.get(pid, -2.0) for pid in self._d.ids.tolist()], np.float64)
            return R.order_by(primary, R.name_rank(self._d, dv), descending)
        return R.sort_order(self._d, key, descending, dv)

    # -- thumbnails ----------------------------------------------------------------------------
    def set_thumbnails(self, images: dict[int, QImage | None]) -> None:
        rows = []
        for pid, img in images.items():
            self._thumb_wanted.discard(pid)
            self._thumbs[pid] = img
            self._thumbs.move_to_end(pid)
            r = self._row_of.get(pid)
            if r is not None:
                rows.append(r)
        while len(self._thumbs) > self.THUMB_CACHE:
            self._thumbs.popitem(last=False)
        self._emit_changed(np.array(rows, dtype=np.int64), [Roles.ThumbnailRole])

    def forget_wanted(self, photo_ids) -> None:
        """Thumbnail requests that were dropped: ask again when the row is painted again."""
        for pid in photo_ids:
            self._thumb_wanted.discard(pid)

    def clear_thumbnails(self) -> None:
        self._thumbs.clear()
        self._thumb_wanted.clear()
        if len(self._d):
            self.dataChanged.emit(
                self.index(0), self.index(len(self._d) - 1), [int(Roles.ThumbnailRole)]
            )

    def _forget_thumb(self, pid: int) -> None:
        self._thumbs.pop(pid, None)
        self._thumb_wanted.discard(pid)

    def thumbnail_failed(self, pid: int) -> bool:
        return pid in self._thumbs and self._thumbs[pid] is None

    # -- derived columns -----------------------------------------------------------------------
    def derived(self) -> R.Derived:
        """:func:`moodtagger.core.rows.derive` of the rows, cached while they do not change."""
        if self._derived[0] != self.version:
            self._derived = (self.version, R.derive(self._d))
        return self._derived[1]

    def filter_mask(self, flt: Filter) -> np.ndarray:
        """Which rows pass ``flt``: the core's one filter rule (:func:`moodtagger.core.rows.filter_mask`)."""
        haystack = self.haystack() if flt.text.strip() else None
        return R.filter_mask(self._d, flt, self.derived(), haystack=haystack)

    def is_ambiguous(self, row: int) -> bool:
        dv = self.derived()
        return bool(dv.has_pred[row] and dv.gap[row] < self.margin)

    # -- Qt model API ----------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._d)

    def roleNames(self) -> dict[int, bytes]:
        names = super().roleNames()
        for r in Roles:
            names[int(r)] = r.name[0].lower().encode() + r.name[1:-4].encode()
        return names

    def flags(self, index):
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if not index.isValid():
            return None
        row = index.row()
        d = self._d
        if row >= len(d):
            return None
        if role == Roles.ThumbnailRole:
            pid = int(d.ids[row])
            if pid in self._thumbs:
                self._thumbs.move_to_end(pid)
                return self._thumbs[pid]
            if (
                self.thumbnails_enabled
                and pid not in self._thumb_wanted
                and d.status[row] != R.ERROR
            ):
                self._thumb_wanted.add(pid)
                self.thumbnailWanted.emit(pid, d.paths[row], d.identities[row])
            return None
        if role == Roles.MoodScoresRole:
            p = d.probs[row]
            return None if np.isnan(p[0]) else tuple(float(x) for x in p)
        if role == Qt.ItemDataRole.DisplayRole:
            return d.name(row)
        if role == Roles.PhotoIdRole:
            return int(d.ids[row])
        if role == Roles.ChoiceRole:
            return d.choice(row)
        if role == Roles.StateRole:
            return R.STATES[int(self.derived().states[row])]
        if role == Roles.ErrorRole:
            if d.status[row] == R.ERROR:
                return d.errors[row] or "unreadable"
            if d.choice_state[row] == R.FAILED:
                return f"write failed: {d.choice_errors[row] or 'unknown reason'}"
            return None
        if role == Roles.AmbiguousRole:
            return self.is_ambiguous(row)
        if role == Roles.TopMoodRole:
            dv = self.derived()
            return (MOODS[int(dv.top_idx[row])], float(dv.top_p[row])) if dv.has_pred[row] else None
        if role == Roles.ValenceArousalRole:
            v, a = float(d.valence[row]), float(d.arousal[row])
            return None if np.isnan(v) or np.isnan(a) else (v, a)
        if role == Roles.PathRole:
            return d.paths[row]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        return None

    def _tooltip(self, row: int) -> str:
        d = self._d
        lines = [d.paths[row]]
        pred = d.prediction(row)
        if pred is not None:
            mood, p = pred.top
            lines.append(
                f"suggested: {display_name(mood)} {p:.0%}"
                + ("  (ambiguous)" if self.is_ambiguous(row) else "")
            )
        choice = d.choice(row)
        if choice is not None:
            state = R.CHOICE_NAME.get(int(d.choice_state[row]), "")
            lines.append(
                f"chosen: {', '.join(display_name(m) for m in choice) or '(none)'} — {state}"
            )
        err = self.data(self.index(row), Roles.ErrorRole)
        if err:
            lines.append(f"error: {err}")
        return "\n".join(lines)

    # -- lookups for the window -----------------------------------------------------------------
    @property
    def rows(self) -> Rows:
        return self._d

    def row_of(self, photo_id: int) -> int | None:
        return self._row_of.get(photo_id)

    def index_of(self, photo_id: int) -> QModelIndex:
        r = self._row_of.get(photo_id)
        return QModelIndex() if r is None else self.index(r)

    def choice_value(self, photo_id: int) -> tuple[tuple[str, ...] | None, str, str | None]:
        r = self._row_of[photo_id]
        d = self._d
        state = R.CHOICE_NAME.get(int(d.choice_state[r]), "pending")
        return d.choice(r), state, d.choice_errors[r]

    def max_id(self) -> int:
        return int(self._d.ids.max()) if len(self._d) else 0


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _runs(sorted_rows: list[int]):
    """[1,2,3,7,8] -> (1,4), (7,9)"""
    if not sorted_rows:
        return
    start = prev = sorted_rows[0]
    for r in sorted_rows[1:]:
        if r == prev + 1:
            prev = r
            continue
        yield start, prev + 1
        start = prev = r
    yield start, prev + 1


def _runs_desc(desc_rows: list[int]):
    """Runs of a descending row list, last run first (safe to remove in this order)."""
    runs = list(_runs(sorted(desc_rows)))
    return reversed(runs)
