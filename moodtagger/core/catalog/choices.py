"""The user's chosen moods per photo (``choices``): set, forget, the state of their write."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence

from moodtagger.core.catalog.connection import Table
from moodtagger.core.catalog.records import P_PHOTO_COLS, PhotoRow, photo_row
from moodtagger.core.states import Choice


class ChoiceStore(Table):
    """The ``choices`` table (``catalog.choices``)."""

    def set(
        self, photo_id: int, moods: Sequence[str], *, source: str = "user", state: str = "pending"
    ) -> None:
        """Set the user's chosen moods (empty list = clear the choice, still to be written)."""
        self.conn.execute(
            "INSERT INTO choices(photo_id, moods, state, source, error, updated_at) "
            "VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT(photo_id) DO UPDATE SET "
            "moods=excluded.moods, state=excluded.state, source=excluded.source, error=NULL, "
            "updated_at=excluded.updated_at",
            (photo_id, json.dumps(sorted(set(moods))), state, source, time.time()),
        )

    def forget(self, photo_id: int) -> None:
        """As if the user never chose (undo of a first choice). Not the same as choosing no
        mood, which is a choice to be written (it removes moods from the file)."""
        self.conn.execute("DELETE FROM choices WHERE photo_id=?", (photo_id,))

    def forget_many(self, photo_ids: Iterable[int]) -> int:
        """Drop the choices of ``photo_ids`` (the files are not touched); returns how many."""
        ids = json.dumps([int(i) for i in photo_ids])
        with self.transaction() as c:
            return c.execute(
                "DELETE FROM choices WHERE photo_id IN (SELECT value FROM json_each(?))", (ids,)
            ).rowcount

    def get(self, photo_id: int) -> Choice | None:
        """The photo's :class:`~moodtagger.core.states.Choice`, or None when the user never chose."""
        row = self.conn.execute(
            "SELECT moods, state, error FROM choices WHERE photo_id=?", (photo_id,)
        ).fetchone()
        return Choice(json.loads(row[0]), row[1], row[2]) if row else None

    def sources(self, photo_ids: Iterable[int]) -> dict[int, str]:
        """Who made each choice of ``photo_ids`` ('user', 'model' for an accepted suggestion,
        'file' ...); photos never chosen are left out."""
        out: dict[int, str] = {}
        ids = [int(i) for i in photo_ids]
        for s in range(0, len(ids), 500):
            chunk = ids[s : s + 500]
            marks = ", ".join("?" * len(chunk))
            out.update(
                (int(pid), str(src))
                for pid, src in self.conn.execute(
                    f"SELECT photo_id, source FROM choices WHERE photo_id IN ({marks})", chunk
                )
            )
        return out

    def mark(self, photo_id: int, state: str, error: str | None = None) -> None:
        """state: 'pending' | 'written' | 'failed'."""
        self.conn.execute(
            "UPDATE choices SET state=?, error=?, written_at=CASE WHEN ?='written' THEN ? ELSE written_at END "
            "WHERE photo_id=?",
            (state, error, state, time.time(), photo_id),
        )

    def pending(self, photo_ids: Iterable[int] | None = None) -> list[tuple[PhotoRow, list[str]]]:
        """Choices not yet in the files (pending or failed), optionally only for ``photo_ids``."""
        sql = (
            f"SELECT {P_PHOTO_COLS}, c.moods FROM choices c "
            "JOIN photos p ON p.id=c.photo_id WHERE c.state IN ('pending', 'failed')"
        )
        args: list[object] = []
        if photo_ids is not None:
            sql += " AND p.id IN (SELECT value FROM json_each(?))"
            args.append(json.dumps([int(i) for i in photo_ids]))
        rows = self.conn.execute(sql + " ORDER BY p.path", args)
        return [(photo_row(r[:-1]), json.loads(r[-1])) for r in rows]

    def labelled(self) -> list[tuple[int, list[str], str]]:
        """The user's own labels: (photo id, moods, source) for every readable photo whose
        choice names at least one mood and is the user's (chosen in the app or CLI, written,
        or imported from the file's keywords) -- not an accepted model suggestion."""
        rows = self.conn.execute(
            "SELECT c.photo_id, c.moods, c.source FROM choices c JOIN photos p ON p.id=c.photo_id "
            "WHERE p.status='ok' AND c.source != 'model' AND c.moods != '[]' ORDER BY c.photo_id"
        )
        return [(r[0], json.loads(r[1]), r[2]) for r in rows]

    def naming(self, mood: str) -> list[tuple[int, list[str]]]:
        """(photo id, moods) of every choice that names ``mood`` (ignoring case)."""
        key = mood.casefold()
        return [
            (pid, moods)
            for pid, moods in self.all_moods()
            if any(m.casefold() == key for m in moods)
        ]

    def all_moods(self) -> list[tuple[int, list[str]]]:
        """(photo id, chosen moods) of every choice."""
        return [
            (r[0], json.loads(r[1]))
            for r in self.conn.execute("SELECT photo_id, moods FROM choices")
        ]
