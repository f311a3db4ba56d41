"""Schema and migrations: ``PRAGMA user_version`` and one step per version (vorta's
``store/migrations.py``). Each entry of :data:`_MIGRATIONS` upgrades from version i to i+1.
Never edit a shipped step; append a new one and bump SCHEMA_VERSION."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator

from moodtagger.core.catalog.errors import CatalogError
from moodtagger.core.catalog.records import PROB_COLUMNS

SCHEMA_VERSION = 10

_PROB_DDL = ",\n    ".join(f"{c} REAL NOT NULL" for c in PROB_COLUMNS)


def _log_change(table: str, event: str, photo: str) -> str:
    """A trigger logging a change of the photo ``photo`` (an SQL expression)."""
    return f"""
    CREATE TRIGGER IF NOT EXISTS {table}_{event.lower()}_log AFTER {event} ON {table} BEGIN
        INSERT INTO photo_changes(photo_id) VALUES ({photo});
    END;
    """


_CHANGE_LOG_DDL = (
    """
    CREATE TABLE IF NOT EXISTS photo_changes(seq INTEGER PRIMARY KEY, photo_id INTEGER NOT NULL);
    """
    + _log_change("photos", "INSERT", "NEW.id")
    + _log_change("photos", "UPDATE", "NEW.id")
    + _log_change("photos", "DELETE", "OLD.id")
    + "".join(
        _log_change(t, e, "OLD.photo_id" if e == "DELETE" else "NEW.photo_id")
        for t in ("predictions", "choices", "file_keywords")
        for e in ("INSERT", "UPDATE", "DELETE")
    )
)

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
    # 6 -> 7: where the capture date came from (issue 26: "exif" | "xmp" | "file"); a photo
    # without one gets its file time, kept from now on (core/dates.py). A file an earlier version
    # wrote may have a newer mtime than when it was added: the earlier of the two is taken.
    """
    ALTER TABLE photos ADD COLUMN taken_from TEXT;
    UPDATE photos SET taken_from='exif' WHERE taken_at IS NOT NULL;
    UPDATE photos SET taken_from='file',
        taken_at=strftime('%Y-%m-%dT%H:%M:%S', min(mtime_ns / 1e9, added_at), 'unixepoch', 'localtime')
        WHERE taken_at IS NULL AND mtime_ns IS NOT NULL;
    """,
    # 7 -> 8: a change log (issue 26.3, "never stale"): every change of what the grid shows of
    # a photo (the photo, its predictions, choice, file keywords) appends the photo's id, by
    # triggers, whoever commits it; an open app reads only the entries past the last one it saw,
    # so another process's commit costs O(changed rows). Opening the catalog prunes it to
    # the newest entries (catalog.changes: a reader further behind reloads everything).
    _CHANGE_LOG_DDL,
    # 8 -> 9: the user's own moods (issue 27): the name as typed, its case-folded key (unique),
    # removed_at (a removed mood's Mood|Name found in a file is not imported again); each
    # photo's probability for each custom mood (from its embedding, for the pixels of
    # ``identity``). Choices of custom moods are stored by name in choices.moods like the eight.
    """
    CREATE TABLE IF NOT EXISTS moods(
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        key TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        removed_at REAL,
        scorer BLOB
    );
    CREATE TABLE IF NOT EXISTS custom_scores(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        mood_id INTEGER NOT NULL REFERENCES moods(id) ON DELETE CASCADE,
        identity TEXT,
        p REAL NOT NULL,
        PRIMARY KEY(photo_id, mood_id)
    );
    CREATE INDEX IF NOT EXISTS custom_scores_mood ON custom_scores(mood_id);
    """
    # an open app follows other processes' custom-mood scores like the rest (the change log)
    + "".join(
        _log_change("custom_scores", e, "OLD.photo_id" if e == "DELETE" else "NEW.photo_id")
        for e in ("INSERT", "UPDATE", "DELETE")
    ),
    # 9 -> 10: a memory-mapped copy of each model's embeddings outside the catalog (issue 29,
    # catalog/embedding_cache.py) must know which photos' embeddings may have changed since it
    # was written: a log of its own (the change log also takes every prediction, and a learn
    # at a million photos would push the copy's entry out of it), fed by the embeddings and by
    # what makes one current or not (a photo's pixels, its status, the photo gone); and the
    # catalog gets a random id, so a copy is never taken for another catalog's at the same path.
    """
    CREATE TABLE IF NOT EXISTS catalog_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT OR IGNORE INTO catalog_meta(key, value) VALUES('uuid', lower(hex(randomblob(16))));
    CREATE TABLE IF NOT EXISTS embedding_changes(
        seq INTEGER PRIMARY KEY, photo_id INTEGER NOT NULL
    );
    CREATE TRIGGER IF NOT EXISTS embeddings_insert_elog AFTER INSERT ON embeddings BEGIN
        INSERT INTO embedding_changes(photo_id) VALUES (NEW.photo_id);
    END;
    CREATE TRIGGER IF NOT EXISTS embeddings_update_elog AFTER UPDATE ON embeddings BEGIN
        INSERT INTO embedding_changes(photo_id) VALUES (NEW.photo_id);
        INSERT INTO embedding_changes(photo_id) VALUES (OLD.photo_id);
    END;
    CREATE TRIGGER IF NOT EXISTS embeddings_delete_elog AFTER DELETE ON embeddings BEGIN
        INSERT INTO embedding_changes(photo_id) VALUES (OLD.photo_id);
    END;
    CREATE TRIGGER IF NOT EXISTS photos_update_elog AFTER UPDATE ON photos
    WHEN OLD.identity IS NOT NEW.identity OR OLD.status IS NOT NEW.status
        OR OLD.id IS NOT NEW.id BEGIN
        INSERT INTO embedding_changes(photo_id) VALUES (NEW.id);
        INSERT INTO embedding_changes(photo_id) VALUES (OLD.id);
    END;
    CREATE TRIGGER IF NOT EXISTS photos_delete_elog AFTER DELETE ON photos BEGIN
        INSERT INTO embedding_changes(photo_id) VALUES (OLD.id);
    END;
    """,
]

assert len(_MIGRATIONS) == SCHEMA_VERSION


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
    """The statements of ``script`` (a trigger's ``BEGIN ... END`` holds ``;`` of its own)."""
    statement = ""
    for part in script.split(";"):
        statement += part + ";"
        if statement.strip(" \n;") and sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip(" \n;"):
        yield statement


def refuse_foreign(conn: sqlite3.Connection, path: str | os.PathLike[str]) -> None:
    """Another program's SQLite database is never turned into a catalog (issue 23.6): it
    has tables but not ours, or ours without a schema version. Only reads."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if tables and (version == 0 or not {"photos", "roots"} <= tables):
        conn.close()
        raise CatalogError(
            f"{path} is an SQLite database but not a moodtagger catalog; "
            "it was left as it is (choose another --catalog)"
        )
