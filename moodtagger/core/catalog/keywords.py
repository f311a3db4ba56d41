"""Keywords: those found in the files, and those moodtagger added to which field (issue 23)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from moodtagger.core.catalog.connection import Table


class FileKeywords(Table):
    """The ``file_keywords`` table (``catalog.file_keywords``): keywords read from the files."""

    def set(self, photo_id: int, keywords: Sequence[str], moods: Sequence[str]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO file_keywords(photo_id, keywords, moods, read_at) VALUES (?, ?, ?, ?)",
            (photo_id, json.dumps(list(keywords)), json.dumps(list(moods)), time.time()),
        )

    def get(self, photo_id: int) -> tuple[list[str], list[str]] | None:
        row = self.conn.execute(
            "SELECT keywords, moods FROM file_keywords WHERE photo_id=?", (photo_id,)
        ).fetchone()
        return (json.loads(row[0]), json.loads(row[1])) if row else None

    def all(self) -> dict[int, list[str]]:
        """Keywords found in the files, for every photo that has any (the GUI's search box)."""
        return {
            pid: json.loads(kws)
            for pid, kws in self.conn.execute(
                "SELECT photo_id, keywords FROM file_keywords WHERE keywords != '[]'"
            )
        }

    def for_ids(self, photo_ids: Sequence[int]) -> dict[int, list[str]]:
        """The keywords found in the files of ``photo_ids`` (photos never read are left out)."""
        return {
            pid: json.loads(kws)
            for pid, kws in self.conn.execute(
                "SELECT photo_id, keywords FROM file_keywords "
                "WHERE photo_id IN (SELECT value FROM json_each(?))",
                (json.dumps([int(i) for i in photo_ids]),),
            )
        }


class KeywordAdditions(Table):
    """The ``keyword_additions`` table (``catalog.keyword_additions``): what
    moodtagger added to the files' keyword fields, so a clear removes only that."""

    def get(self, photo_id: int) -> dict[str, dict[str, list[str]]]:
        """Per file of the photo (``""``: the photo, else a sidecar's suffix) and field, the
        values moodtagger added and a clear may remove; empty when there is no record."""
        row = self.conn.execute(
            "SELECT added FROM keyword_additions WHERE photo_id=?", (photo_id,)
        ).fetchone()
        return json.loads(row[0]) if row else {}

    def has(self, photo_id: int) -> bool:
        """Whether a write since records were kept (schema 5) reached this photo's files."""
        row = self.conn.execute(
            "SELECT 1 FROM keyword_additions WHERE photo_id=?", (photo_id,)
        ).fetchone()
        return row is not None

    def set(self, photo_id: int, added: dict[str, dict[str, list[str]]]) -> None:
        """The record after a write (kept even when empty: it says a record is kept)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO keyword_additions(photo_id, added, updated_at) VALUES (?, ?, ?)",
            (photo_id, json.dumps(added, ensure_ascii=False), time.time()),
        )
