"""Reads that join a photo with its current prediction and its choice: the grid's rows,
`list`/`export`'s library, the failed photos."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from moodtagger.core.catalog.connection import Table
from moodtagger.core.catalog.records import (
    N_PHOTO_COLS,
    P_PHOTO_COLS,
    PROB_COLUMNS,
    PhotoRow,
    Prediction,
    photo_row,
    photo_state,
    prediction_join,
)
from moodtagger.core.moods import MOODS

# The grid's columns (see :meth:`LibraryViews.grid_rows`), in this order.
GRID_COLUMNS = (
    "id",
    "path",
    "root_id",
    "mtime_ns",
    "status",
    "error",
    "identity",
    *PROB_COLUMNS,
    "valence",
    "arousal",
    "choice_moods",
    "choice_state",
    "choice_error",
    "taken_at",  # the capture date (core/dates.py)
)
_GRID_SQL = (
    "SELECT p.id, p.path, COALESCE(p.root_id, -1), COALESCE(p.mtime_ns, 0), p.status, p.error, "
    "p.identity, "
    + ", ".join(f"r.{c}" for c in PROB_COLUMNS)
    + ", r.valence, r.arousal, c.moods, c.state, c.error, p.taken_at "
    "FROM photos p "
    "LEFT JOIN predictions r ON {cond} "
    "LEFT JOIN choices c ON c.photo_id=p.id "
    "WHERE 1"
)


class LibraryViews(Table):
    """Photos with their current prediction and choice (``catalog.views``)."""

    def grid_rows(self, model_id: str | None, **where) -> list[tuple]:
        """One row per photo for :func:`moodtagger.core.rows.load_rows`, in path order:
        ``GRID_COLUMNS`` (the photo, its current prediction, its choice); ``where``: see
        :meth:`grid_cursor`."""
        return self.grid_cursor(model_id, **where).fetchall()

    def grid_cursor(
        self,
        model_id: str | None,
        *,
        ids: Sequence[int] | None = None,
        after_id: int | None = None,
        since: float | None = None,
        upto_id: int | None = None,
        include_missing: bool = False,
    ) -> sqlite3.Cursor:
        """:meth:`grid_rows` as a cursor (a million rows are read into arrays one at a time,
        never held as a list of tuples)."""
        cond, args = prediction_join(model_id)
        sql = _GRID_SQL.format(cond=cond) + (
            "" if include_missing else " AND p.status != 'missing'"
        )
        if ids is not None:
            sql += " AND p.id IN (SELECT value FROM json_each(?))"
            args.append(json.dumps([int(i) for i in ids]))
        if after_id is not None:
            sql += " AND p.id > ?"
            args.append(int(after_id))
        if since is not None:
            sql += " AND p.updated_at >= ?"
            args.append(float(since))
        if upto_id is not None:
            sql += " AND p.id <= ?"
            args.append(int(upto_id))
        return self.conn.execute(sql + " ORDER BY p.path", args)

    def library(
        self,
        model_id: str | None,
        *,
        status: Iterable[str] | None = ("ok",),
        photo_ids: Iterable[int] | None = None,
    ) -> Iterator[tuple[PhotoRow, Prediction | None, list[str] | None, str]]:
        """(photo, current prediction, chosen moods or None, state) in path order.

        ``state`` is :func:`photo_state`: unconfirmed | chosen | written | failed | missing."""
        cond, args = prediction_join(model_id)
        where = []
        if status is not None:
            statuses = list(status)
            where.append(f"p.status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        if photo_ids is not None:
            where.append("p.id IN (SELECT value FROM json_each(?))")
            args.append(json.dumps([int(i) for i in photo_ids]))
        sql = (
            f"SELECT {P_PHOTO_COLS}, "
            f"{', '.join('r.' + c for c in PROB_COLUMNS)}, r.valence, r.arousal, r.photo_id, "
            "c.moods, c.state "
            f"FROM photos p LEFT JOIN predictions r ON {cond} "
            "LEFT JOIN choices c ON c.photo_id=p.id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY p.path"
        )
        n = N_PHOTO_COLS
        m = len(MOODS)
        for row in self.conn.execute(sql, args):
            photo = photo_row(row[:n])
            pred = (
                None
                if row[n + m + 2] is None
                else Prediction(tuple(row[n : n + m]), row[n + m], row[n + m + 1])
            )
            chosen = json.loads(row[-2]) if row[-2] is not None else None
            yield photo, pred, chosen, photo_state(photo.status, row[-1])

    def with_predictions(
        self, model_id: str | None, *, status: Iterable[str] = ("ok", "error", "new")
    ) -> Iterator[tuple[PhotoRow, Prediction | None]]:
        """Every photo with its current prediction (by ``model_id``, or the newest current one
        by any model if None). A prediction made for other pixels is never returned."""
        for photo, pred, _c, _s in self.library(model_id, status=status):
            yield photo, pred

    def failed(self) -> list[tuple[PhotoRow, str]]:
        """Photos whose state is "failed" (:func:`photo_state`) with the reason: why the last
        write failed, else why the file cannot be read; in path order."""
        cols = P_PHOTO_COLS
        out: list[tuple[PhotoRow, str]] = []
        for row in self.conn.execute(
            f"SELECT {cols}, c.state, c.error FROM photos p "
            "LEFT JOIN choices c ON c.photo_id=p.id "
            "WHERE p.status='error' OR c.state='failed' ORDER BY p.path"
        ):
            photo, state, error = photo_row(row[:-2]), row[-2], row[-1]
            if photo_state(photo.status, state) != "failed":
                continue
            if state == "failed":
                out.append((photo, f"writing the moods failed: {error or 'unknown error'}"))
            else:
                out.append((photo, photo.error or "cannot be read"))
        return out
