"""Read the mood keywords already in files (and their XMP sidecars), many files per exiftool call."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from moodtagger.core.catalog import ProgressFn
from moodtagger.core.metadata.exiftool import (
    ExifToolError,
    ExifToolService,
    UnsafeArgument,
    check_arg,
)
from moodtagger.core.metadata.fields import (
    HIERARCHICAL,
    READ_ARGS,
    FileTags,
    WriteSettings,
    needs_sidecar,
    sidecar_paths,
)
from moodtagger.core.moods import ordered

CHUNK = 64


def supports_image_hash(service: ExifToolService) -> bool:
    """exiftool 12.58+ computes ImageDataHash (a hash of the image data only, not metadata)."""
    return service.version is not None and service.version >= (12, 58)


def read_tags(
    service: ExifToolService, paths: Sequence[str], *, image_hash: bool = False
) -> dict[str, FileTags]:
    """Keyword fields of each path (absolute paths). Per-file problems land in ``FileTags.error``."""
    out: dict[str, FileTags] = {}
    for i in range(0, len(paths), CHUNK):
        chunk = []
        for p in paths[i : i + CHUNK]:
            try:
                chunk.append(check_arg(p, "file name"))
            except UnsafeArgument as exc:
                out[p] = FileTags(p, error=f"{exc}; rename the file to write or read its keywords")
        if not chunk:
            continue
        extra = ["-ImageDataHash"] if image_hash and supports_image_hash(service) else []
        try:
            # -e: no Composite tags (none is read; a quarter of exiftool's time per file)
            records, reply = service.execute_json("-G1", "-e", *READ_ARGS, *extra, *chunk)
        except ExifToolError as exc:
            if len(chunk) > 1:  # isolate the file that upset exiftool
                for p in chunk:
                    out.update(read_tags(service, [p], image_hash=image_hash))
                continue
            out[chunk[0]] = FileTags(chunk[0], error=str(exc))
            continue
        for p, rec in _pair(chunk, records):
            if rec is None:
                if len(chunk) > 1:  # no record to pair with: ask about this file alone
                    out.update(read_tags(service, [p], image_hash=image_hash))
                    continue
                reason = _stderr_for(reply.stderr, p) or "exiftool could not read the file"
                out[p] = FileTags(p, error=reason)
                continue
            tags = FileTags.from_json(p, rec)
            err = rec.get("ExifTool:Error")
            if err:
                tags.error = str(err)
            elif not p.lower().endswith(".xmp") and not (tags.mime or "").startswith("image/"):
                tags.error = (
                    f"not an image ({tags.mime or 'exiftool does not know this file type'})"
                )
            out[p] = tags
    return out


def _pair(paths: Sequence[str], records: list[dict]) -> list[tuple[str, dict | None]]:
    """exiftool's records for ``paths``. One record per path comes back in the order asked, so
    they pair by order (a name that is not UTF-8 comes back as ``caf?.jpg`` and would not match by
    name); when a file produced no record at all, by name, the rest unpaired."""
    if len(records) == len(paths):
        return list(zip(paths, records, strict=True))
    by_name = {r.get("SourceFile"): r for r in records}
    return [(p, by_name.get(p)) for p in paths]


def _stderr_for(stderr: str, path: str) -> str | None:
    for line in stderr.splitlines():
        if path in line:
            return line.replace(f" - {path}", "").strip()
    return None


@dataclass
class FileMoods:
    path: str
    moods: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    hierarchical: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # the file and/or sidecars they came from
    error: str | None = None


def read_moods(
    paths: Iterable[str | os.PathLike[str]],
    settings: WriteSettings | None = None,
    *,
    service: ExifToolService | None = None,
    progress: ProgressFn | None = None,
) -> list[FileMoods]:
    """Mood keywords in each file and the sidecars that belong to it (see
    :func:`~moodtagger.core.metadata.fields.sidecar_paths`). Without ``service``, an exiftool
    of its own is started for this call and closed after it."""
    if service is None:
        with ExifToolService() as own:
            return read_moods(paths, settings, service=own, progress=progress)
    settings = settings or WriteSettings()
    items = [os.path.abspath(os.fspath(p)) for p in paths]
    targets: list[str] = []
    per_item: list[list[str]] = []
    for p in items:
        t = [p] + [s for s in sidecar_paths(p) if os.path.isfile(s)]
        per_item.append(t)
        targets.extend(t)
    tags = read_tags(service, list(dict.fromkeys(targets)))
    out: list[FileMoods] = []
    for n, (p, t) in enumerate(zip(items, per_item, strict=True)):
        fm = FileMoods(p)
        main = tags.get(p)
        if not os.path.exists(p):
            fm.error = _missing(p)
        elif main is not None and main.error and not needs_sidecar(p):
            fm.error = main.error
        moods: set[str] = set()
        for target in t:
            ft = tags.get(target)
            if ft is None or ft.error:
                continue
            found = ft.moods(settings.root)
            if found:
                fm.sources.append(target)
            moods.update(found)
            for k in ft.keywords:
                if k not in fm.keywords:
                    fm.keywords.append(k)
            for h in ft.get(HIERARCHICAL):
                if h not in fm.hierarchical:
                    fm.hierarchical.append(h)
        fm.moods = ordered(moods)
        out.append(fm)
        if progress:
            progress(n + 1, len(items))
    return out


def _missing(path: str) -> str:
    try:
        os.stat(path)
    except PermissionError:
        return "permission denied: its folder cannot be opened"
    except OSError:
        pass
    return "file not found"
