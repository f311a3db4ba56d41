"""The catalog: a versioned SQLite cache of what the files say plus predictions and choices.

One schema module, ``PRAGMA user_version`` migrations, WAL mode (vorta / qutebrowser style).
Paths are stored as bytes (``os.fsencode``) so names that are not valid UTF-8 survive.
Deleting the catalog loses only predictions and unwritten choices, never photos: the files
stay the source of truth for keywords.

Threading: a :class:`Catalog` wraps one ``sqlite3.Connection`` and must be used from the thread
that opened it. Other threads open their own ``Catalog`` on the same path (WAL allows one writer
and many readers) or send requests to the owner.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from moodtagger.core.moods import MOODS

SCHEMA_VERSION = 2

PROB_COLUMNS = tuple(f"p_{m}" for m in MOODS)


def default_catalog_path() -> Path:
    from platformdirs import user_data_dir

    env = os.environ.get("MOODTAGGER_CATALOG")
    if env:
        return Path(env)
    return Path(user_data_dir("moodtagger", appauthor=False)) / "catalog.sqlite3"


def fs(path: str | os.PathLike[str] | bytes) -> bytes:
    """A path as the bytes stored in the catalog."""
    return os.fsencode(path)


def unfs(raw: bytes) -> str:
    """Stored bytes back to a str path (surrogateescape keeps non-UTF-8 names round-trippable)."""
    return os.fsdecode(raw)


# --------------------------------------------------------------------------------------------
# Schema and migrations. Each entry upgrades from version i to i+1. Never edit a shipped step;
# append a new one and bump SCHEMA_VERSION.
# --------------------------------------------------------------------------------------------

_PROB_DDL = ",\n    ".join(f"{c} REAL NOT NULL" for c in PROB_COLUMNS)

_MIGRATIONS: list[str] = [
    # 0 -> 1: photos, roots, predictions
    f"""
    CREATE TABLE roots(
        id INTEGER PRIMARY KEY,
        path BLOB NOT NULL UNIQUE,
        added_at REAL NOT NULL
    );
    CREATE TABLE photos(
        id INTEGER PRIMARY KEY,
        path BLOB NOT NULL UNIQUE,
        root_id INTEGER REFERENCES roots(id) ON DELETE SET NULL,
        size INTEGER,
        mtime_ns INTEGER,
        identity TEXT,
        width INTEGER,
        height INTEGER,
        orientation INTEGER,
        format TEXT,
        status TEXT NOT NULL DEFAULT 'new',
        error TEXT,
        added_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX photos_root ON photos(root_id);
    CREATE INDEX photos_status ON photos(status);
    CREATE INDEX photos_identity ON photos(identity);
    CREATE TABLE predictions(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model_id TEXT NOT NULL,
        identity TEXT,
        {_PROB_DDL},
        valence REAL,
        arousal REAL,
        created_at REAL NOT NULL,
        PRIMARY KEY(photo_id, model_id)
    );
    """,
    # 1 -> 2: chosen moods, keywords read from files, and the write journal
    """
    ALTER TABLE photos ADD COLUMN taken_at TEXT;
    CREATE TABLE choices(
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        moods TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        source TEXT NOT NULL DEFAULT 'user',
        error TEXT,
        updated_at REAL NOT NULL,
        written_at REAL
    );
    CREATE INDEX choices_state ON choices(state);
    CREATE TABLE file_keywords(
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        keywords TEXT NOT NULL,
        moods TEXT NOT NULL,
        read_at REAL NOT NULL
    );
    CREATE TABLE write_journal(
        id INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        photo_id INTEGER REFERENCES photos(id) ON DELETE SET NULL,
        path BLOB NOT NULL,
        moods TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        temp_path BLOB,
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX write_journal_state ON write_journal(state);
    """,
]

assert len(_MIGRATIONS) == SCHEMA_VERSION


class CatalogError(Exception):
    """The catalog cannot be opened or is newer than this program."""


def init_db(conn: sqlite3.Connection) -> int:
    """Bring the schema of ``conn`` up to :data:`SCHEMA_VERSION`; return the version found."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise CatalogError(
            f"the catalog has schema version {found}, newer than this moodtagger "
            f"({SCHEMA_VERSION}); upgrade moodtagger or use another --catalog"
        )
    for version in range(found, SCHEMA_VERSION):
        with conn:  # one transaction per step: a crash never leaves a half-migrated schema
            conn.execute("BEGIN")
            for statement in _split_sql(_MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
    return found


def _split_sql(script: str) -> Iterator[str]:
    for part in script.split(";"):
        if part.strip():
            yield part


# --------------------------------------------------------------------------------------------
# Row types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoRow:
    id: int
    path: str
    size: int | None
    mtime_ns: int | None
    identity: str | None
    width: int | None
    height: int | None
    orientation: int | None
    format: str | None
    status: str  # 'new' | 'ok' | 'error' | 'missing'
    error: str | None


@dataclass(frozen=True)
class Prediction:
    probs: tuple[float, ...]  # in MOODS order, sums to 1
    valence: float | None = None
    arousal: float | None = None

    @property
    def top(self) -> tuple[str, float]:
        i = max(range(len(self.probs)), key=self.probs.__getitem__)
        return MOODS[i], self.probs[i]


_PHOTO_COLS = "id, path, size, mtime_ns, identity, width, height, orientation, format, status, error"


def _photo(row: Sequence) -> PhotoRow:
    return PhotoRow(row[0], unfs(row[1]), *row[2:])


class Catalog:
    """One connection to the catalog database. Use from one thread only."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 30.0):
        self.path = Path(path) if path is not None else default_catalog_path()
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(
                str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            init_db(self.conn)
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"cannot open catalog {self.path}: {exc}") from exc

    # -- plumbing ---------------------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- roots ------------------------------------------------------------------------------
    def add_root(self, path: str | os.PathLike[str]) -> int:
        raw = fs(os.path.abspath(path))
        self.conn.execute(
            "INSERT OR IGNORE INTO roots(path, added_at) VALUES (?, ?)", (raw, time.time())
        )
        return int(self.conn.execute("SELECT id FROM roots WHERE path=?", (raw,)).fetchone()[0])

    def roots(self) -> list[tuple[int, str]]:
        return [(r[0], unfs(r[1])) for r in self.conn.execute("SELECT id, path FROM roots ORDER BY path")]

    # -- photos -----------------------------------------------------------------------------
    def photo(self, photo_id: int) -> PhotoRow | None:
        row = self.conn.execute(f"SELECT {_PHOTO_COLS} FROM photos WHERE id=?", (photo_id,)).fetchone()
        return _photo(row) if row else None

    def photo_by_path(self, path: str | os.PathLike[str] | bytes) -> PhotoRow | None:
        row = self.conn.execute(
            f"SELECT {_PHOTO_COLS} FROM photos WHERE path=?", (fs(os.path.abspath(path)),)
        ).fetchone()
        return _photo(row) if row else None

    def photos(
        self, *, status: str | Iterable[str] | None = None, root_id: int | None = None
    ) -> list[PhotoRow]:
        sql = f"SELECT {_PHOTO_COLS} FROM photos"
        where: list[str] = []
        args: list[object] = []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        if root_id is not None:
            where.append("root_id=?")
            args.append(root_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY path"
        return [_photo(r) for r in self.conn.execute(sql, args)]

    def count_photos(self, status: str | None = None) -> int:
        if status is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0])
        return int(
            self.conn.execute("SELECT COUNT(*) FROM photos WHERE status=?", (status,)).fetchone()[0]
        )

    def set_file_state(self, photo_id: int, *, size: int, mtime_ns: int) -> None:
        """Record a file's new size/mtime after *we* changed it (a verified metadata write), so
        the next scan does not treat it as changed. Predictions stay valid: pixels are unchanged."""
        self.conn.execute(
            "UPDATE photos SET size=?, mtime_ns=?, updated_at=? WHERE id=?",
            (size, mtime_ns, time.time(), photo_id),
        )

    # -- predictions ------------------------------------------------------------------------
    def save_predictions(
        self, model_id: str, rows: Iterable[tuple[int, Prediction]]
    ) -> None:
        now = time.time()
        data = [
            (pid, model_id, *p.probs, p.valence, p.arousal, now)
            for pid, p in rows
        ]
        cols = ", ".join(PROB_COLUMNS)
        marks = ", ".join("?" * len(PROB_COLUMNS))
        with self.transaction() as c:
            c.executemany(
                f"INSERT OR REPLACE INTO predictions(photo_id, model_id, identity, {cols}, valence, arousal, created_at) "
                f"SELECT ?, ?, (SELECT identity FROM photos WHERE id=?1), {marks}, ?, ?, ?",
                data,
            )

    def prediction(self, photo_id: int, model_id: str) -> Prediction | None:
        row = self.conn.execute(
            f"SELECT {', '.join(PROB_COLUMNS)}, valence, arousal FROM predictions "
            "WHERE photo_id=? AND model_id=?",
            (photo_id, model_id),
        ).fetchone()
        if row is None:
            return None
        return Prediction(tuple(row[: len(MOODS)]), row[-2], row[-1])

    def photos_needing_prediction(self, model_id: str) -> list[PhotoRow]:
        """Readable photos with no prediction by ``model_id`` for their current content."""
        rows = self.conn.execute(
            f"SELECT {', '.join('p.' + c for c in _PHOTO_COLS.split(', '))} FROM photos p "
            "LEFT JOIN predictions r ON r.photo_id=p.id AND r.model_id=? "
            "WHERE p.status='ok' AND (r.photo_id IS NULL OR r.identity IS NOT p.identity) "
            "ORDER BY p.path",
            (model_id,),
        )
        return [_photo(r) for r in rows]

    def iter_with_predictions(
        self, model_id: str | None, *, status: Iterable[str] = ("ok", "error", "new")
    ) -> Iterator[tuple[PhotoRow, Prediction | None]]:
        """Every photo with its latest prediction (by ``model_id``, or any model if None)."""
        statuses = list(status)
        cond = "r.model_id=?" if model_id else "r.created_at=(SELECT MAX(created_at) FROM predictions WHERE photo_id=p.id)"
        args: list[object] = [model_id] if model_id else []
        args.extend(statuses)
        sql = (
            f"SELECT {', '.join('p.' + c for c in _PHOTO_COLS.split(', '))}, "
            f"{', '.join('r.' + c for c in PROB_COLUMNS)}, r.valence, r.arousal, r.photo_id "
            f"FROM photos p LEFT JOIN predictions r ON r.photo_id=p.id AND {cond} "
            f"WHERE p.status IN ({','.join('?' * len(statuses))}) ORDER BY p.path"
        )
        n = len(_PHOTO_COLS.split(", "))
        for row in self.conn.execute(sql, args):
            photo = _photo(row[:n])
            if row[-1] is None:
                yield photo, None
            else:
                yield photo, Prediction(tuple(row[n : n + len(MOODS)]), row[-3], row[-2])

    # -- choices ----------------------------------------------------------------------------
    def set_choice(
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

    def forget_choice(self, photo_id: int) -> None:
        """As if the user never chose (undo of a first choice). Not the same as choosing no
        mood, which is a choice to be written (it removes moods from the file)."""
        self.conn.execute("DELETE FROM choices WHERE photo_id=?", (photo_id,))

    def choice(self, photo_id: int) -> tuple[list[str], str, str | None] | None:
        """(moods, state, error) or None when the user never chose."""
        row = self.conn.execute(
            "SELECT moods, state, error FROM choices WHERE photo_id=?", (photo_id,)
        ).fetchone()
        return (json.loads(row[0]), row[1], row[2]) if row else None

    def mark_choice(self, photo_id: int, state: str, error: str | None = None) -> None:
        """state: 'pending' | 'written' | 'failed'."""
        self.conn.execute(
            "UPDATE choices SET state=?, error=?, written_at=CASE WHEN ?='written' THEN ? ELSE written_at END "
            "WHERE photo_id=?",
            (state, error, state, time.time(), photo_id),
        )

    def pending_choices(self) -> list[tuple[PhotoRow, list[str]]]:
        rows = self.conn.execute(
            f"SELECT {', '.join('p.' + c for c in _PHOTO_COLS.split(', '))}, c.moods FROM choices c "
            "JOIN photos p ON p.id=c.photo_id WHERE c.state IN ('pending', 'failed') ORDER BY p.path"
        )
        return [(_photo(r[:-1]), json.loads(r[-1])) for r in rows]

    # -- keywords found in the files ---------------------------------------------------------
    def set_file_keywords(self, photo_id: int, keywords: Sequence[str], moods: Sequence[str]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO file_keywords(photo_id, keywords, moods, read_at) VALUES (?, ?, ?, ?)",
            (photo_id, json.dumps(list(keywords)), json.dumps(list(moods)), time.time()),
        )

    def file_keywords(self, photo_id: int) -> tuple[list[str], list[str]] | None:
        row = self.conn.execute(
            "SELECT keywords, moods FROM file_keywords WHERE photo_id=?", (photo_id,)
        ).fetchone()
        return (json.loads(row[0]), json.loads(row[1])) if row else None

    def all_file_keywords(self) -> dict[int, list[str]]:
        """Keywords found in the files, for every photo that has any (the GUI's search box)."""
        return {pid: json.loads(kws) for pid, kws in self.conn.execute(
            "SELECT photo_id, keywords FROM file_keywords WHERE keywords != '[]'")}


ProgressFn = Callable[[int, int], None]
"""progress(done, total) callback used by long core operations."""
