"""v4 (the default, issue 28 item 2) changes only valence: its 8 mood probabilities, and so the
polarity and the top moods, are v3's exactly, on real photos through the real path (torch, the
float ONNX graph and the int8 graph a CPU runs). v3 stays loadable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from moodtagger.core.model import registry
from moodtagger.core.model.engine import MoodModel

V3, V4 = "moodtagger-lite0-multitask-v3", "moodtagger-lite0-multitask-v4"


def _predict(model_id: str, backend: str, files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    model = MoodModel(model_id, device="cpu", backend=backend)
    preds = [r.prediction for b in model.predict_paths(files) for r in b]
    return np.array([p.probs for p in preds]), np.array([(p.valence, p.arousal) for p in preds])


@pytest.mark.parametrize("backend", ["torch", "onnx-fp32", "onnx"])
def test_v4_moods_are_v3s_and_only_valence_differs(imagenet_sample: Path, backend: str) -> None:
    files = sorted(imagenet_sample.glob("*.JPEG"))[3::125]
    assert len(files) == 8
    p3, va3 = _predict(V3, backend, files)
    p4, va4 = _predict(V4, backend, files)
    # torch: the same operations on the same weights; ONNX: two exports of the same backbone
    assert np.allclose(p4, p3, rtol=0, atol=1e-6 if backend != "torch" else 0), np.abs(
        p4 - p3
    ).max()
    assert (p4.argmax(1) == p3.argmax(1)).all()
    assert np.allclose(va4[:, 1], va3[:, 1], atol=1e-5)  # arousal is v3's too
    assert np.abs(va4[:, 0] - va3[:, 0]).max() > 0.05  # valence is v4's own


def test_v4_head_shares_v3s_mood_weights_bit_for_bit() -> None:
    h3, h4 = (registry.build(registry.entry(m)).head for m in (V3, V4))
    for name in ("mu", "sigma", "w_pol", "b_pol", "w_mood", "b_mood", "t_pol", "t_mood"):
        assert torch.equal(getattr(h3, name), getattr(h4, name)), name
    assert torch.equal(h3.w_va[:, 1], h4.w_va[:, 1]) and torch.equal(h3.b_va[1], h4.b_va[1])
    assert h4.has_va_moods and not h3.has_va_moods


def test_v4_is_the_default_and_v3_v2_stay_loadable() -> None:
    assert registry.default_model_id() == registry.DEFAULT_MODEL == V4
    assert {V3, "moodtagger-lite0-multitask-v2"} <= set(registry.available())
