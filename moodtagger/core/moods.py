"""The 8 Mikels emotions, in the one canonical order used for storage, model output and CSV."""

from __future__ import annotations

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
    """The keyword text written into files: "Awe", "Contentment"."""
    return mood.capitalize()
