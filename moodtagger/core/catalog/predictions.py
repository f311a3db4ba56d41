"""Predictions (one row per photo and model, kept for the pixels they were made from) and
which personal model stands in for a shipped one."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence

import numpy as np

from moodtagger.core.catalog import changes
from moodtagger.core.catalog.connection import Connection, Table
from moodtagger.core.catalog.records import (
    CURRENT_PREDICTION,
    P_PHOTO_COLS,
    PROB_COLUMNS,
    PhotoRow,
    Prediction,
    photo_row,
)
from moodtagger.core.catalog.views import LibraryViews
from moodtagger.core.moods import MOODS


def _path_order(row: Sequence) -> tuple[int, bytes]:
    """SQLite's ``ORDER BY path`` (BINARY collation) of a row whose second column is the path."""
    path = row[1]
    if isinstance(path, bytes):
        return 1, path
    return 0, str(path).encode("utf-8", "surrogatepass")


_COMPLETE = "no photo needs a prediction by: "  # catalog_meta key prefix, + the model id


class PredictionStore(Table):
    """The ``predictions`` table (``catalog.predictions``)."""

    def __init__(self, db: Connection) -> None:
        super().__init__(db)
        self._views = LibraryViews(db)

    def save(self, model_id: str, rows: Iterable[tuple[int, Prediction]]) -> None:
        now = time.time()
        self._insert([(pid, model_id, *p.probs, p.valence, p.arousal, now) for pid, p in rows])

    def save_arrays(
        self, model_id: str, ids: np.ndarray, probs: np.ndarray, valence_arousal: np.ndarray
    ) -> None:
        """:meth:`save` for arrays: ids (n,), probabilities (n, 8), (valence, arousal) (n, 2),
        NaN where unknown."""
        now = time.time()
        va = [[None if x != x else x for x in r] for r in np.asarray(valence_arousal).tolist()]
        data = [
            (pid, model_id, *p, v, a, now)
            for pid, p, (v, a) in zip(
                np.asarray(ids).tolist(), np.asarray(probs, np.float64).tolist(), va, strict=True
            )
        ]
        self._insert(data)

    def _insert(self, data: list[tuple]) -> None:
        """(photo id, model id, 8 probabilities, valence, arousal, time) rows, each tied to the
        photo's current pixels."""
        cols = ", ".join(PROB_COLUMNS)
        marks = ", ".join("?" * len(PROB_COLUMNS))
        with self.transaction() as c:
            c.executemany(
                f"INSERT OR REPLACE INTO predictions(photo_id, model_id, identity, {cols}, valence, arousal, created_at) "
                f"SELECT ?, ?, (SELECT identity FROM photos WHERE id=?1), {marks}, ?, ?, ?",
                data,
            )

    def get(self, photo_id: int, model_id: str) -> Prediction | None:
        row = self.conn.execute(
            f"SELECT {', '.join(PROB_COLUMNS)}, valence, arousal FROM predictions "
            "WHERE photo_id=? AND model_id=?",
            (photo_id, model_id),
        ).fetchone()
        if row is None:
            return None
        return Prediction(tuple(row[: len(MOODS)]), row[-2], row[-1])

    def current(self, photo_id: int, model_id: str | None) -> Prediction | None:
        """The photo's current prediction (the one rule: CURRENT_PREDICTION), or None."""
        for _photo_row, pred, _c, _s in self._views.library(
            model_id, status=None, photo_ids=[photo_id]
        ):
            return pred
        return None

    def photos_needing(self, model_id: str, ids: Sequence[int] | None = None) -> list[PhotoRow]:
        """Readable photos with no current prediction by ``model_id`` (see CURRENT_PREDICTION);
        with ``ids``, only among those photos.

        Every photo is looked at once (a million: 1-2 s of SQLite); when none needs one, the
        change-log entry that answer was true at is kept in ``catalog_meta``, and later calls
        look only at the photos the log names since (every change that could make a photo
        need a prediction is logged: a new photo, new pixels, a status, a prediction removed
        or replaced). A log pruned past that entry means looking at every photo again."""
        if ids is not None:
            return [photo_row(r) for r in self._needing(model_id, ids)]
        found = changes.ask_remembered(
            self, f"{_COMPLETE}{model_id}", lambda some: self._needing(model_id, some)
        )
        found.sort(key=_path_order)  # as SQLite's ORDER BY p.path would (text before blobs)
        return [photo_row(r) for r in found]

    def _needing(self, model_id: str, ids: Sequence[int] | None) -> list:
        sql = (
            f"SELECT {P_PHOTO_COLS} FROM photos p "
            f"LEFT JOIN predictions r ON {CURRENT_PREDICTION} "
            "WHERE p.status='ok' AND r.photo_id IS NULL"
        )
        if ids is None:
            # every photo, in rowid order (a sequential scan and in-order prediction lookups:
            # ~30% faster at a million photos than by the status index)
            sql = sql.replace("p.status='ok'", "+p.status='ok'")
            return self.conn.execute(sql, (model_id,)).fetchall()
        out: list = []
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            marks = ",".join("?" * len(chunk))
            out += self.conn.execute(f"{sql} AND p.id IN ({marks})", (model_id, *chunk))
        return out

    def probs_for(self, model_id: str, photo_ids: Sequence[int]) -> np.ndarray:
        """Current mood probabilities (n, 8) by ``model_id`` for ``photo_ids`` (NaN rows where
        there is none), plus nothing else: the personal model's prior."""
        out = np.full((len(photo_ids), len(MOODS)), np.nan)
        pos = {int(pid): i for i, pid in enumerate(photo_ids)}
        cols = ", ".join("r." + c for c in PROB_COLUMNS)
        for row in self.conn.execute(
            f"SELECT r.photo_id, {cols} FROM predictions r JOIN photos p ON {CURRENT_PREDICTION} "
            "WHERE r.photo_id IN (SELECT value FROM json_each(?))",
            (model_id, json.dumps(list(pos))),
        ):
            out[pos[row[0]]] = row[1:]
        return out

    def valence_arousal_for(self, model_id: str, photo_ids: Sequence[int]) -> np.ndarray:
        """Current (valence, arousal) (n, 2) by ``model_id`` (NaN where unknown)."""
        out = np.full((len(photo_ids), 2), np.nan)
        pos = {int(pid): i for i, pid in enumerate(photo_ids)}
        for row in self.conn.execute(
            f"SELECT r.photo_id, r.valence, r.arousal FROM predictions r JOIN photos p ON {CURRENT_PREDICTION} "
            "WHERE r.photo_id IN (SELECT value FROM json_each(?))",
            (model_id, json.dumps(list(pos))),
        ):
            out[pos[row[0]]] = [np.nan if v is None else v for v in row[1:]]
        return out

    def delete(self, model_id: str) -> int:
        with self.transaction() as c:
            return c.execute("DELETE FROM predictions WHERE model_id=?", (model_id,)).rowcount

    def delete_unused(self, prefix: str) -> int:
        """Delete the predictions of every model whose id starts with ``prefix`` (the personal
        models) that no longer stands in for a parent: nothing shows them any more."""
        with self.transaction() as c:
            return c.execute(
                "DELETE FROM predictions WHERE substr(model_id, 1, ?)=? "
                "AND model_id NOT IN (SELECT model_id FROM models_in_use)",
                (len(prefix), prefix),
            ).rowcount


class ModelsInUse(Table):
    """The ``models_in_use`` table (``catalog.models_in_use``): the personal model
    (issue 14) standing in for a shipped one."""

    def set(self, parent_id: str, model_id: str | None) -> None:
        """Let ``model_id`` (a personal model) stand in for ``parent_id``; None: the parent again."""
        with self.transaction() as c:
            if model_id is None:
                c.execute("DELETE FROM models_in_use WHERE parent_id=?", (parent_id,))
            else:
                c.execute(
                    "INSERT OR REPLACE INTO models_in_use(parent_id, model_id, updated_at) VALUES (?, ?, ?)",
                    (parent_id, model_id, time.time()),
                )

    def get(self, parent_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT model_id FROM models_in_use WHERE parent_id=?", (parent_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def all(self) -> dict[str, str]:
        """parent id -> the model standing in for it (every row of ``models_in_use``)."""
        return {
            str(r[0]): str(r[1])
            for r in self.conn.execute("SELECT parent_id, model_id FROM models_in_use")
        }
