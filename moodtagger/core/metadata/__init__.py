"""Mood keywords in the photos' own metadata, through one long-lived exiftool.

Public API (Qt-free; the CLI and the GUI both use it):

- :class:`WriteSettings` — which fields, keyword root, sidecar naming, read-only handling.
- :func:`write_choices` — catalog choices → files, journalled and crash-safe.
- :func:`write_files` — the same for plain paths, without a catalog.
- :func:`read_moods` — the moods (and keywords) already in files and their sidecars.
- :func:`import_file_moods` — used by ``scan``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

# Each name is imported from its module on first use (PEP 562), so a command that only needs
# exiftool.py or fields.py (e.g. `predict`, through a RAW preview) does not import the writer,
# the journal and the scanner at start-up.
_HOME = {
    "ExifToolError": "exiftool",
    "ExifToolService": "exiftool",
    "UnsafeArgument": "exiftool",
    "ALL_FIELDS": "fields",
    "DEFAULT_FIELDS": "fields",
    "WriteSettings": "fields",
    "import_file_moods": "importer",
    "recover": "journal",
    "write_choices": "journal",
    "FileMoods": "reader",
    "read_moods": "reader",
    "FileResult": "results",
    "WriteItem": "results",
    "WriteSummary": "results",
    "write_files": "writer",
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


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
