"""The write journal: one row per file of a write batch, so a crash mid-batch is recoverable
and never double-applies (the writer's temp -> verify -> rename protocol)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from moodtagger.core.catalog.connection import Table
from moodtagger.core.catalog.records import fs


class WriteJournal(Table):
    """The ``write_journal`` table (``catalog.journal``)."""

    def start(
        self, batch_id: str, items: Iterable[tuple[int | None, str, Sequence[str]]]
    ) -> list[int]:
        """One 'pending' journal row per ``(photo id, path, moods)``; returns the row ids."""
        now = time.time()
        out = []
        with self.transaction() as c:
            for photo_id, path, moods in items:
                cur = c.execute(
                    "INSERT INTO write_journal(batch_id, photo_id, path, moods, state, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                    (batch_id, photo_id, fs(path), ",".join(sorted(moods)), now, now),
                )
                out.append(int(cur.lastrowid or 0))
        return out

    def set_temp(self, row: int, temp: str) -> None:
        """Record the temporary file before it is created (committed at once)."""
        with self.transaction() as c:
            c.execute(
                "UPDATE write_journal SET temp_path=?, updated_at=? WHERE id=?",
                (fs(temp), time.time(), row),
            )

    def set_temps(self, pairs: Sequence[tuple[int, str]]) -> None:
        """:meth:`set_temp` for many ``(row, temporary file)`` at once, in one commit."""
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "UPDATE write_journal SET temp_path=?, updated_at=? WHERE id=?",
                [(fs(temp), now, row) for row, temp in pairs],
            )

    def finish(self, row: int, state: str, error: str | None) -> None:
        """Inside the caller's transaction (with the choice's new state)."""
        self.conn.execute(
            "UPDATE write_journal SET state=?, error=?, temp_path=NULL, updated_at=? WHERE id=?",
            (state, error, time.time(), row),
        )

    def skip_rest(self, batch_id: str) -> None:
        """Files of ``batch_id`` never reached (cancelled)."""
        with self.transaction() as c:
            c.execute(
                "UPDATE write_journal SET state='skipped', updated_at=? WHERE batch_id=? AND state='pending'",
                (time.time(), batch_id),
            )

    def interrupted(self) -> list[tuple[int, bytes | None]]:
        """(journal row, temporary file) of every entry still 'pending' (a batch that died)."""
        return self.conn.execute(
            "SELECT id, temp_path FROM write_journal WHERE state='pending'"
        ).fetchall()

    def close_interrupted(self, rows: Iterable[int]) -> None:
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "UPDATE write_journal SET state='interrupted', updated_at=? WHERE id=?",
                [(now, r) for r in rows],
            )

    def last_written_moods(self, photo_id: int) -> list[str]:
        """The moods the write journal last wrote into the photo's files ([] if none)."""
        row = self.conn.execute(
            "SELECT moods FROM write_journal WHERE photo_id=? AND state='written' "
            "ORDER BY id DESC LIMIT 1",
            (photo_id,),
        ).fetchone()
        return [m for m in row[0].split(",") if m] if row else []
