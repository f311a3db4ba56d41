"""The small trained head and the full inference network (backbone + TTA + head).

The head sees standardised frozen-backbone descriptors (see :mod:`features`) and outputs the
8 Mikels mood probabilities (softmax, in ``MOODS`` order) plus valence and arousal on the
Emotion6 1-9 scale. ``hidden == 0`` makes it multinomial logistic regression.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from moodtagger.core.model.backbone import FeatureNet

PARTS = ("final", "stages", "logits")


class MoodHead(nn.Module):
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


def select(feats: dict[str, np.ndarray], parts: Sequence[str]) -> np.ndarray:
    """Concatenate feature parts: (n, views, d)."""
    return np.concatenate([feats[p] for p in parts], axis=-1)


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    *,
    hidden: int = 0,
    weight_decay: float = 1e-2,
    epochs: int = 200,
    lr: float = 1e-3,
    class_weight: bool = True,
    sample_weight: np.ndarray | None = None,
    soft_targets: np.ndarray | None = None,
    dropout: float = 0.5,
    seed: int = 0,
) -> MoodHead:
    """Full-batch AdamW training of a :class:`MoodHead` on 2-D features ``x``.

    ``y``: int labels (ignored where ``soft_targets`` rows are given). Deterministic for a seed.
    """
    torch.manual_seed(seed)
    np.random.seed(seed)
    xt = torch.from_numpy(x.astype(np.float32))
    head = MoodHead(x.shape[1], hidden, dropout=dropout)
    mu = xt.mean(0)
    sigma = xt.std(0).clamp_min(1e-4)
    head.mu.copy_(mu)
    head.sigma.copy_(sigma)
    n_cls = 8
    if soft_targets is None:
        target = torch.nn.functional.one_hot(torch.from_numpy(y).long(), n_cls).float()
    else:
        target = torch.from_numpy(soft_targets.astype(np.float32))
    w = (
        torch.ones(len(x))
        if sample_weight is None
        else torch.from_numpy(sample_weight.astype(np.float32))
    )
    if class_weight:
        counts = (target * w[:, None]).sum(0).clamp_min(1.0)
        cw = counts.sum() / (n_cls * counts)
        w = w * (target * cw).sum(1)
    w = w / w.mean()
    opt = torch.optim.AdamW(head.mood.parameters(), lr=lr, weight_decay=weight_decay)
    head.train()
    gen = torch.Generator().manual_seed(seed)
    batch = 256
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            logits, _ = head(xt[idx])
            loss = (-(target[idx] * torch.log_softmax(logits, 1)).sum(1) * w[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.eval()
    return head


def fit_va(head: MoodHead, x: np.ndarray, va: np.ndarray, alpha: float = 1000.0) -> None:
    """Ridge regression for valence/arousal on the head's standardisation (closed form)."""
    with torch.no_grad():
        z = head.standardise(torch.from_numpy(x.astype(np.float32))).double()
        t = torch.from_numpy(va.astype(np.float64))
        zm, tm = z.mean(0), t.mean(0)
        zc, tc = z - zm, t - tm
        a = zc.T @ zc + alpha * torch.eye(z.shape[1], dtype=torch.float64)
        coef = torch.linalg.solve(a, zc.T @ tc)  # (d, 2)
        head.va.weight.copy_(coef.T.float())
        head.va.bias.copy_((tm - zm @ coef).float())


def predict_logits(head: MoodHead, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x: (n, views, d) -> (mood logits per view (n, views, 8), va averaged over views (n, 2))."""
    n, v, d = x.shape
    with torch.no_grad():
        logits, va = head(torch.from_numpy(x.reshape(n * v, d).astype(np.float32)))
    return logits.reshape(n, v, -1).numpy(), va.reshape(n, v, -1).mean(1).numpy()


def view_probs(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax per view (with a temperature), averaged over views: (n, views, 8) -> (n, 8)."""
    z = logits / temperature
    z = z - z.max(-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(-1, keepdims=True)
    return p.mean(1)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of out-of-fold predictions."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(20.0), 200))
    nll = [-np.log(view_probs(logits, t)[np.arange(len(y)), y] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(nll))])


def predict_head(head: MoodHead, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x: (n, views, d) -> (probs averaged over views (n, 8), va (n, 2))."""
    logits, va = predict_logits(head, x)
    return view_probs(logits), va


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
