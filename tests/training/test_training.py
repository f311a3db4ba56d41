"""Training pieces: folds respect duplicate groups, heads are reproducible from a seed.

The full cross-validation (`moodtagger eval`) needs features of all 646 ArtPhoto images and
runs outside the test suite; these are the reduced checks of its building blocks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from moodtagger.training.datasets import load_artphoto, stratified_group_folds
from moodtagger.training.v1_head import fit_head, predict_head


def test_artphoto_folds_keep_duplicate_groups_together(shared_data: Path) -> None:
    art = load_artphoto(shared_data / "artphoto")
    assert len(art.files) == 646
    assert len(set(art.groups.tolist())) < len(art.files), "DUPLICATES.txt groups were read"
    folds = stratified_group_folds(art.labels, art.groups, k=5, seed=0)
    assert set(folds.tolist()) == {0, 1, 2, 3, 4}
    for g in np.unique(art.groups):
        assert len(set(folds[art.groups == g].tolist())) == 1
    # stratified: every class appears in every fold
    for f in range(5):
        assert len(set(art.labels[folds == f].tolist())) == 8


def _toy(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 8, 160)
    x = rng.normal(size=(160, 16)).astype(np.float32)
    x[np.arange(160), y] += 3.0
    return x, y


def test_head_training_is_reproducible_from_a_seed() -> None:
    x, y = _toy(0)
    a = fit_head(x, y, hidden=32, epochs=30, lr=1e-2, seed=7)
    b = fit_head(x, y, hidden=32, epochs=30, lr=1e-2, seed=7)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    probs, _ = predict_head(a, x[:, None, :])
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert (probs.argmax(1) == y).mean() > 0.8
