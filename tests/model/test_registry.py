"""The model registry binds everything a prediction depends on: preprocessing, backbone weights,
head, and the shipped ONNX export, each checked by hash; an unknown model is an error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from moodtagger.core import imaging
from moodtagger.core.model import engine, registry
from moodtagger.core.model.backbone import weights_file

ROOT = Path(__file__).resolve().parents[2]
FIX = "python -m moodtagger.training.export_onnx"


def test_models_come_from_the_package_data_folder() -> None:
    """In a checkout, the package data folder is the top-level models/ (pyproject.toml maps
    it into the wheel as moodtagger/models; tests/e2e/test_wheel.py checks the installed side)."""
    assert registry.models_dir().resolve() == (ROOT / "models").resolve()
    assert registry.DEFAULT_MODEL in registry.available()


def test_shipped_onnx_is_the_export_of_the_registered_head() -> None:
    """Fails when a head is retrained (or a backbone or the preprocessing changes) without
    re-running the export script, or when the ONNX file is not the one registered."""
    e = registry.entry(registry.DEFAULT_MODEL)
    onnx = e.onnx
    assert onnx is not None, f"{e.id} ships no ONNX export: run {FIX}"
    assert registry.sha256_of(e.head_file) == e.sha256, (
        f"{e.head_file.name} is not the registered head"
    )
    assert onnx.head_sha256 == e.sha256, (
        f"{onnx.file.name} was exported from another head: run {FIX}"
    )
    assert onnx.backbone_sha256 == e.backbone_sha256, (
        f"{onnx.file.name} was exported from another backbone: run {FIX}"
    )
    assert onnx.preprocess == e.data["preprocess"], (
        f"{onnx.file.name} was exported with other preprocessing: run {FIX}"
    )
    assert onnx.graph_version == engine.GRAPH_VERSION, (
        f"{onnx.file.name} is an old graph: run {FIX}"
    )
    assert registry.sha256_of(onnx.file) == onnx.sha256, (
        f"{onnx.file.name} is not the registered file: run {FIX}"
    )
    assert engine.shipped_onnx(e) == onnx.file


def test_every_entry_hashes_the_backbone_it_was_trained_on() -> None:
    for e in registry.available().values():
        assert registry.sha256_of(weights_file(e.backbone)) == e.backbone_sha256, e.id


def test_unknown_model_id_is_an_error_not_another_model(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(registry.available()) >= 2  # there is something it could have fallen back to
    with pytest.raises(registry.ModelError, match="'no-such-model' not found"):
        registry.entry("no-such-model")
    monkeypatch.setenv("MOODTAGGER_MODEL", "no-such-model")
    with pytest.raises(registry.ModelError, match="'no-such-model' not found"):
        registry.entry()
    with pytest.raises(registry.ModelError, match="'no-such-model' not found"):
        engine.MoodModel(device="cpu")


def _copy_entry(model_id: str, dest: Path, change) -> registry.ModelEntry:
    """A copy of a shipped entry and its files in ``dest``, its JSON edited by ``change``."""
    e = registry.entry(model_id)
    for f in e.path.parent.glob(f"{model_id}.*"):
        shutil.copy(f, dest / f.name)
    data = json.loads(e.path.read_text())
    change(data)
    (dest / e.path.name).write_text(json.dumps(data))
    return registry.ModelEntry(model_id, dest / e.path.name, data)


def test_preprocessing_is_read_from_the_entry(tmp_path: Path, make_image, monkeypatch) -> None:
    """Change the entry's crop and the model's input changes with it, everywhere it is used."""

    def smaller(d: dict) -> None:
        d["preprocess"].update(crop=160, resize_short_side=183)

    _copy_entry(registry.DEFAULT_MODEL, tmp_path, smaller)
    monkeypatch.setenv("MOODTAGGER_MODELS", str(tmp_path))
    e = registry.entry()
    assert e.preprocess == imaging.Preprocess(183, 160, "bicubic", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert engine.shipped_onnx(e) is None  # exported for 224 px crops: stale, not used
    model = engine.MoodModel(device="cpu", backend="torch")
    assert model.size == 160
    photo = make_image("p.jpg", size=(400, 300))
    assert model.prepare(str(photo)).shape == (160, 160, 3)
    (r,) = next(model.predict_paths([str(photo)]))
    assert r.error is None and sum(r.prediction.probs) == pytest.approx(1.0)


def test_normalisation_is_read_from_the_entry(tmp_path: Path) -> None:
    def darker(d: dict) -> None:
        d["preprocess"]["mean"] = [0.3, 0.3, 0.3]

    shipped = registry.build(registry.entry(registry.DEFAULT_MODEL))
    changed = registry.build(_copy_entry(registry.DEFAULT_MODEL, tmp_path, darker))
    x = np.full((1, 224, 224, 3), 100, np.uint8)
    import torch

    with torch.inference_mode():
        a, b = shipped(torch.from_numpy(x))[0], changed(torch.from_numpy(x))[0]
    assert not torch.allclose(a, b, atol=1e-3)


def test_tampered_onnx_fails_its_sha256_check(tmp_path: Path, monkeypatch) -> None:
    e = _copy_entry(registry.DEFAULT_MODEL, tmp_path, lambda d: None)
    data = bytearray(e.onnx.file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    e.onnx.file.write_bytes(bytes(data))
    monkeypatch.setenv("MOODTAGGER_MODELS", str(tmp_path))
    with pytest.raises(registry.ModelError, match="ONNX export .* sha256"):
        engine.MoodModel(device="cpu")


def test_backbone_weights_are_hash_checked(tmp_path: Path) -> None:
    def other(d: dict) -> None:
        d["backbone_sha256"] = "0" * 64

    with pytest.raises(registry.ModelError, match="backbone weights .* sha256"):
        registry.build(_copy_entry(registry.DEFAULT_MODEL, tmp_path, other))


def test_an_entry_without_preprocessing_says_how_to_complete_it(
    tmp_path: Path, monkeypatch
) -> None:
    _copy_entry(registry.DEFAULT_MODEL, tmp_path, lambda d: d.pop("preprocess"))
    monkeypatch.setenv("MOODTAGGER_MODELS", str(tmp_path))
    with pytest.raises(
        registry.ModelError, match="no 'preprocess'.*moodtagger.training.export_onnx"
    ):
        engine.MoodModel(device="cpu")


@pytest.mark.parametrize(
    ("section", "broken"),
    [
        ("preprocess", {"crop": "wide"}),
        ("onnx", {"file": "x.onnx"}),
        ("onnx_int8", ["not", "a", "dict"]),
    ],
)
def test_a_malformed_section_is_a_model_error_naming_it(
    tmp_path: Path, monkeypatch, section: str, broken
) -> None:
    """A hand-edited entry never surfaces as a KeyError/TypeError from deep inside the engine."""
    _copy_entry(registry.DEFAULT_MODEL, tmp_path, lambda d: d.__setitem__(section, broken))
    monkeypatch.setenv("MOODTAGGER_MODELS", str(tmp_path))
    with pytest.raises(
        registry.ModelError, match=f"bad {section}\\b.* in {registry.DEFAULT_MODEL}"
    ):
        engine.MoodModel(device="cpu")
