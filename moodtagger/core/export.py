"""CSV/JSON export. The CSV column order is a contract (moods.CSV_COLUMNS): extend, never rename.
Custom moods (issue 27) come after the agreed columns, one column each, named by the mood.

The JSON records (``list --json``, ``export --format json``, ``predict --json``) have one writer,
:func:`json_chunks`: a photo's record is its path, top mood and its probability, the eight
probabilities (6 decimals), valence and arousal (3 decimals, only where known), ``chosen`` and
``state`` (in a catalog), the model, each custom mood's probability (6 decimals, null where not
learnt), then any extra fields; a number that is not finite is null. The text is byte for byte
what ``json.dumps(records, indent=1, ensure_ascii=False)`` makes of those records, but built
from columns (:class:`Entries`) in chunks: a million photos are arrays and a few hundred
kilobytes of text at a time, never a million dicts or one string (issue 29)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring  # the encoder's own string rule (ensure_ascii=False)
from typing import IO

import numpy as np

from moodtagger.core.catalog import PROB_COLUMNS, Catalog, Prediction
from moodtagger.core.catalog.records import unfs
from moodtagger.core.catalog.views import GRID_COLUMNS
from moodtagger.core.moods import CSV_COLUMNS, MOODS
from moodtagger.core.rows import no_gc
from moodtagger.core.states import photo_state

_PROBS = ",".join(["%.6f"] * len(MOODS))  # the eight probabilities in one format (the CSV's)


@dataclass(frozen=True)
class Entry:
    """One exported photo. ``chosen``/``state`` are None outside a catalog (``predict``);
    ``model`` is the id of the model that made ``prediction`` (None without one)."""

    path: str
    prediction: Prediction | None
    chosen: Sequence[str] | None = None
    state: str | None = None
    model: str | None = None
    custom: Mapping[str, float | None] | None = None  # custom mood -> its probability


@dataclass
class Entries:
    """Many entries column-wise (what ``list``/``export`` read for up to a million photos);
    iterating gives :class:`Entry` objects (the CSV writer, ``list``'s text)."""

    paths: list[str]
    probs: np.ndarray  # float64 (n, 8) in MOODS order, exactly as stored (rows with predicted)
    predicted: np.ndarray  # bool (n,): the photo has a prediction
    valence: list[float | None]  # None: unknown (the record has no valence)
    arousal: list[float | None]
    models: list[str | None]  # the model that made each prediction
    chosen: list[Sequence[str] | None]  # a row with state None has no chosen/state fields
    states: list[str | None]
    custom_names: tuple[str, ...] = ()
    custom: np.ndarray | None = None  # (n, len(custom_names)) probabilities, NaN: not learnt
    extra: Sequence[Mapping[str, object]] | None = None  # fields after the record's own

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[Entry]:
        probs = self.probs.tolist()
        custom = None if self.custom is None else self.custom.tolist()
        for i, path in enumerate(self.paths):
            pred = None
            if self.predicted[i]:
                pred = Prediction(tuple(probs[i]), self.valence[i], self.arousal[i])
            c = None
            if custom is not None and self.custom_names:
                c = {
                    m: None if math.isnan(x) else x
                    for m, x in zip(self.custom_names, custom[i], strict=True)
                }
            yield Entry(path, pred, self.chosen[i], self.states[i], self.models[i], c)

    @classmethod
    def of(
        cls,
        entries: Iterable[Entry | tuple[str, Prediction | None]],
        extra: Sequence[Mapping[str, object]] | None = None,
    ) -> Entries:
        """``entries`` as columns (``extra``: each entry's extra record fields). Custom moods
        must be the same for all entries that have them."""
        items = list(_entries(entries))
        n = len(items)
        probs = np.full((n, len(MOODS)), np.nan)
        predicted = np.zeros(n, bool)
        for i, e in enumerate(items):
            if e.prediction is not None:
                probs[i] = e.prediction.probs
                predicted[i] = True
        names = next((tuple(e.custom) for e in items if e.custom), ())
        custom = None
        if names:
            if any(tuple(e.custom or ()) != names for e in items):
                raise ValueError("entries with different custom moods")
            custom = np.array(
                [[np.nan if x is None else x for x in (e.custom or {}).values()] for e in items],
                np.float64,
            )
        return cls(
            paths=[e.path for e in items],
            probs=probs,
            predicted=predicted,
            valence=[e.prediction.valence if e.prediction else None for e in items],
            arousal=[e.prediction.arousal if e.prediction else None for e in items],
            models=[e.model for e in items],
            chosen=[e.chosen for e in items],
            states=[e.state for e in items],
            custom_names=names,
            custom=custom,
            extra=extra,
        )


# the grid's columns as read here: exact float64 numbers (NULL -> NaN), the rest as they come
_FLOATS = {*PROB_COLUMNS, "valence", "arousal"}
_ROW_DTYPE = np.dtype(
    [(c, np.float64 if c in _FLOATS else np.int64 if c == "id" else object) for c in GRID_COLUMNS]
)


def catalog_entries(
    catalog: Catalog,
    model_id: str | None,
    *,
    status: Iterable[str] | None = ("ok",),
    photo_ids: Iterable[int] | None = None,
) -> Entries:
    """Every photo (whose catalog status is in ``status``; None: any) with its current
    prediction (by ``model_id``, the model in use; the numbers exactly as stored), choice and
    state (the one rule in the catalog), and each custom mood's probability: in path order, or
    with ``photo_ids`` in that order (ids the catalog does not hold are left out)."""
    ids = None if photo_ids is None else [int(i) for i in photo_ids]
    with no_gc():  # a million rows build no cycles (issue 29)
        a = np.fromiter(
            catalog.views.grid_cursor(model_id, ids=ids, include_missing=True), _ROW_DTYPE
        )
        if status is not None:
            wanted = set(status)
            a = a[np.fromiter((s in wanted for s in a["status"].tolist()), bool, len(a))]
        if ids is not None:
            a = a[_positions(a["id"], np.asarray(ids, np.int64))]
        return _entries_of_rows(catalog, model_id, a)


def _positions(have: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Where each of ``want`` is in ``have`` (those not in it left out), in ``want``'s order."""
    if not len(have) or not len(want):
        return np.zeros(0, np.int64)
    order = np.argsort(have, kind="stable")
    at = np.minimum(np.searchsorted(have[order], want), len(have) - 1)
    return order[at[have[order][at] == want]]


def _entries_of_rows(catalog: Catalog, model_id: str | None, a: np.ndarray) -> Entries:
    probs = np.stack([a[c] for c in PROB_COLUMNS], axis=1) if len(a) else np.zeros((0, len(MOODS)))
    predicted = ~np.isnan(probs[:, 0])  # the probabilities are NOT NULL: NaN = no prediction
    states: list[str | None] = []
    rule: dict[tuple[str, str | None], str] = {}
    for key in zip(a["status"].tolist(), a["choice_state"].tolist(), strict=True):
        st = rule.get(key)
        if st is None:
            st = rule[key] = photo_state(*key).value
        states.append(st)
    parsed: dict[str | None, list[str]] = {None: []}  # each stored choice parsed once
    chosen: list[Sequence[str] | None] = []
    for raw in a["choice_moods"].tolist():
        moods = parsed.get(raw)
        if moods is None:
            moods = parsed[raw] = json.loads(raw)
        chosen.append(moods)
    custom = catalog.moods.all()
    return Entries(
        paths=list(map(unfs, a["path"].tolist())),
        probs=probs,
        predicted=predicted,
        valence=[None if v != v else v for v in a["valence"].tolist()],
        arousal=[None if v != v else v for v in a["arousal"].tolist()],
        models=[model_id if p else None for p in predicted.tolist()],
        chosen=chosen,
        states=states,
        custom_names=tuple(m.name for m in custom),
        custom=catalog.moods.scores(a["id"].tolist(), custom) if custom else None,
    )


def _num(x: float | None, digits: int) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def row_values(
    path: str,
    pred: Prediction | None,
    chosen: Sequence[str] | None = None,
    state: str | None = None,
    model: str | None = None,
) -> list[str]:
    tail = [";".join(chosen) if chosen is not None else "", state or "", model or ""]
    if pred is None:
        return [path, "", ""] + [""] * len(MOODS) + ["", ""] + tail
    mood, p = pred.top
    return [
        path,
        mood,
        f"{p:.6f}",
        *(_PROBS % tuple(pred.probs)).split(","),
        _num(pred.valence, 3),
        _num(pred.arousal, 3),
        *tail,
    ]


def _entries(rows: Iterable[Entry | tuple[str, Prediction | None]]) -> Iterable[Entry]:
    for r in rows:
        yield r if isinstance(r, Entry) else Entry(r[0], r[1])


def write_csv(
    rows: Iterable[Entry | tuple[str, Prediction | None]],
    fh: IO[str],
    custom_names: Sequence[str] = (),
) -> int:
    """The agreed columns, then one column per custom mood in ``custom_names`` (its
    probability; empty where none was learnt)."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *custom_names])
    n = 0
    for e in _entries(rows):
        extra = [_num((e.custom or {}).get(c), 6) for c in custom_names]
        writer.writerow(row_values(e.path, e.prediction, e.chosen, e.state, e.model) + extra)
        n += 1
    return n


def strict_json(obj: object) -> object:
    """``obj`` with every non-finite float (inf, NaN) replaced by None: strict JSON has no
    ``Infinity``/``NaN``, and a reader must never get them (defence in depth: imports refuse
    such numbers, but an older catalog may hold them)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


# Three decimal digits as text: 0-999 in full ("050"), 1000-1999 the same without trailing
# zeros, blank-padded ("05 "; 000 as "0  "), 2000 blank: a value's last decimals.
_GROUPS = np.array(
    [f"{g:03d}".encode() for g in range(1000)]
    + [f"{g:03d}".rstrip("0").ljust(3).encode() if g else b"0  " for g in range(1000)]
    + [b"   "],
    "V3",
)
# 0.000001-0.000099, which repr writes as 1e-06 ... 9.9e-05 (padded to the width of D.dddddd)
_SMALL = np.frombuffer(
    b"".join(repr(k / 10**6).ljust(9).encode() for k in range(100)), np.uint8
).reshape(100, 9)


def number_texts(values: np.ndarray | Sequence[float], digits: int) -> list[str]:
    """The JSON text of ``round(v, digits)`` (``digits``: 3 or 6) for each float ``v`` ("null"
    where that is not finite), as the standard library writes it (``repr``). Column-wise where
    the rounded value is in [0, 10) and ``v`` is not within 1e-6 of a rounding tie: the value
    is then k / 10**digits for a whole k, and ``repr`` writes its decimals without trailing
    zeros (below 0.0001 as 1.5e-05, from a table); by Python's own round and repr elsewhere."""
    if digits not in (3, 6):
        raise ValueError("digits must be 3 or 6")
    x = np.asarray(values, np.float64).ravel()
    n = len(x)
    if not n:
        return []
    scale = 10.0**digits
    with np.errstate(all="ignore"):
        y = x * scale
        k = np.rint(y)
        fast = (
            (x >= 0)
            & ~np.signbit(x)
            & (k < 10 * scale)
            & (np.abs(y - np.floor(y) - 0.5) > 1e-6)  # far from a tie: rint is round's choice
        )
        small = fast & (k > 0) & (k * 10_000 < scale)  # below 1e-4: repr writes 1.5e-05
    if digits != 6:
        fast &= ~small
    nan = np.isnan(x)
    k = np.where(fast, k, 0.0)  # whole numbers < 10**7: float arithmetic on them is exact
    # per value "D." + groups of three decimals + a blank: the blanks go in the split
    layout = [("ones", "u1"), ("dot", "u1")] + [(f"g{g}", "V3") for g in range(digits // 3)]
    text = np.empty(n, np.dtype([*layout, ("end", "u1")]))
    ones = np.floor(k / scale)
    text["ones"] = ord("0") + ones.astype(np.uint8)
    text["dot"] = ord(".")
    text["end"] = ord(" ")
    rest = k - ones * scale
    groups = []
    for g in range(digits // 3):
        unit = 10.0 ** (digits - 3 * g - 3)
        group = np.floor(rest / unit)
        rest -= group * unit
        groups.append(group.astype(np.intp))
    later = np.zeros(n, bool)  # a later group is not 0: this one is written in full
    for g in reversed(range(len(groups))):
        group = groups[g]
        last = np.where((group != 0) | (g == 0), group + 1000, 2000)
        text[f"g{g}"] = _GROUPS[np.where(later, group, last)]
        later |= group != 0
    raw = text.view(np.uint8).reshape(n, -1)
    raw[nan, :4] = np.frombuffer(b"null", np.uint8)
    if digits == 6:
        raw[small] = _SMALL[k[small].astype(np.intp)]
    out = raw.tobytes().decode("ascii").split()
    for i in np.flatnonzero(~fast & ~nan).tolist():
        r = round(float(x[i]), digits)
        out[i] = float.__repr__(r) if math.isfinite(r) else "null"
    return out


_CHUNK = 2000  # records per piece of text
_PRED = (
    ',\n  "mood": %s,\n  "probability": %s,\n  "probabilities": {'
    + ",".join(f"\n   {encode_basestring(m)}: %s" for m in MOODS)
    + "\n  }"
)
_NO_PRED = ',\n  "mood": null,\n  "probability": null,\n  "probabilities": null'
_OWN_KEYS = frozenset(
    {"path", "mood", "probability", "probabilities", "valence", "arousal"}
    | {"chosen", "state", "model", "custom"}
)


def json_chunks(
    entries: Entries | Iterable[Entry | tuple[str, Prediction | None]],
) -> Iterator[str]:
    """The JSON array of the entries' records (see the module's docstring) in pieces, without
    the final newline: ``"".join(json_chunks(e))`` is ``json.dumps(records, indent=1,
    ensure_ascii=False)`` with non-finite numbers as null. Paths with undecodable bytes keep
    their surrogates (the caller's stream decides how they go out)."""
    e = entries if isinstance(entries, Entries) else Entries.of(entries)
    if not len(e):
        yield "[]"
        return
    for start in range(0, len(e), _CHUNK):
        parts = _records(e, start, min(start + _CHUNK, len(e)))
        if start == 0:
            parts[0] = "[" + parts[0][1:]  # the array's first record
        yield "".join(parts)
    yield "\n]"


def _records(e: Entries, start: int, stop: int) -> list[str]:
    """The text of the records of rows start..stop, in pieces, each record after ",\n "."""
    s = encode_basestring
    probs = e.probs[start:stop]
    predicted = e.predicted[start:stop].tolist()
    nums = number_texts(probs, 6)
    top = np.argmax(probs, axis=1).tolist()  # the first of equal maxima, as Prediction.top
    for j in np.flatnonzero(np.isnan(probs).any(1) & e.predicted[start:stop]).tolist():
        top[j] = MOODS.index(Prediction(tuple(probs[j].tolist())).top[0])
    valence, arousal = e.valence[start:stop], e.arousal[start:stop]
    va = number_texts([np.nan if v is None else v for v in valence], 3)
    ar = number_texts([np.nan if v is None else v for v in arousal], 3)
    k = len(e.custom_names)
    custom = [] if e.custom is None or not k else number_texts(e.custom[start:stop], 6)
    custom_keys = [f"\n   {s(m)}: " for m in e.custom_names]
    mood_text = [s(m) for m in MOODS]
    model_text: dict[str | None, str] = {None: "null"}
    m = len(MOODS)
    out: list[str] = []
    add = out.append
    for j in range(stop - start):
        i = start + j
        add(',\n {\n  "path": ')
        add(s(e.paths[i]))
        if predicted[j]:
            b, t = m * j, top[j]
            add(_PRED % (mood_text[t], nums[b + t], *nums[b : b + m]))
            if valence[j] is not None:
                add(',\n  "valence": ')
                add(va[j])
            if arousal[j] is not None:
                add(',\n  "arousal": ')
                add(ar[j])
        else:
            add(_NO_PRED)
        state = e.states[i]
        if state is not None:
            chosen = e.chosen[i]
            add(',\n  "chosen": ')
            add("[\n   " + ",\n   ".join(map(s, chosen)) + "\n  ]" if chosen else "[]")
            add(',\n  "state": ')
            add(s(state))
        model = e.models[i] if predicted[j] else None
        mt = model_text.get(model)
        if mt is None:
            mt = model_text[model] = s(model or "")
        add(',\n  "model": ')
        add(mt)
        if k:
            c = k * j
            add(',\n  "custom": {')
            add(",".join(key + v for key, v in zip(custom_keys, custom[c : c + k], strict=True)))
            add("\n  }")
        if e.extra is not None:
            for key, value in e.extra[i].items():
                if key in _OWN_KEYS:
                    raise ValueError(f"extra field {key!r} is one of the record's own")
                text = json.dumps(strict_json(value), indent=1, ensure_ascii=False)
                add(",\n  " + s(key) + ": " + text.replace("\n", "\n  "))
        add("\n }")
    return out


def write_json(rows: Entries | Iterable[Entry | tuple[str, Prediction | None]], fh: IO[str]) -> int:
    """The entries' JSON records (:func:`json_chunks`) and a newline to ``fh``; how many."""
    e = rows if isinstance(rows, Entries) else Entries.of(rows)
    for text in json_chunks(e):
        fh.write(text)
    fh.write("\n")
    return len(e)
