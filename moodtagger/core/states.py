"""A photo's state: the one vocabulary and the one rule, in scalar and column-wise form.

What the grid shows and filters on, what ``moodtagger list --state``/``--json`` and the CSV say:

============  =================================================================================
state         when
============  =================================================================================
unconfirmed   nobody chose moods for the photo yet (it may have a suggestion)
chosen        the user chose moods; they are not written into the file yet
written       the chosen moods are in the file (or its sidecar)
failed        the last write failed, or the file cannot be decoded (and no write succeeded)
missing       the file is gone from its folder (only listed when asked for)
============  =================================================================================

The rule is :data:`RULES`, read by :func:`photo_state` (one photo, the catalog's strings) and by
:func:`state_codes` (numpy columns of codes, the grid's :meth:`Rows.states <moodtagger.core.rows.Rows.states>`).
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

import numpy as np


class Choice(NamedTuple):
    """The user's choice for a photo: the moods, its state (``pending`` | ``written`` |
    ``failed``: :data:`CHOICE_STATE_CODE`) and why the last write failed."""

    moods: list[str]
    state: str
    error: str | None


class PhotoState(str, Enum):
    """A photo's state; its value is the name users see (``list --json``, ``--state``)."""

    UNCONFIRMED = "unconfirmed"
    CHOSEN = "chosen"
    WRITTEN = "written"
    FAILED = "failed"
    MISSING = "missing"

    def __str__(self) -> str:
        return self.value

    @property
    def code(self) -> int:
        """Its code in numpy columns (the index in :data:`NAMES`)."""
        return NAMES.index(self.value)


NAMES: tuple[str, ...] = tuple(s.value for s in PhotoState)
"""State names in code order: ``NAMES[code]``."""

# A photo's status in the catalog (``photos.status``) and its code in numpy columns.
PHOTO_STATUS_CODE = {"ok": 0, "error": 1, "new": 2, "missing": 3}
# A choice's state in the catalog (``choices.state``) and its code; -1: the user never chose.
NO_CHOICE = -1
CHOICE_STATE_CODE = {"pending": 0, "written": 1, "failed": 2}

RULES: tuple[tuple[PhotoState, str | None, str | None], ...] = (
    (PhotoState.CHOSEN, None, "pending"),
    (PhotoState.FAILED, "error", None),  # a file that cannot be decoded …
    (PhotoState.WRITTEN, None, "written"),  # … whose chosen moods reached its sidecar is written
    (PhotoState.FAILED, None, "failed"),
    (PhotoState.MISSING, "missing", None),
)
"""``(state, photo status, choice state)``: a photo with that status (None: any) and that choice
state (None: any) is in that state; a later line outranks an earlier one; none: unconfirmed."""


def photo_state(photo_status: str, choice_state: str | None) -> PhotoState:
    """The state of one photo from its catalog status and its choice's state (None: no choice)."""
    for state, status, choice in reversed(RULES):
        if (status is None or status == photo_status) and (
            choice is None or choice == choice_state
        ):
            return state
    return PhotoState.UNCONFIRMED


def state_codes(status: np.ndarray, choice_state: np.ndarray) -> np.ndarray:
    """:func:`photo_state` for columns of codes (:data:`PHOTO_STATUS_CODE`,
    :data:`CHOICE_STATE_CODE`); returns the state codes (``NAMES[code]``) as int8."""
    out = np.full(len(status), PhotoState.UNCONFIRMED.code, np.int8)
    for state, st, ch in RULES:
        mask = np.ones(len(status), bool)
        if st is not None:
            mask &= status == PHOTO_STATUS_CODE[st]
        if ch is not None:
            mask &= choice_state == CHOICE_STATE_CODE[ch]
        out[mask] = state.code
    return out
