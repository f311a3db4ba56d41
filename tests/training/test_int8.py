"""The int8 (static QDQ) path: the default model's float export quantised as
``python -m moodtagger.training.export_onnx --int8`` does, registered and hash-checked like the
float file, run on CPU when it is registered and current, the float graph on request, close to
the float graph on real photos.

v2 ships one (cross-validated on 5 fold seeds within 0.005 of the float graph, model card).
These tests build it again, once, with the function the script runs (it must come out
byte-identical to the shipped file), and work on copies of the models folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from moodtagger.core.model import engine, registry
from moodtagger.training import export_onnx


@pytest.fixture(scope="module")
def int8_file(tmp_path_factory, imagenet_sample: Path) -> Path:
    """The default model's float export quantised as the export script does (calibrated on
    every 4th photo of imagenet-sample)."""
    e = registry.entry(registry.DEFAULT_MODEL)
    assert e.onnx is not None
    dest = tmp_path_factory.mktemp("int8") / f"{e.id}.int8.onnx"
    export_onnx.quantize(e, e.onnx.file, dest)
    return dest


def _copy_default(dest: Path, int8: Path, change=lambda d: None) -> None:
    e = registry.entry(registry.DEFAULT_MODEL)
    assert e.onnx is not None
    export_onnx.copy_with_int8(e, int8, dest, change)


@pytest.fixture
def with_int8(tmp_path: Path, int8_file: Path, monkeypatch) -> Iterator[Path]:
    _copy_default(tmp_path, int8_file)
    monkeypatch.setenv("MOODTAGGER_MODELS", str(tmp_path))
    yield tmp_path


def test_int8_file_is_registered_like_the_float_one(with_int8: Path, int8_file: Path) -> None:
    e = registry.entry()
    q, f = e.onnx_int8, e.onnx
    assert q is not None and f is not None
    assert q.float_sha256 == f.sha256 and registry.sha256_of(q.file) == q.sha256
    assert engine.shipped_int8(e) == q.file
    assert q.file.stat().st_size < f.file.stat().st_size / 2  # int8 weights
    # deterministic: the same calibration photos give the same file
    assert registry.sha256_of(int8_file) == q.sha256


def test_cpu_runs_int8_when_registered_and_the_float_graph_on_request(
    with_int8: Path, monkeypatch
) -> None:
    e = registry.entry()
    assert e.onnx_int8 is not None and e.onnx is not None
    m = engine.MoodModel(device="cpu")
    assert (m.backend, m.precision, m.onnx_file) == ("onnxruntime", "int8", e.onnx_int8.file)
    m = engine.MoodModel(device="cpu", backend="onnx-fp32")
    assert (m.backend, m.precision, m.onnx_file) == ("onnxruntime", "fp32", e.onnx.file)
    monkeypatch.setenv("MOODTAGGER_ONNX_FP32", "1")
    assert engine.MoodModel(device="cpu").precision == "fp32"
    with pytest.raises(registry.ModelError, match="unknown backend"):
        engine.MoodModel(device="cpu", backend="int4")


def test_tampered_int8_fails_its_sha256_check(with_int8: Path) -> None:
    q = registry.entry().onnx_int8
    assert q is not None
    data = bytearray(q.file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    q.file.write_bytes(bytes(data))
    with pytest.raises(registry.ModelError, match="int8 ONNX model .* sha256"):
        engine.MoodModel(device="cpu")
    assert engine.MoodModel(device="cpu", backend="onnx-fp32").precision == "fp32"


def test_an_int8_file_made_from_another_float_export_is_not_used(
    tmp_path: Path, int8_file: Path, monkeypatch
) -> None:
    def stale(d: dict) -> None:
        d["onnx_int8"]["float_sha256"] = "0" * 64

    _copy_default(tmp_path, int8_file, stale)
    monkeypatch.setenv("MOODTAGGER_MODELS", str(tmp_path))
    m = engine.MoodModel(device="cpu")
    assert (m.backend, m.precision) == ("onnxruntime", "fp32")


def test_v2_ships_the_int8_graph_the_export_script_makes(int8_file: Path, monkeypatch) -> None:
    monkeypatch.delenv("MOODTAGGER_MODELS", raising=False)
    e = registry.entry()
    assert e.onnx_int8 is not None and e.onnx is not None
    assert e.onnx_int8.float_sha256 == e.onnx.sha256
    # reproducible: the shipped file is what `export_onnx.py --int8` makes from the float one
    assert registry.sha256_of(int8_file) == e.onnx_int8.sha256
    m = engine.MoodModel(device="cpu")
    assert (m.backend, m.precision, m.onnx_file) == ("onnxruntime", "int8", e.onnx_int8.file)
    monkeypatch.setenv("MOODTAGGER_ONNX_FP32", "1")
    assert engine.MoodModel(device="cpu").precision == "fp32"


def test_int8_agrees_with_the_float_graph_on_real_photos(
    with_int8: Path, imagenet_sample: Path
) -> None:
    """40 sample photos the calibration did not see (it used every 4th): the same top mood for
    nearly all, probabilities within the export check's tolerance."""
    files = sorted(imagenet_sample.glob("*.JPEG"))[1::25][:40]
    fp32 = engine.MoodModel(device="cpu", backend="onnx-fp32")
    int8 = engine.MoodModel(device="cpu")
    assert int8.precision == "int8"
    x = np.stack([fp32.prepare(str(f)) for f in files])
    a, b = fp32.predict_arrays(x), int8.predict_arrays(x)
    pa, pb = np.array([p.probs for p in a]), np.array([p.probs for p in b])
    assert np.abs(pa - pb).max() <= engine.INT8_TOLERANCE
    assert np.abs(pa - pb).mean() < 0.02
    assert (pa.argmax(1) == pb.argmax(1)).mean() >= 0.85
    assert max(abs(p.valence - q.valence) for p, q in zip(a, b, strict=True)) < 0.4
    # and it is not the float graph under another name
    assert np.abs(pa - pb).max() > 1e-4
