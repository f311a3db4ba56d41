"""What a write is asked (:class:`WriteItem`) and what it reports (:class:`FileResult` per
file, :class:`WriteSummary` per batch), and the record of what moodtagger added to a photo's
files (:data:`Record`, keyed by :func:`record_key`). Records only: the protocol is in
:mod:`moodtagger.core.metadata.writer`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from moodtagger.core.catalog import PhotoRow

Record = dict[str, dict[str, list[str]]]  # target (see record_key) -> field -> values we added


ANY_TARGET = "*"  # a record for every file of the photo (see journal._record)


@dataclass
class WriteItem:
    path: str
    moods: Sequence[str]
    photo_id: int | None = None
    scanned: PhotoRow | None = None  # the catalog's photo: the file must still be it
    folders: Sequence[str] = ()  # the library folders it must resolve into (none: no check)
    added: Record | None = None  # the catalog's record of what moodtagger added (None: none)


def record_key(photo: str, target: str) -> str:
    """Which of a photo's files a record is about, independent of the folder and the photo's
    own name: ``""`` for the photo itself, else the sidecar's name after the photo's stem
    (``.xmp`` for ``IMG_1.xmp``, ``.CR2.xmp`` for ``IMG_1.CR2.xmp``)."""
    if os.path.normcase(target) == os.path.normcase(photo):
        return ""
    name = os.path.basename(target)
    stem = os.path.splitext(os.path.basename(photo))[0]
    return name[len(stem) :] if name.startswith(stem) else name


@dataclass
class FileResult:
    path: str
    photo_id: int | None
    before: list[str]  # mood ids in the file before
    after: list[str]  # mood ids after (planned, for a dry run)
    status: str  # 'written' | 'unchanged' | 'failed' | 'planned'
    error: str | None = None
    targets: list[str] = field(default_factory=list)  # the file, or its sidecar(s)
    diff: list[tuple[str, str, list[str], list[str]]] = field(
        default_factory=list
    )  # target, field, before, after
    keywords: list[str] = field(default_factory=list)  # flat keywords after (or now, if failed)
    size: int | None = None  # the photo's size/mtime/ctime after a write into the file itself
    mtime_ns: int | None = None
    ctime_ns: int | None = None
    note: str | None = None  # something the user should know (e.g. why photo.CR2.xmp)
    added: Record = field(default_factory=dict)  # what moodtagger added, after this write
    keywords_before: list[str] = field(default_factory=list)  # flat keywords before the write


@dataclass
class WriteSummary:
    written: int = 0
    unchanged: int = 0
    failed: int = 0
    planned: int = 0
    cancelled: bool = False
    stopped: str | None = None  # why the batch stopped early (exiftool hung), one sentence
    seconds: float = 0.0
    results: list[FileResult] = field(default_factory=list)

    def add(self, r: FileResult) -> None:
        self.results.append(r)
        setattr(self, r.status, getattr(self, r.status) + 1)

    def as_dict(self) -> dict[str, object]:
        return {
            "written": self.written,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "planned": self.planned,
            "cancelled": self.cancelled,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "files": [
                {
                    "path": r.path,
                    "status": r.status,
                    "note": r.note,
                    "before": r.before,
                    "after": r.after,
                    "error": r.error,
                    "targets": r.targets,
                    "diff": [
                        {"target": t, "field": f, "before": b, "after": a} for t, f, b, a in r.diff
                    ],
                }
                for r in self.results
            ],
        }
