"""Photos and roots: the rows the scanner stores and everything keyed by a photo's path
(the catalog owns every statement on ``photos``)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence

from moodtagger.core.catalog.connection import Table
from moodtagger.core.catalog.records import (
    CHANGED,
    FOUND_AGAIN,
    METADATA_CHANGED,
    MOVED,
    NEW,
    PHOTO_COLS,
    KnownPhoto,
    PhotoRow,
    ScannedFile,
    covers,
    fs,
    photo_row,
    unfs,
)
from moodtagger.core.dates import first_seen


class PhotoStore(Table):
    """The ``photos`` and ``roots`` tables (``catalog.photos``)."""

    def add_root(self, path: str | os.PathLike[str]) -> int:
        """The library folder ``path`` belongs to (:func:`~moodtagger.core.catalog.records.outermost`,
        the one rule): a folder inside a library folder is part of it, not a second one; a
        folder above library folders takes them in (their photos are its photos)."""
        raw = fs(os.path.abspath(path)).rstrip(b"/") or b"/"
        with self.transaction() as c:
            roots = c.execute("SELECT id, path FROM roots ORDER BY length(path)").fetchall()
            outer = next((rid for rid, rp in roots if covers(rp, raw)), None)
            if outer is None:
                cur = c.execute(
                    "INSERT INTO roots(path, added_at) VALUES (?, ?)", (raw, time.time())
                )
                outer = int(cur.lastrowid or 0)
            top = next(rp for rid, rp in roots + [(outer, raw)] if rid == outer)
            inside = [rid for rid, rp in roots if rid != outer and covers(top, rp)]
            if inside:  # also heals a catalog that has nested roots from an older version
                c.executemany(
                    "UPDATE photos SET root_id=? WHERE root_id=?", [(outer, i) for i in inside]
                )
                c.executemany("DELETE FROM roots WHERE id=?", [(i,) for i in inside])
        return outer

    def roots(self) -> list[tuple[int, str]]:
        return [
            (r[0], unfs(r[1]))
            for r in self.conn.execute("SELECT id, path FROM roots ORDER BY path")
        ]

    def by_id(self, photo_id: int) -> PhotoRow | None:
        row = self.conn.execute(
            f"SELECT {PHOTO_COLS} FROM photos WHERE id=?", (photo_id,)
        ).fetchone()
        return photo_row(row) if row else None

    def by_path(self, path: str | os.PathLike[str] | bytes) -> PhotoRow | None:
        row = self.conn.execute(
            f"SELECT {PHOTO_COLS} FROM photos WHERE path=?", (fs(os.path.abspath(path)),)
        ).fetchone()
        return photo_row(row) if row else None

    def all(
        self, *, status: str | Iterable[str] | None = None, root_id: int | None = None
    ) -> list[PhotoRow]:
        sql = f"SELECT {PHOTO_COLS} FROM photos"
        where: list[str] = []
        args: list[object] = []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        if root_id is not None:
            where.append("root_id=?")
            args.append(root_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY path"
        return [photo_row(r) for r in self.conn.execute(sql, args)]

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0])
        return int(
            self.conn.execute("SELECT COUNT(*) FROM photos WHERE status=?", (status,)).fetchone()[0]
        )

    def ids_under(self, paths: Iterable[str | os.PathLike[str] | bytes]) -> list[int]:
        """Ids of catalogued photos that are one of ``paths`` or lie in a folder among them."""
        ids: dict[int, None] = {}
        for p in paths:
            raw = (
                fs(os.path.abspath(os.fsdecode(p) if isinstance(p, bytes) else p)).rstrip(b"/")
                or b"/"
            )
            prefix = raw if raw.endswith(b"/") else raw + b"/"
            for (i,) in self.conn.execute(
                "SELECT id FROM photos WHERE path=? OR (path >= ? AND path < ?) ORDER BY path",
                (raw, prefix, prefix[:-1] + b"0"),
            ):
                ids[i] = None
        return list(ids)

    def missing_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM photos WHERE status='missing'")]

    def max_id(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM photos").fetchone()[0])

    def set_file_state(
        self, photo_id: int, *, size: int, mtime_ns: int, ctime_ns: int | None = None
    ) -> None:
        """Record a file's new size/mtime/ctime after *we* changed it (a verified metadata
        write), so the next scan does not treat it as changed. Predictions stay valid: pixels
        are unchanged."""
        self.conn.execute(
            "UPDATE photos SET size=?, mtime_ns=?, ctime_ns=?, updated_at=? WHERE id=?",
            (size, mtime_ns, ctime_ns, time.time(), photo_id),
        )

    def set_sidecar_sig(self, photo_id: int, sig: str | None) -> None:
        self.conn.execute("UPDATE photos SET sidecar_sig=? WHERE id=?", (sig, photo_id))

    def known_under(self, prefix: bytes) -> list[KnownPhoto]:
        """Every photo whose path starts with ``prefix`` (a folder path ending in ``/``): one
        batched read per root."""
        rows = self.conn.execute(
            "SELECT path, id, size, mtime_ns, status, error, sidecar_sig, ctime_ns FROM photos "
            "WHERE path >= ? AND path < ?",
            (prefix, prefix[:-1] + b"0"),  # '0' is the byte after '/'
        ).fetchall()
        return [KnownPhoto(*r) for r in rows]

    def known_at(self, path: bytes) -> KnownPhoto | None:
        """What :meth:`known_under` says of the one photo at ``path`` (a watcher's file)."""
        row = self.conn.execute(
            "SELECT path, id, size, mtime_ns, status, error, sidecar_sig, ctime_ns FROM photos "
            "WHERE path=?",
            (path,),
        ).fetchone()
        return KnownPhoto(*row) if row else None

    def assign_root(self, root_id: int, prefix: bytes) -> None:
        """Photos under ``prefix`` that belong to no root yet belong to ``root_id``."""
        self.conn.execute(
            "UPDATE photos SET root_id=? WHERE root_id IS NULL AND path >= ? AND path < ?",
            (root_id, prefix, prefix[:-1] + b"0"),
        )

    def set_sidecar_sigs(self, sigs: Iterable[tuple[str | None, int]]) -> None:
        """``(sidecar signature, photo id)`` pairs: only the XMP sidecar changed."""
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "UPDATE photos SET sidecar_sig=?, updated_at=? WHERE id=?",
                [(sig, now, i) for sig, i in sigs],
            )

    def set_ctimes(self, ctimes: Iterable[tuple[int, int]]) -> None:
        """``(ctime_ns, photo id)`` pairs: the ctime of unchanged photos of an older catalog."""
        with self.transaction() as c:
            c.executemany("UPDATE photos SET ctime_ns=? WHERE id=?", list(ctimes))

    def mark_missing(self, photo_ids: Iterable[int]) -> None:
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "UPDATE photos SET status='missing', updated_at=? WHERE id=?",
                [(now, i) for i in photo_ids],
            )

    def mark_unreadable(self, errors: Iterable[tuple[int, str | None]]) -> None:
        """``(photo id, reason)``: the photo could not be decoded for prediction."""
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "UPDATE photos SET status='error', error=?, updated_at=? WHERE id=?",
                [(err, now, pid) for pid, err in errors],
            )

    def store_scanned(
        self, batch: Sequence[tuple[ScannedFile, int | None]]
    ) -> list[tuple[int, str]]:
        """Store decoded files (``existing``: the photo id the path had, or None) in one
        transaction; returns ``(photo id, what happened)`` per file, what happened being
        NEW, MOVED (a missing photo with the same identity took the new path), FOUND_AGAIN,
        METADATA_CHANGED (same image data, e.g. a keyword edit) or CHANGED."""
        out: list[tuple[int, str]] = []
        now = time.time()
        # the capture date (core/dates.py): a date found in the file replaces what is stored;
        # without one the stored date stays (the file time first seen is never moved by a
        # write or a rescan), and a photo that has none yet gets the file time it has now
        cols = (
            "size=?, mtime_ns=?, identity=?, width=?, height=?, orientation=?, format=?, status=?, "
            "error=?, sidecar_sig=?, taken_at=COALESCE(?, taken_at, ?), "
            "taken_from=CASE WHEN ? IS NOT NULL THEN ? WHEN taken_at IS NOT NULL THEN taken_from "
            "WHEN ? IS NOT NULL THEN 'file' END, ctime_ns=?, updated_at=?"
        )
        with self.transaction() as c:
            for res, existing in batch:
                status = "error" if res.error else "ok"
                fallback = first_seen(res.mtime_ns)
                head = (
                    res.size,
                    res.mtime_ns,
                    res.identity,
                    res.width,
                    res.height,
                    res.orientation,
                    res.format,
                    status,
                    res.error,
                    res.sidecar_sig,
                )
                real = res.taken_at
                values = (*head, real, fallback, real, res.taken_from, fallback, res.ctime_ns, now)
                if existing is None and res.identity and not res.error:
                    moved = c.execute(
                        "SELECT id FROM photos WHERE identity=? AND status='missing' LIMIT 1",
                        (res.identity,),
                    ).fetchone()
                    if moved:
                        c.execute(
                            f"UPDATE photos SET path=?, {cols} WHERE id=?",
                            (res.path, *values, moved[0]),
                        )
                        out.append((int(moved[0]), MOVED))
                        continue
                if existing is None:
                    taken = (real, res.taken_from) if real else (fallback, fallback and "file")
                    cur = c.execute(
                        "INSERT INTO photos(path, size, mtime_ns, identity, width, height, orientation, "
                        "format, status, error, sidecar_sig, taken_at, taken_from, ctime_ns, "
                        "updated_at, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (res.path, *head, *taken, res.ctime_ns, now, now),
                    )
                    out.append((int(cur.lastrowid or 0), NEW))
                    continue
                prev = c.execute(
                    "SELECT status, identity FROM photos WHERE id=?", (existing,)
                ).fetchone()
                c.execute(f"UPDATE photos SET {cols} WHERE id=?", (*values, existing))
                same_pixels = prev is not None and prev[1] == res.identity and not res.error
                if same_pixels and prev[0] == "missing":
                    out.append((existing, FOUND_AGAIN))
                elif same_pixels and prev[0] == "ok":
                    out.append((existing, METADATA_CHANGED))
                else:
                    out.append((existing, CHANGED))
        return out
