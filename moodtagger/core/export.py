"""CSV/JSON export. The CSV column order is a contract (moods.CSV_COLUMNS): extend, never rename."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import IO

from moodtagger.core.catalog import Prediction
from moodtagger.core.moods import CSV_COLUMNS, MOODS


def row_values(path: str, pred: Prediction | None) -> list[str]:
    if pred is None:
        return [path, "", ""] + [""] * len(MOODS)
    mood, p = pred.top
    return [path, mood, f"{p:.6f}", *(f"{x:.6f}" for x in pred.probs)]


def write_csv(rows: Iterable[tuple[str, Prediction | None]], fh: IO[str]) -> int:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    n = 0
    for path, pred in rows:
        writer.writerow(row_values(path, pred))
        n += 1
    return n


def record(path: str, pred: Prediction | None, **extra: object) -> dict[str, object]:
    rec: dict[str, object] = {"path": path}
    if pred is None:
        rec.update(mood=None, probability=None, probabilities=None)
    else:
        mood, p = pred.top
        rec.update(mood=mood, probability=round(p, 6),
                   probabilities={m: round(x, 6) for m, x in zip(MOODS, pred.probs, strict=True)})
        if pred.valence is not None:
            rec["valence"] = round(pred.valence, 3)
        if pred.arousal is not None:
            rec["arousal"] = round(pred.arousal, 3)
    rec.update(extra)
    return rec


def write_json(rows: Iterable[tuple[str, Prediction | None]], fh: IO[str]) -> int:
    items = [record(p, pred) for p, pred in rows]
    json.dump(items, fh, indent=1, ensure_ascii=False)
    fh.write("\n")
    return len(items)
