"""How embeddings are compared, in one place: unit rows, a library's mean unit vector, and
embeddings centred on it (``unit(unit(v) - center)``): what the personal model, the custom
moods, `teach` and `similar` all use.

:class:`CentredRows` computes the centred rows only when they are asked for: a million photos'
centred float32 copy is 5 GB beside their 2.5 GB of float16 embeddings (issue 29)."""

from __future__ import annotations

import numpy as np

CHUNK = 16_384


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def library_center(vectors: np.ndarray) -> np.ndarray:
    """The mean unit embedding of a library (what photos are centred on), a chunk at a time."""
    acc = np.zeros(vectors.shape[1], np.float64)
    for s in range(0, len(vectors), CHUNK):
        acc += unit(vectors[s : s + CHUNK]).sum(0)
    return (acc / max(1, len(vectors))).astype(np.float32)


def centred(vectors: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Unit embeddings centred on ``center``, unit length again."""
    return unit(unit(vectors) - np.asarray(center, np.float32))


class CentredRows:
    """``centred(vectors, center)[row_of]`` as an array-like of rows (``len``, ``shape``,
    ``[slice]``, ``[index array]``), each row computed when asked for (the same float32 values as
    the whole copy: every row is its own computation)."""

    def __init__(
        self, vectors: np.ndarray, center: np.ndarray, row_of: np.ndarray | None = None
    ) -> None:
        self.vectors, self.center, self.row_of = vectors, center, row_of
        self.shape = (len(vectors) if row_of is None else len(row_of), vectors.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        if self.row_of is not None:
            rows = self.row_of[rows]
        return centred(self.vectors[rows], self.center)
