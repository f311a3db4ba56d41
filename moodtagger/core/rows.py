"""Grid rows read from the catalog in one query, stored column-wise (numpy) for speed.

A 100,000-photo library is one ``SELECT`` (photos + current predictions + choices) turned into
a few numpy arrays and lists: filtering and sorting then run vectorised, never row by row in
Python. Qt-free; the GUI model (:mod:`moodtagger.gui.photomodel`) holds one :class:`Rows`.

Lives in the core (not the GUI) so any front end can list, filter and sort the library the same
way; it only reads the catalog.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from moodtagger.core.catalog import CURRENT_PREDICTION, PROB_COLUMNS, Catalog, Prediction
from moodtagger.core.moods import INDEX, MOODS

# photo status codes
OK, ERROR, NEW, MISSING = 0, 1, 2, 3
STATUS_CODE = {"ok": OK, "error": ERROR, "new": NEW, "missing": MISSING}
# choice state codes (NO_CHOICE: the user never chose)
NO_CHOICE, PENDING, WRITTEN, FAILED = -1, 0, 1, 2
CHOICE_CODE = {"pending": PENDING, "written": WRITTEN, "failed": FAILED}
CHOICE_NAME = {v: k for k, v in CHOICE_CODE.items()}
# what the grid shows and filters on
STATES = ("unconfirmed", "chosen", "written", "error")
UNCONFIRMED, CHOSEN, WRITTEN_STATE, ERROR_STATE = range(4)

_SQL = (
    "SELECT p.id, p.path, COALESCE(p.root_id, -1), COALESCE(p.mtime_ns, 0), p.status, p.error, "
    "p.identity, p.taken_at, "
    + ", ".join(f"r.{c}" for c in PROB_COLUMNS)
    + ", r.valence, r.arousal, c.moods, c.state, c.error "
    "FROM photos p "
    f"LEFT JOIN predictions r ON {CURRENT_PREDICTION} "
    "LEFT JOIN choices c ON c.photo_id=p.id "
    "WHERE p.status != 'missing'"
)


def mood_bits(moods: Iterable[str]) -> int:
    bits = 0
    for m in moods:
        bits |= 1 << INDEX[m]
    return bits


def bits_moods(bits: int) -> tuple[str, ...]:
    return tuple(m for i, m in enumerate(MOODS) if bits >= 0 and bits & (1 << i))


@dataclass
class Rows:
    """Column-wise grid rows. ``choice_bits`` is -1 where the user never chose."""

    ids: np.ndarray  # int64
    paths: list[str]
    root_ids: np.ndarray  # int64, -1 = none
    mtimes: np.ndarray  # float64 seconds (EXIF date when the catalog has one)
    status: np.ndarray  # int8 STATUS_CODE
    errors: list[str | None]
    identities: list[str | None]
    probs: np.ndarray  # float32 (n, 8) in MOODS order, NaN = no prediction
    valence: np.ndarray  # float32, NaN = none
    arousal: np.ndarray
    choice_bits: np.ndarray  # int16
    choice_state: np.ndarray  # int8 CHOICE_CODE or NO_CHOICE
    choice_errors: list[str | None]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> Rows:
        return cls(
            np.zeros(0, np.int64), [], np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int8), [], [],
            np.zeros((0, len(MOODS)), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32),
            np.zeros(0, np.int16), np.zeros(0, np.int8), [],
        )

    # -- column surgery (all columns at once) --------------------------------------------------
    def take(self, index: np.ndarray | Sequence[int]) -> Rows:
        idx = np.asarray(index, dtype=np.int64)
        out = {}
        for f in fields(self):
            col = getattr(self, f.name)
            out[f.name] = col[idx] if isinstance(col, np.ndarray) else [col[i] for i in idx.tolist()]
        return Rows(**out)

    def extend(self, other: Rows) -> None:
        for f in fields(self):
            col = getattr(self, f.name)
            add = getattr(other, f.name)
            if isinstance(col, np.ndarray):
                setattr(self, f.name, np.concatenate([col, add]))
            else:
                col.extend(add)

    def assign(self, rows: np.ndarray, other: Rows) -> None:
        """Overwrite rows ``rows`` (positions in self) with the rows of ``other``, in order."""
        rl = rows.tolist()
        for f in fields(self):
            col = getattr(self, f.name)
            add = getattr(other, f.name)
            if isinstance(col, np.ndarray):
                col[rows] = add
            else:
                for r, v in zip(rl, add, strict=True):
                    col[r] = v

    def delete(self, start: int, stop: int) -> None:
        for f in fields(self):
            col = getattr(self, f.name)
            if isinstance(col, np.ndarray):
                setattr(self, f.name, np.delete(col, np.s_[start:stop], axis=0))
            else:
                del col[start:stop]

    # -- per-row views -----------------------------------------------------------------------
    def prediction(self, row: int) -> Prediction | None:
        p = self.probs[row]
        if np.isnan(p[0]):
            return None
        v, a = float(self.valence[row]), float(self.arousal[row])
        return Prediction(tuple(float(x) for x in p), None if np.isnan(v) else v, None if np.isnan(a) else a)

    def choice(self, row: int) -> tuple[str, ...] | None:
        bits = int(self.choice_bits[row])
        return None if bits < 0 else bits_moods(bits)

    def states(self) -> np.ndarray:
        """The grid state of every row (UNCONFIRMED / CHOSEN / WRITTEN_STATE / ERROR_STATE)."""
        out = np.full(len(self), UNCONFIRMED, np.int8)
        out[self.choice_state == PENDING] = CHOSEN
        out[self.choice_state == WRITTEN] = WRITTEN_STATE
        out[(self.status == ERROR) | (self.choice_state == FAILED)] = ERROR_STATE
        return out

    def name(self, row: int) -> str:
        return os.path.basename(self.paths[row])


def load_rows(
    catalog: Catalog, model_id: str | None, *, ids: Sequence[int] | None = None,
    after_id: int | None = None, since: float | None = None, upto_id: int | None = None,
) -> Rows:
    """Rows for every photo that is not missing (or only ``ids`` / ids above ``after_id`` /
    photos updated at or after ``since``, a ``time.time()``)."""
    sql = _SQL
    args: list[object] = [model_id or ""]
    if ids is not None:
        if len(ids) == 0:
            return Rows.empty()
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
    sql += " ORDER BY p.path"
    data = catalog.conn.execute(sql, args).fetchall()
    if not data:
        return Rows.empty()
    cols = list(zip(*data, strict=True))
    n_m = len(MOODS)
    base = 8
    probs = np.array(cols[base : base + n_m], dtype=np.float32).T  # None -> NaN
    mtimes = np.array(cols[3], dtype=np.float64) / 1e9
    taken = cols[7]
    if any(t is not None for t in taken):
        mtimes = _with_taken_dates(mtimes, taken)
    bits_cache: dict[str | None, int] = {None: -1}
    choice_bits = []
    for raw in cols[base + n_m + 2]:
        b = bits_cache.get(raw)
        if b is None:
            b = bits_cache[raw] = mood_bits(m for m in json.loads(raw) if m in INDEX)
        choice_bits.append(b)
    status_codes = [STATUS_CODE.get(s, ERROR) for s in cols[4]]
    state_codes = [CHOICE_CODE.get(s, NO_CHOICE) if s is not None else NO_CHOICE for s in cols[base + n_m + 3]]
    return Rows(
        ids=np.array(cols[0], dtype=np.int64),
        paths=[os.fsdecode(p) for p in cols[1]],
        root_ids=np.array(cols[2], dtype=np.int64),
        mtimes=mtimes,
        status=np.array(status_codes, dtype=np.int8),
        errors=list(cols[5]),
        identities=list(cols[6]),
        probs=probs,
        valence=np.array(cols[base + n_m], dtype=np.float32),
        arousal=np.array(cols[base + n_m + 1], dtype=np.float32),
        choice_bits=np.array(choice_bits, dtype=np.int16),
        choice_state=np.array(state_codes, dtype=np.int8),
        choice_errors=list(cols[base + n_m + 4]),
    )


def _with_taken_dates(mtimes: np.ndarray, taken: Sequence[str | None]) -> np.ndarray:
    from datetime import datetime

    out = mtimes.copy()
    for i, t in enumerate(taken):
        if t:
            for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
                try:
                    out[i] = datetime.strptime(t[:19], fmt).timestamp()
                    break
                except ValueError:
                    continue
    return out


def missing_ids(catalog: Catalog) -> list[int]:
    return [r[0] for r in catalog.conn.execute("SELECT id FROM photos WHERE status='missing'")]


def max_photo_id(catalog: Catalog) -> int:
    return int(catalog.conn.execute("SELECT COALESCE(MAX(id), 0) FROM photos").fetchone()[0])


def restore_choice(
    catalog: Catalog, photo_id: int, moods: Sequence[str] | None, state: str = "pending",
    error: str | None = None,
) -> None:
    """Put a photo's choice back exactly (undo/redo): ``moods=None`` = the user never chose."""
    if moods is None:
        catalog.forget_choice(photo_id)
        return
    catalog.set_choice(photo_id, moods, source="user", state="pending")
    if state != "pending" or error:
        catalog.mark_choice(photo_id, state, error)
