"""The catalog: a versioned SQLite cache of what the files say plus predictions and choices.

One schema module, ``PRAGMA user_version`` migrations, WAL mode (vorta / qutebrowser style; vorta's
``src/vorta/store/`` is the model for the layout). Paths are stored as bytes (``os.fsencode``) so
names that are not valid UTF-8 survive. Deleting the catalog loses only predictions and unwritten
choices, never photos: the files stay the source of truth for keywords.

- ``connection.py``: opening (WAL, pragmas, read-only and foreign files), the writer lock,
  nested transactions, the test-only kill-at-commit hook
- ``migrations.py``: ``SCHEMA_VERSION``, the migration steps, ``init_db``
- ``records.py``: row types and the shared rules (bytes paths, current prediction, photo state)
- one module per table family, each a small class given the connection: ``photos.py`` (photos,
  roots, the scanner's reads and writes), ``predictions.py`` (predictions, models in use),
  ``choices.py``, ``keywords.py`` (file keywords, keyword additions), ``journal.py`` (the write
  journal), ``embeddings.py``, ``views.py`` (photo + current prediction + choice)
- ``database.py``: :class:`Catalog`, which composes them: ``catalog.photos.by_path(p)``,
  ``catalog.choices.set(...)``, ``catalog.journal.start(...)``

Threading: a :class:`Catalog` wraps one ``sqlite3.Connection`` and must be used from the thread
that opened it. Other threads open their own ``Catalog`` on the same path (WAL allows one writer
and many readers) or send requests to the owner.
"""

from moodtagger.core.catalog.connection import (
    KILL_AT_COMMIT_ENV,
    default_catalog_path,
    lock_path,
)
from moodtagger.core.catalog.database import Catalog
from moodtagger.core.catalog.errors import CatalogError, describe_db_error
from moodtagger.core.catalog.migrations import SCHEMA_VERSION, init_db
from moodtagger.core.catalog.records import (
    CHANGED,
    CURRENT_PREDICTION,
    FOUND_AGAIN,
    METADATA_CHANGED,
    MOVED,
    NEW,
    PROB_COLUMNS,
    STATES,
    KnownPhoto,
    PhotoRow,
    Prediction,
    ProgressFn,
    ScannedFile,
    fs,
    photo_state,
    unfs,
)
from moodtagger.core.catalog.views import GRID_COLUMNS

__all__ = [
    "CHANGED",
    "CURRENT_PREDICTION",
    "FOUND_AGAIN",
    "GRID_COLUMNS",
    "KILL_AT_COMMIT_ENV",
    "METADATA_CHANGED",
    "MOVED",
    "NEW",
    "PROB_COLUMNS",
    "SCHEMA_VERSION",
    "STATES",
    "Catalog",
    "CatalogError",
    "PhotoRow",
    "Prediction",
    "ProgressFn",
    "KnownPhoto",
    "ScannedFile",
    "default_catalog_path",
    "describe_db_error",
    "fs",
    "init_db",
    "lock_path",
    "photo_state",
    "unfs",
]
