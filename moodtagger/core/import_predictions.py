"""Load a ``moodtagger predict`` CSV/JSON into the catalog (``moodtagger import-predictions``).

The point: an archive is indexed with ``scan --no-predict``, predicted on a cluster
(``predict --ray``), and browsed on a desktop. A row is imported only when

* its path is a catalogued, readable photo (matched by the absolute path), and
* the file is still the content the catalog fingerprinted: its size and modification time are
  the ones the last scan recorded (the scanner's own "unchanged" rule); a JSON record that
  carries a ``fingerprint`` must also equal the catalog's;
* its model id is the one being imported (``--model``, default the shipped model; a JSON
  record's ``model`` must match).

The prediction is stored against the catalog's fingerprint (``Catalog.save_predictions``), so it
is current for exactly that content. Every other row is a per-file error; the rest go on.
Order of work: scan first, then predict, then import (a file edited between predict and scan
cannot be told apart, as the predict output carries no fingerprint column).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.moods import CSV_COLUMNS, MOODS


class ImportFileError(Exception):
    """The predictions file itself cannot be read (one sentence)."""


@dataclass(frozen=True)
class Record:
    path: str
    prediction: Prediction | None
    model: str | None = None
    fingerprint: str | None = None
    error: str | None = None


@dataclass
class ImportSummary:
    model_id: str
    imported: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


def _float(text: object) -> float | None:
    if text is None or text == "":
        return None
    return float(text)  # type: ignore[arg-type]


def read_records(path: str) -> Iterator[Record]:
    """Rows of a predict CSV (header = the export contract) or JSON (a list of records)."""
    try:
        fh = open(path, encoding="utf-8", newline="", errors="surrogateescape")
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        head = fh.read(1)
        fh.seek(0)
        if head == "[":
            try:
                items = json.load(fh)
            except ValueError as exc:
                raise ImportFileError(f"{path} is not valid JSON: {exc}") from None
            if not isinstance(items, list):
                raise ImportFileError(f"{path}: expected a JSON list of predict records")
            for it in items:
                yield _from_json(it)
            return
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(header[: 3 + len(MOODS)]) != CSV_COLUMNS[: 3 + len(MOODS)]:
            raise ImportFileError(
                f"{path} is neither a predict CSV (header {','.join(CSV_COLUMNS[:3])},...) "
                "nor a JSON list"
            )
        col = {name: i for i, name in enumerate(header)}
        for row in reader:
            if not row:
                continue
            try:
                if not row[1]:
                    yield Record(row[0], None, error="no prediction in the file")
                    continue
                probs = tuple(float(row[col[m]]) for m in MOODS)
                va = [
                    _float(row[col[k]]) if k in col and col[k] < len(row) else None
                    for k in ("valence", "arousal")
                ]
            except (IndexError, ValueError) as exc:
                yield Record(row[0] if row else "?", None, error=f"malformed CSV row: {exc}")
                continue
            yield Record(row[0], Prediction(probs, va[0], va[1]))


def _from_json(it: object) -> Record:
    if not isinstance(it, dict) or not isinstance(it.get("path"), str):
        return Record("?", None, error="malformed JSON record (no path)")
    path = it["path"]
    probs = it.get("probabilities")
    if not isinstance(probs, dict):
        return Record(path, None, error=str(it.get("error") or "no prediction in the file"))
    try:
        pred = Prediction(
            tuple(float(probs[m]) for m in MOODS),
            _float(it.get("valence")),
            _float(it.get("arousal")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        return Record(path, None, error=f"malformed JSON record: {exc!r}")
    return Record(path, pred, model=it.get("model"), fingerprint=it.get("fingerprint"))


def import_predictions(catalog: Catalog, path: str, model_id: str) -> ImportSummary:
    """Store the predictions in ``path`` for catalogued, unchanged photos (see module doc)."""
    summary = ImportSummary(model_id)
    good: list[tuple[int, Prediction]] = []
    for rec in read_records(path):
        reason = rec.error or _mismatch(catalog, rec, model_id)
        if isinstance(reason, str):
            summary.errors.append((rec.path, reason))
        else:
            good.append((reason, rec.prediction))  # type: ignore[arg-type]
    if good:
        catalog.save_predictions(model_id, good)
    summary.imported = len(good)
    return summary


def _mismatch(catalog: Catalog, rec: Record, model_id: str) -> str | int:
    """The photo id to store ``rec`` under, or why it cannot be stored."""
    if rec.model is not None and rec.model != model_id:
        return f"predicted with {rec.model}, not {model_id} (use --model {rec.model})"
    photo = catalog.photo_by_path(os.path.abspath(rec.path))
    if photo is None:
        return "not in the catalog (index it first: moodtagger scan --no-predict)"
    if photo.status != "ok":
        return f"not a readable photo in the catalog ({photo.status})"
    try:
        st = os.stat(photo.path)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    if (st.st_size, st.st_mtime_ns) != (photo.size, photo.mtime_ns):
        return "changed since it was scanned (rescan it, then predict again)"
    if rec.fingerprint is not None and rec.fingerprint != photo.identity:
        return "its fingerprint differs from the catalog's (a different file content)"
    return photo.id
