"""CSV/JSON export. The CSV column order is a contract (moods.CSV_COLUMNS): extend, never rename.
Custom moods (issue 27) come after the agreed columns, one column each, named by the mood."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO

from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.moods import CSV_COLUMNS, MOODS
from moodtagger.core.rows import no_gc

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


def catalog_entries(
    catalog: Catalog,
    model_id: str | None,
    *,
    status: Iterable[str] | None = ("ok",),
    photo_ids: Iterable[int] | None = None,
) -> list[Entry]:
    """Every photo with its current prediction (by ``model_id``, the model in use), choice
    and state (the one rule in the catalog), and each custom mood's probability."""
    with no_gc():  # a million entries build no cycles (issue 29)
        return _catalog_entries(catalog, model_id, status, photo_ids)


def _catalog_entries(
    catalog: Catalog,
    model_id: str | None,
    status: Iterable[str] | None,
    photo_ids: Iterable[int] | None,
) -> list[Entry]:
    rows = list(catalog.views.library(model_id, status=status, photo_ids=photo_ids))
    return with_custom(
        catalog,
        [p.id for p, *_ in rows],
        [
            Entry(
                p.path,
                pred,
                chosen if chosen is not None else [],
                state,
                model_id if pred is not None else None,
            )
            for p, pred, chosen, state in rows
        ],
    )


def with_custom(catalog: Catalog, photo_ids: Sequence[int], entries: list[Entry]) -> list[Entry]:
    """``entries`` (of ``photo_ids``) with the custom moods' probabilities (None: not learnt)."""
    moods = catalog.moods.all()
    if not moods:
        return entries
    probs = catalog.moods.scores(list(photo_ids), moods)
    return [
        replace(
            e,
            custom={
                m.name: (None if math.isnan(x) else float(x))
                for m, x in zip(moods, probs[i].tolist(), strict=True)
            },
        )
        for i, e in enumerate(entries)
    ]


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


def record(path: str, pred: Prediction | None, **extra: object) -> dict[str, object]:
    rec: dict[str, object] = {"path": path}
    if pred is None:
        rec.update(mood=None, probability=None, probabilities=None)
    else:
        mood, p = pred.top
        rec.update(
            mood=mood,
            probability=round(p, 6),
            probabilities={m: round(x, 6) for m, x in zip(MOODS, pred.probs, strict=True)},
        )
        if pred.valence is not None:
            rec["valence"] = round(pred.valence, 3)
        if pred.arousal is not None:
            rec["arousal"] = round(pred.arousal, 3)
    rec.update(extra)
    return rec


def entry_record(e: Entry, **extra: object) -> dict[str, object]:
    """``record`` plus chosen and state (in a catalog) and then model."""
    fields: dict[str, object] = {}
    if e.state is not None:
        fields = {"chosen": list(e.chosen or []), "state": e.state}
    fields["model"] = e.model if e.prediction is not None else None
    if e.custom:
        fields["custom"] = {k: None if v is None else round(v, 6) for k, v in e.custom.items()}
    return record(e.path, e.prediction, **fields, **extra)


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


def write_json(rows: Iterable[Entry | tuple[str, Prediction | None]], fh: IO[str]) -> int:
    items = [entry_record(e) for e in _entries(rows)]
    json.dump(strict_json(items), fh, indent=1, ensure_ascii=False, allow_nan=False)
    fh.write("\n")
    return len(items)
