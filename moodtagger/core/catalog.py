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
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from moodtagger.core import paths
from moodtagger.core.errors import MoodtaggerError
from moodtagger.core.moods import MOODS
from moodtagger.core.states import NAMES, Choice, photo_state

SCHEMA_VERSION = 6

PROB_COLUMNS = tuple(f"p_{m}" for m in MOODS)


def default_catalog_path() -> Path:
    return paths.catalog_path()


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
    # 2 -> 3: the XMP sidecars' size/mtime (an edit by another tool is noticed on rescan)
    """
    ALTER TABLE photos ADD COLUMN sidecar_sig TEXT;
    """,
    # 3 -> 4: the backbone's pooled feature per photo (float16 bytes) for "similar photos" and
    # personal models, and which personal model (issue 14) stands in for a shipped one
    """
    CREATE TABLE embeddings(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model_id TEXT NOT NULL,
        identity TEXT,
        vector BLOB NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY(photo_id, model_id)
    );
    CREATE TABLE models_in_use(
        parent_id TEXT PRIMARY KEY,
        model_id TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    # 4 -> 5: the file's ctime as scanned (issue 23.4: a photo swapped by `cp -p` keeps size and
    # mtime; for formats without a data fingerprint the ctime tells, before a write)
    """
    ALTER TABLE photos ADD COLUMN ctime_ns INTEGER;
    """,
    # 5 -> 6: which keywords moodtagger added to which field of a photo's files (issue 23):
    # JSON {target: {field: [values]}}, target "" = the photo, ".xmp" = its sidecar IMG_1.xmp
    """
    CREATE TABLE keyword_additions(
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        added TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
]

assert len(_MIGRATIONS) == SCHEMA_VERSION


class KnownPhoto(NamedTuple):
    """What a scan needs of a photo the catalog knows (:meth:`Catalog.known_under`)."""

    path: bytes
    id: int
    size: int | None
    mtime_ns: int | None
    status: str
    error: str | None
    sidecar_sig: str | None
    ctime_ns: int | None


class CatalogError(MoodtaggerError):
    """The catalog cannot be opened, written or is newer than this program (one sentence)."""


def describe_db_error(path: str | os.PathLike[str], exc: BaseException) -> str:
    """One sentence a user can act on for an SQLite error on the catalog at ``path``."""
    msg = str(exc).lower()
    if "disk is full" in msg or "no space" in msg:
        return (
            f"the disk holding the catalog {path} is full; free some space and run the "
            "command again (nothing was half-written)"
        )
    if "readonly" in msg or "read-only" in msg:
        return f"the catalog {path} is read-only; make it writable or use another --catalog"
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return (
            f"the catalog {path} is damaged ({exc}); move it away and run `moodtagger scan` "
            "again (your photos and the keywords in them are safe)"
        )
    if "locked" in msg or "busy" in msg:
        return f"the catalog {path} is busy in another process; try again when it has finished"
    if "unable to open" in msg:
        return f"cannot open the catalog {path}: check that its folder exists and is writable"
    return f"cannot use the catalog {path}: {exc}"


# --------------------------------------------------------------------------------------------
# One writer per catalog across processes (issue 12 item 7)
# --------------------------------------------------------------------------------------------
_LOCKS: dict[str, list] = {}  # real path -> [RLock, fd or None, depth]
_LOCKS_GUARD = threading.Lock()


def lock_path(db: str | os.PathLike[str]) -> str:
    return os.fspath(db) + ".lock"


def init_db(conn: sqlite3.Connection) -> int:
    """Bring the schema of ``conn`` up to :data:`SCHEMA_VERSION`; return the version found."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise CatalogError(
            f"the catalog has schema version {found}, newer than this moodtagger "
            f"({SCHEMA_VERSION}); upgrade moodtagger or use another --catalog"
        )
    if found == SCHEMA_VERSION:
        return found
    # One transaction per step, taken with the write lock (BEGIN IMMEDIATE) and the version read
    # again inside it: two processes opening a new catalog at once never both run a step (that
    # was "table roots already exists"), and a crash never leaves a half-migrated schema.
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                conn.execute("COMMIT")
                return found
            for statement in _split_sql(_MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _split_sql(script: str) -> Iterator[str]:
    for part in script.split(";"):
        if part.strip():
            yield part


# --------------------------------------------------------------------------------------------
# Test-only fault injection (issue 24): MOODTAGGER_KILL_AT_COMMIT=N makes the process SIGKILL
# itself just before its N-th commit reaches the catalog (counted over every connection of the
# process). Every commit point is counted -- an explicit ``COMMIT`` and each write statement
# run outside a transaction (SQLite's autocommit) -- because the hook watches the statements
# the connection runs (``set_trace_callback``), not one API. Unset (always, outside the tests):
# nothing is installed and nothing is paid. A test runs a command with N = 1, 2, ... until it
# completes without being killed, and checks the catalog after each kill.
# --------------------------------------------------------------------------------------------
KILL_AT_COMMIT_ENV = paths.KILL_AT_COMMIT
_commits_seen = [0]
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def _install_kill_hook(conn: sqlite3.Connection) -> None:
    raw = paths.env(KILL_AT_COMMIT_ENV)
    if not raw:
        return
    at = int(raw)

    def trace(sql: str) -> None:
        word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if word in ("COMMIT", "END") or (word in _WRITES and not conn.in_transaction):
            _commits_seen[0] += 1
            if _commits_seen[0] == at:
                import signal

                os.kill(os.getpid(), signal.SIGKILL)

    conn.set_trace_callback(trace)


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
    taken_at: str | None = None  # EXIF DateTimeOriginal, ISO 8601 local time
    ctime_ns: int | None = None  # the inode change time as scanned (None: an older catalog)


@dataclass
class ScannedFile:
    """What the scanner learned about one file (by decoding it), to be stored in ``photos``."""

    path: bytes
    size: int
    mtime_ns: int
    identity: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    format: str | None = None
    error: str | None = None
    sidecar_sig: str | None = None
    taken_at: str | None = None
    ctime_ns: int | None = None


# How storing a scanned file changed the catalog (:meth:`Catalog.store_scanned`).
NEW, MOVED, FOUND_AGAIN, METADATA_CHANGED, CHANGED = (
    "new",
    "moved",
    "found_again",
    "metadata_changed",
    "changed",
)


@dataclass(frozen=True)
class Prediction:
    probs: tuple[float, ...]  # in MOODS order, sums to 1
    valence: float | None = None
    arousal: float | None = None

    @property
    def top(self) -> tuple[str, float]:
        i = max(range(len(self.probs)), key=self.probs.__getitem__)
        return MOODS[i], self.probs[i]


# The one rule for "current prediction" (issue 11 item 5): a prediction by the model in use,
# made for the pixels the photo has now (its image-data fingerprint). Everything that shows,
# exports, accepts or decides what to predict joins predictions with this condition
# (``r`` = predictions, ``p`` = photos, one parameter: the model id).
CURRENT_PREDICTION = "r.photo_id=p.id AND r.model_id=? AND r.identity IS p.identity"

STATES = NAMES  # the photo states, one vocabulary (core/states.py)

# The grid's columns (see :meth:`Catalog.grid_rows`), in this order.
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
)
_GRID_SQL = (
    "SELECT p.id, p.path, COALESCE(p.root_id, -1), COALESCE(p.mtime_ns, 0), p.status, p.error, "
    "p.identity, "
    + ", ".join(f"r.{c}" for c in PROB_COLUMNS)
    + ", r.valence, r.arousal, c.moods, c.state, c.error "
    "FROM photos p "
    "LEFT JOIN predictions r ON {cond} "
    "LEFT JOIN choices c ON c.photo_id=p.id "
    "WHERE 1"
)


def _prediction_join(model_id: str | None) -> tuple[str, list[object]]:
    """The join condition for a photo's current prediction: CURRENT_PREDICTION for
    ``model_id``, or (None: no model installed) the newest current one by any model."""
    if model_id:
        return CURRENT_PREDICTION, [model_id]
    return (
        "r.photo_id=p.id AND r.identity IS p.identity AND r.created_at=(SELECT "
        "MAX(created_at) FROM predictions q WHERE q.photo_id=p.id AND q.identity IS p.identity)"
    ), []


_PHOTO_COLS = (
    "id, path, size, mtime_ns, identity, width, height, orientation, format, status, error, "
    "taken_at, ctime_ns"
)


def _photo(row: Sequence) -> PhotoRow:
    return PhotoRow(row[0], unfs(row[1]), *row[2:])


class Catalog:
    """One connection to the catalog database. Use from one thread only."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 30.0,
        create: bool = True,
        readonly: bool = False,
        on_lock_wait: Callable[[], None] | None = None,
    ):
        """``create=False``: a missing catalog is an error ("no catalog at PATH; run scan
        first") instead of a new empty one. ``readonly=True``: only read; a catalog file
        without write permission is then opened immutable (no -wal/-shm files are created).
        A catalog file without write permission is refused for writing in one sentence."""
        self.path = Path(path) if path is not None else default_catalog_path()
        self.on_lock_wait = on_lock_wait
        self._savepoints = 0  # depth of nested transaction() (SAVEPOINTs)
        memory = str(self.path) == ":memory:"
        exists = memory or self.path.exists()
        if not exists and not create:
            raise CatalogError(f"no catalog at {self.path}; run `moodtagger scan DIR` first")
        if exists and not memory and self.path.is_dir():
            raise CatalogError(f"the catalog {self.path} is a folder, not a catalog file")
        writable = memory or not exists or _writable(self.path)
        if exists and not writable and not readonly:
            raise CatalogError(
                f"the catalog {self.path} is read-only; make it writable or use another --catalog"
            )
        self.readonly = readonly
        if not memory and not exists:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(
                    f"cannot create the catalog folder {self.path.parent}: {exc.strerror or exc}"
                ) from None
        try:
            if readonly and not writable:
                uri = "file:" + _uri_path(self.path) + "?mode=ro&immutable=1"
                self.conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
                self.conn.execute("PRAGMA query_only=ON")
                self._refuse_foreign()
                found = self.conn.execute("PRAGMA user_version").fetchone()[0]
                if found != SCHEMA_VERSION:
                    raise CatalogError(
                        f"the catalog {self.path} is read-only and has schema version {found}, "
                        f"not {SCHEMA_VERSION}; make it writable once so it can be upgraded"
                    )
                return
            self.conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
            _install_kill_hook(self.conn)
            self.conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            if exists and not memory:
                self._refuse_foreign()  # before anything (WAL, migrations) changes the file
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            init_db(self.conn)
            if readonly:
                self.conn.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            raise CatalogError(describe_db_error(self.path, exc)) from exc

    # -- plumbing ---------------------------------------------------------------------------
    def _refuse_foreign(self) -> None:
        """Another program's SQLite database is never turned into a catalog (issue 23.6): it
        has tables but not ours, or ours without a schema version. Only reads."""
        tables = {
            r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if tables and (version == 0 or not {"photos", "roots"} <= tables):
            self.conn.close()
            raise CatalogError(
                f"{self.path} is an SQLite database but not a moodtagger catalog; "
                "it was left as it is (choose another --catalog)"
            )

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def writer_lock(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the one-writer-per-catalog lock (across processes and threads) for a scan or a
        write batch. Re-entrant in one thread. Another holder makes this wait (after calling
        ``on_lock_wait`` once); with ``timeout`` it then gives up with a :class:`CatalogError`.
        """
        if str(self.path) == ":memory:":
            yield
            return
        key = os.path.realpath(self.path)
        with _LOCKS_GUARD:
            entry = _LOCKS.setdefault(key, [threading.RLock(), None, 0])
        rlock: threading.RLock = entry[0]
        deadline = None if timeout is None else time.monotonic() + timeout
        warned = False
        while not rlock.acquire(timeout=0.2):
            if not warned and self.on_lock_wait:
                self.on_lock_wait()
                warned = True
            if deadline is not None and time.monotonic() > deadline:
                raise CatalogError(
                    f"another moodtagger is writing to the catalog {self.path}; "
                    "try again when it has finished"
                )
        try:
            if entry[2] == 0:
                entry[1] = self._flock(deadline, warned)
            entry[2] += 1
            try:
                yield
            finally:
                entry[2] -= 1
                if entry[2] == 0 and entry[1] is not None:
                    os.close(entry[1])  # closing the descriptor releases the flock
                    entry[1] = None
        finally:
            rlock.release()

    def _flock(self, deadline: float | None, warned: bool) -> int | None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: SQLite's own locking only
            return None
        try:
            fd = os.open(lock_path(self.path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise CatalogError(
                f"cannot lock the catalog {self.path}: cannot create "
                f"{lock_path(self.path)}: {exc.strerror or exc}"
            ) from None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if not warned and self.on_lock_wait:
                    self.on_lock_wait()
                    warned = True
                if deadline is not None and time.monotonic() > deadline:
                    os.close(fd)
                    raise CatalogError(
                        f"another moodtagger is writing to the catalog {self.path}; "
                        "try again when it has finished"
                    ) from None
                time.sleep(0.1)

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error). Nests: inside another
        transaction of this catalog it is a ``SAVEPOINT`` (released into the outer one, rolled
        back alone on error), so a method that opens its own transaction (``save_predictions``)
        can be part of a larger one that commits once (issue 24: switching the model in use and
        storing its predictions)."""
        if self.conn.in_transaction:
            self._savepoints += 1
            name = f"sp{self._savepoints}"
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            finally:
                self._savepoints -= 1
            self.conn.execute(f"RELEASE {name}")
            return
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
        return [
            (r[0], unfs(r[1]))
            for r in self.conn.execute("SELECT id, path FROM roots ORDER BY path")
        ]

    # -- photos -----------------------------------------------------------------------------
    def photo(self, photo_id: int) -> PhotoRow | None:
        row = self.conn.execute(
            f"SELECT {_PHOTO_COLS} FROM photos WHERE id=?", (photo_id,)
        ).fetchone()
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

    def failed_photos(self) -> list[tuple[PhotoRow, str]]:
        """Photos whose state is "failed" (:func:`~moodtagger.core.states.photo_state`) with the reason: why the last
        write failed, else why the file cannot be read; in path order."""
        cols = ", ".join("p." + c for c in _PHOTO_COLS.split(", "))
        out: list[tuple[PhotoRow, str]] = []
        for row in self.conn.execute(
            f"SELECT {cols}, c.state, c.error FROM photos p "
            "LEFT JOIN choices c ON c.photo_id=p.id "
            "WHERE p.status='error' OR c.state='failed' ORDER BY p.path"
        ):
            photo, state, error = _photo(row[:-2]), row[-2], row[-1]
            if photo_state(photo.status, state) != "failed":
                continue
            if state == "failed":
                out.append((photo, f"writing the moods failed: {error or 'unknown error'}"))
            else:
                out.append((photo, photo.error or "cannot be read"))
        return out

    def count_photos(self, status: str | None = None) -> int:
        if status is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0])
        return int(
            self.conn.execute("SELECT COUNT(*) FROM photos WHERE status=?", (status,)).fetchone()[0]
        )

    def set_file_state(
        self, photo_id: int, *, size: int, mtime_ns: int, ctime_ns: int | None = None
    ) -> None:
        """Record a file's new size/mtime/ctime after *we* changed it (a verified metadata
        write), so the next scan does not treat it as changed. Predictions stay valid: pixels
        are unchanged."""
        self.conn.execute(
            "UPDATE photos SET size=?, mtime_ns=?, ctime_ns=?, updated_at=? WHERE id=?",
            (size, mtime_ns, ctime_ns, time.time(), photo_id),
        )

    # -- the scanner's reads and writes (the catalog owns every statement on ``photos``) -----
    def known_under(self, prefix: bytes) -> list[KnownPhoto]:
        """Every photo whose path starts with ``prefix`` (a folder path ending in ``/``): one
        batched read per root."""
        rows = self.conn.execute(
            "SELECT path, id, size, mtime_ns, status, error, sidecar_sig, ctime_ns FROM photos "
            "WHERE path >= ? AND path < ?",
            (prefix, prefix[:-1] + b"0"),  # '0' is the byte after '/'
        ).fetchall()
        return [KnownPhoto(*r) for r in rows]

    def assign_root(self, root_id: int, prefix: bytes) -> None:
        """Photos under ``prefix`` that belong to no root yet belong to ``root_id``."""
        self.conn.execute(
            "UPDATE photos SET root_id=? WHERE root_id IS NULL AND path >= ? AND path < ?",
            (root_id, prefix, prefix[:-1] + b"0"),
        )

    def set_sidecar_sigs(self, sigs: Iterable[tuple[str | None, int]]) -> None:
        """``(sidecar signature, photo id)`` pairs: only the XMP sidecar changed."""
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "UPDATE photos SET sidecar_sig=?, updated_at=? WHERE id=?",
                [(sig, now, i) for sig, i in sigs],
            )

    def set_ctimes(self, ctimes: Iterable[tuple[int, int]]) -> None:
        """``(ctime_ns, photo id)`` pairs: the ctime of unchanged photos of an older catalog."""
        with self.transaction() as c:
            c.executemany("UPDATE photos SET ctime_ns=? WHERE id=?", list(ctimes))

    def mark_missing(self, photo_ids: Iterable[int]) -> None:
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "UPDATE photos SET status='missing', updated_at=? WHERE id=?",
                [(now, i) for i in photo_ids],
            )

    def mark_unreadable(self, errors: Iterable[tuple[int, str | None]]) -> None:
        """``(photo id, reason)``: the photo could not be decoded for prediction."""
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "UPDATE photos SET status='error', error=?, updated_at=? WHERE id=?",
                [(err, now, pid) for pid, err in errors],
            )

    def store_scanned(
        self, batch: Sequence[tuple[ScannedFile, int | None]]
    ) -> list[tuple[int, str]]:
        """Store decoded files (``existing``: the photo id the path had, or None) in one
        transaction; returns ``(photo id, what happened)`` per file, what happened being
        NEW, MOVED (a missing photo with the same identity took the new path), FOUND_AGAIN,
        METADATA_CHANGED (same image data, e.g. a keyword edit) or CHANGED."""
        out: list[tuple[int, str]] = []
        now = time.time()
        cols = (
            "size=?, mtime_ns=?, identity=?, width=?, height=?, orientation=?, format=?, status=?, "
            "error=?, sidecar_sig=?, taken_at=?, ctime_ns=?, updated_at=?"
        )
        with self.transaction() as c:
            for res, existing in batch:
                status = "error" if res.error else "ok"
                values = (
                    res.size,
                    res.mtime_ns,
                    res.identity,
                    res.width,
                    res.height,
                    res.orientation,
                    res.format,
                    status,
                    res.error,
                    res.sidecar_sig,
                    res.taken_at,
                    res.ctime_ns,
                    now,
                )
                if existing is None and res.identity and not res.error:
                    moved = c.execute(
                        "SELECT id FROM photos WHERE identity=? AND status='missing' LIMIT 1",
                        (res.identity,),
                    ).fetchone()
                    if moved:
                        c.execute(
                            f"UPDATE photos SET path=?, {cols} WHERE id=?",
                            (res.path, *values, moved[0]),
                        )
                        out.append((int(moved[0]), MOVED))
                        continue
                if existing is None:
                    cur = c.execute(
                        "INSERT INTO photos(path, size, mtime_ns, identity, width, height, orientation, "
                        "format, status, error, sidecar_sig, taken_at, ctime_ns, updated_at, "
                        "added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (res.path, *values, now),
                    )
                    out.append((int(cur.lastrowid or 0), NEW))
                    continue
                prev = c.execute(
                    "SELECT status, identity FROM photos WHERE id=?", (existing,)
                ).fetchone()
                c.execute(f"UPDATE photos SET {cols} WHERE id=?", (*values, existing))
                same_pixels = prev is not None and prev[1] == res.identity and not res.error
                if same_pixels and prev[0] == "missing":
                    out.append((existing, FOUND_AGAIN))
                elif same_pixels and prev[0] == "ok":
                    out.append((existing, METADATA_CHANGED))
                else:
                    out.append((existing, CHANGED))
        return out

    def missing_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM photos WHERE status='missing'")]

    def max_photo_id(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM photos").fetchone()[0])

    def grid_rows(
        self,
        model_id: str | None,
        *,
        ids: Sequence[int] | None = None,
        after_id: int | None = None,
        since: float | None = None,
        upto_id: int | None = None,
        include_missing: bool = False,
    ) -> list[tuple]:
        """One row per photo for :func:`moodtagger.core.rows.load_rows`, in path order:
        ``GRID_COLUMNS`` (the photo, its current prediction, its choice)."""
        cond, args = _prediction_join(model_id)
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
        return self.conn.execute(sql + " ORDER BY p.path", args).fetchall()

    # -- the write journal --------------------------------------------------------------------
    def journal_interrupted(self) -> list[tuple[int, bytes | None]]:
        """(journal row, temporary file) of every entry still 'pending' (a batch that died)."""
        return self.conn.execute(
            "SELECT id, temp_path FROM write_journal WHERE state='pending'"
        ).fetchall()

    def journal_close_interrupted(self, rows: Iterable[int]) -> None:
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "UPDATE write_journal SET state='interrupted', updated_at=? WHERE id=?",
                [(now, r) for r in rows],
            )

    def journal_start(
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

    def journal_temp(self, row: int, temp: str) -> None:
        """Record the temporary file before it is created (committed at once)."""
        with self.transaction() as c:
            c.execute(
                "UPDATE write_journal SET temp_path=?, updated_at=? WHERE id=?",
                (fs(temp), time.time(), row),
            )

    def journal_finish(self, row: int, state: str, error: str | None) -> None:
        """Inside the caller's transaction (with the choice's new state)."""
        self.conn.execute(
            "UPDATE write_journal SET state=?, error=?, temp_path=NULL, updated_at=? WHERE id=?",
            (state, error, time.time(), row),
        )

    def journal_skip_rest(self, batch_id: str) -> None:
        """Files of ``batch_id`` never reached (cancelled)."""
        with self.transaction() as c:
            c.execute(
                "UPDATE write_journal SET state='skipped', updated_at=? WHERE batch_id=? AND state='pending'",
                (time.time(), batch_id),
            )

    # -- predictions ------------------------------------------------------------------------
    def save_predictions(self, model_id: str, rows: Iterable[tuple[int, Prediction]]) -> None:
        now = time.time()
        data = [(pid, model_id, *p.probs, p.valence, p.arousal, now) for pid, p in rows]
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

    def photos_needing_prediction(
        self, model_id: str, ids: Sequence[int] | None = None
    ) -> list[PhotoRow]:
        """Readable photos with no current prediction by ``model_id`` (see CURRENT_PREDICTION);
        with ``ids``, only among those photos."""
        sql = (
            f"SELECT {', '.join('p.' + c for c in _PHOTO_COLS.split(', '))} FROM photos p "
            f"LEFT JOIN predictions r ON {CURRENT_PREDICTION} "
            "WHERE p.status='ok' AND r.photo_id IS NULL"
        )
        if ids is None:
            return [_photo(r) for r in self.conn.execute(sql + " ORDER BY p.path", (model_id,))]
        out: list[PhotoRow] = []
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(f"{sql} AND p.id IN ({marks})", (model_id, *chunk))
            out.extend(_photo(r) for r in rows)
        return out

    def current_prediction(self, photo_id: int, model_id: str | None) -> Prediction | None:
        """The photo's current prediction (the one rule: CURRENT_PREDICTION), or None."""
        for _photo_row, pred, _c, _s in self.iter_library(
            model_id, status=None, photo_ids=[photo_id]
        ):
            return pred
        return None

    def iter_with_predictions(
        self, model_id: str | None, *, status: Iterable[str] = ("ok", "error", "new")
    ) -> Iterator[tuple[PhotoRow, Prediction | None]]:
        """Every photo with its current prediction (by ``model_id``, or the newest current one
        by any model if None). A prediction made for other pixels is never returned."""
        for photo, pred, _c, _s in self.iter_library(model_id, status=status):
            yield photo, pred

    def iter_library(
        self,
        model_id: str | None,
        *,
        status: Iterable[str] | None = ("ok",),
        photo_ids: Iterable[int] | None = None,
    ) -> Iterator[tuple[PhotoRow, Prediction | None, list[str] | None, str]]:
        """(photo, current prediction, chosen moods or None, state) in path order.

        ``state`` is :func:`photo_state`: unconfirmed | chosen | written | failed | missing."""
        cond, args = _prediction_join(model_id)
        where = []
        if status is not None:
            statuses = list(status)
            where.append(f"p.status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        if photo_ids is not None:
            where.append("p.id IN (SELECT value FROM json_each(?))")
            args.append(json.dumps([int(i) for i in photo_ids]))
        sql = (
            f"SELECT {', '.join('p.' + c for c in _PHOTO_COLS.split(', '))}, "
            f"{', '.join('r.' + c for c in PROB_COLUMNS)}, r.valence, r.arousal, r.photo_id, "
            "c.moods, c.state "
            f"FROM photos p LEFT JOIN predictions r ON {cond} "
            "LEFT JOIN choices c ON c.photo_id=p.id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY p.path"
        )
        n = len(_PHOTO_COLS.split(", "))
        m = len(MOODS)
        for row in self.conn.execute(sql, args):
            photo = _photo(row[:n])
            pred = (
                None
                if row[n + m + 2] is None
                else Prediction(tuple(row[n : n + m]), row[n + m], row[n + m + 1])
            )
            chosen = json.loads(row[-2]) if row[-2] is not None else None
            yield photo, pred, chosen, photo_state(photo.status, row[-1])

    def photo_ids_under(self, paths: Iterable[str | os.PathLike[str] | bytes]) -> list[int]:
        """Ids of catalogued photos that are one of ``paths`` or lie in a folder among them."""
        ids: dict[int, None] = {}
        for p in paths:
            raw = (
                fs(os.path.abspath(os.fsdecode(p) if isinstance(p, bytes) else p)).rstrip(b"/")
                or b"/"
            )
            prefix = raw if raw.endswith(b"/") else raw + b"/"
            for (i,) in self.conn.execute(
                "SELECT id FROM photos WHERE path=? OR (path >= ? AND path < ?) ORDER BY path",
                (raw, prefix, prefix[:-1] + b"0"),
            ):
                ids[i] = None
        return list(ids)

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

    def choice(self, photo_id: int) -> Choice | None:
        """The photo's :class:`~moodtagger.core.states.Choice`, or None when the user never chose."""
        row = self.conn.execute(
            "SELECT moods, state, error FROM choices WHERE photo_id=?", (photo_id,)
        ).fetchone()
        return Choice(json.loads(row[0]), row[1], row[2]) if row else None

    def choice_sources(self, photo_ids: Iterable[int]) -> dict[int, str]:
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

    def mark_choice(self, photo_id: int, state: str, error: str | None = None) -> None:
        """state: 'pending' | 'written' | 'failed'."""
        self.conn.execute(
            "UPDATE choices SET state=?, error=?, written_at=CASE WHEN ?='written' THEN ? ELSE written_at END "
            "WHERE photo_id=?",
            (state, error, state, time.time(), photo_id),
        )

    def pending_choices(
        self, photo_ids: Iterable[int] | None = None
    ) -> list[tuple[PhotoRow, list[str]]]:
        """Choices not yet in the files (pending or failed), optionally only for ``photo_ids``."""
        sql = (
            f"SELECT {', '.join('p.' + c for c in _PHOTO_COLS.split(', '))}, c.moods FROM choices c "
            "JOIN photos p ON p.id=c.photo_id WHERE c.state IN ('pending', 'failed')"
        )
        args: list[object] = []
        if photo_ids is not None:
            sql += " AND p.id IN (SELECT value FROM json_each(?))"
            args.append(json.dumps([int(i) for i in photo_ids]))
        rows = self.conn.execute(sql + " ORDER BY p.path", args)
        return [(_photo(r[:-1]), json.loads(r[-1])) for r in rows]

    def forget_choices(self, photo_ids: Iterable[int]) -> int:
        """Drop the choices of ``photo_ids`` (the files are not touched); returns how many."""
        ids = json.dumps([int(i) for i in photo_ids])
        with self.transaction() as c:
            return c.execute(
                "DELETE FROM choices WHERE photo_id IN (SELECT value FROM json_each(?))", (ids,)
            ).rowcount

    def set_sidecar_sig(self, photo_id: int, sig: str | None) -> None:
        self.conn.execute("UPDATE photos SET sidecar_sig=? WHERE id=?", (sig, photo_id))

    # -- keywords found in the files ---------------------------------------------------------
    def set_file_keywords(
        self, photo_id: int, keywords: Sequence[str], moods: Sequence[str]
    ) -> None:
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
        return {
            pid: json.loads(kws)
            for pid, kws in self.conn.execute(
                "SELECT photo_id, keywords FROM file_keywords WHERE keywords != '[]'"
            )
        }

    # -- what moodtagger added to the files' keyword fields (issue 23) -----------------------
    def keyword_additions(self, photo_id: int) -> dict[str, dict[str, list[str]]]:
        """Per file of the photo (``""``: the photo, else a sidecar's suffix) and field, the
        values moodtagger added and a clear may remove; empty when there is no record."""
        row = self.conn.execute(
            "SELECT added FROM keyword_additions WHERE photo_id=?", (photo_id,)
        ).fetchone()
        return json.loads(row[0]) if row else {}

    def has_keyword_additions(self, photo_id: int) -> bool:
        """Whether a write since records were kept (schema 5) reached this photo's files."""
        row = self.conn.execute(
            "SELECT 1 FROM keyword_additions WHERE photo_id=?", (photo_id,)
        ).fetchone()
        return row is not None

    def last_written_moods(self, photo_id: int) -> list[str]:
        """The moods the write journal last wrote into the photo's files ([] if none)."""
        row = self.conn.execute(
            "SELECT moods FROM write_journal WHERE photo_id=? AND state='written' "
            "ORDER BY id DESC LIMIT 1",
            (photo_id,),
        ).fetchone()
        return [m for m in row[0].split(",") if m] if row else []

    def set_keyword_additions(self, photo_id: int, added: dict[str, dict[str, list[str]]]) -> None:
        """The record after a write (kept even when empty: it says a record is kept)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO keyword_additions(photo_id, added, updated_at) VALUES (?, ?, ?)",
            (photo_id, json.dumps(added, ensure_ascii=False), time.time()),
        )

    # -- embeddings and personal models (issue 14) -------------------------------------------
    # Embeddings are stored as float16 bytes, one row per (photo, model), with the identity of
    # the pixels they were computed from: like predictions, only a *current* one is ever used.
    def save_embeddings(self, model_id: str, rows: Iterable[tuple[int, np.ndarray]]) -> None:
        now = time.time()
        data = [(pid, model_id, np.asarray(v, dtype="<f2").tobytes(), now) for pid, v in rows]
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO embeddings(photo_id, model_id, identity, vector, created_at) "
                "SELECT ?, ?, (SELECT identity FROM photos WHERE id=?1), ?, ?",
                data,
            )

    def embedding(self, photo_id: int, model_id: str) -> np.ndarray | None:
        """The photo's current embedding (float16) by ``model_id``, or None."""
        row = self.conn.execute(
            "SELECT e.vector FROM embeddings e JOIN photos p ON p.id=e.photo_id "
            "WHERE e.photo_id=? AND e.model_id=? AND e.identity IS p.identity",
            (photo_id, model_id),
        ).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype="<f2").astype(np.float16)

    def embeddings(
        self,
        model_id: str,
        photo_ids: Iterable[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids int64 (n,), float16 (n, d)) of every readable photo with a current
        embedding by ``model_id`` (only ``photo_ids`` if given), in id order."""
        sql = (
            "SELECT e.photo_id, e.vector FROM embeddings e JOIN photos p ON p.id=e.photo_id "
            "WHERE e.model_id=? AND e.identity IS p.identity AND p.status='ok'"
        )
        args: list[object] = [model_id]
        if photo_ids is not None:
            sql += " AND e.photo_id IN (SELECT value FROM json_each(?))"
            args.append(json.dumps([int(i) for i in photo_ids]))
        rows = self.conn.execute(sql + " ORDER BY e.photo_id", args).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float16)
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        flat = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f2")
        return ids, flat.reshape(len(rows), -1).astype(np.float16, copy=False)

    def embedding_models(self) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute("SELECT DISTINCT model_id FROM embeddings ORDER BY model_id")
        ]

    def predictions_for(self, model_id: str, photo_ids: Sequence[int]) -> np.ndarray:
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

    def labelled_photos(self) -> list[tuple[int, list[str], str]]:
        """The user's own labels: (photo id, moods, source) for every readable photo whose
        choice names at least one mood and is the user's (chosen in the app or CLI, written,
        or imported from the file's keywords) -- not an accepted model suggestion."""
        rows = self.conn.execute(
            "SELECT c.photo_id, c.moods, c.source FROM choices c JOIN photos p ON p.id=c.photo_id "
            "WHERE p.status='ok' AND c.source != 'model' AND c.moods != '[]' ORDER BY c.photo_id"
        )
        return [(r[0], json.loads(r[1]), r[2]) for r in rows]

    def set_model_in_use(self, parent_id: str, model_id: str | None) -> None:
        """Let ``model_id`` (a personal model) stand in for ``parent_id``; None: the parent again."""
        with self.transaction() as c:
            if model_id is None:
                c.execute("DELETE FROM models_in_use WHERE parent_id=?", (parent_id,))
            else:
                c.execute(
                    "INSERT OR REPLACE INTO models_in_use(parent_id, model_id, updated_at) VALUES (?, ?, ?)",
                    (parent_id, model_id, time.time()),
                )

    def model_in_use(self, parent_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT model_id FROM models_in_use WHERE parent_id=?", (parent_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def models_in_use(self) -> dict[str, str]:
        """parent id -> the model standing in for it (every row of ``models_in_use``)."""
        return {
            str(r[0]): str(r[1])
            for r in self.conn.execute("SELECT parent_id, model_id FROM models_in_use")
        }

    def delete_predictions(self, model_id: str) -> int:
        with self.transaction() as c:
            return c.execute("DELETE FROM predictions WHERE model_id=?", (model_id,)).rowcount

    def delete_unused_predictions(self, prefix: str) -> int:
        """Delete the predictions of every model whose id starts with ``prefix`` (the personal
        models) that no longer stands in for a parent: nothing shows them any more."""
        with self.transaction() as c:
            return c.execute(
                "DELETE FROM predictions WHERE substr(model_id, 1, ?)=? "
                "AND model_id NOT IN (SELECT model_id FROM models_in_use)",
                (len(prefix), prefix),
            ).rowcount

    def embedding_size(self, model_id: str) -> int | None:
        """The length of ``model_id``'s stored embeddings (None: it has none)."""
        row = self.conn.execute(
            "SELECT length(vector) FROM embeddings WHERE model_id=? LIMIT 1", (model_id,)
        ).fetchone()
        return None if row is None else int(row[0]) // 2


def _writable(path: Path) -> bool:
    try:
        st = path.stat()
    except OSError:
        return True
    # the permission bits, not os.access: root can write anything, but a catalog the user
    # made read-only is meant to stay as it is
    return bool(st.st_mode & 0o222) and os.access(path.parent, os.W_OK)


def _uri_path(path: Path) -> str:
    from urllib.parse import quote

    return quote(os.path.abspath(path))


ProgressFn = Callable[[int, int], None]
"""progress(done, total) callback used by long core operations."""
