"""Embeddings centred when a row is asked for (issue 29): the same float32 values as the whole
centred copy, and a custom mood's `learn` on a large library never holds that copy (a million
photos': 5 GB beside 2.5 GB of float16 embeddings; 12.7 GB peak for `learn` with one custom
mood at 1,000,000 photos before)."""

from __future__ import annotations

import tracemalloc

import numpy as np

from moodtagger.core import custom_moods
from moodtagger.core.catalog import Catalog
from moodtagger.core.model import custom
from moodtagger.core.vectors import CentredRows, centred, library_center
from moodtagger.testing import synthesize_catalog

MODEL = "m-vec"


def _vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scenes = np.abs(rng.normal(size=(50, d)))
    return (scenes[rng.integers(0, 50, n)] + rng.normal(0, 0.3, (n, d))).astype(np.float16)


def test_centred_rows_are_the_whole_copy_row_for_row():
    v = _vectors(3000, 64)
    c = library_center(v)
    whole = centred(v, c)
    lazy = CentredRows(v, c)
    assert len(lazy) == 3000 and lazy.shape == whole.shape
    assert np.array_equal(lazy[10:2000], whole[10:2000])
    rows = np.array([5, 2999, 0, 5, 1234])
    assert np.array_equal(lazy[rows], whole[rows])
    picked = CentredRows(v, c, row_of=np.array([7, 3, 11]))
    assert len(picked) == 3 and np.array_equal(picked[np.array([2, 0])], whole[[11, 7]])


def test_a_custom_mood_fitted_on_centred_rows_is_the_one_fitted_on_the_copy():
    v = _vectors(4000, 64, seed=1)
    c = library_center(v)
    rng = np.random.default_rng(0)
    pos = np.arange(0, 400, 20)
    prm = custom.CustomParams()
    fit, cal = custom.background(len(v), pos, np.array([1, 2, 3]), prm, rng)
    a, pa = custom.fit(centred(v, c), pos, fit, cal, prm, center=c)
    b, pb = custom.fit(CentredRows(v, c), pos, fit, cal, prm, center=c)
    assert np.array_equal(pa, pb) and (a.a, a.c) == (b.a, b.c)


def test_learning_a_custom_mood_holds_no_centred_copy_of_the_library(tmp_path):
    n, d = 40_000, 256  # float16 embeddings: 20 MB; a float32 centred copy: 41 MB each step
    path = tmp_path / "cat.sqlite3"
    synthesize_catalog(path, n, MODEL, chosen_fraction=0.0)
    v = _vectors(n, d, seed=2)
    with Catalog(path) as cat:
        cat.embeddings.save(MODEL, [(i + 1, v[i]) for i in range(n)])
        cat.moods.add("Cozy")
        with cat.transaction():
            for pid in range(1, 400, 20):
                cat.choices.set(pid, ["Cozy"])
        cat.embeddings.all(MODEL)  # the copy in the cache folder, as a later learn finds it
        tracemalloc.start()
        try:
            assert custom_moods.learn(cat, MODEL) == {"Cozy": 20}
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        scores = cat.moods.scores(list(range(1, n + 1)), cat.moods.all())
    assert not np.isnan(scores).any()
    assert peak < 60 * 2**20, f"{peak / 2**20:.0f} MB"
