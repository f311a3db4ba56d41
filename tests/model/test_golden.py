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
MODELS = (
    "moodtagger-lite0-multitask-v4",
    "moodtagger-lite0-multitask-v3",
    "moodtagger-lite0-multitask-v2",
    "moodtagger-lite0-mlp256-v1",
)


def _key(model_id: str, precision: str) -> str:
    """golden.json's key: the float graph and torch share one; an int8 graph has its own."""
    return model_id if precision == "fp32" else f"{model_id} {precision}"


def _run(model_id: str, backend: str) -> dict:
    model = MoodModel(model_id, device="cpu", backend=backend)
    (result,) = [r for batch in model.predict_paths([str(JPEG)]) for r in batch]
    assert result.error is None, result.error
    p = result.prediction
    emb = result.embedding
    return {
        "key": _key(model_id, model.precision),
        "probs": list(p.probs),
        "valence": p.valence,
        "arousal": p.arousal,
        "embedding_head": [float(v) for v in emb[:8]],
        "embedding_norm": float(np.linalg.norm(emb.astype(np.float32))),
        "embedding_dim": int(emb.shape[0]),
    }


# torch, the float ONNX graph, and what a CPU runs by default ("onnx": the int8 graph where the
# entry ships one, as v2, v3 and v4 do; its own expected values, the float ones otherwise)
@pytest.mark.parametrize("backend", ["torch", "onnx-fp32", "onnx"])
@pytest.mark.parametrize("model_id", MODELS)
def test_golden_jpeg_through_the_real_path(model_id: str, backend: str) -> None:
    assert JPEG.stat().st_size < 8 * 1024
    got = _run(model_id, backend)
    want = json.loads(EXPECTED.read_text())[got["key"]]
    assert got["embedding_dim"] == 1280
    assert np.allclose(got["probs"], want["probs"], atol=2e-3), got["probs"]
    assert got["valence"] == pytest.approx(want["valence"], abs=0.02)
    assert got["arousal"] == pytest.approx(want["arousal"], abs=0.02)
    assert np.allclose(got["embedding_head"], want["embedding_head"], rtol=0.01, atol=0.01)
    assert got["embedding_norm"] == pytest.approx(want["embedding_norm"], rel=0.005)


def test_default_model_is_v4_and_v3_v2_v1_stay_loadable() -> None:
    assert registry.entry().id == "moodtagger-lite0-multitask-v4"
    assert set(MODELS) <= set(registry.available())


if __name__ == "__main__" and "--update" in sys.argv:
    runs = [_run(m, "torch") for m in MODELS]
    runs += [r for m in MODELS if (r := _run(m, "onnx"))["key"] != m]  # int8 graphs
    EXPECTED.write_text(json.dumps({r.pop("key"): r for r in runs}, indent=1) + "\n")
    print(f"wrote {EXPECTED}")
