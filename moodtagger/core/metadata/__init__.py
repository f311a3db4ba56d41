"""Mood keywords in the photos' own metadata, through one long-lived exiftool.

Public API (Qt-free; the CLI and the GUI both use it):

- :class:`WriteSettings` — which fields, keyword root, sidecar naming, read-only handling.
- :func:`write_choices` — catalog choices → files, journalled and crash-safe.
- :func:`write_files` — the same for plain paths, without a catalog.
- :func:`read_moods` — the moods (and keywords) already in files and their sidecars.
- :func:`import_file_moods` — used by ``scan``.
"""

from moodtagger.core.metadata.exiftool import (
    ExifToolError,
    ExifToolService,
    UnsafeArgument,
)
from moodtagger.core.metadata.fields import ALL_FIELDS, DEFAULT_FIELDS, WriteSettings
from moodtagger.core.metadata.importer import import_file_moods
from moodtagger.core.metadata.journal import recover, write_choices
from moodtagger.core.metadata.reader import FileMoods, read_moods
from moodtagger.core.metadata.results import FileResult, WriteItem, WriteSummary
from moodtagger.core.metadata.writer import write_files

__all__ = [
    "ALL_FIELDS",
    "DEFAULT_FIELDS",
    "ExifToolError",
    "ExifToolService",
    "FileMoods",
    "FileResult",
    "UnsafeArgument",
    "WriteItem",
    "WriteSettings",
    "WriteSummary",
    "import_file_moods",
    "read_moods",
    "recover",
    "write_choices",
    "write_files",
]
