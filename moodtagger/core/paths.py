"""Every per-user path and every ``MOODTAGGER_*`` environment variable, in one place.

The other modules ask the functions here; none reads the environment or platformdirs itself.
Where the files go by default (platformdirs: ``~/.local/share/moodtagger`` and
``~/.cache/moodtagger`` on Linux, ``~/Library/Application Support/moodtagger`` and
``~/Library/Caches/moodtagger`` on macOS, ``%LOCALAPPDATA%\\moodtagger`` on Windows):

- the catalog: ``DATA/catalog.sqlite3``;
- personal models: ``DATA/models/``;
- thumbnails: ``CACHE/thumbs/``; the log and crash log: ``CACHE/logs/``;
- GUI settings: the platform's settings store (an INI file).

===================================  ==============================================================
variable                             what it does
===================================  ==============================================================
``MOODTAGGER_CATALOG``               the default catalog file (``--catalog`` still wins)
``MOODTAGGER_CACHE``                 the cache folder: thumbnails and logs
``MOODTAGGER_PERSONAL_MODELS``       the folder of personal models (``moodtagger learn``)
``MOODTAGGER_SETTINGS``              keep the GUI settings in this INI file instead
``MOODTAGGER_EXIFTOOL``              the exiftool to run (before the bootstrap's copy and PATH)
``MOODTAGGER_MODELS``                the folder of model entries instead of the shipped one
``MOODTAGGER_MODEL``                 the model id used when none is chosen
``MOODTAGGER_NO_ONNX``               ``1``: run the model with torch, never the ONNX export
``MOODTAGGER_ONNX_FP32``             ``1``: run the float ONNX graph, not the int8 one
``MOODTAGGER_PIXEL_BUDGET``          pixels decoded at once across threads (default 200 MP)
``MOODTAGGER_SHARED_DATA``           the team's data folder (training and evaluation only)
``MOODTAGGER_KILL_AT_COMMIT``        tests only: SIGKILL the process before its N-th commit
``MOODTAGGER_WATCH_LIMIT``           the app watches library folders only up to this many folders
===================================  ==============================================================

docs/environment.md is the user's copy of this table.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "moodtagger"

CATALOG = "MOODTAGGER_CATALOG"
CACHE = "MOODTAGGER_CACHE"
PERSONAL_MODELS = "MOODTAGGER_PERSONAL_MODELS"
SETTINGS = "MOODTAGGER_SETTINGS"
EXIFTOOL = "MOODTAGGER_EXIFTOOL"
MODELS = "MOODTAGGER_MODELS"
MODEL = "MOODTAGGER_MODEL"
NO_ONNX = "MOODTAGGER_NO_ONNX"
ONNX_FP32 = "MOODTAGGER_ONNX_FP32"
PIXEL_BUDGET = "MOODTAGGER_PIXEL_BUDGET"
SHARED_DATA = "MOODTAGGER_SHARED_DATA"
KILL_AT_COMMIT = "MOODTAGGER_KILL_AT_COMMIT"
WATCH_LIMIT = "MOODTAGGER_WATCH_LIMIT"

VARIABLES = (
    CATALOG,
    CACHE,
    PERSONAL_MODELS,
    SETTINGS,
    EXIFTOOL,
    MODELS,
    MODEL,
    NO_ONNX,
    ONNX_FP32,
    PIXEL_BUDGET,
    SHARED_DATA,
    KILL_AT_COMMIT,
    WATCH_LIMIT,
)


def env(name: str) -> str | None:
    """The variable's value; unset or empty: None."""
    assert name in VARIABLES, name
    return os.environ.get(name) or None


def flag(name: str) -> bool:
    """A yes/no variable: set to anything but empty means yes."""
    return env(name) is not None


def env_path(name: str) -> Path | None:
    value = env(name)
    return Path(value) if value else None


# -- per-user folders -----------------------------------------------------------------------------
def data_dir() -> Path:
    """The per-user data folder (the catalog and personal models live there)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """The cache folder (thumbnails, logs): ``MOODTAGGER_CACHE``, else the per-user cache."""
    path = env_path(CACHE)
    if path is not None:
        return path
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP, appauthor=False))


def catalog_path() -> Path:
    """The default catalog: ``MOODTAGGER_CATALOG``, else ``catalog.sqlite3`` in :func:`data_dir`."""
    return env_path(CATALOG) or data_dir() / "catalog.sqlite3"


def personal_models_dir() -> Path:
    """Personal models: ``MOODTAGGER_PERSONAL_MODELS``, else ``models/`` in :func:`data_dir`."""
    return env_path(PERSONAL_MODELS) or data_dir() / "models"


def log_dir() -> Path:
    """The log file and the crash log (faulthandler)."""
    return cache_dir() / "logs"


def settings_file() -> Path | None:
    """The GUI settings' INI file when ``MOODTAGGER_SETTINGS`` names one (None: the platform's store)."""
    return env_path(SETTINGS)


# -- other choices made through the environment --------------------------------------------------
def pixel_budget(default: int) -> int:
    """Pixels decoded at once across threads: ``MOODTAGGER_PIXEL_BUDGET``, else ``default``."""
    value = env(PIXEL_BUDGET)
    return int(value) if value else default
