"""On scan: read the keywords already in new/changed files into the catalog.

The files are the source of truth for keywords. Moods found there (written by moodtagger or by
any tool using ``Mood|M`` / ``Mood/M``, under the configured keyword root) become the photo's
chosen moods, marked as written — unless the user has a choice that is not written yet, which is
never overwritten. Moods removed from the file by another tool make the photo unconfirmed again.
A ``Mood|Name`` for a mood the catalog does not know is imported as that custom mood (issue 27:
moodtagger wrote it elsewhere), unless the user removed that mood here.
"""

from __future__ import annotations

from collections.abc import Sequence

from moodtagger.core.catalog import Catalog, PhotoRow, ProgressFn
from moodtagger.core.metadata.exiftool import ExifToolService
from moodtagger.core.metadata.fields import WriteSettings
from moodtagger.core.metadata.reader import read_moods


def import_file_moods(
    catalog: Catalog,
    photos: Sequence[PhotoRow],
    *,
    settings: WriteSettings | None = None,
    service: ExifToolService | None = None,
    progress: ProgressFn | None = None,
) -> int:
    """Store each photo's file keywords; returns how many choices were imported from files."""
    if not photos:
        return 0
    found = read_moods([p.path for p in photos], settings, service=service, progress=progress)
    from moodtagger.core.custom_moods import for_import

    imported = 0
    with catalog.transaction():
        for photo, fm in zip(photos, found, strict=True):
            if fm.error:
                continue
            fm.moods = for_import(catalog, fm.moods)
            catalog.file_keywords.set(photo.id, fm.keywords, fm.moods)
            current = catalog.choices.get(photo.id)
            if current is not None and current[1] != "written":
                continue  # the user's unwritten choice wins
            if current is None and not fm.moods:
                continue
            if not fm.moods:
                # another tool removed the moods: the photo is unconfirmed again (as after
                # `write --clear`), not "written with no mood"
                catalog.choices.forget(photo.id)
                imported += 1
                continue
            if current is None or sorted(current.moods) != sorted(fm.moods):
                catalog.choices.set(photo.id, fm.moods, source="file", state="written")
                imported += 1
    return imported
