"""The grid's and ``list``'s order (core/rows.py): by a key, ties by file name (issue 29.3)."""

from __future__ import annotations

import numpy as np
import pytest

from moodtagger.core.rows import order_by


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_order_by_is_the_key_then_the_name_order(descending, dtype) -> None:
    rng = np.random.default_rng(7)
    values = np.array([-1, 0, -0.0, 0.5, 0.25, 1.0, -2.5, 1e-30, -1e-30, np.inf, -np.inf, np.nan])
    for n in (0, 1, 7, 5000):
        key = rng.choice(values, n).astype(dtype)
        by_name = rng.permutation(n)
        rank = np.empty(n, np.int64)
        rank[by_name] = np.arange(n)
        # the rule as it was (lexsort: key first, ties by name rank), NaN last
        primary = -key if descending else key
        expected = np.lexsort((rank, primary))
        assert (order_by(key, by_name, descending) == expected).all()
        finite = np.nan_to_num(key, nan=3.0)  # without NaN: the fast path for float32
        expected = np.lexsort((rank, -finite if descending else finite))
        assert (order_by(finite, by_name, descending) == expected).all()
