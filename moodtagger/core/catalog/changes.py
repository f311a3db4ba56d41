"""Which photos changed since a reader last looked (issue 26.3, "never stale"): the
``photo_changes`` log that triggers append to on every change of a photo, its predictions, its
choice or its file keywords (schema step 7), whichever process commits it.

A reader keeps the last entry it saw (:meth:`ChangeLog.latest`) and asks for the photos changed
after it (:meth:`ChangeLog.since`): O(changed photos), never O(library). Whether to ask at all is
``PRAGMA data_version`` (:meth:`ChangeLog.data_version`), which changes when another connection
commits and costs next to nothing. Opening the catalog for writing prunes the log to its newest
:data:`KEPT` entries; a reader further behind than that is told to reload everything.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from moodtagger.core.catalog.cache_files import snapshot
from moodtagger.core.catalog.connection import Table

KEPT = 200_000  # newest log entries kept when a catalog is opened for writing
REMEMBER = 1_000  # changed photos from which a new "none" answer is kept (ask_remembered)
TABLE = "photo_changes"


class ChangeLog(Table):
    """The ``photo_changes`` table (``catalog.changes``)."""

    def data_version(self) -> int:
        """Changes whenever another connection (any process) committed since the last call."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def latest(self) -> int:
        """The newest entry (0: none yet): what a reader has seen once it has read the rows."""
        return int(
            self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM photo_changes").fetchone()[0]
        )

    def since(self, seq: int) -> tuple[int, list[int] | None]:
        """``(newest entry, ids of the photos changed after entry seq)``, read in one snapshot;
        the ids are None when entries after ``seq`` were pruned (or the log was reset): the
        reader must reload everything."""
        c = self.conn
        c.execute("BEGIN")  # one read snapshot for both statements
        try:
            return changed_since(c, TABLE, seq)
        finally:
            c.execute("COMMIT")

    def prune(self, keep: int = KEPT) -> None:
        """Drop all but the newest ``keep`` entries once there are twice as many (two index
        lookups otherwise: opening a catalog writes nothing most of the time)."""
        prune_log(self.conn, TABLE, keep)


# The same rules for any log of this shape (seq INTEGER PRIMARY KEY, photo_id): this one and
# the embeddings' own (catalog/embedding_cache.py).


def log_ends(conn: sqlite3.Connection, table: str) -> tuple[int | None, int | None]:
    # two statements: SQLite answers a lone MIN or MAX from the index end, both at once
    # by scanning the whole log
    first = conn.execute(f"SELECT MIN(seq) FROM {table}").fetchone()[0]
    return first, conn.execute(f"SELECT MAX(seq) FROM {table}").fetchone()[0]


def changed_since(conn: sqlite3.Connection, table: str, seq: int) -> tuple[int, list[int] | None]:
    """``(newest entry, photos logged after entry seq)`` (call inside a read transaction);
    None for the photos when entries after ``seq`` were pruned or the log was reset."""
    first, newest = log_ends(conn, table)
    last = int(newest or 0)
    if last < seq or (first is not None and seq < int(first) - 1 and seq < last):
        return last, None
    ids = [
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT photo_id FROM {table} WHERE seq > ? AND seq <= ? ORDER BY photo_id",
            (seq, last),
        )
    ]
    return last, ids


def prune_log(conn: sqlite3.Connection, table: str, keep: int = KEPT) -> None:
    """Drop all but the newest ``keep`` entries of ``table`` once there are twice as many."""
    first, last = log_ends(conn, table)
    if first is not None and last is not None and last - first >= 2 * keep:
        conn.execute(f"DELETE FROM {table} WHERE seq <= ?", (last - keep,))


# "Nothing to do as of these log entries", kept in the catalog (catalog_meta) under a key: a
# question about every photo (which need a prediction, which lack a custom mood's score) that
# was answered "none" is asked again only of the photos the logs name since (issue 29).


def since_remembered(
    conn: sqlite3.Connection, key: str, logs: tuple[str, ...] = (TABLE,)
) -> tuple[list[int], list[int] | None]:
    """``(the logs' newest entries, photos logged since the entries kept under key)`` (call
    inside a read transaction); None for the photos: nothing kept, or a log pruned past it."""
    try:
        ends = [int(log_ends(conn, t)[1] or 0) for t in logs]
        row = conn.execute("SELECT value FROM catalog_meta WHERE key=?", (key,)).fetchone()
        seqs = [] if row is None else [int(x) for x in str(row[0]).split()]
    except (sqlite3.Error, ValueError):  # an old catalog opened read-only; a bad value
        return [], None
    if len(seqs) != len(logs):
        return ends, None
    changed: set[int] = set()
    for table, seq in zip(logs, seqs, strict=True):
        ids = changed_since(conn, table, seq)[1]
        if ids is None:
            return ends, None
        changed.update(ids)
    return ends, sorted(changed)


def ask_remembered(
    table: Table,
    key: str,
    ask: Callable[[list[int] | None], list],
    logs: tuple[str, ...] = (TABLE,),
) -> list:
    """``ask(photo ids)`` (None: every photo) in one read snapshot, of the photos logged since
    the answer kept under ``key`` was none (all of them when nothing is kept). An answer of
    none about every photo, or about many, is kept (a read-only catalog keeps nothing)."""
    with snapshot(table.conn):
        ends, changed = since_remembered(table.conn, key, logs)
        found = ask(changed)
    if not found and ends and (changed is None or len(changed) >= REMEMBER):
        try:
            with table.transaction() as c:
                c.execute(
                    "INSERT OR REPLACE INTO catalog_meta(key, value) VALUES (?, ?)",
                    (key, " ".join(map(str, ends))),
                )
        except sqlite3.Error:
            pass
    return found
