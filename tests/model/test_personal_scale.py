"""The near-duplicate rule's search (issue 29): in a large library the labelled photos are
searched by cells; it must find the neighbours the rule uses as the exact search does."""

from __future__ import annotations

import numpy as np

from moodtagger.core.model import neighbours
from moodtagger.core.model.neighbours import Neighbours


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_cells_find_the_near_duplicates_the_exact_search_finds():
    rng = np.random.default_rng(0)
    d = 256
    scale = np.exp(-np.arange(d) / 40.0)  # a decaying spectrum, as real embeddings have
    centres = rng.normal(0, 1, (300, d)) * scale
    label = rng.integers(0, 8, 300)  # one mood per scene
    pick = rng.integers(0, 300, 3000)
    examples = _unit(centres[pick] + rng.normal(0, 0.35, (3000, d)) * scale)
    seen = rng.integers(0, 300, 6000)
    photos = np.concatenate(
        [
            _unit(centres[seen] + rng.normal(0, 0.35, (6000, d)) * scale),
            _unit(rng.normal(0, 1, (2000, d)) * scale),  # unlike every labelled photo
        ]
    )
    j_exact, v_exact = Neighbours(examples, cells=False).best(photos)
    cells = Neighbours(examples, cells=True)
    assert cells.centroids is not None and len(cells.centroids) == 54
    j_cells, v_cells = cells.best(photos)
    assert np.allclose(v_cells, np.sum(photos * examples[j_cells], 1), atol=1e-4)  # exact cosines
    assert np.all(v_cells <= v_exact + 1e-5)  # never better than the truth
    near = v_exact >= 0.65  # the rule's threshold
    assert 0.5 < near.mean() < 0.9, near.mean()  # the data has near duplicates and photos without
    same_mood = label[pick[j_cells[near]]] == label[pick[j_exact[near]]]
    assert same_mood.mean() >= 0.99, same_mood.mean()
    gap = v_exact[near] - v_cells[near]
    assert gap.mean() < 0.01 and np.quantile(gap, 0.99) < 0.05, (gap.mean(), np.quantile(gap, 0.99))


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


def test_a_model_with_an_infinite_example_is_refused_without_a_float64_copy(tmp_path):
    import pytest

    from moodtagger.core.model.personal_model import PersonalError, PersonalModel

    ex = np.ones((4, 8), np.float16)
    ex[2, 3] = np.inf
    model = PersonalModel(np.zeros(8, np.float32), np.zeros((8, 8), np.float32), ex, np.eye(4, 8))
    sha = model.save(tmp_path / "m.npz")
    with pytest.raises(PersonalError, match="its examples holds NaN or infinite"):
        PersonalModel.load(tmp_path / "m.npz", sha)
    ex[2, 3] = 1
    PersonalModel(model.center, model.weight, ex, model.targets).save(tmp_path / "ok.npz")
    assert PersonalModel.load(tmp_path / "ok.npz").examples.dtype == np.float16
