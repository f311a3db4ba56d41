"""The :class:`Catalog`: one connection to the catalog database and the table families on it.

``catalog.photos``, ``catalog.predictions``, ``catalog.choices`` ... each own the statements on
their tables; the Catalog itself keeps only what is about the connection: opening it, the
writer lock, transactions, the schema version, closing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from moodtagger.core.catalog import connection, embedding_cache
from moodtagger.core.catalog.changes import ChangeLog
from moodtagger.core.catalog.choices import ChoiceStore
from moodtagger.core.catalog.connection import Connection, default_catalog_path
from moodtagger.core.catalog.embeddings import EmbeddingStore
from moodtagger.core.catalog.journal import WriteJournal
from moodtagger.core.catalog.keywords import FileKeywords, KeywordAdditions
from moodtagger.core.catalog.moods import CustomMoods
from moodtagger.core.catalog.photos import PhotoStore
from moodtagger.core.catalog.predictions import ModelsInUse, PredictionStore
from moodtagger.core.catalog.views import LibraryViews


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
        self.readonly = readonly
        self.conn: sqlite3.Connection = connection.connect(
            self.path, timeout=timeout, create=create, readonly=readonly
        )
        self._db = Connection(self.conn)
        self.photos = PhotoStore(self._db)
        self.views = LibraryViews(self._db)
        self.predictions = PredictionStore(self._db)
        self.models_in_use = ModelsInUse(self._db)
        self.choices = ChoiceStore(self._db)
        self.file_keywords = FileKeywords(self._db)
        self.keyword_additions = KeywordAdditions(self._db)
        self.journal = WriteJournal(self._db)
        self.embeddings = EmbeddingStore(
            self._db, None if str(self.path) == ":memory:" else self.path
        )
        self.moods = CustomMoods(self._db)
        self.changes = ChangeLog(self._db)
        if not readonly:
            self.changes.prune()
            embedding_cache.prune(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def writer_lock(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the one-writer-per-catalog lock (across processes and threads) for a scan or a
        write batch. Re-entrant in one thread. Another holder makes this wait (after calling
        ``on_lock_wait`` once); with ``timeout`` it then gives up with a :class:`CatalogError`.
        """
        with connection.writer_lock(self.path, self.on_lock_wait, timeout):
            yield

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, nested as a ``SAVEPOINT`` (see
        :meth:`Connection.transaction`): the table families' methods that open their own
        transaction join a larger one opened here."""
        return self._db.transaction()

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])
