"""The grid's rows as columns, read from the catalog (:meth:`LibraryViews.grid_cursor`, plus a
column of probabilities per custom mood) or, for every row of a large library, from their copy
in the cache folder (:mod:`~moodtagger.core.catalog.row_cache`). :mod:`moodtagger.core.rows`
turns them into :class:`~moodtagger.core.rows.Rows`. Qt-free."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from moodtagger.core.catalog import Catalog, row_cache
from moodtagger.core.catalog.views import GRID_COLUMNS
from moodtagger.core.moods import MOODS

Columns = row_cache.Columns

# GRID_COLUMNS as one record each: numbers straight into numpy, text as Python objects
TEXT_COLUMNS = (
    *("path", "status", "error", "identity"),
    *("choice_moods", "choice_state", "choice_error", "taken_at"),
)
PROB_COLUMNS = GRID_COLUMNS[7 : 7 + len(MOODS)]
FLOAT_COLUMNS = (*PROB_COLUMNS, "valence", "arousal")
GRID_DTYPE = np.dtype(
    [
        (c, object if c in TEXT_COLUMNS else np.float32 if c in FLOAT_COLUMNS else np.int64)
        for c in GRID_COLUMNS
    ]
)


def every_row(catalog: Catalog, model_id: str | None, include_missing: bool) -> Columns:
    """Every photo's columns: from the copy in the cache folder when it is current."""
    a = row_cache.load(
        catalog.conn,
        None if str(catalog.path) == ":memory:" else catalog.path,
        model_id,
        lambda some: read(catalog, model_id, some, None, True),
    )
    if not include_missing:
        shown = a["status"] != "missing"
        if not shown.all():
            a = {c: v[shown] for c, v in a.items()}
    return a


def read(
    catalog: Catalog,
    model_id: str | None,
    ids: Sequence[int] | None,
    after_id: int | None,
    include_missing: bool,
) -> Columns:
    """GRID_COLUMNS as records, one per row straight from the cursor (each row's tuple goes at
    once: no list of a million tuples, no transposing it; None -> NaN in the float columns),
    by column; and each custom mood's probabilities (:func:`custom_probs`)."""
    cursor = catalog.views.grid_cursor(
        model_id, ids=ids, after_id=after_id, include_missing=include_missing
    )
    a = np.fromiter(cursor, GRID_DTYPE)
    columns = {c: a[c] for c in GRID_COLUMNS}
    moods = catalog.moods.all()  # the user's own moods (issue 27): one column each, by id
    scores = catalog.moods.scores(a["id"].tolist(), moods)
    for j, m in enumerate(moods):
        columns[_custom_column(m.id)] = np.ascontiguousarray(scores[:, j])
    return columns


def _custom_column(mood_id: int) -> str:
    return f"custom mood {mood_id}"


def custom_probs(a: Columns, moods: Sequence, n: int) -> np.ndarray:
    """(n, k) the custom moods' probabilities from their columns (a mood added since the
    columns were read: NaN, none learnt yet)."""
    out = np.full((n, len(moods)), np.nan, np.float32)
    for j, m in enumerate(moods):
        column = a.get(_custom_column(m.id))
        if column is not None:
            out[:, j] = column
    return out


def decoded(raw: list) -> list[str]:
    """Stored paths (bytes, :func:`os.fsencode`) as ``str``: joined, decoded once and split (a
    million decodes cost 1 s), the same as ``os.fsdecode`` of each (NUL is in no path)."""
    enc, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    try:
        return b"\0".join(raw).decode(enc, errors).split("\0")
    except TypeError:  # some stored as text (catalogs of old versions)
        return [p if type(p) is str else p.decode(enc, errors) for p in raw]
