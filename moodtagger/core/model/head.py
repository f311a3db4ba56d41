"""The heads the app runs and the full inference network (backbone + TTA + head).

A head sees frozen-backbone descriptors (:mod:`moodtagger.training.features` caches them for
training) and outputs the 8 Mikels mood probabilities (in ``MOODS`` order) plus valence and
arousal on the Emotion6 1-9 scale. :class:`MoodHead` is v1's (``hidden == 0`` makes it
multinomial logistic regression), :class:`V2Head` the multi-task v2 head. Their weights are
fitted by :mod:`moodtagger.training`; this module only runs them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from moodtagger.core.model.backbone import FeatureNet
from moodtagger.core.moods import MOODS, POSITIVE

PARTS = ("final", "stages", "logits")


class MoodHead(nn.Module):
    mu: torch.Tensor  # buffers
    sigma: torch.Tensor
    temperature: torch.Tensor

    def __init__(self, in_dim: int, hidden: int = 0, n_out: int = 8, dropout: float = 0.5):
        super().__init__()
        self.in_dim, self.hidden = in_dim, hidden
        self.register_buffer("mu", torch.zeros(in_dim))
        self.register_buffer("sigma", torch.ones(in_dim))
        # temperature fitted on out-of-fold predictions, so probabilities are calibrated
        self.register_buffer("temperature", torch.ones(()))
        if hidden:
            self.mood = nn.Sequential(
                nn.Dropout(dropout),
                nn.Linear(in_dim, hidden),
                nn.GELU(),
                nn.Dropout(dropout / 2),
                nn.Linear(hidden, n_out),
            )
        else:
            self.mood = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, n_out))
        self.va = nn.Linear(in_dim, 2)  # valence, arousal (ridge-fitted on Emotion6)

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mu) / self.sigma

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.standardise(x)
        return self.mood(z) / self.temperature, self.va(z)


class MoodNet(nn.Module):
    """uint8 NHWC crops in; (mood probabilities (N, 8), valence/arousal (N, 2), embedding (N, 1280)) out.

    With ``flip_tta`` each image is also seen mirrored. ``average="probs"`` (v1) averages the two
    views' probabilities; ``average="features"`` (v2, linear heads) averages their descriptors
    before the head. The embedding is the backbone's 1,280-d pooled feature (mean over the
    views), for "find similar photos" without another decode.
    """

    def __init__(
        self,
        features: FeatureNet,
        head: nn.Module,
        parts: Sequence[str],
        flip_tta: bool,
        average: str = "probs",
    ):
        super().__init__()
        self.features, self.head = features, head
        self.parts = tuple(parts)
        self.flip_tta = flip_tta
        self.average = average

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        if self.flip_tta:
            x = torch.cat([x, torch.flip(x, dims=[2])], dim=0)
        final, stages, logits = self.features(x)
        avail = {"final": final, "stages": stages, "logits": logits}
        feats = torch.cat([avail[p] for p in self.parts], dim=1)
        if self.flip_tta and self.average == "features":
            feats = (feats[:n] + feats[n:]) / 2
        mood_logits, va = self.head(feats)
        probs = torch.softmax(mood_logits, dim=1)
        embedding = final
        if self.flip_tta:
            embedding = (final[:n] + final[n:]) / 2
            if self.average != "features":
                probs = (probs[:n] + probs[n:]) / 2
                va = (va[:n] + va[n:]) / 2
        return probs, va, embedding


class EnsembleHead(nn.Module):
    """Averages the *probabilities* of several heads (returned as log-probabilities so that the
    softmax in :class:`MoodNet` gives back the average exactly)."""

    def __init__(self, heads: list[MoodHead]):
        super().__init__()
        self.heads = nn.ModuleList(heads)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probs = []
        vas = []
        for h in self.heads:
            logits, va = h(x)
            probs.append(torch.softmax(logits, dim=1))
            vas.append(va)
        p = torch.stack(probs).mean(0)
        return torch.log(p.clamp_min(1e-12)), vas[0]


class V2Head(nn.Module):
    """Descriptor (N, d) -> (log 8-mood probabilities, valence/arousal). Log-probabilities so that
    :class:`MoodNet`'s softmax gives the probabilities back exactly."""

    # buffers (see __init__)
    mu: torch.Tensor
    sigma: torch.Tensor
    w_pol: torch.Tensor
    b_pol: torch.Tensor
    w_mood: torch.Tensor
    b_mood: torch.Tensor
    w_va: torch.Tensor
    b_va: torch.Tensor
    t_pol: torch.Tensor
    t_mood: torch.Tensor
    pos_mask: torch.Tensor
    mlp_mix: torch.Tensor
    mlp_proj: torch.Tensor
    mlp_w1: torch.Tensor
    mlp_b1: torch.Tensor
    mlp_w2: torch.Tensor
    mlp_b2: torch.Tensor
    va_ppos: torch.Tensor
    va_logp: torch.Tensor

    def __init__(self, in_dim: int):
        super().__init__()
        self.in_dim = in_dim
        self.register_buffer("mu", torch.zeros(in_dim))
        self.register_buffer("sigma", torch.ones(in_dim))
        self.register_buffer("w_pol", torch.zeros(in_dim, 2))
        self.register_buffer("b_pol", torch.zeros(2))
        self.register_buffer("w_mood", torch.zeros(in_dim, len(MOODS)))
        self.register_buffer("b_mood", torch.zeros(len(MOODS)))
        self.register_buffer("w_va", torch.zeros(in_dim, 2))
        self.register_buffer("b_va", torch.zeros(2))
        self.register_buffer("t_pol", torch.ones(()))
        self.register_buffer("t_mood", torch.ones(()))
        self.register_buffer("pos_mask", torch.tensor([m in POSITIVE for m in MOODS]))
        # optional MLP mood head (empty = linear only; a state dict that has one sizes these;
        # mlp_proj (in_dim, 0): the members see the standardised descriptor itself)
        self.register_buffer("mlp_mix", torch.zeros(()))
        self.register_buffer("mlp_proj", torch.zeros(in_dim, 0))
        self.register_buffer("mlp_w1", torch.zeros(0, 0, 0))
        self.register_buffer("mlp_b1", torch.zeros(0, 0))
        self.register_buffer("mlp_w2", torch.zeros(0, 0, len(MOODS)))
        self.register_buffer("mlp_b2", torch.zeros(0, len(MOODS)))
        self.has_mlp = False  # a plain bool (not a tensor test), so ONNX tracing sees a constant
        # v4's valence also reads P(positive) and the 8 mood log-probabilities:
        # valence += va_ppos * P(positive) + log P(moods) @ va_logp (zeros and skipped: v2, v3)
        self.register_buffer("va_ppos", torch.zeros(()))
        self.register_buffer("va_logp", torch.zeros(len(MOODS)))
        self.has_va_moods = False  # a plain bool, like has_mlp (v2/v3 graphs stay as they were)

    MLP_BUFFERS = ("mlp_proj", "mlp_w1", "mlp_b1", "mlp_w2", "mlp_b2")

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        # the MLP's size comes from the file; a head file without one (linear v2) loads as before
        for name in self.MLP_BUFFERS:
            key = prefix + name
            if key in state_dict:
                self._buffers[name] = torch.empty_like(state_dict[key], dtype=torch.float32)
            else:
                state_dict[key] = self._buffers[name]
        state_dict.setdefault(prefix + "mlp_mix", self.mlp_mix)
        self.has_mlp = int(state_dict[prefix + "mlp_w1"].shape[0]) > 0
        state_dict.setdefault(prefix + "va_ppos", torch.zeros(()))
        state_dict.setdefault(prefix + "va_logp", torch.zeros(len(MOODS)))
        self.has_va_moods = bool(
            state_dict[prefix + "va_ppos"].abs().sum() + state_dict[prefix + "va_logp"].abs().sum()
        )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def set_mlp(self, mix: float, arrays: Sequence[np.ndarray]) -> None:
        """Size and fill the optional MLP mood head from ``arrays`` (in :attr:`MLP_BUFFERS` order;
        an (in_dim, 0) projection: the members see the standardised descriptor itself)."""
        self.mlp_mix.fill_(mix)
        for name, arr in zip(self.MLP_BUFFERS, arrays, strict=True):
            self._buffers[name] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        self.has_mlp = True

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = (x - self.mu) / self.sigma
        pl = z @ self.w_pol + self.b_pol
        pol = (pl[:, 1] - pl[:, 0]) / self.t_pol
        logp_pos = nn.functional.logsigmoid(pol)[:, None]
        logp_neg = nn.functional.logsigmoid(-pol)[:, None]
        ml = z @ self.w_mood + self.b_mood
        if self.has_mlp:  # the MLP members' mean logits
            u = z @ self.mlp_proj if int(self.mlp_proj.shape[1]) > 0 else z
            h = nn.functional.gelu(
                torch.matmul(u.unsqueeze(0), self.mlp_w1) + self.mlp_b1.unsqueeze(1)
            )
            mlp = (torch.matmul(h, self.mlp_w2) + self.mlp_b2.unsqueeze(1)).mean(0)
            ml = (1 - self.mlp_mix) * ml + self.mlp_mix * mlp
        ml = ml / self.t_mood
        neg_inf = torch.finfo(ml.dtype).min
        within_pos = torch.log_softmax(ml.masked_fill(~self.pos_mask, neg_inf), dim=1)
        within_neg = torch.log_softmax(ml.masked_fill(self.pos_mask, neg_inf), dim=1)
        logp = torch.where(self.pos_mask, logp_pos + within_pos, logp_neg + within_neg)
        va = z @ self.w_va + self.b_va
        if self.has_va_moods:  # v4: valence from P(positive) and the mood log-probabilities too
            extra = torch.sigmoid(pol) * self.va_ppos + logp @ self.va_logp
            va = torch.cat([va[:, :1] + extra[:, None], va[:, 1:]], dim=1)
        return logp, va

    def set_va_moods(self, ppos: float, logp: Sequence[float]) -> None:
        """v4's valence terms: ``ppos`` x P(positive) + log P(moods) . ``logp``."""
        self.va_ppos.fill_(float(ppos))
        self.va_logp.copy_(torch.as_tensor(np.asarray(logp, dtype=np.float32)))
        self.has_va_moods = True
