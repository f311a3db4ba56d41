"""Files that ship with moodtagger: the model registry (``models/``) and the app icon
(``resources/``).

They live in top-level folders of the project; pyproject.toml (for the wheel) and
packaging/moodtagger.spec (for the PyInstaller bundle) map each into the package
(``moodtagger/models``, ``moodtagger/resources``) as package data. :func:`shipped_dir` finds them through importlib.resources, installed or
in a source checkout, so no caller needs to know which.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def shipped_dir(name: str) -> Path:
    """The folder ``name`` ("models", "resources"): package data ``moodtagger/<name>`` when
    installed, the project's top-level ``<name>/`` in a checkout."""
    package = Path(str(importlib.resources.files("moodtagger")))
    installed = package / name
    return installed if installed.is_dir() else package.parent / name
