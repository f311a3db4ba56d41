"""The near-duplicate rule's search (issue 29): in a large library the labelled photos are
searched by cells; it must find the neighbours the rule uses as the exact search does."""

from __future__ import annotations

import numpy as np

from moodtagger.core.model import neighbours
from moodtagger.core.model.neighbours import Neighbours


def _clustered(rng, centres: np.ndarray, n: int, spread: float) -> np.ndarray:
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(0, spread, (n, centres.shape[1]))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_cells_find_the_near_duplicates_the_exact_search_finds():
    rng = np.random.default_rng(0)
    d = 256
    centres = rng.normal(0, 1, (300, d)) / np.sqrt(d)
    examples = _clustered(rng, centres, 3000, 0.6 / np.sqrt(d))
    photos = np.concatenate(
        [
            _clustered(rng, centres, 6000, 0.6 / np.sqrt(d)),
            _clustered(rng, rng.normal(0, 1, (50, d)) / np.sqrt(d), 2000, 1 / np.sqrt(d)),
        ]
    )
    j_exact, v_exact = Neighbours(examples, cells=False).best(photos)
    cells = Neighbours(examples, cells=True)
    assert cells.centroids is not None and len(cells.centroids) == 54
    j_cells, v_cells = cells.best(photos)
    assert np.all(v_cells <= v_exact + 1e-5)  # never better than the truth
    near = v_exact >= 0.65  # the rule's threshold
    assert 0.5 < near.mean() < 0.9  # the data has near duplicates and photos without
    agree = np.isclose(v_cells[near], v_exact[near], atol=1e-5)
    assert agree.mean() >= 0.99, agree.mean()
    assert np.all(v_cells[~near] < 0.65 + 1e-5)


def test_large_libraries_use_cells_small_ones_the_exact_search(monkeypatch):
    from moodtagger.core.model.personal_model import PersonalModel

    ex = np.eye(4, 8, dtype=np.float16)
    model = PersonalModel(np.zeros(8, np.float32), np.zeros((8, 8), np.float32), ex, np.eye(4, 8))
    assert model._neighbours(1000).centroids is None
    monkeypatch.setattr(neighbours, "EXACT_PAIRS", 100)
    assert model._neighbours(1000).centroids is not None
    # and predictions through cells are still distributions
    rng = np.random.default_rng(1)
    probs = model.predict(rng.dirichlet(np.ones(8), 1000), rng.normal(size=(1000, 8)))
    assert np.allclose(probs.sum(1), 1, atol=1e-5)


def test_many_choices_fit_on_a_balanced_subset_and_all_stay_neighbours(monkeypatch):
    from moodtagger.core.model import personal_model
    from moodtagger.core.model.personal_model import PersonalModel, fit_rows

    rng = np.random.default_rng(3)
    mood = np.concatenate([np.zeros(900, int), np.ones(80, int), np.full(20, 5)])
    targets = np.eye(8, dtype=np.float32)[mood]
    rows = fit_rows(targets, 300)
    kept = np.bincount(mood[rows], minlength=8)
    assert len(rows) <= 300 and kept[1] == 80 and kept[5] == 20 and kept[0] == 200
    assert np.array_equal(rows, fit_rows(targets, 300))  # the same every time
    assert np.array_equal(fit_rows(targets[:50], 300), np.arange(50))

    monkeypatch.setattr(personal_model, "FIT_MAX", 300)
    vectors = rng.normal(size=(1000, 16)) + 3 * np.eye(8, 16)[mood]
    model = PersonalModel.fit(
        np.full((1000, 8), 1 / 8), vectors, targets, center=np.zeros(16, np.float32)
    )
    assert len(model.examples) == 1000  # every labelled photo is a neighbour
    probs = model.predict(np.full((200, 8), 1 / 8), vectors[::5] + 0.01)
    assert (probs.argmax(1) == mood[::5]).mean() > 0.95
