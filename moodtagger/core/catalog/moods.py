"""The user's own moods (issue 27): ``moods`` (name as typed, case-folded key, removed flag)
and ``custom_scores`` (each photo's probability for each custom mood)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from moodtagger.core.catalog import changes
from moodtagger.core.catalog.connection import Table


@dataclass(frozen=True)
class CustomMood:
    id: int
    name: str  # as typed: the keyword written into files
    created_at: float
    removed_at: float | None = None

    @property
    def removed(self) -> bool:
        return self.removed_at is not None


class CustomMoods(Table):
    """The ``moods`` and ``custom_scores`` tables (``catalog.moods``)."""

    def all(self, *, removed: bool = False) -> list[CustomMood]:
        """The custom moods (with ``removed``: the removed ones too), by name ignoring case."""
        sql = "SELECT id, name, created_at, removed_at FROM moods"
        if not removed:
            sql += " WHERE removed_at IS NULL"
        return [CustomMood(*r) for r in self.conn.execute(sql + " ORDER BY key, name")]

    def names(self) -> list[str]:
        """The names of the custom moods in use, by name ignoring case."""
        return [m.name for m in self.all()]

    def find(self, name: str) -> CustomMood | None:
        """The custom mood called ``name`` ignoring case (removed ones too), or None."""
        row = self.conn.execute(
            "SELECT id, name, created_at, removed_at FROM moods WHERE key=?", (name.casefold(),)
        ).fetchone()
        return None if row is None else CustomMood(*row)

    def add(self, name: str) -> CustomMood:
        """Add ``name`` (already checked); a removed mood of that name comes back, spelt anew."""
        now = time.time()
        with self.transaction() as c:
            c.execute(
                "INSERT INTO moods(name, key, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET name=excluded.name, removed_at=NULL",
                (name, name.casefold(), now),
            )
        found = self.find(name)
        assert found is not None
        return found

    def scorer(self, mood_id: int) -> bytes | None:
        """The fitted scorer `learn` stored for ``mood_id`` (None: not learnt)."""
        row = self.conn.execute("SELECT scorer FROM moods WHERE id=?", (mood_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def mark_removed(self, mood_id: int) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE moods SET removed_at=?, scorer=NULL WHERE id=?", (time.time(), mood_id)
            )
            c.execute("DELETE FROM custom_scores WHERE mood_id=?", (mood_id,))

    # -- probabilities --------------------------------------------------------------------
    def save_scores(
        self,
        mood_id: int,
        photo_ids: Sequence[int],
        probs: Sequence[float],
        scorer: bytes | None = None,
    ) -> None:
        """Replace the custom mood's probabilities by these (for the photos' present pixels) and
        its fitted scorer (None: it has none)."""
        with self.transaction() as c:
            c.execute("UPDATE moods SET scorer=? WHERE id=?", (scorer, mood_id))
            c.execute("DELETE FROM custom_scores WHERE mood_id=?", (mood_id,))
            c.executemany(
                "INSERT INTO custom_scores(photo_id, mood_id, identity, p) "
                "SELECT ?1, ?2, identity, ?3 FROM photos WHERE id=?1",
                [(int(i), mood_id, float(p)) for i, p in zip(photo_ids, probs, strict=True)],
            )

    def add_scores(self, mood_id: int, photo_ids: Sequence[int], probs: Sequence[float]) -> None:
        """Set the probabilities of these photos only (a scan's new photos)."""
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO custom_scores(photo_id, mood_id, identity, p) "
                "SELECT ?1, ?2, identity, ?3 FROM photos WHERE id=?1",
                [(int(i), mood_id, float(p)) for i, p in zip(photo_ids, probs, strict=True)],
            )

    def scores(
        self, photo_ids: Sequence[int], moods: Sequence[CustomMood] | None = None
    ) -> np.ndarray:
        """(n, k) current probabilities of ``photo_ids`` for ``moods`` (default: those in use),
        NaN where there is none (never learnt, or made for other pixels)."""
        moods = self.all() if moods is None else list(moods)
        out = np.full((len(photo_ids), len(moods)), np.nan, np.float32)
        if not moods or not len(photo_ids):
            return out
        col = {m.id: j for j, m in enumerate(moods)}
        pos = {int(p): i for i, p in enumerate(photo_ids)}
        for pid, mid, p in self.conn.execute(
            "SELECT s.photo_id, s.mood_id, s.p FROM custom_scores s JOIN photos p "
            "ON p.id=s.photo_id AND s.identity IS p.identity "
            "WHERE s.photo_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(pos)),),
        ):
            if mid in col:
                out[pos[pid], col[mid]] = p
        return out

    def scored_count(self, mood_id: int) -> int:
        """How many photos have a current probability for ``mood_id``."""
        return int(
            self.conn.execute(
                "SELECT COUNT(*) FROM custom_scores s JOIN photos p ON p.id=s.photo_id "
                "AND s.identity IS p.identity WHERE s.mood_id=?",
                (mood_id,),
            ).fetchone()[0]
        )

    def unscored_embedded(self, mood_id: int, model_id: str) -> list[int]:
        """Readable photos with a current embedding by ``model_id`` but no current probability
        for ``mood_id`` (scanned after `learn`). Once the answer is none, only the photos the
        change logs name since are looked at again (changes.since_remembered: every photo at a
        million photos is 0.7-3 s on every open)."""
        sql = (
            "SELECT e.photo_id FROM embeddings e JOIN photos p ON p.id=e.photo_id "
            "AND e.identity IS p.identity AND p.status='ok' WHERE e.model_id=? "
            "AND NOT EXISTS (SELECT 1 FROM custom_scores s WHERE s.photo_id=p.id "
            "AND s.mood_id=? AND s.identity IS p.identity)"
        )

        def ask(changed: list[int] | None) -> list[int]:
            if changed is None:
                return sorted(int(r[0]) for r in self.conn.execute(sql, (model_id, mood_id)))
            some = " AND e.photo_id IN (SELECT value FROM json_each(?))"
            rows = self.conn.execute(sql + some, (model_id, mood_id, json.dumps(changed)))
            return sorted(int(r[0]) for r in rows)

        key = f"every embedded photo scored: {mood_id} {model_id}"
        # new embeddings are in their own log
        return changes.ask_remembered(self, key, ask, (changes.TABLE, "embedding_changes"))
