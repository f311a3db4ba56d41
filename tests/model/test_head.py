"""The heads the app runs: the shipped default head's output is coherent through the real photo path
(its positive moods' share is the polarity it believes). The fitting side of the same rule is in
tests/training/test_multitask.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moodtagger.core.model import registry
from moodtagger.core.moods import MOODS, POSITIVE


def test_shipped_default_is_coherent_on_a_real_photo_path(make_image) -> None:
    from moodtagger.core.model.engine import MoodModel

    e = registry.entry()
    assert e.id == registry.DEFAULT_MODEL == "moodtagger-lite0-multitask-v4"
    net = registry.build(e)
    model = MoodModel(device="cpu", backend="torch")
    path = make_image("people.jpg", size=(400, 300), seed=3)
    arr = model.prepare(str(path))[None]
    with torch.no_grad():
        x = torch.from_numpy(arr)
        final, stages, _ = net.features(torch.cat([x, torch.flip(x, dims=[2])]))
        feats = torch.cat([final, stages], 1)
        desc = ((feats[:1] + feats[1:]) / 2).numpy()
    h = net.head
    z = (desc - h.mu.numpy()) / h.sigma.numpy()
    pl = z @ h.w_pol.numpy() + h.b_pol.numpy()
    p_pos = 1 / (1 + np.exp(-(pl[:, 1] - pl[:, 0]) / float(h.t_pol)))
    pred = model.predict_arrays(arr)[0]
    pos = [MOODS.index(m) for m in POSITIVE]
    assert sum(pred.probs[i] for i in pos) == pytest.approx(float(p_pos[0]), abs=1e-4)
