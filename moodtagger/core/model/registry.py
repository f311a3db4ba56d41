"""Model registry: one JSON entry per shipped model in ``models/`` (open_clip / torchvision style).

An entry binds the head weights to their backbone, preprocessing, labels, metrics and data
provenance. Loading verifies the head file's sha256 and uses ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from moodtagger.core.moods import MOODS

if TYPE_CHECKING:  # torch is imported only when a model is really built (keeps the CLI fast)
    import torch

    from moodtagger.core.model.head import MoodNet

DEFAULT_MODEL = "moodtagger-lite0-multitask-v2"


class ModelError(Exception):
    """The model cannot be found or fails its integrity check (one sentence for the user)."""


def models_dir() -> Path:
    env = os.environ.get("MOODTAGGER_MODELS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "models"


@dataclass(frozen=True)
class ModelEntry:
    id: str
    path: Path  # the JSON file
    data: dict

    @property
    def head_file(self) -> Path:
        return self.path.parent / self.data["head_file"]

    @property
    def input_size(self) -> int:
        return int(self.data["input_size"])

    @property
    def backbone(self) -> str:
        return str(self.data["backbone"])


def available() -> dict[str, ModelEntry]:
    out = {}
    d = models_dir()
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if "head_file" in data and "id" in data:
            out[data["id"]] = ModelEntry(data["id"], p, data)
    return out


def entry(model_id: str | None = None) -> ModelEntry:
    models = available()
    mid = model_id or os.environ.get("MOODTAGGER_MODEL") or DEFAULT_MODEL
    if mid not in models:
        if model_id is None and models:
            return next(iter(models.values()))
        raise ModelError(
            f"mood model {mid!r} not found in {models_dir()} (available: {', '.join(models) or 'none'})"
        )
    return models[mid]


def default_model_id() -> str:
    return entry().id


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=4)
def _verified_state(path: str, sha256: str, mtime_ns: int) -> list[dict[str, torch.Tensor]]:
    actual = _sha256(Path(path))
    if actual != sha256:
        raise ModelError(
            f"head file {path} fails its sha256 check (expected {sha256[:12]}…, got {actual[:12]}…); "
            "reinstall moodtagger or retrain with `moodtagger train`"
        )
    import torch

    states = torch.load(path, map_location="cpu", weights_only=True)
    return states if isinstance(states, list) else [states]


def build(e: ModelEntry) -> MoodNet:
    """The full torch network for entry ``e`` (eval mode, CPU)."""
    from moodtagger.core.model.backbone import FeatureNet, load_backbone
    from moodtagger.core.model.head import EnsembleHead, MoodHead, MoodNet

    if list(e.data.get("labels", [])) != list(MOODS):
        raise ModelError(f"model {e.id} has labels {e.data.get('labels')}, expected {list(MOODS)}")
    try:
        st = os.stat(e.head_file)
    except OSError:
        raise ModelError(f"head file {e.head_file} is missing") from None
    states = _verified_state(str(e.head_file), e.data["sha256"], st.st_mtime_ns)
    h = e.data["head"]
    if h.get("kind") == "multitask-v2":
        from moodtagger.core.model.multitask import V2Head

        head = V2Head(int(h["in_dim"]))
        head.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in states[0].items()})
        return MoodNet(FeatureNet(load_backbone(e.backbone)), head.eval(), h["parts"],
                       bool(h.get("flip_tta", True)), average="features").eval()
    heads = []
    for state in states:
        head = MoodHead(int(h["in_dim"]), int(h["hidden"]))
        head.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        heads.append(head.eval())
    head_mod: MoodHead | EnsembleHead = heads[0] if len(heads) == 1 else EnsembleHead(heads)
    net = MoodNet(FeatureNet(load_backbone(e.backbone)), head_mod, h["parts"], bool(h.get("flip_tta", True)))
    return net.eval()
