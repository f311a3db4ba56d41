"""Write chosen moods into files, safely.

Protocol, per file, paid per chunk of files (:mod:`.batch`: one exiftool read of the chunk, its
temporary names journalled in one commit, one verify read; two exiftools on alternate chunks);
the original is untouched until the last step:

1. read the file's keyword fields and every other XMP/IPTC text (ImageDataHash too, except for
   JPEGs) — the chunk's files in one exiftool call;
2. plan the change (:func:`fields.plan`); nothing to change → "unchanged", no write at all;
3. exiftool writes a *new* file beside the original (``-o .name.moodtagger-XXXX.ext``); its
   owner, group, permission bits and extended attributes (ACLs included) are set to the
   original's and it is ``fsync``-ed (in the background, while exiftool goes on);
4. read the new file back (the chunk's in one call): every field must hold exactly the planned
   keywords, every other XMP/IPTC text must be as it was, and the image data must be identical
   — a JPEG's every byte outside APPn/COM compared whole (:func:`safefile.same_image_data`),
   other formats by exiftool's ImageDataHash, or decoded pixels where it has none. A JPEG
   whose bytes prove all of that (:func:`jpegcheck.proves_write`: every byte but the XMP
   packet identical, the packet's RDF the same but for the keyword fields, which hold the
   plan) is not read back;
5. check the original was not changed meanwhile by another program (size, mtime, ctime,
   inode; again right before the rename), ``os.replace`` the new file over it (atomic on
   POSIX), ``fsync`` the folder (once per folder and chunk, before the results are reported).

An expected problem while writing, verifying or cleaning up one file (:data:`PER_FILE_ERRORS`:
the operating system's, exiftool's, a failed check) is that file's error; the batch goes on and
the file's temporary copy is removed. Anything else is a bug: the temporary copies of the files
in flight are removed and the exception propagates (the batch stops; the front end reports it
as a bug, never as one file's "TypeError: …"). A hard-linked photo is not replaced (its other
names would keep the old photo): it is an error, or gets a sidecar, like a read-only one.

Except when exiftool hangs again right after its restart (``WriteSettings.timeout`` twice in a
row): then the batch stops, every file not written yet is reported failed ("not written:
exiftool did not answer within N s"; a catalog keeps its choice to write) and
``WriteSummary.stopped`` says why in one sentence.

A crash at any moment leaves the original either fully old or fully new; a stray temporary file
is removed by the next run (:func:`recover`, driven by the catalog's write journal).

The records a write takes and gives are in :mod:`.results`; the file side of the protocol (temp
names, free space, fsync, pixel comparison, ownership) in :mod:`.safefile`. The exiftool is the
caller's (the Library's), or one of the writer's own closed by :meth:`Writer.close`.

RAW files get an XMP sidecar instead (``photo.xmp`` — Lightroom's name, also beside ``photo.JPG`` —
unless another RAW reads it too, then ``photo.CR2.xmp``; every sidecar of the file that already exists is kept in step; DNG holds
its XMP inside). Read-only files get a sidecar (``photo.jpg.xmp``) or a clear error, by setting —
never a silent skip; once the file itself is written, that sidecar is kept in step with it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from moodtagger.core.catalog import ProgressFn
from moodtagger.core.metadata.batch import Batch, _Job, _Target
from moodtagger.core.metadata.exiftool import (
    ExifToolService,
    UnsafeArgument,
    check_arg,
)
from moodtagger.core.metadata.fields import (
    IPTC_KEYWORDS,
    FileTags,
    Plan,
    WriteSettings,
    fields_for,
    flat_keywords,
    matches,
    needs_sidecar,
    other_changes,
    plan,
    reads_stem_sidecar,
    sidecar_paths,
    stem_sharers,
)
from moodtagger.core.metadata.jpegcheck import proves_write, read_ahead
from moodtagger.core.metadata.reader import read_tags, supports_image_hash
from moodtagger.core.metadata.results import (
    ANY_TARGET,
    FileResult,
    Record,
    WriteItem,
    WriteSummary,
    record_key,
)
from moodtagger.core.metadata.safefile import (
    JPEG_NAMES,
    PER_FILE_ERRORS,
    WriteFailed,
    _copy_ownership,
    _out,
    _same_pixels,
    _snapshot,
    _space_left,
    _writable,
    explain,
    same_image_data,
)
from moodtagger.core.moods import mood_id, ordered
from moodtagger.core.tools import cannot_write

CHANGED_SINCE_SCAN = "changed since the last scan — run scan"
CHUNK = 32


IPTC_KEYWORD_BYTES = 64  # IPTC-IIM 2:25 Keywords: at most 64 bytes each


def _iptc_too_long(p: Plan) -> str | None:
    """One sentence when a keyword IPTC-IIM would get is longer than it can hold (exiftool
    would cut it, and the read-back would differ)."""
    if not any(a.startswith(f"-{IPTC_KEYWORDS}") for a in p.args):
        return None
    for k in p.after.get(IPTC_KEYWORDS, []):
        n = len(k.encode("utf-8"))
        if n > IPTC_KEYWORD_BYTES:
            return (
                f"the keyword {k!r} is {n} bytes, longer than the {IPTC_KEYWORD_BYTES} bytes "
                "an IPTC keyword can hold; shorten it (or the keyword root / mood name), or "
                "leave IPTC out with --field (the XMP fields hold it whole)"
            )
    return None


def _shared_stem_note(path: str, settings: WriteSettings) -> str | None:
    """Why a RAW's mood goes to ``photo.CR2.xmp`` although ``photo.xmp`` was asked for."""
    if settings.sidecar != "xmp" or not reads_stem_sidecar(path):
        return None
    others = stem_sharers(path)
    if not others:
        return None
    stem = os.path.splitext(os.path.basename(path))[0] + ".xmp"
    return (
        f"{stem} would also be read for {', '.join(others)}, so it is left alone; "
        f"the moods go to {os.path.basename(path)}.xmp"
    )


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class Writer:
    """Writes mood choices into files through one :class:`ExifToolService`: the caller's
    (the Library's), or without one an exiftool of its own with this write's timeout, closed
    by :meth:`close` (``with Writer(...) as writer``)."""

    def __init__(
        self, settings: WriteSettings | None = None, service: ExifToolService | None = None
    ):
        self.settings = settings or WriteSettings()
        self._own: ExifToolService | None = None
        if service is None:
            service = self._own = ExifToolService(timeout=self.settings.timeout)
            service.start()  # (while the caller gets its items ready)
        self.service = service
        self._folders: dict[str, str] = {}  # library folder -> resolved, once per batch

    def close(self) -> None:
        """Stop the exiftool this writer started (none when the caller passed its own)."""
        if self._own is not None:
            self._own.close()
            self._own = None

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _resolved(self, folder: str) -> str:
        """A library folder with its links resolved now (at write time, once per batch)."""
        if folder not in self._folders:
            self._folders[folder] = os.path.realpath(os.path.abspath(folder))
        return self._folders[folder]

    # -- resolving where each choice goes ---------------------------------------------------
    def _job(self, item: WriteItem) -> _Job:
        path = os.path.abspath(item.path)
        job = _Job(item, path)
        try:
            check_arg(path, "file name")
            job.moods = sorted({mood_id(m) for m in item.moods})
        except (UnsafeArgument, ValueError) as exc:
            job.error = str(exc)
            return job
        real = os.path.realpath(path)
        job.path = real
        if item.folders and not self.settings.follow_symlinks:
            if not any(_inside(real, self._resolved(f)) for f in item.folders):
                job.error = (
                    f"it leads to {real}, outside the library folders; not written "
                    "(--follow-symlinks allows it)"
                )
                return job
        if not os.path.isfile(real):
            try:
                os.stat(real)
                job.error = "not a regular file"
            except PermissionError:
                job.error = "permission denied: its folder cannot be opened"
            except OSError:
                job.error = "file not found" if not os.path.lexists(path) else "not a regular file"
            return job
        folder = os.path.dirname(real)
        folder_ok = _writable(folder)
        use_sidecar = needs_sidecar(real)
        links = os.stat(real).st_nlink
        if not use_sidecar and not (_writable(real) and folder_ok and links == 1):
            if not _writable(real):
                what = "file is read-only"
            elif not folder_ok:
                what = "its folder is read-only"
            else:
                what = f"it has {links} hard links (its other names would keep the old photo)"
            if self.settings.readonly != "sidecar":
                job.error = f"{what}; not written (set read-only handling to 'sidecar' to write an XMP sidecar instead)"
                return job
            use_sidecar = True
        existing = [s for s in sidecar_paths(real) if os.path.isfile(s)]
        if use_sidecar:
            if not folder_ok:
                job.error = "its folder is read-only; cannot write an XMP sidecar there"
                return job
            sidecars = existing or [self.settings.sidecar_for(real)]
            job.note = _shared_stem_note(real, self.settings)
        else:
            job.targets.append(_Target(real, "file", True))
            sidecars = existing  # left from a read-only fallback: kept in step with the file
        for s in sidecars:
            if os.path.isfile(s) and not _writable(s):
                job.error = f"sidecar {os.path.basename(s)} is read-only"
                return job
            job.targets.append(_Target(s, "sidecar", os.path.isfile(s)))
        for t in job.targets:
            t.snapshot = _snapshot(t.path)
        # after the snapshot: a change from here on is caught before the rename (lost update)
        if item.scanned is not None:
            from moodtagger.core.scanner import still_scanned

            if not still_scanned(real, item.scanned):
                job.error = CHANGED_SINCE_SCAN
        return job

    # -- the batch --------------------------------------------------------------------------
    def write(
        self,
        items: Sequence[WriteItem],
        *,
        dry_run: bool = False,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        before_write: Callable[[WriteItem, str], None] | None = None,
        before_writes: Callable[[list[tuple[WriteItem, str]]], None] | None = None,
        on_result: Callable[[WriteItem, FileResult], None] | None = None,
        results_scope: Callable[[], AbstractContextManager[Any]] | None = None,
    ) -> WriteSummary:
        """Write each item's moods; per-file problems (:data:`PER_FILE_ERRORS`) become ``failed``
        results. A bug raises, after removing the temporary copies of the files in flight.

        Chunk by chunk, on this writer's exiftool and, for more than one chunk, a second one
        of the batch's own (:mod:`.batch`). ``before_writes`` gets each chunk's ``(item,
        temporary file)`` pairs at once, before exiftool creates any of them (the journal), on
        the caller's thread, as ``on_result`` and ``progress``; ``before_write`` gets each pair
        just before its file is written, on a worker thread. ``results_scope``: a context a
        chunk's results are given in (the catalog's transaction: one commit per chunk)."""
        self._folders = {}
        return Batch(
            self,
            items,
            dry_run=dry_run,
            progress=progress,
            cancel=cancel,
            before_write=before_write,
            before_writes=before_writes,
            on_result=on_result,
            results_scope=results_scope,
            want_hash=self.settings.verify and supports_image_hash(self.service),
        ).run()

    def new_job(self, item: WriteItem) -> _Job:
        """A job with nothing resolved (a file reported without being looked at)."""
        return _Job(item, os.path.abspath(item.path))

    def helper_service(self) -> ExifToolService:
        """A second exiftool like this writer's (same program, version and timeout), for a
        batch's second worker; the batch closes it."""
        svc = ExifToolService(self.service.executable, timeout=self.service.timeout)
        svc.version = self.service.version
        svc.start()
        return svc

    def _fail(
        self, job: _Job, exc: BaseException, finish: Callable[[_Job, FileResult], None]
    ) -> None:
        job.error = explain(exc)
        try:
            self._cleanup(job)
        except Exception:  # pragma: no cover - _cleanup swallows its own errors
            pass
        finish(job, self._result(job, "failed"))

    def _plan(self, job: _Job, tags: dict[str, FileTags]) -> None:
        for t in job.targets:
            too_old = cannot_write(t.path, self.service.version)
            if too_old:
                job.error = too_old
                return
            if t.exists:
                ft = tags.get(t.path)
                if ft is None or ft.error:
                    job.error = (ft.error if ft else None) or "exiftool could not read the file"
                    return
            else:
                ft = FileTags(t.path, values={})
            t.tags = ft
            fields = fields_for(t.path, self.settings.fields, ft)
            if not fields:
                job.error = (
                    "none of the chosen fields can be written here (IPTC:Keywords and "
                    "XPKeywords are only kept in step where the file already has them)"
                )
                return
            try:
                recs = job.item.added or {}
                rec = recs.get(record_key(job.path, t.path), recs.get(ANY_TARGET))
                t.plan = plan(ft, job.moods, fields, self.settings.root, rec)
            except (UnsafeArgument, ValueError) as exc:
                job.error = str(exc)
                return
            job.error = _iptc_too_long(t.plan)
            if job.error:
                return

    def _write_temp(self, t: _Target, service: ExifToolService | None = None) -> None:
        assert t.plan is not None and t.temp is not None
        et = service or self.service
        opts = ["-P"] if self.settings.preserve_mtime else []
        if t.exists and t.plan.pre_args:  # two steps, both on the new file only
            reply = et.execute(*opts, "-o", _out(t.temp), *t.plan.pre_args, t.path)
            if os.path.isfile(t.temp):
                reply = et.execute(*opts, "-overwrite_original", *t.plan.args, t.temp)
                if reply.status != 0:
                    raise WriteFailed(self._exiftool_failed(t, reply.stderr))
        elif t.exists:
            reply = et.execute(*opts, "-o", _out(t.temp), *t.plan.args, t.path)
        else:  # a new XMP sidecar, created from the assignments alone
            reply = et.execute(*t.plan.args, t.temp)
        if not os.path.isfile(t.temp):
            raise WriteFailed(self._exiftool_failed(t, reply.stderr))

    def _exiftool_failed(self, t: _Target, stderr: str) -> str:
        size = os.path.getsize(t.path) if t.exists else 0
        if not _space_left(os.path.dirname(t.path), size + 64 * 1024):
            return f"no space left on the device; {os.path.basename(t.path)} not written"
        msg = next((ln.strip() for ln in stderr.splitlines() if ln.strip()), "")
        msg = (
            msg.replace(f" - {t.path}", "")
            .replace(f" - {t.temp}", "")
            .replace(f" - {_out(t.temp or '')}", "")
        )
        return f"exiftool could not write {os.path.basename(t.path)}: {msg or 'no output file'}"

    def _unchanged_since_read(self, t: _Target) -> None:
        """Lost-update guard: another program's edit since we read the file is never overwritten."""
        if _snapshot(t.path) != t.snapshot:
            raise WriteFailed(
                "the file was changed by another program while it was being written; "
                "not replaced (write it again)"
            )

    def _read_now(self, t: _Target, now: FileTags | None) -> None:
        """A file planned from its bytes (``FileTags.unread``) whose write its bytes could not
        prove: exiftool's read of the original (``now``), taken with the verify read, must
        agree that it held no keyword field; it then stands for the read before the write."""
        if t.tags is None or not t.tags.unread:
            return
        if now is None or now.error or now.has_iptc or now.has_xp or any(now.values.values()):
            raise WriteFailed(
                "its keywords read differently when checked; not replaced (write it again)"
            )
        t.tags = now

    def _verify(self, t: _Target, back: FileTags | None) -> None:
        """The new file holds the plan and nothing else changed: proved from its bytes
        (``t.proved``, :meth:`_proved`), or as exiftool reads it back (``back``)."""
        assert t.plan is not None and t.temp is not None
        if t.proved:
            return
        if back is None or back.error:
            raise WriteFailed(
                f"the written file does not read back ({back.error if back else 'no answer'})"
            )
        problem = matches(back, t.plan.after)
        if not problem and t.tags is not None and t.exists:
            problem = other_changes(t.tags, back)
        if problem:
            raise WriteFailed(f"verification failed: {problem}")
        if not self.settings.verify or t.kind == "sidecar":
            return
        same = same_image_data(t.path, t.temp)
        if same is not None:
            if not same:
                raise WriteFailed("verification failed: the image data changed")
            return
        old = t.tags.image_hash if t.tags else None
        if old and back.image_hash:
            if old != back.image_hash:
                raise WriteFailed("verification failed: the image data changed")
        elif not _same_pixels(t.path, t.temp):
            raise WriteFailed("verification failed: the decoded pixels changed")

    def _proved(self, t: _Target) -> bool:
        """Whether the new file's bytes prove the write right (:func:`jpegcheck.proves_write`:
        a JPEG changed only in its XMP keywords, which hold the plan) — every check
        :meth:`_verify` makes, without exiftool reading the file back."""
        if t.kind != "file" or not t.exists or t.tags is None or t.plan is None:
            return False
        if t.plan.pre_args or t.temp is None or not t.path.lower().endswith(JPEG_NAMES):
            return False
        return proves_write(t.path, t.temp, t.plan.after, t.tags)

    def _read(
        self,
        paths: list[str],
        want_hash: bool,
        service: ExifToolService | None = None,
        ahead: bool = False,
    ) -> dict[str, FileTags]:
        """One read of many files; JPEGs without exiftool's ImageDataHash (their image data
        is compared whole in :meth:`_verify`, far faster than exiftool hashes it). ``ahead``
        (the read before a write): a JPEG without any keyword field is read from its bytes
        (:func:`jpegcheck.read_ahead`), not by exiftool."""
        out: dict[str, FileTags] = {}
        if ahead:
            for p in paths:
                ft = read_ahead(p) if p.lower().endswith(JPEG_NAMES) else None
                if ft is not None:
                    out[p] = ft
            paths = [p for p in paths if p not in out]
        jpegs = [p for p in paths if p.lower().endswith(JPEG_NAMES)]
        rest = [p for p in paths if not p.lower().endswith(JPEG_NAMES)]
        for group, hashed in ((jpegs, False), (rest, want_hash)):
            if not group:
                continue
            try:
                out.update(read_tags(service or self.service, group, image_hash=hashed))
            except PER_FILE_ERRORS as exc:
                out.update({p: FileTags(p, error=explain(exc)) for p in group})
        return out

    def _prepare(self, t: _Target) -> None:
        """The verified new file has the original's owner, mode and extended attributes, and its
        bytes are on the disk before it replaces the original (:meth:`_sync`, started right
        after exiftool wrote it, or now)."""
        assert t.temp is not None
        if t.synced is None:
            self._sync(t.path, t.temp, t.exists)
        else:
            t.synced.result()

    @staticmethod
    def _sync(path: str, temp: str, exists: bool) -> None:
        if exists:
            _copy_ownership(path, temp)
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _commit(self, t: _Target) -> None:
        """Replace the original (the caller fsyncs the folder)."""
        assert t.temp is not None
        self._unchanged_since_read(t)
        if os.path.realpath(os.path.dirname(t.path)) != os.path.dirname(t.path):
            raise WriteFailed("its folder was replaced by a link meanwhile; not replaced")
        os.replace(t.temp, t.path)
        t.temp = None

    def _cleanup(self, job: _Job) -> None:
        for t in job.targets:
            if t.temp:
                try:
                    os.unlink(t.temp)
                except OSError:
                    pass
                t.temp = None

    def _result(self, job: _Job, status: str) -> FileResult:
        before: set[str] = set()
        after: set[str] = set()
        diff: list[tuple[str, str, list[str], list[str]]] = []
        keywords: list[str] = []
        keywords_before: list[str] = []
        added: Record = {}
        for t in job.targets:
            if t.plan is None:
                continue
            before.update(t.plan.moods_before)
            after.update(t.plan.moods_after)
            for f, b, a in t.plan.diff():
                diff.append((t.path, f, b, a))
            src = t.plan.after if status in ("written", "unchanged", "planned") else t.plan.before
            keywords += [k for k in flat_keywords(src) if k not in keywords]
            keywords_before += [k for k in flat_keywords(t.plan.before) if k not in keywords_before]
            if status in ("written", "unchanged") and t.plan.added:
                added[record_key(job.path, t.path)] = t.plan.added
        res = FileResult(
            job.item.path,
            job.item.photo_id,
            ordered(before),
            ordered(after if job.targets and not job.error else set(job.moods)),
            status,
            job.error,
            [t.path for t in job.targets],
            diff,
            keywords,
            note=job.note,
        )
        res.added = added
        res.keywords_before = keywords_before
        if status == "written" and any(t.kind == "file" for t in job.targets):
            try:
                st = os.stat(job.path)
                res.size, res.mtime_ns, res.ctime_ns = st.st_size, st.st_mtime_ns, st.st_ctime_ns
            except OSError:
                pass
        return res


def write_files(
    items: Sequence[WriteItem], settings: WriteSettings | None = None, **kwargs
) -> WriteSummary:
    """Write without a catalog (no journal): ``write_files([WriteItem(path, ["awe"])])``.

    No catalog, no record of what moodtagger added: a later mood change or clear then leaves
    the flat mood words (they may be the user's). A caller that keeps ``FileResult.added`` and
    passes it back as ``WriteItem.added`` gets the catalog's behaviour."""
    with Writer(settings, kwargs.pop("service", None)) as writer:
        return writer.write(items, **kwargs)
