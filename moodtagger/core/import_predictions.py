"""Load a ``moodtagger predict`` CSV/JSON into the catalog (``moodtagger import-predictions``).

The point: an archive is indexed with ``scan --no-predict``, predicted on a cluster
(``predict --ray``), and browsed on a desktop. A row is imported only when

* its numbers are a prediction (:func:`checked_prediction`): eight finite probabilities in
  0..1 that sum to 1 (within 1e-3), valence and arousal (when given) in 1..9;
* its path is a catalogued, readable photo (matched by the absolute path), and
* the file is still the content the catalog fingerprinted: its size and modification time are
  the ones the last scan recorded (the scanner's own "unchanged" rule); a JSON record that
  carries a ``fingerprint`` must also equal the catalog's;
* its model id (the ``model`` column/field) is the one being imported (``--model``, default
  the shipped model). An older file without that column is read as that model's, and
  :attr:`ImportSummary.note` says so.

The prediction is stored against the catalog's fingerprint (``Catalog.predictions.save``), so it
is current for exactly that content. Every other row is a per-file error; the rest go on.
Order of work: scan first, then predict, then import (a file edited between predict and scan
cannot be told apart, as the predict output carries no fingerprint column).

The file is read as a stream (a million-photo predict JSON is ~400 MB): CSV row by row, JSON
one record at a time (:func:`_json_items`), and the good rows are stored in chunks of
:data:`CHUNK_ROWS`, one transaction each, so a killed import leaves whole rows or none.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.errors import FileError, MoodtaggerError
from moodtagger.core.moods import CSV_COLUMNS, MOODS

CHUNK_ROWS = 1000  # good rows stored per transaction
_READ = 256 * 1024  # characters read at a time from a JSON file
_MAX_RECORD = 16 * 1024 * 1024  # a predict record is ~400 characters; more is not one
SUM_TOLERANCE = 1e-3
VA_RANGE = (1.0, 9.0)
_WS = re.compile(r"[ \t\n\r]*")


class ImportFileError(MoodtaggerError):
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
    errors: list[FileError] = field(default_factory=list)
    note: str | None = None  # e.g. the file names no model: its rows were read as model_id's


def _number(name: str, value: object) -> float | str:
    """``value`` (CSV text or a JSON value) as a float, or why it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return f"{name} is not a number ({json.dumps(value)[:40]})"
    if isinstance(value, str):
        try:
            x = float(value.strip())
        except ValueError:
            return f"{name} is not a number ({value[:40]!r})"
    else:
        x = float(value)
    if math.isnan(x):
        return f"{name} is NaN (not a number)"
    return x


def checked_prediction(
    probs: Sequence[object], valence: object, arousal: object
) -> Prediction | str:
    """The prediction the raw values (in MOODS order) describe, or why they are not one:
    every probability finite in 0..1, their sum 1 within :data:`SUM_TOLERANCE`, valence and
    arousal empty or within :data:`VA_RANGE`."""
    out: list[float] = []
    for mood, raw in zip(MOODS, probs, strict=True):
        if raw is None or raw == "":
            return f"probability of {mood} is missing"
        x = _number(f"probability of {mood}", raw)
        if isinstance(x, str):
            return x
        if not 0.0 <= x <= 1.0:
            return f"probability of {mood} is {x:g}, not between 0 and 1"
        out.append(x)
    total = math.fsum(out)
    if abs(total - 1.0) > SUM_TOLERANCE:
        return f"probabilities sum to {total:.6g}, not 1"
    va: list[float | None] = []
    for name, raw in (("valence", valence), ("arousal", arousal)):
        if raw is None or raw == "":
            va.append(None)
            continue
        x = _number(name, raw)
        if isinstance(x, str):
            return x
        if not VA_RANGE[0] <= x <= VA_RANGE[1]:
            return f"{name} {x:g} is outside 1-9"
        va.append(x)
    return Prediction(tuple(out), va[0], va[1])


def read_records(path: str) -> Iterator[Record]:
    """Rows of a predict CSV (header = the export contract) or JSON (a list of records), one
    at a time. A file that cannot be read as either is an :class:`ImportFileError`."""
    try:
        fh = open(path, encoding="utf-8-sig", newline="", errors="surrogateescape")
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        try:
            head = fh.read(4096).lstrip(" \t\r\n")[:1]
            fh.seek(0)
        except OSError as exc:
            raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
        if head in ("[", "{"):
            for it in _json_items(fh, path):
                yield _from_json(it)
        else:
            yield from _csv_records(fh, path)


def _csv_records(fh: IO[str], path: str) -> Iterator[Record]:
    reader = csv.reader(fh)
    try:
        header = next(reader, None)
        if header is None or tuple(header[: 3 + len(MOODS)]) != CSV_COLUMNS[: 3 + len(MOODS)]:
            raise ImportFileError(
                f"{path} is neither a predict CSV (header {','.join(CSV_COLUMNS[:3])},...) "
                "nor a JSON list"
            )
        col = {name: i for i, name in enumerate(header)}
        for row in reader:
            if not row or row == [""]:
                continue

            def cell(name: str, row: list[str] = row) -> str:
                i = col.get(name)
                return row[i] if i is not None and i < len(row) else ""

            if not cell("mood"):
                yield Record(row[0], None, error="no prediction in the file")
                continue
            pred = checked_prediction([cell(m) for m in MOODS], cell("valence"), cell("arousal"))
            if isinstance(pred, str):
                yield Record(row[0], None, error=pred)
            else:
                yield Record(row[0], pred, model=cell("model") or None)
    except csv.Error as exc:
        raise ImportFileError(f"{path} line {reader.line_num} is not CSV: {exc}") from None


def _json_items(fh: IO[str], path: str) -> Iterator[object]:
    """The items of the JSON list in ``fh``, parsed one at a time from a buffered read (the
    whole file is never in memory). Invalid JSON, deep nesting or a single item larger than
    :data:`_MAX_RECORD` are an :class:`ImportFileError`."""
    decoder = json.JSONDecoder()
    buf, pos, offset, eof = "", 0, 0, False

    def more() -> bool:
        nonlocal buf, pos, offset, eof
        if eof:
            return False
        try:
            chunk = fh.read(_READ)
        except OSError as exc:
            raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not chunk:
            eof = True
            return False
        offset += pos
        buf, pos = buf[pos:] + chunk, 0
        return True

    def peek() -> str:  # the next character that is not white space ("" at the end)
        nonlocal pos
        while True:
            m = _WS.match(buf, pos)
            pos = m.end() if m else pos
            if pos < len(buf):
                return buf[pos]
            if not more():
                return ""

    def invalid(what: str) -> ImportFileError:
        return ImportFileError(f"{path} is not valid JSON: {what} at character {offset + pos}")

    if peek() != "[":
        raise ImportFileError(f"{path}: expected a JSON list of predict records")
    pos += 1
    first = True
    while True:
        c = peek()
        if c == "]":
            pos += 1
            break
        if not first:
            if c != ",":
                raise invalid(
                    "expected ',' or ']' between records" if c else "the list is not closed"
                )
            pos += 1
            c = peek()
        if not c:
            raise invalid("the list is not closed")
        first = False
        while True:
            try:
                item, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if len(buf) - pos <= _MAX_RECORD and more():
                    continue  # the record goes on in the next chunk
                if len(buf) - pos > _MAX_RECORD:
                    raise ImportFileError(
                        f"{path}: the record at character {offset + pos} is larger than "
                        f"{_MAX_RECORD // 2**20} MiB or not valid JSON"
                    ) from None
                pos = exc.pos
                raise invalid(exc.msg) from None
            except RecursionError:
                raise ImportFileError(
                    f"{path} is nested too deeply to be a predict file "
                    "(its records are flat JSON objects)"
                ) from None
            if end == len(buf) and more():
                continue  # a number at the end of the buffer may go on
            break
        pos = end
        yield item
    if peek():
        raise invalid("extra data after the list")


def _from_json(it: object) -> Record:
    if not isinstance(it, dict) or not isinstance(it.get("path"), str):
        return Record("?", None, error="malformed JSON record (no path)")
    path = it["path"]
    probs = it.get("probabilities")
    if probs is None:
        return Record(path, None, error=str(it.get("error") or "no prediction in the file"))
    if not isinstance(probs, dict):
        return Record(path, None, error="probabilities is not an object of the 8 moods")
    model, fingerprint = it.get("model"), it.get("fingerprint")
    for name, value in (("model", model), ("fingerprint", fingerprint)):
        if value is not None and not isinstance(value, str):
            return Record(path, None, error=f"{name} is not text")
    pred = checked_prediction([probs.get(m) for m in MOODS], it.get("valence"), it.get("arousal"))
    if isinstance(pred, str):
        return Record(path, None, error=pred)
    return Record(path, pred, model=model, fingerprint=fingerprint)


def import_predictions(catalog: Catalog, path: str, model_id: str) -> ImportSummary:
    """Store the predictions in ``path`` for catalogued, unchanged photos (see module doc).

    Good rows are stored :data:`CHUNK_ROWS` at a time; when the file turns out unreadable
    part-way, the good rows before that point stay stored and the error says how many."""
    summary = ImportSummary(model_id)
    good: list[tuple[int, Prediction]] = []
    unnamed = 0

    def flush() -> None:
        if good:
            catalog.predictions.save(model_id, good)
            summary.imported += len(good)
            good.clear()

    try:
        for rec in read_records(path):
            if rec.prediction is not None and rec.model is None:
                unnamed += 1
            reason = rec.error or _mismatch(catalog, rec, model_id)
            if isinstance(reason, str):
                summary.errors.append(FileError(rec.path, reason))
                continue
            good.append((reason, rec.prediction))  # type: ignore[arg-type]
            if len(good) >= CHUNK_ROWS:
                flush()
    except ImportFileError as exc:
        flush()
        if summary.imported:
            raise ImportFileError(
                f"{exc}; the {summary.imported} good predictions before that point were imported"
            ) from None
        raise
    flush()
    if unnamed:
        summary.note = (
            f"{path} names no model (an older predict file without the model column): "
            f"its rows are read as predictions by {model_id}; if another model made them, "
            "import it with --model MODEL"
        )
    return summary


def _mismatch(catalog: Catalog, rec: Record, model_id: str) -> str | int:
    """The photo id to store ``rec`` under, or why it cannot be stored."""
    if rec.model is not None and rec.model != model_id:
        return f"predicted with {rec.model}, not {model_id} (import it with --model {rec.model})"
    photo = catalog.photos.by_path(os.path.abspath(rec.path))
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
