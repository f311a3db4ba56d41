"""Issue 25 item 4: one photo-state vocabulary. The grid (``Rows.states``, column-wise) and the
catalog (``photo_state``: ``list --json``, CSV) name every state alike — "failed", never "error"
in one place and "failed" in the other — because both come from ``core/states.py``.

They agree on every photo status x choice state (the grid's column rule and the catalog's
scalar one), and a written choice outranks an undecodable file (issue 24 item 5: a RAW whose
preview cannot be decoded but whose sidecar was written is "written", not "failed")."""

from __future__ import annotations

import itertools
import time

from moodtagger.core import rows as R
from moodtagger.core import states
from moodtagger.core.catalog import Catalog, photo_state
from moodtagger.core.states import PhotoState


def test_the_grid_and_the_catalog_speak_one_state_vocabulary(catalog: Catalog) -> None:
    now = time.time()
    combos = list(
        itertools.product(["ok", "error", "missing"], [None, "pending", "written", "failed"])
    )
    for i, (status, choice) in enumerate(combos):
        catalog.conn.execute(
            "INSERT INTO photos(id, path, status, added_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (i + 1, f"/x/{i}.jpg".encode(), status, now, now),
        )
        if choice:
            catalog.conn.execute(
                "INSERT INTO choices(photo_id, moods, state, updated_at) VALUES (?, '[\"awe\"]', ?, ?)",
                (i + 1, choice, now),
            )
    rows = R.load_rows(catalog, None, include_missing=True)
    grid = {int(i): R.STATES[int(s)] for i, s in zip(rows.ids, rows.states(), strict=True)}
    listed = {p.id: s for p, _pred, _c, s in catalog.views.library(None, status=None)}
    assert grid == listed and len(grid) == len(combos)
    assert listed[combos.index(("error", "written")) + 1] == "written"
    assert listed[combos.index(("error", "pending")) + 1] == "failed"
    assert set(grid.values()) == {s.value for s in PhotoState}
    assert R.STATES == states.NAMES == ("unconfirmed", "chosen", "written", "failed", "missing")


def test_the_scalar_rule_is_the_column_rule() -> None:
    import numpy as np

    for status, choice in itertools.product(R.STATUS_CODE, [None, *R.CHOICE_CODE]):
        column = states.state_codes(
            np.array([R.STATUS_CODE[status]]),
            np.array([R.CHOICE_CODE[choice] if choice else R.NO_CHOICE]),
        )
        assert states.NAMES[int(column[0])] == photo_state(status, choice), (status, choice)
