"""Why this mood: Grad-CAM heat maps of the regions that drive each mood (Qt-free).

The network is the registry's full model (``registry.build``: backbone + head, whatever head
class the entry uses). One forward pass on the photo's model input (the same centre crop the
prediction saw) keeps the backbone's last feature map (7x7 at 224 px; with ``fine=True`` also
the last one at twice that resolution, 14x14, about 3x slower). For each mood the gradient of
its log-probability (log-softmax of the head's output, so the map shows what speaks for *this*
mood rather than for any) with respect to the map weights its channels (Grad-CAM, Selvaraju et
al. 2017); the ReLU'd maps are normalised (and with two, brought to the finer grid and
averaged). The gradients only run from the head back to the map, in one batched pass for all 8
moods. With flip test-time augmentation the mirrored view's map is mirrored back and added.

Two ways to the maps, the same interface (:func:`load` picks):

* :class:`CamModel` (no torch, the default): the model's shipped ONNX export has two extra
  outputs (:mod:`moodtagger.training.cam`): the last feature map (``conv_head``'s output, the one
  Grad-CAM below uses) and, for each mood, Grad-CAM's channel weights for it, computed in closed
  form in the graph (the exact gradient of the mood's log-probability through the linear heads
  with respect to the pooled 1,280-d part of the descriptor, chained through the pooling, ReLU6
  and BatchNorm). The map is ``relu(sum_c w_c A_c)`` per view, in numpy: one forward pass of
  ONNX Runtime, no backward pass. Its probabilities are the prediction's own (the flip view is
  always in the descriptor; ``flip=False`` only leaves its map out). bench/bench_why.py
  compares it with torch Grad-CAM on 50 sample photos (mean Spearman rank correlation).
* :class:`WhyModel` (torch Grad-CAM; with ``fine=True`` also the 14x14 stage): for models whose
  export lacks those outputs, or on request (``load(backend="torch")``). torch is imported only
  there (call it from a background job).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from moodtagger.core import imaging
from moodtagger.core.model import engine, registry
from moodtagger.core.model.engine import TORCH_HINT, torch_installed
from moodtagger.core.moods import MOODS


@dataclass(frozen=True)
class WhyResult:
    """Heat maps for one photo.

    ``maps``: float32 ``(8, h, w)`` in ``MOODS`` order, each scaled to [0, 1] (1 = the region
    that speaks most for that mood). ``crop``: the part of the (oriented) photo the model saw,
    as fractions ``(left, top, width, height)``; the maps cover exactly that part.
    """

    maps: np.ndarray
    probs: np.ndarray  # (8,) the network's probabilities for this crop
    crop: tuple[float, float, float, float]
    seconds: float  # decode + forward + backward

    def map_for(self, mood: str) -> np.ndarray:
        return self.maps[MOODS.index(mood)]


def crop_fractions(
    width: int, height: int, pre: imaging.Preprocess
) -> tuple[float, float, float, float]:
    """Where ``imaging.center_crop_input(image, pre)`` takes its square from, as fractions."""
    left, top, nw, nh = pre.crop_box(width, height)
    return left / nw, top / nh, pre.crop / nw, pre.crop / nh


CAM_OUTPUTS = ("cam_features", "cam_grad")


def cam_export(entry: registry.ModelEntry) -> Any:
    """The entry's current shipped float ONNX export when it has the class-activation outputs,
    else None."""
    if not set(CAM_OUTPUTS) <= set((entry.data.get("onnx") or {}).get("outputs", ())):
        return None
    return engine.shipped_onnx(entry)


def load(
    model_id: str | None = None, *, flip: bool = True, backend: str = "auto"
) -> CamModel | WhyModel:
    """The heat-map model: ``auto`` = the ONNX class-activation map where the model's export
    has its outputs (no torch), else torch Grad-CAM; ``onnx`` or ``torch`` force one."""
    if backend not in ("auto", "onnx", "torch"):
        raise registry.ModelError(f"unknown heat-map backend {backend!r}; use auto, onnx or torch")
    if backend != "torch":
        entry = registry.entry(model_id)
        if backend == "onnx" or cam_export(entry) is not None:
            return CamModel(entry.id, flip=flip)
    return WhyModel(model_id, flip=flip)


class _Explainer:
    preprocess: imaging.Preprocess

    def explain_array(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def explain(self, path: str) -> WhyResult:
        """Heat maps of all 8 moods for the photo at ``path`` (raises imaging.ImageError)."""
        t0 = time.perf_counter()
        decoded = imaging.decode(path, model=self.preprocess, make_thumbnail=False)
        assert decoded.model_input is not None
        maps, probs = self.explain_array(decoded.model_input)
        im = decoded.info.image
        crop = crop_fractions(im.width, im.height, self.preprocess)
        return WhyResult(maps, probs, crop, time.perf_counter() - t0)


class CamModel(_Explainer):
    """Class-activation maps from the shipped ONNX export (no torch). One worker thread."""

    backend = "onnx"

    def __init__(self, model_id: str | None = None, *, flip: bool = True):
        import onnxruntime as ort

        self.entry = registry.entry(model_id)
        self.model_id = self.entry.id
        self.preprocess = self.entry.preprocess
        self.size = self.preprocess.crop
        self.flip = flip
        path = cam_export(self.entry)
        if path is None:
            raise registry.ModelError(
                f"model {self.model_id} has no current ONNX export with heat-map outputs; "
                f"re-export it with `{registry.EXPORT_SCRIPT}` or install torch ({TORCH_HINT})"
            )
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def explain_array(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``crop``: uint8 ``(size, size, 3)`` model input -> (maps (8, h, w), probs (8,))."""
        probs, fmap, grad = self._session.run(
            ["probs", *CAM_OUTPUTS], {"images": np.ascontiguousarray(crop[None], np.uint8)}
        )
        fmap, grad = fmap[0], grad[0]  # (views, C, h, w), (views, 8, C)
        views = fmap.shape[0]
        cam = np.maximum(np.einsum("vkc,vchw->kvhw", grad, fmap), 0)  # (8, views, h, w)
        heat = cam[:, 0]
        if self.flip and views == 2:  # the mirrored view's map, mirrored back
            heat = heat + cam[:, 1, :, ::-1]
        maps = np.stack([_normalise(m) for m in heat])
        return maps, probs[0].astype(np.float32)


def _backbone_maps(net: Any) -> list[Any]:
    """The modules whose outputs become the maps: the last stage, and the last stage at twice
    its resolution (timm EfficientNet/MobileNet-style ``blocks``); else every module (the
    caller keeps the last 4-D outputs)."""
    for m in net.modules():
        blocks = getattr(m, "blocks", None)
        if blocks is not None and hasattr(m, "conv_head") and len(blocks) >= 2:
            return [*blocks, m.conv_head]
    return list(net.modules())


class WhyModel(_Explainer):
    """The loaded torch network for Grad-CAM heat maps. Owned by one worker thread."""

    backend = "torch"

    def __init__(self, model_id: str | None = None, *, flip: bool = True, fine: bool = False):
        if not torch_installed():
            raise registry.ModelError(f"heat maps need torch: {TORCH_HINT}")
        import torch

        self.entry = registry.entry(model_id)
        self.model_id = self.entry.id
        self.preprocess = self.entry.preprocess
        self.size = self.preprocess.crop
        self.net = registry.build(self.entry).eval()
        if hasattr(self.net, "flip_tta") and not flip:
            self.net.flip_tta = False
        for p in self.net.parameters():
            p.requires_grad_(False)  # gradients are needed for the feature maps only
        self._torch = torch
        # find the two maps from the output shapes of one dry run
        candidates = _backbone_maps(self.net)
        shapes: list[tuple[int, Any]] = []
        hooks = [
            m.register_forward_hook(
                lambda _m, _i, out, k=k: (
                    shapes.append((k, out.shape))
                    if isinstance(out, torch.Tensor) and out.dim() == 4
                    else None
                )
            )
            for k, m in enumerate(candidates)
        ]
        try:
            with torch.no_grad():
                self.net(torch.zeros(1, self.size, self.size, 3, dtype=torch.uint8))
        finally:
            for h in hooks:
                h.remove()
        if not shapes:
            raise RuntimeError(f"model {self.model_id}: no 4-D feature map found for heat maps")
        last_k, last_shape = shapes[-1]
        finer = [k for k, s in shapes if s[-1] >= 2 * last_shape[-1]]
        self._modules = [candidates[finer[-1]]] if fine and finer else []
        self._modules.append(candidates[last_k])
        self._maps: list[Any] = []

    def _keep(self, _module, _inputs, output):
        if not output.requires_grad:  # the first map: a leaf that gradients flow to
            output.requires_grad_(True)
        self._maps.append(output)
        return output

    def explain_array(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``crop``: uint8 ``(size, size, 3)`` model input -> (maps (8, h, w), probs (8,))."""
        torch = self._torch
        self._maps = []
        x = torch.from_numpy(np.array(crop[None], dtype=np.uint8))
        hooks = [m.register_forward_hook(self._keep) for m in self._modules]
        try:
            with torch.enable_grad():
                out = self.net(x)
                head_out = out[0] if isinstance(out, (tuple, list)) else out
                z = head_out.float()
                if bool((z >= 0).all()) and bool(
                    torch.allclose(z.sum(1), torch.ones(1), atol=1e-3)
                ):
                    z = torch.log(z.clamp_min(1e-12))  # the network outputs probabilities
                logp = torch.log_softmax(z, dim=1)[0]
                chosen = list(self._maps)
                n = len(MOODS)
                eye = torch.eye(n)
                grads = torch.autograd.grad(
                    logp, chosen, grad_outputs=eye, is_grads_batched=True, allow_unused=True
                )
        finally:
            for h in hooks:
                h.remove()
            self._maps = []
        probs = logp.detach().exp().numpy().astype(np.float32)
        shape = chosen[0].shape[-2:]
        out_maps = []
        for k in range(n):
            parts = []
            for act, g in zip(chosen, grads, strict=True):
                if g is None:
                    continue
                gk = g[k]
                w = gk.mean(dim=(2, 3), keepdim=True)
                cam = torch.relu((w * act.detach()).sum(1))  # (views, h, w)
                cam = cam[0] + torch.flip(cam[1], dims=[-1]) if cam.shape[0] == 2 else cam[0]
                parts.append(_normalise(_resize(cam.numpy(), shape)))
            heat = np.mean(parts, axis=0) if parts else np.zeros(tuple(shape), np.float32)
            out_maps.append(_normalise(heat))
        return np.stack(out_maps).astype(np.float32), probs


def _resize(a: np.ndarray, shape) -> np.ndarray:
    """Bilinear resize of a small 2-D map (numpy only)."""
    h, w = int(shape[0]), int(shape[1])
    if a.shape == (h, w):
        return a.astype(np.float32)
    ys = (np.arange(h) + 0.5) * a.shape[0] / h - 0.5
    xs = (np.arange(w) + 0.5) * a.shape[1] / w - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, a.shape[0] - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, a.shape[1] - 1)
    y1 = np.clip(y0 + 1, 0, a.shape[0] - 1)
    x1 = np.clip(x0 + 1, 0, a.shape[1] - 1)
    fy = np.clip(ys - y0, 0, 1)[:, None]
    fx = np.clip(xs - x0, 0, 1)[None, :]
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bottom = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _normalise(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo + 1e-12 else np.zeros_like(a)


# one ramp for the app and `moodtagger why`: dark purple -> red -> yellow, alpha growing with the heat
_RAMP = np.array(
    [
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [252, 255, 164],
    ],
    dtype=np.float32,
)


def heat_rgba(heat: np.ndarray, max_alpha: int = 200) -> np.ndarray:
    """uint8 (h, w, 4) colours of ``heat`` ((h, w) in [0, 1]); cool regions stay see-through."""
    h = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    pos = h * (len(_RAMP) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_RAMP) - 1)
    hi = (lo + 1).clip(0, len(_RAMP) - 1)
    f = (pos - lo)[..., None]
    rgb = _RAMP[lo] * (1 - f) + _RAMP[hi] * f
    alpha = (np.clip((h - 0.1) / 0.9, 0, 1) ** 0.7) * max_alpha
    return np.dstack([rgb, alpha]).astype(np.uint8)


def overlay(image: Any, heat: np.ndarray, crop: tuple[float, float, float, float]) -> Any:
    """The PIL ``image`` (the oriented photo) with ``heat`` drawn over the part the model saw
    (``crop`` fractions, :attr:`WhyResult.crop`); the rest dimmed."""
    from PIL import Image

    base = image.convert("RGB")
    w, h = base.size
    left, top = round(crop[0] * w), round(crop[1] * h)
    cw, ch = max(1, round(crop[2] * w)), max(1, round(crop[3] * h))
    dimmed = Image.blend(base, Image.new("RGB", base.size), 110 / 255)
    dimmed.paste(base.crop((left, top, left + cw, top + ch)), (left, top))
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    layer.paste(Image.fromarray(heat_rgba(_resize(heat, (ch, cw))), "RGBA"), (left, top))
    return Image.alpha_composite(dimmed.convert("RGBA"), layer).convert("RGB")
