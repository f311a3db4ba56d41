"""A write batch, chunk by chunk, on up to two exiftools (:meth:`Writer.write` runs it).

The protocol of :mod:`.writer` is paid per chunk of files, not per file: one exiftool read of
the chunk's fields, its temporary names journalled in one commit, each file written to its
temporary name (``-o``, stay_open), one verify read of the chunk's new files that their bytes
do not prove right (:mod:`.jpegcheck`: a JPEG whose only change is its XMP keywords needs no
read); then, per file, the checks (keywords, every other XMP/IPTC text, the whole image data,
the lost-update guard), owner, mode and xattrs, fsync. Two worker threads each own one exiftool (the caller's, and one started for
the batch when it has more than one chunk) and take chunks in turn; the caller's thread — the
only one that touches the catalog — journals the temporary names a worker asks for, and takes
the verified chunks back *in order*: per file the lost-update guard again and the atomic
rename, then each folder's fsync, then the results (``on_result``: the catalog's commit).

So a kill at any moment leaves each original old or new and every temporary file in the
journal; cancel is honoured before each rename and between files; a per-file problem is that
file's result; exiftool giving up stops the batch (every file not written is listed); a bug
stops the workers, removes every temporary file in flight and propagates.
"""

from __future__ import annotations

import os
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from moodtagger.core.catalog import ProgressFn
from moodtagger.core.metadata.exiftool import ExifToolService
from moodtagger.core.metadata.fields import FileTags, Plan
from moodtagger.core.metadata.results import FileResult, WriteItem, WriteSummary
from moodtagger.core.metadata.safefile import (
    PER_FILE_ERRORS,
    TEMP_MARK,
    _fsync_dir,
    explain,
    temp_path_for,
)

CHUNK = 32  # files per chunk at most
WORKERS = 2  # exiftools, one per worker thread


def chunk_size(total: int) -> int:
    """Chunks small enough that both workers get some (4 at least, :data:`CHUNK` at most)."""
    return max(4, min(CHUNK, -(-total // (2 * WORKERS))))


@dataclass
class _Target:
    path: str  # file to update (the photo itself, or a sidecar)
    kind: str  # 'file' | 'sidecar'
    exists: bool
    tags: FileTags | None = None
    plan: Plan | None = None
    temp: str | None = None
    snapshot: tuple[int, ...] | None = None  # (dev, inode, size, mtime, ctime) when planned
    synced: Future[None] | None = None  # the new file's owner, mode, xattrs and fsync
    proved: bool = False  # the new file's bytes prove it right (not read back)


@dataclass
class _Job:
    item: WriteItem
    path: str  # absolute, symlinks resolved
    targets: list[_Target] = field(default_factory=list)
    error: str | None = None
    moods: list[str] = field(default_factory=list)
    note: str | None = None


class _Stopped(Exception):
    """The batch stops (a bug elsewhere): a worker leaves its chunk."""


@dataclass
class _Chunk:
    no: int
    items: Sequence[WriteItem]
    jobs: list[_Job] = field(default_factory=list)
    done: list[tuple[_Job, str]] = field(default_factory=list)  # decided by the worker
    verified: list[_Job] = field(default_factory=list)  # new files checked, to be swapped in
    gave_up: str | None = None  # the exiftool gave up (the sentence)
    bug: BaseException | None = None
    journal_error: str | None = None
    journalled: threading.Event = field(default_factory=threading.Event)


class Batch:
    """One :meth:`Writer.write` call."""

    def __init__(
        self,
        writer: Any,  # the Writer (it imports this module): its per-file protocol steps
        items: Sequence[WriteItem],
        *,
        dry_run: bool,
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        before_write: Callable[[WriteItem, str], None] | None,
        before_writes: Callable[[list[tuple[WriteItem, str]]], None] | None,
        on_result: Callable[[WriteItem, FileResult], None] | None,
        want_hash: bool,
        results_scope: Callable[[], AbstractContextManager[Any]] | None = None,
    ):
        self.w = writer
        self.items = items
        self.dry_run = dry_run
        self.progress = progress
        self.cancel = cancel
        self.before_write = before_write
        self.before_writes = before_writes
        self.on_result = on_result
        self.want_hash = want_hash
        self.results_scope = results_scope or nullcontext
        self.summary = WriteSummary()
        size = chunk_size(len(items))
        self.chunks = [items[i : i + size] for i in range(0, len(items), size)]
        self.taken = 0  # chunks handed to workers
        self.lock = threading.Lock()
        self.stop = threading.Event()  # a bug, or exiftool gave up: workers take no more
        self.msgs: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.slots = threading.Semaphore(WORKERS + 1)  # chunks taken and not yet swapped in
        self.stopped: str | None = None
        self.done = 0
        self.unfinished: list[_Chunk] = []  # delivered, not yet taken back (cleaned on a bug)

    # -- the caller's thread ----------------------------------------------------------------
    def run(self) -> WriteSummary:
        t0 = time.perf_counter()
        if self.progress:
            self.progress(0, len(self.items))
        services = [self.w.service]
        own: ExifToolService | None = None
        if len(self.chunks) > 1 and not self.dry_run:
            own = self.w.helper_service()
            services.append(own)
        # owner, mode, xattrs and fsync of each new file, while exiftool goes on (disk waits)
        self.pool = ThreadPoolExecutor(4, thread_name_prefix="moodtagger-fsync")
        threads = [
            threading.Thread(target=self._worker, args=(s,), name=f"moodtagger-write-{n}")
            for n, s in enumerate(services)
        ]
        try:
            for t in threads:
                t.start()
            self._take_back(len(threads))
        except BaseException:
            self.stop.set()
            self._join(threads)
            for chunk in self.unfinished:
                for job in chunk.jobs:
                    self.w._cleanup(job)
            raise
        finally:
            self.stop.set()
            self._join(threads)
            self.pool.shutdown(wait=True)
            if own is not None:
                own.close()
        if self.stopped:  # files of chunks never taken
            for items in self.chunks[self.taken :]:
                for it in items:
                    self._not_written(self.w.new_job(it))
        if self.cancel is not None and self.cancel.is_set() and self.done < len(self.items):
            self.summary.cancelled = True
        self.summary.seconds = time.perf_counter() - t0
        return self.summary

    def _join(self, threads: list[threading.Thread]) -> None:
        for t in threads:
            if t.is_alive():
                t.join()
        while True:  # chunks delivered after the last look
            try:
                kind, chunk = self.msgs.get_nowait()
            except queue.Empty:
                return
            if kind == "done":
                self.unfinished.append(chunk)

    def _take_back(self, alive: int) -> None:
        """Serve the workers' journal requests; swap the verified chunks in, in order."""
        waiting: dict[int, _Chunk] = {}
        turn = 0
        while alive:
            kind, chunk = self.msgs.get()
            if kind == "exit":
                alive -= 1
            elif kind == "journal":
                try:
                    assert self.before_writes is not None
                    self.before_writes(
                        [(j.item, t.temp) for j in chunk.jobs for t in j.targets if t.temp]
                    )
                except PER_FILE_ERRORS as exc:
                    chunk.journal_error = explain(exc)
                except BaseException:  # a bug: the worker writes nothing
                    chunk.journal_error = "the write stopped"
                    raise
                finally:
                    chunk.journalled.set()
            else:
                waiting[chunk.no] = chunk
                self.unfinished.append(chunk)
                if chunk.bug is not None:
                    raise chunk.bug
                if chunk.gave_up and not self.stopped:  # no more chunks taken
                    self.stopped = chunk.gave_up
                    self.summary.stopped = f"{chunk.gave_up}; the write stopped"
                    self.stop.set()
            while turn in waiting:
                done = waiting.pop(turn)
                turn += 1
                self._swap_in(done)
                self.unfinished.remove(done)
                self.slots.release()

    def _finish(self, job: _Job, status: str) -> None:
        res = self.w._result(job, status)
        self.summary.add(res)
        if self.on_result:
            self.on_result(job.item, res)
        self.done += 1
        if self.progress:
            self.progress(self.done, len(self.items))

    def _not_written(self, job: _Job) -> None:
        self.w._cleanup(job)
        job.error = job.error or f"not written: {self.stopped}"
        self._finish(job, "failed")

    def _swap_in(self, chunk: _Chunk) -> None:
        with self.results_scope():  # (the catalog: one commit for the chunk's results)
            self._swap_in_chunk(chunk)

    def _swap_in_chunk(self, chunk: _Chunk) -> None:
        for job, status in chunk.done:
            self._finish(job, status)
        if self.stopped:  # every other file of the chunk is listed, none is swapped in
            reported = {id(j) for j, _ in chunk.done}
            for job in chunk.jobs:
                if id(job) not in reported:
                    self._not_written(job)
            return
        swapped: list[_Job] = []
        for job in chunk.verified:
            if self.cancel is not None and self.cancel.is_set():
                self.w._cleanup(job)  # not reported: its choice stays pending
                continue
            try:
                for t in job.targets:
                    if t.temp:
                        self.w._commit(t)
                swapped.append(job)
            except PER_FILE_ERRORS as exc:
                self.w._cleanup(job)
                job.error = explain(exc)
                self._finish(job, "failed")
        for folder in dict.fromkeys(os.path.dirname(t.path) for j in swapped for t in j.targets):
            _fsync_dir(folder)  # the renames are on disk before the catalog says "written"
        for job in swapped:
            self._finish(job, "written")

    # -- worker threads ---------------------------------------------------------------------
    def _halted(self) -> bool:
        return self.stop.is_set() or (self.cancel is not None and self.cancel.is_set())

    def _worker(self, service: ExifToolService) -> None:
        try:
            while not self._halted():
                while not self.slots.acquire(timeout=0.05):
                    if self._halted():
                        return
                with self.lock:
                    if self.taken >= len(self.chunks) or self._halted():
                        self.slots.release()
                        return
                    chunk = _Chunk(self.taken, self.chunks[self.taken])
                    self.taken += 1
                try:
                    self._work(chunk, service)
                except _Stopped:
                    for job in chunk.jobs:
                        self.w._cleanup(job)
                except BaseException as exc:  # a bug: its temporary files go now
                    for job in chunk.jobs:
                        self.w._cleanup(job)
                    chunk.bug = exc
                self.msgs.put(("done", chunk))
                if chunk.bug is not None or chunk.gave_up:
                    return
        finally:
            self.msgs.put(("exit", None))

    def _groups(self, ready: list[_Job]) -> dict[int, list[_Job]]:
        """Files of the chunk that get the very same change (most of a batch: the same mood on
        photos without keywords of their own) are written by one exiftool command, each to a
        temporary name exiftool derives from its own (``%d.moodtagger-TOKEN-%f.%e``), known
        here before it exists (the journal). Only plain cases: the file itself (no sidecar),
        one step, a UTF-8 name with an extension and no ``%``, short enough."""
        by_change: dict[tuple[str, ...], list[_Job]] = {}
        for job in ready:
            changed = [t for t in job.targets if t.plan and t.plan.changed]
            if len(changed) != 1 or len(job.targets) != 1:
                continue
            t = changed[0]
            name = os.path.basename(t.path)
            stem, ext = os.path.splitext(name)
            assert t.plan is not None
            if (
                t.kind != "file"
                or not t.exists
                or t.plan.pre_args
                or "%" in name
                or not stem
                or not ext[1:].isalnum()
                or not name.isprintable()
                or len(os.fsencode(name)) > 200
            ):
                continue
            try:
                name.encode("utf-8")
            except UnicodeError:
                continue
            by_change.setdefault(tuple(t.plan.args), []).append(job)
        out: dict[int, list[_Job]] = {}
        for jobs in by_change.values():
            if len(jobs) < 2:
                continue
            token = secrets.token_hex(6)
            for job in jobs:
                t = job.targets[0]
                folder, name = os.path.split(t.path)
                t.temp = os.path.join(folder, f"{TEMP_MARK}{token}-{name}")
                out[id(job)] = jobs
        return out

    def _write_group(self, group: list[_Job], service: ExifToolService) -> None:
        """One exiftool command writes every file of ``group`` to its temporary name; a file it
        did not write is written alone next (and so gets its own error)."""
        first = group[0].targets[0]
        assert first.plan is not None and first.temp is not None
        token = os.path.basename(first.temp)[len(TEMP_MARK) :].split("-", 1)[0]
        if self.before_write:
            for job in group:
                self.before_write(job.item, job.targets[0].temp or "")
        opts = ["-P"] if self.w.settings.preserve_mtime else []
        try:
            service.execute(
                *opts,
                "-o",
                f"%d{TEMP_MARK}{token}-%f.%e",
                *first.plan.args,
                *(job.targets[0].path for job in group),
            )
        except PER_FILE_ERRORS:
            pass  # each file not written is tried alone

    def _fail(self, chunk: _Chunk, job: _Job, exc: BaseException) -> None:
        job.error = explain(exc)
        self.w._cleanup(job)
        chunk.done.append((job, "failed"))

    def _work(self, chunk: _Chunk, service: ExifToolService) -> None:
        w = self.w
        for it in chunk.items:
            try:
                chunk.jobs.append(w._job(it))
            except PER_FILE_ERRORS as exc:  # e.g. a name the file system refuses
                job = w.new_job(it)
                job.error = explain(exc)
                chunk.jobs.append(job)
        # 1. one read of the chunk's fields (a JPEG without any keyword field: from its bytes)
        to_read = [t.path for j in chunk.jobs if not j.error for t in j.targets if t.exists]
        tags = w._read(to_read, self.want_hash, service, ahead=True)
        if service.gave_up:
            chunk.gave_up = service.gave_up
            return
        ready: list[_Job] = []
        for job in chunk.jobs:
            if not job.error:
                try:
                    w._plan(job, tags)
                except PER_FILE_ERRORS as exc:
                    job.error = explain(exc)
            if job.error:
                chunk.done.append((job, "failed"))
            elif not any(t.plan and t.plan.changed for t in job.targets):
                chunk.done.append((job, "unchanged"))
            elif self.dry_run:
                chunk.done.append((job, "planned"))
            else:
                ready.append(job)
        if not ready:
            return
        # 2. the temporary names, journalled (by the caller's thread) before any file exists
        groups = self._groups(ready)
        for job in ready:
            for t in job.targets:
                if t.plan and t.plan.changed and t.temp is None:
                    t.temp = temp_path_for(t.path)
        if self.before_writes is not None:
            self.msgs.put(("journal", chunk))
            while not chunk.journalled.wait(0.05):
                if self.stop.is_set():
                    raise _Stopped
            if chunk.journal_error:
                for job in ready:
                    job.error = chunk.journal_error
                    w._cleanup(job)
                    chunk.done.append((job, "failed"))
                return
        # 3. each file written to its temporary name (cancel is honoured between files)
        written: list[_Job] = []
        for job in ready:
            if self._halted():
                w._cleanup(job)  # not reported: its choice stays pending
                continue
            group = groups.get(id(job))
            try:
                if group is not None and group[0] is job:  # one command for the group
                    self._write_group(group, service)
                for t in job.targets:
                    if t.temp:
                        if group is None:
                            if self.before_write:
                                self.before_write(job.item, t.temp)
                            w._write_temp(t, service)
                        elif not os.path.isfile(t.temp):  # alone: its own error
                            w._write_temp(t, service)
                        t.synced = self.pool.submit(w._sync, t.path, t.temp, t.exists)
                written.append(job)
            except PER_FILE_ERRORS as exc:
                self._fail(chunk, job, exc)
                if service.gave_up:
                    chunk.gave_up = service.gave_up
                    return
        # 4. the new files the bytes prove right (:func:`jpegcheck.proves_write`: a JPEG whose
        # only change is its XMP keywords), then one verify read of the others, then the
        # checks per file
        for job in written:
            for t in job.targets:
                t.proved = bool(t.temp) and w._proved(t)
        unproved = [t for j in written for t in j.targets if t.temp and not t.proved]
        again = [t.path for t in unproved if t.tags is not None and t.tags.unread]
        temps = [t.temp for t in unproved if t.temp]
        back = w._read(temps + again, self.want_hash, service) if temps else {}
        if service.gave_up:
            chunk.gave_up = service.gave_up
            return
        for job in written:
            try:
                for t in job.targets:
                    if t.temp:
                        w._unchanged_since_read(t)
                        if not t.proved:
                            w._read_now(t, back.get(t.path))
                        w._verify(t, back.get(t.temp))
                        w._prepare(t)
                chunk.verified.append(job)
            except PER_FILE_ERRORS as exc:
                self._fail(chunk, job, exc)
