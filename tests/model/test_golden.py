"""Golden test: a committed tiny JPEG through the real path (decode -> preprocessing -> model).

``data/golden.jpg`` is a 192x144 synthetic pattern made with Pillow (no third-party photo). Its
expected outputs are stored in ``data/golden.json``; the test fails if decoding, resizing,
cropping, normalisation, the backbone weights or the head drift. Regenerate (only on purpose,
with a model-card note) with ``python tests/model/test_golden.py --update``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from moodtagger.core.model import registry
from moodtagger.core.model.engine import MoodModel

DATA = Path(__file__).with_name("data")
JPEG = DATA / "golden.jpg"
EXPECTED = DATA / "golden.json"
MODELS = ("moodtagger-lite0-multitask-v2", "moodtagger-lite0-mlp256-v1")


def _run(model_id: str, backend: str) -> dict:
    model = MoodModel(model_id, device="cpu", backend=backend)
    (result,) = [r for batch in model.predict_paths([str(JPEG)]) for r in batch]
    assert result.error is None, result.error
    p = result.prediction
    emb = result.embedding
    return {
        "probs": list(p.probs),
        "valence": p.valence,
        "arousal": p.arousal,
        "embedding_head": [float(v) for v in emb[:8]],
        "embedding_norm": float(np.linalg.norm(emb.astype(np.float32))),
        "embedding_dim": int(emb.shape[0]),
    }


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("model_id", MODELS)
def test_golden_jpeg_through_the_real_path(model_id: str, backend: str) -> None:
    assert JPEG.stat().st_size < 8 * 1024
    want = json.loads(EXPECTED.read_text())[model_id]
    got = _run(model_id, backend)
    assert got["embedding_dim"] == 1280
    assert np.allclose(got["probs"], want["probs"], atol=2e-3), got["probs"]
    assert got["valence"] == pytest.approx(want["valence"], abs=0.02)
    assert got["arousal"] == pytest.approx(want["arousal"], abs=0.02)
    assert np.allclose(got["embedding_head"], want["embedding_head"], rtol=0.01, atol=0.01)
    assert got["embedding_norm"] == pytest.approx(want["embedding_norm"], rel=0.005)


def test_default_model_is_v2_and_v1_stays_loadable() -> None:
    assert registry.entry().id == "moodtagger-lite0-multitask-v2"
    assert set(MODELS) <= set(registry.available())


if __name__ == "__main__" and "--update" in sys.argv:
    EXPECTED.write_text(json.dumps({m: _run(m, "torch") for m in MODELS}, indent=1) + "\n")
    print(f"wrote {EXPECTED}")
