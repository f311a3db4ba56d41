"""Inference engine: golden output, ONNX vs torch, per-file errors, integrity checks."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from moodtagger.core.model import registry
from moodtagger.core.model.engine import MoodModel, pick_device
from moodtagger.core.moods import MOODS

# Probabilities of the v1 model for golden_input() on the CPU (torch fp32), in MOODS order
# (v2's golden test on a committed JPEG is in test_golden.py).
V1 = "moodtagger-lite0-mlp256-v1"
GOLDEN = [0.1782, 0.0329, 0.2464, 0.0771, 0.089, 0.1924, 0.0141, 0.1699]


def golden_input(size: int = 224) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    r = 127 + 100 * np.sin(x * 0.05)
    g = 127 + 100 * np.cos(y * 0.03)
    b = 127 + 100 * np.sin((x + y) * 0.02)
    return np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def torch_model() -> MoodModel:
    return MoodModel(V1, device="cpu", backend="torch")


def test_golden_output_on_cpu(torch_model: MoodModel) -> None:
    p = torch_model.predict_arrays(golden_input()[None])[0]
    assert len(p.probs) == len(MOODS)
    assert sum(p.probs) == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(p.probs, GOLDEN, atol=2e-3), p.probs
    assert 1.0 <= p.valence <= 9.0 and 1.0 <= p.arousal <= 9.0


def test_onnx_runtime_matches_torch(torch_model: MoodModel) -> None:
    onnx = MoodModel(V1, device="cpu", backend="onnx")
    assert onnx.backend == "onnxruntime"
    batch = np.stack([golden_input(), golden_input()[::-1]])
    a = torch_model.predict_arrays(batch)
    b = onnx.predict_arrays(batch)
    for pa, pb in zip(a, b, strict=True):
        assert np.allclose(pa.probs, pb.probs, atol=2e-3)
        assert pa.valence == pytest.approx(pb.valence, abs=0.05)


def test_predict_paths_keeps_order_and_reports_bad_files(
    torch_model: MoodModel, make_image, tmp_path: Path
) -> None:
    good = [make_image(f"g{i}.jpg", size=(300, 200), seed=i) for i in range(3)]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    paths = [str(good[0]), str(bad), str(good[1]), str(good[2])]
    seen: list[tuple[int, int]] = []
    out = [
        r
        for batch in torch_model.predict_paths(
            paths, batch_size=2, progress=lambda d, t: seen.append((d, t))
        )
        for r in batch
    ]
    assert [r.path for r in out] == paths
    assert out[1].prediction is None and out[1].error
    assert all(r.prediction is not None and r.error is None for i, r in enumerate(out) if i != 1)
    assert seen[-1] == (4, 4)
    # every good photo also carries its 1,280-d backbone embedding (for "find similar photos")
    embs = [r.embedding for r in out if r.prediction is not None]
    assert all(e.shape == (1280,) and e.dtype == np.float16 for e in embs)
    assert not np.allclose(embs[0], embs[1]) and out[1].embedding is None


def test_cancel_stops_before_the_first_batch(torch_model: MoodModel, make_image) -> None:
    cancel = threading.Event()
    cancel.set()
    paths = [str(make_image(f"c{i}.jpg", seed=i)) for i in range(3)]
    assert list(torch_model.predict_paths(paths, cancel=cancel)) == []


def test_tampered_head_fails_its_sha256_check(tmp_path: Path) -> None:
    e = registry.entry()
    shutil.copy(e.path, tmp_path / e.path.name)
    data = bytearray(e.head_file.read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / e.head_file.name).write_bytes(bytes(data))
    copy = registry.ModelEntry(e.id, tmp_path / e.path.name, json.loads(e.path.read_text()))
    with pytest.raises(registry.ModelError, match="sha256"):
        registry.build(copy)


def test_registry_entry_documents_the_model() -> None:
    d = registry.entry().data
    assert d["labels"] == list(MOODS)
    assert d["preprocess"]["mean"] == [0.5, 0.5, 0.5]
    for key in (
        "backbone",
        "backbone_sha256",
        "preprocess",
        "sha256",
        "onnx",
        "training_data",
        "metrics",
        "how_measured",
    ):
        assert key in d
    assert registry.entry().head_file.stat().st_size < 5 * 1024 * 1024


def _run(code: str, **env: str) -> list[str]:
    """``code`` in a fresh Python process (what a user's start does); its stdout words."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_device_choice_on_a_machine_without_a_gpu() -> None:
    """No GPU driver here: auto is the CPU, decided without importing torch; asking for a GPU is
    a ModelError that says why; so is a device name that does not exist."""
    import os

    if os.path.exists("/proc/driver/nvidia/version"):
        pytest.skip("this machine has an NVIDIA driver")
    code = (
        "import sys\nfrom moodtagger.core.model.engine import pick_device\n"
        "print(pick_device('auto'), pick_device('cpu'), 'torch' in sys.modules)\n"
    )
    assert _run(code) == ["cpu", "cpu", "False"]
    with pytest.raises(registry.ModelError, match="no CUDA GPU"):
        pick_device("cuda")
    with pytest.raises(registry.ModelError, match="unknown device 'tpu'"):
        pick_device("tpu")


def test_without_torch_a_gpu_request_says_what_to_install() -> None:
    code = (
        "import sys\nsys.modules['torch'] = None  # torch not installed\n"
        "from moodtagger.core.model.engine import pick_device\n"
        "from moodtagger.core.model.registry import ModelError\n"
        "try:\n    pick_device('cuda')\nexcept ModelError as exc:\n    print(exc)\n"
        "print(pick_device('auto'))\n"
    )
    assert _run(code) == [
        "--device",
        "cuda",
        "needs",
        "torch:",
        "pip",
        "install",
        "'moodtagger[torch]'",
        "cpu",
    ]


START = (
    "import sys, numpy as np\n"
    "from moodtagger.core.model.engine import MoodModel\n"
    "m = MoodModel(device='auto')  # MOODTAGGER_MODEL, else the default\n"
    "p = m.predict_arrays(np.full((1, m.size, m.size, 3), 128, np.uint8))[0]\n"
    "print(m.backend, 'torch' in sys.modules, round(sum(p.probs), 4))\n"
)


def test_first_cpu_start_with_the_shipped_model_needs_no_torch(tmp_path: Path) -> None:
    """The default model ships its verified ONNX export: even the first start, with an empty
    cache, runs ONNX Runtime without importing torch (faster start, and no GIL-holding library
    load that would freeze the GUI)."""
    from moodtagger.core.model.engine import gpu_possible

    if gpu_possible():
        pytest.skip("this machine has a GPU driver: auto picks the GPU, which needs torch")
    assert _run(START, MOODTAGGER_CACHE=str(tmp_path / "empty-cache")) == [
        "onnxruntime",
        "False",
        "1.0",
    ]
    assert not (tmp_path / "empty-cache").exists()  # nothing exported, nothing cached


def test_a_model_without_shipped_onnx_is_exported_once(tmp_path: Path) -> None:
    """v1 ships no ONNX file: the first CPU start exports it (with torch, verified) into the
    cache; the next start runs it without torch."""
    from moodtagger.core.model.engine import gpu_possible

    if gpu_possible():
        pytest.skip("this machine has a GPU driver: auto picks the GPU, which needs torch")
    assert registry.entry(V1).onnx is None
    env = {"MOODTAGGER_CACHE": str(tmp_path / "cache"), "MOODTAGGER_MODEL": V1}
    assert _run(START, **env) == ["onnxruntime", "True", "1.0"]  # export: torch needed once
    assert _run(START, **env) == ["onnxruntime", "False", "1.0"]
