"""The 8 Mikels emotions, in the one canonical order used for storage, model output and CSV."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Canonical order (alphabetical) = CSV column order = model output order. Never reorder.
MOODS: tuple[str, ...] = (
    "amusement",
    "anger",
    "awe",
    "contentment",
    "disgust",
    "excitement",
    "fear",
    "sadness",
)
POSITIVE: tuple[str, ...] = ("amusement", "awe", "contentment", "excitement")
NEGATIVE: tuple[str, ...] = ("anger", "disgust", "fear", "sadness")
# Display order: positive moods, then negative ones.
DISPLAY_ORDER: tuple[str, ...] = POSITIVE + NEGATIVE
INDEX: dict[str, int] = {m: i for i, m in enumerate(MOODS)}

# CSV contract (issue 3): keep stable, extend only at the end. Issue 11 appended valence,
# arousal (model output, 1-9) and chosen (moods joined by ';'), state (catalog exports only;
# empty from `predict`, which has no catalog). Issue 24 appended model (the id of the model
# that made the row's prediction; empty where there is none); custom columns come after it.
CSV_COLUMNS: tuple[str, ...] = (
    "path",
    "mood",
    "probability",
    *MOODS,
    "valence",
    "arousal",
    "chosen",
    "state",
    "model",
)

_ALIASES = {
    "sad": "sadness",
    "amused": "amusement",
    "content": "contentment",
    "excited": "excitement",
    "angry": "anger",
    "disgusted": "disgust",
    "afraid": "fear",
    "scared": "fear",
}


def normalize_mood(name: str) -> str:
    """Return the canonical mood for a user-typed name ("Awe", "sad" ...); raise ValueError."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in INDEX:
        raise ValueError(f"unknown mood {name!r}; choose from: {', '.join(MOODS)}")
    return key


def display_name(mood: str) -> str:
    """The keyword text written into files: "Awe", "Contentment"; a custom mood's name as
    typed ("Stormy Sky")."""
    return mood.capitalize() if mood in INDEX else mood


# -- custom moods (issue 27): the user's own words beside the eight --------------------------
CUSTOM_MAX_LEN = 32
# names a custom mood may not take: CSV/JSON column and field names (compared ignoring case)
RESERVED_NAMES = frozenset(c.casefold() for c in CSV_COLUMNS) | frozenset(
    ("probabilities", "none", "all", "id")
)
_CUSTOM_RE = re.compile(r"[^\W_]+(?:[ -][^\W_]+)*")


def custom_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a custom mood (one sentence), or None. The one name rule:
    letters, digits, single spaces and hyphens (between words), at most 32 characters, not
    one of the eight, their aliases, or a column name. Uniqueness is the catalog's."""
    if not name.strip():
        return "a mood name cannot be empty"
    if name != name.strip():
        return f"the mood name {name!r} starts or ends with a space"
    if len(name) > CUSTOM_MAX_LEN:
        return f"the mood name {name!r} is longer than {CUSTOM_MAX_LEN} characters"
    if not _CUSTOM_RE.fullmatch(name):
        return (
            f"the mood name {name!r} may hold only letters, digits, and single spaces or "
            "hyphens between them"
        )
    key = name.casefold()
    if key in INDEX or key in _ALIASES:
        return f"{name!r} is one of the eight moods (or its alias); choose another name"
    if key in RESERVED_NAMES:
        return f"{name!r} is a column name of the export; choose another name"
    return None


def is_custom_name(name: str) -> bool:
    return custom_name_problem(name) is None


def mood_id(name: str) -> str:
    """The stored id of a mood named in a file or a choice: one of the eight (canonical, via
    :func:`normalize_mood`), else a custom mood's name (a valid custom name, kept as given);
    raise ValueError."""
    try:
        return normalize_mood(name)
    except ValueError:
        if is_custom_name(name.strip()):
            return name.strip()
        raise


def ordered(moods: Iterable[str]) -> list[str]:
    """Moods in display order: the eight (positive, then negative), then custom moods by name
    (ignoring case); duplicates dropped."""
    found = set(moods)
    custom = sorted((m for m in found if m not in INDEX), key=lambda m: (m.casefold(), m))
    return [m for m in DISPLAY_ORDER if m in found] + custom
