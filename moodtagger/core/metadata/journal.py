"""Catalog-level writes: the user's chosen moods → files, through a crash-safe journal.

Every batch first records one ``write_journal`` row per file (``pending``) and, before exiftool
creates the temporary file, that file's name. Results are committed per chunk of files (after
their renames and the folders' fsync), each with the choice's state and the file's new
size/mtime (so the next scan does not see a "changed" file).
A batch holds the catalog's writer lock (one writer per catalog across processes and
threads), so the journal rows still 'pending' when a batch starts belong to a process that
died: if the process dies at any moment, :func:`recover` (run at the start of every batch, under
the lock) deletes leftover temporary files — never those of a live batch; the originals are either fully old or fully new (``os.replace`` is
atomic), and the choices not yet marked written are simply written again — a file that already
holds them comes out "unchanged".
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Sequence

from moodtagger.core.catalog import Catalog, ProgressFn, fs, unfs
from moodtagger.core.metadata.exiftool import ExifToolService
from moodtagger.core.metadata.fields import LEGACY, WriteSettings
from moodtagger.core.metadata.results import (
    ANY_TARGET,
    FileResult,
    Record,
    WriteItem,
    WriteSummary,
)
from moodtagger.core.metadata.writer import Writer
from moodtagger.core.moods import display_name
from moodtagger.core.scanner import sidecar_signature


def recover(catalog: Catalog) -> int:
    """Finish the journal of a batch that was interrupted: remove its temporary files.

    Takes the writer lock: while another process is writing, its rows are not touched."""
    with catalog.writer_lock():
        return _recover(catalog)


def _recover(catalog: Catalog) -> int:
    rows = catalog.journal.interrupted()
    for _, temp in rows:
        if temp:
            try:
                os.unlink(unfs(temp))
            except FileNotFoundError:
                pass
            except OSError:
                continue
    if rows:
        catalog.journal.close_interrupted(r[0] for r in rows)
    return len(rows)


def _record(catalog: Catalog, photo_id: int) -> Record | None:
    """What moodtagger added to the photo's files, per :func:`record_key` and field.

    A photo last written before records were kept (a catalog from schema 4) has none; its write
    journal still says which moods were written, so their flat words count as added — unless a
    tree of the user's has the word as a leaf, which is how those versions marked a word the
    user typed themselves (:data:`~moodtagger.core.metadata.fields.LEGACY`)."""
    if catalog.keyword_additions.has(photo_id):
        return catalog.keyword_additions.get(photo_id)
    moods = catalog.journal.last_written_moods(photo_id)
    if not moods:
        return None
    return {ANY_TARGET: {LEGACY: [display_name(m) for m in moods]}}


def choices_to_write(
    catalog: Catalog,
    photo_ids: Sequence[int] | None,
    paths: Sequence[str] | None = None,
    folders: Sequence[str] = (),
) -> list[WriteItem]:
    """The items to write: ``photo_ids``' choices, or every pending/failed choice (only those
    under ``paths``, files or folders, when given).

    Each item must still be the photo scanned, and resolve into the library: the scanned
    roots and ``folders`` (the folders named for a direct write); a photo outside both (written
    directly before, no root) into its own folder."""
    if photo_ids is None:
        scope = catalog.photos.ids_under(paths) if paths is not None else None
        chosen = catalog.choices.pending(scope)
    else:
        chosen = []
        for pid in dict.fromkeys(photo_ids):  # a photo named twice is written once
            photo = catalog.photos.by_id(pid)
            ch = catalog.choices.get(pid)
            if photo is not None and ch is not None:
                chosen.append((photo, ch.moods))
    library = tuple(path for _, path in catalog.photos.roots()) + tuple(folders)

    def inside(path: str) -> tuple[str, ...]:
        if any(path.startswith(f.rstrip("/") + "/") for f in library):
            return library
        return (*library, os.path.dirname(path))

    return [
        WriteItem(
            p.path,
            moods,
            p.id,
            scanned=p,
            folders=inside(p.path),
            added=_record(catalog, p.id),
        )
        for p, moods in chosen
    ]


def items_for_paths(
    catalog: Catalog, paths: Sequence[str], moods: Sequence[str], folders: Sequence[str] = ()
) -> list[WriteItem]:
    """Items for ``paths`` outside the catalog's choices (a dry run of ``write --mood/--clear
    PATH``), each with the catalog's record of what moodtagger added to that photo's files, so
    the plan is the one the real write makes; a photo the catalog does not know has none."""
    items = []
    for p in paths:
        photo = catalog.photos.by_path(p)
        added = _record(catalog, photo.id) if photo is not None else None
        items.append(WriteItem(p, moods, None, folders=folders, added=added))
    return items


def write_choices(
    catalog: Catalog,
    photo_ids: Sequence[int] | None = None,
    *,
    settings: WriteSettings | None = None,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    service: ExifToolService | None = None,
    on_result: Callable[[FileResult], None] | None = None,
    paths: Sequence[str] | None = None,
    folders: Sequence[str] = (),
) -> WriteSummary:
    """Write the chosen moods of ``photo_ids`` (None: every pending or failed choice, only
    those under ``paths`` when given). A file must resolve into the scanned roots or
    ``folders`` (the folders named for a direct write), unless ``settings.follow_symlinks``.

    Failed files keep their choice pending (state 'failed' + reason) for the next run.
    Holds the catalog's writer lock for the whole batch (another process waits).
    """
    with Writer(settings, service) as writer:  # (its own exiftool when no service is given)
        if dry_run:
            items = choices_to_write(catalog, photo_ids, paths, folders)
            return writer.write(
                items,
                dry_run=True,
                progress=progress,
                cancel=cancel,
                on_result=(lambda _i, r: on_result(r)) if on_result else None,
            )
        with catalog.writer_lock():
            items = choices_to_write(catalog, photo_ids, paths, folders)
            return _write_batch(catalog, writer, items, progress, cancel, on_result)


def _write_batch(catalog, writer, items, progress, cancel, on_result) -> WriteSummary:
    _recover(catalog)
    batch = uuid.uuid4().hex
    rows = catalog.journal.start(batch, [(it.photo_id, it.path, it.moods) for it in items])
    journal = {
        id(it): row for it, row in zip(items, rows, strict=True)
    }  # id(item) -> its journal row

    def before_writes(pairs: list[tuple[WriteItem, str]]) -> None:
        # a chunk's temporary files, committed before exiftool creates any of them
        catalog.journal.set_temps([(journal[id(item)], temp) for item, temp in pairs])

    def record(item: WriteItem, res: FileResult) -> None:
        state = "failed" if res.status == "failed" else "written"
        with catalog.transaction():
            catalog.journal.finish(journal[id(item)], state, res.error)
            current = catalog.choices.get(item.photo_id) if item.photo_id is not None else None
            if current is not None and sorted(current.moods) == sorted(item.moods):
                # (a choice changed meanwhile, e.g. in the GUI, stays pending for the next write)
                if not item.moods and state == "written":
                    # a clear that reached the file: the photo is unconfirmed again, so a later
                    # accept can choose for it (issue 11 item 6)
                    catalog.choices.forget(item.photo_id)
                else:
                    catalog.choices.mark(item.photo_id, state, res.error)
            if item.photo_id is not None:
                if res.size is not None and res.mtime_ns is not None:
                    catalog.photos.set_file_state(
                        item.photo_id, size=res.size, mtime_ns=res.mtime_ns, ctime_ns=res.ctime_ns
                    )
                if res.status != "failed":
                    catalog.file_keywords.set(item.photo_id, res.keywords, res.after)
                    catalog.keyword_additions.set(item.photo_id, res.added)
                    catalog.photos.set_sidecar_sig(
                        item.photo_id, sidecar_signature(fs(item.path), None)
                    )
        if on_result:
            on_result(res)

    try:
        summary = writer.write(
            items,
            progress=progress,
            cancel=cancel,
            before_writes=before_writes,
            on_result=record,
            results_scope=catalog.transaction,  # one commit per chunk of results
        )
    except BaseException:  # a bug stopped the batch: close its rows (choices stay pending)
        _recover(catalog)
        raise
    # files never reached (cancelled): their journal rows are closed, their choices stay pending
    catalog.journal.skip_rest(batch)
    return summary
