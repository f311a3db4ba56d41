"""Opening the catalog's SQLite connection (WAL, pragmas, migrations, read-only and foreign
files), the one-writer-per-catalog lock across processes, nested transactions, and the
test-only kill-at-commit hook. The table families (photos.py, predictions.py, ...) get a
:class:`Connection` and never open anything themselves.

Threading: a connection must be used from the thread that opened it. Other threads open their
own ``Catalog`` on the same path (WAL allows one writer and many readers) or send requests to
the owner.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from moodtagger.core import paths
from moodtagger.core.catalog.errors import CatalogError, describe_db_error
from moodtagger.core.catalog.migrations import SCHEMA_VERSION, init_db, refuse_foreign


def default_catalog_path() -> Path:
    return paths.catalog_path()


def connect(path: Path, *, timeout: float, create: bool, readonly: bool) -> sqlite3.Connection:
    """The connection behind :class:`~moodtagger.core.catalog.Catalog` (see its docstring),
    the schema brought up to date; every failure is a :class:`CatalogError` sentence."""
    memory = str(path) == ":memory:"
    exists = memory or path.exists()
    if not exists and not create:
        raise CatalogError(f"no catalog at {path}; run `moodtagger scan DIR` first")
    if exists and not memory and path.is_dir():
        raise CatalogError(f"the catalog {path} is a folder, not a catalog file")
    writable = memory or not exists or _writable(path)
    if exists and not writable and not readonly:
        raise CatalogError(
            f"the catalog {path} is read-only; make it writable or use another --catalog"
        )
    if not memory and not exists:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(
                f"cannot create the catalog folder {path.parent}: {exc.strerror or exc}"
            ) from None
    try:
        if readonly and not writable:
            uri = "file:" + _uri_path(path) + "?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
            conn.execute("PRAGMA query_only=ON")
            refuse_foreign(conn, path)
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            if found != SCHEMA_VERSION:
                raise CatalogError(
                    f"the catalog {path} is read-only and has schema version {found}, "
                    f"not {SCHEMA_VERSION}; make it writable once so it can be upgraded"
                )
            return conn
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        _install_kill_hook(conn)
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        if exists and not memory:
            refuse_foreign(conn, path)  # before anything (WAL, migrations) changes the file
        _switch_to_wal(conn, timeout)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        init_db(conn)
        if readonly:
            conn.execute("PRAGMA query_only=ON")
    except sqlite3.Error as exc:
        raise CatalogError(describe_db_error(path, exc)) from exc
    return conn


def _switch_to_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """``PRAGMA journal_mode=WAL``, waiting like every other statement: SQLite answers it at
    once with "database is locked" while another process writes the new file in rollback mode
    (two scans at once on a new catalog), without calling the busy handler."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


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


class Connection:
    """One ``sqlite3.Connection`` and its nested transactions; what every table family of the
    catalog is given."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._savepoints = 0  # depth of nested transaction() (SAVEPOINTs)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error). Nests: inside another
        transaction of this catalog it is a ``SAVEPOINT`` (released into the outer one, rolled
        back alone on error), so a method that opens its own transaction (``predictions.save``)
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


class Table:
    """Base of the table families: the connection and its transactions, nothing else."""

    def __init__(self, db: Connection) -> None:
        self.conn = db.conn
        self.transaction = db.transaction


# --------------------------------------------------------------------------------------------
# One writer per catalog across processes (issue 12 item 7)
# --------------------------------------------------------------------------------------------
_LOCKS: dict[str, list] = {}  # real path -> [RLock, fd or None, depth]
_LOCKS_GUARD = threading.Lock()


def lock_path(db: str | os.PathLike[str]) -> str:
    return os.fspath(db) + ".lock"


@contextmanager
def writer_lock(
    path: Path, on_lock_wait: Callable[[], None] | None, timeout: float | None = None
) -> Iterator[None]:
    """Hold the one-writer-per-catalog lock (across processes and threads) for a scan or a
    write batch. Re-entrant in one thread. Another holder makes this wait (after calling
    ``on_lock_wait`` once); with ``timeout`` it then gives up with a :class:`CatalogError`.
    """
    if str(path) == ":memory:":
        yield
        return
    key = os.path.realpath(path)
    with _LOCKS_GUARD:
        entry = _LOCKS.setdefault(key, [threading.RLock(), None, 0])
    rlock: threading.RLock = entry[0]
    deadline = None if timeout is None else time.monotonic() + timeout
    warned = False
    while not rlock.acquire(timeout=0.2):
        if not warned and on_lock_wait:
            on_lock_wait()
            warned = True
        if deadline is not None and time.monotonic() > deadline:
            raise CatalogError(
                f"another moodtagger is writing to the catalog {path}; "
                "try again when it has finished"
            )
    try:
        if entry[2] == 0:
            entry[1] = _flock(path, on_lock_wait, deadline, warned)
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


def _flock(
    path: Path, on_lock_wait: Callable[[], None] | None, deadline: float | None, warned: bool
) -> int | None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: SQLite's own locking only
        return None
    try:
        fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise CatalogError(
            f"cannot lock the catalog {path}: cannot create "
            f"{lock_path(path)}: {exc.strerror or exc}"
        ) from None
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if not warned and on_lock_wait:
                on_lock_wait()
                warned = True
            if deadline is not None and time.monotonic() > deadline:
                os.close(fd)
                raise CatalogError(
                    f"another moodtagger is writing to the catalog {path}; "
                    "try again when it has finished"
                ) from None
            time.sleep(0.1)


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
