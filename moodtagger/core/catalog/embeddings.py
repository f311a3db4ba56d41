"""The backbone's pooled feature per photo (issue 14), for "similar photos" and personal models.

Embeddings are stored as float16 bytes, one row per (photo, model), with the identity of
the pixels they were computed from: like predictions, only a *current* one is ever used."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from moodtagger.core.catalog import embedding_cache
from moodtagger.core.catalog.connection import Connection, Table


class EmbeddingStore(Table):
    """The ``embeddings`` table (``catalog.embeddings``)."""

    def __init__(self, db: Connection, catalog_path: Path | None = None) -> None:
        super().__init__(db)
        self.catalog_path = catalog_path

    def save(self, model_id: str, rows: Iterable[tuple[int, np.ndarray]]) -> None:
        now = time.time()
        data = [(pid, model_id, np.asarray(v, dtype="<f2").tobytes(), now) for pid, v in rows]
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO embeddings(photo_id, model_id, identity, vector, created_at) "
                "SELECT ?, ?, (SELECT identity FROM photos WHERE id=?1), ?, ?",
                data,
            )

    def get(self, photo_id: int, model_id: str) -> np.ndarray | None:
        """The photo's current embedding (float16) by ``model_id``, or None."""
        row = self.conn.execute(
            "SELECT e.vector FROM embeddings e JOIN photos p ON p.id=e.photo_id "
            "WHERE e.photo_id=? AND e.model_id=? AND e.identity IS p.identity",
            (photo_id, model_id),
        ).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype="<f2").astype(np.float16)

    def all(
        self,
        model_id: str,
        photo_ids: Iterable[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids int64 (n,), float16 (n, d)) of every readable photo with a current
        embedding by ``model_id`` (only ``photo_ids`` if given), in id order. All of them come
        from a memory-mapped copy kept in the cache folder (read-only arrays; see
        :mod:`~moodtagger.core.catalog.embedding_cache`) once the library is large."""
        if photo_ids is not None or self.catalog_path is None:
            return self._read(model_id, photo_ids)

        def read(ids: Iterable[int] | None, alloc=None) -> tuple[np.ndarray, np.ndarray]:
            return self._read(model_id, ids, alloc)

        return embedding_cache.load(self.conn, self.catalog_path, model_id, read)

    def _read(
        self, model_id: str, photo_ids: Iterable[int] | None, alloc=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """From the table itself; ``alloc(n, d)`` gives the array the vectors go into."""
        sql = (
            "SELECT e.photo_id, e.vector FROM embeddings e JOIN photos p ON p.id=e.photo_id "
            "WHERE e.model_id=? AND e.identity IS p.identity AND p.status='ok'"
        )
        args: list[object] = [model_id]
        if photo_ids is not None:
            sql += " AND e.photo_id IN (SELECT value FROM json_each(?))"
            args.append(json.dumps([int(i) for i in photo_ids]))
        # read in chunks into one preallocated array: a million 1,280-d vectors are 2.5 GB,
        # and holding the rows' bytes beside the array would double that
        n = self.conn.execute(f"SELECT count(*) FROM ({sql})", args).fetchone()[0]
        d = self.size(model_id) if n else None
        if not n or not d:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float16)
        cur = self.conn.execute(sql + " ORDER BY e.photo_id", args)
        ids = np.empty(n, np.int64)
        vectors = alloc(n, d) if alloc is not None else np.empty((n, d), np.float16)
        k = 0
        while k < n and (rows := cur.fetchmany(8192)):
            rows = rows[: n - k]  # a commit between the count and the read adds nothing
            flat = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f2")
            ids[k : k + len(rows)] = [r[0] for r in rows]
            vectors[k : k + len(rows)] = flat.reshape(len(rows), d)
            k += len(rows)
        if k == 0:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float16)
        return ids[:k], vectors[:k]

    def models(self) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute("SELECT DISTINCT model_id FROM embeddings ORDER BY model_id")
        ]

    def size(self, model_id: str) -> int | None:
        """The length of ``model_id``'s stored embeddings (None: it has none)."""
        row = self.conn.execute(
            "SELECT length(vector) FROM embeddings WHERE model_id=? LIMIT 1", (model_id,)
        ).fetchone()
        return None if row is None else int(row[0]) // 2
