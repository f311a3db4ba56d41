"""The class-activation outputs of the ONNX export: the why-map without torch.

:class:`CamNet` wraps the v2 network (:class:`~moodtagger.core.model.head.MoodNet` with a
:class:`~moodtagger.core.model.head.V2Head`) for ``torch.onnx.export``. Its first three outputs
are the network's own (``probs``, ``va``, ``embedding``: the same operations, so the same
numbers); it adds

* ``cam_features`` (N, views, 1280, h, w): the backbone's last feature map, ``conv_head``'s
  output (the map torch Grad-CAM in :mod:`moodtagger.core.model.why` uses) times ``bn2``'s
  per-channel scale (``bn2`` without its shift: the BatchNorm stays folded into the convolution,
  so the network's own outputs are bit-identical), for the centre crop (view 0) and, with flip
  test-time augmentation, its mirror image (view 1, not mirrored back);
* ``cam_grad`` (N, views, 8, 1280): Grad-CAM's channel weights for that map, computed in closed
  form inside the graph: for mood m the exact gradient ``g`` of log P(m) through the linear heads
  (polarity x within-polarity softmax; the optional MLP member too) with respect to the view's
  pooled 1,280-d ``final`` part of the descriptor, chained through the pooling and ReLU6:
  ``g_c * (share of the cells where ReLU6 passes) / (h w)``, the mean over the cells of
  d log P(m) / d ``cam_features``.

The why-map is then ``relu(sum_c cam_grad[m, c] * cam_features[c])`` per view
(:class:`moodtagger.core.model.why.CamModel`, numpy): torch Grad-CAM without torch or a
backward pass. Without the BatchNorm and ReLU6 it would be the plain class-activation map of the
linear part (Grad-CAM at the pooled map == CAM). :func:`check_gradient` compares ``cam_grad``
with torch autograd.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from moodtagger.core.model.head import MoodNet, V2Head
from moodtagger.core.moods import MOODS

FINAL_DIM = 1280
OUTPUTS = ("probs", "va", "embedding", "cam_features", "cam_grad")


def supported(net: nn.Module) -> bool:
    """Can :class:`CamNet` wrap ``net``? (v2-style: linear heads on the averaged descriptor.)"""
    return (
        isinstance(net, MoodNet)
        and isinstance(net.head, V2Head)
        and net.parts[:1] == ("final",)
        and (not net.flip_tta or net.average == "features")
        and isinstance(getattr(getattr(net.features.net, "bn2", None), "act", None), nn.ReLU6)
    )


def head_gradient(head: V2Head, x: torch.Tensor) -> torch.Tensor:
    """d log P(m) / d x for the descriptor batch ``x`` (N, d): (N, 8, d), in closed form."""
    z = (x - head.mu) / head.sigma
    dw = (head.w_pol[:, 1] - head.w_pol[:, 0]) / head.t_pol  # d pol / d z
    pl = z @ head.w_pol + head.b_pol
    pol = (pl[:, 1] - pl[:, 0]) / head.t_pol
    p_pos = torch.sigmoid(pol)[:, None]  # (N, 1)
    pos = head.pos_mask[None, :]  # (1, 8)
    # d log sigmoid(+-pol) / d pol: P(neg) for a positive mood, -P(pos) for a negative one
    c_pol = torch.where(pos, 1 - p_pos, -p_pos)  # (N, 8)
    ml = z @ head.w_mood + head.b_mood
    lin = head.w_mood[None]  # (1, d, 8): d ml / d z
    if head.has_mlp:
        u = z @ head.mlp_proj if int(head.mlp_proj.shape[1]) > 0 else z
        a = torch.matmul(u.unsqueeze(0), head.mlp_w1) + head.mlp_b1.unsqueeze(1)  # (E, N, H)
        mlp = (torch.matmul(nn.functional.gelu(a), head.mlp_w2) + head.mlp_b2.unsqueeze(1)).mean(0)
        ml = (1 - head.mlp_mix) * ml + head.mlp_mix * mlp
        gelu_d = 0.5 * (1 + torch.erf(a / math.sqrt(2))) + a * torch.exp(-a * a / 2) / math.sqrt(
            2 * math.pi
        )
        # d mlp / d u: mean over members of W1 diag(gelu'(a)) W2 -> (N, du, 8)
        jac = torch.einsum("eih,enh,ehk->nik", head.mlp_w1, gelu_d, head.mlp_w2) / a.shape[0]
        if int(head.mlp_proj.shape[1]) > 0:
            jac = torch.einsum("di,nik->ndk", head.mlp_proj, jac)
        lin = (1 - head.mlp_mix) * lin + head.mlp_mix * jac
    ml = ml / head.t_mood
    neg_inf = torch.finfo(ml.dtype).min
    q_pos = torch.softmax(ml.masked_fill(~head.pos_mask, neg_inf), dim=1)
    q_neg = torch.softmax(ml.masked_fill(head.pos_mask, neg_inf), dim=1)
    q = torch.where(pos[..., None], q_pos[:, None, :], q_neg[:, None, :])  # (N, 8 m, 8 k)
    d_ml = torch.eye(len(MOODS))[None] - q  # d log P(m) / d ml_k
    g = torch.matmul(d_ml, lin.transpose(1, 2)) / head.t_mood  # (N, 8, d)
    g = g + c_pol[..., None] * dw[None, None, :]
    return g / head.sigma


class CamNet(MoodNet):
    """``net``'s outputs plus ``cam_features`` and ``cam_grad`` (see the module docstring). The
    same modules under the same names (the export's node names, which the int8 quantiser
    selects the backbone by, stay those of the plain network)."""

    def __init__(self, net: MoodNet):
        if not supported(net):
            raise ValueError("class-activation outputs need a v2 network (V2Head, 'final' first)")
        super().__init__(net.features, net.head, net.parts, net.flip_tta, net.average)
        self.eval()

    def forward(self, x: torch.Tensor):  # type: ignore[override]
        seen: dict[str, torch.Tensor] = {}
        bn2 = self.features.net.bn2
        act = bn2.act
        bn2.act = _KeepInput(seen)  # ReLU6, not in place: its input is the map
        hooks = [
            self.head.register_forward_pre_hook(lambda _m, args: seen.__setitem__("x", args[0])),
        ]
        try:
            probs, va, embedding = super().forward(x)
        finally:
            bn2.act = act
            for h in hooks:
                h.remove()
        n = x.shape[0]
        views = 2 if self.flip_tta else 1
        pre = seen["pre"]  # bn2's output before ReLU6: (views * n, C, h, w), view-major
        # d log P(m) / d final (one view's pooled part: the descriptor is the views' mean)
        g = head_gradient(self.head, seen["x"])[:, :, :FINAL_DIM] / views  # (n, 8, C)
        # final = mean over cells of relu6(pre), pre = scale * conv_head + shift: Grad-CAM's
        # weights for conv_head's output (the gradient's mean over the cells) are
        # g * scale * (share of cells where 0 < pre < 6) / (h w); the map they weight,
        # conv_head's output, is (pre - shift) / scale: ship scale * conv_head = pre - shift
        # (weights without the scale; BatchNorm stays folded into the convolution)
        scale = bn2.weight / torch.sqrt(bn2.running_var + bn2.eps)
        shift = bn2.bias - bn2.running_mean * scale
        active = ((pre > 0) & (pre < 6)).float().mean(dim=(2, 3))  # (views * n, C)
        cells = pre.shape[2] * pre.shape[3]
        active = active.reshape(views, n, -1).transpose(0, 1)  # (n, views, C)
        weights = g[:, None, :, :] * (active / cells)[:, :, None, :]  # (n, views, 8, C)
        fmap = pre - shift[None, :, None, None]
        fmap = fmap.reshape(views, n, *fmap.shape[1:]).transpose(0, 1).contiguous()
        return probs, va, embedding, fmap, weights


class _KeepInput(nn.Module):
    """ReLU6 (as ``nn.ReLU6`` computes it, under the same module name, so the export's nodes and
    the quantiser's choices stay those of the plain network) that keeps its input."""

    def __init__(self, seen: dict):
        super().__init__()
        self.seen = seen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen["pre"] = x
        return nn.functional.hardtanh(x, 0.0, 6.0)


def check_gradient(net: MoodNet, x: torch.Tensor) -> float:
    """Largest relative difference between ``cam_grad`` and Grad-CAM's weights from torch
    autograd (the mean over the cells of d log P(m) / d conv_head's output, every view), on the
    uint8 batch ``x``."""
    bn2 = net.features.net.bn2
    with torch.no_grad():  # CamNet's weights are for scale * conv_head's output
        weights = CamNet(net)(x)[4] * (bn2.weight / torch.sqrt(bn2.running_var + bn2.eps))
    seen: dict[str, torch.Tensor] = {}

    def keep(_m, _i, out):
        out = out.detach().requires_grad_(True)
        seen["map"] = out
        return out

    hook = net.features.net.conv_head.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logp = torch.log(net(x)[0])
            ref = [
                torch.autograd.grad(logp[:, m].sum(), seen["map"], retain_graph=True)[0].mean(
                    dim=(2, 3)
                )
                for m in range(logp.shape[1])
            ]  # each (views * n, C)
    finally:
        hook.remove()
    n = x.shape[0]
    want = torch.stack(ref, dim=1).detach().reshape(-1, n, len(ref), ref[0].shape[1])
    want = want.transpose(0, 1)
    return float((weights - want).abs().max() / want.abs().max())
