"""Fitting v1's :class:`~moodtagger.core.model.head.MoodHead` on cached features, and its
out-of-fold predictions: full-batch AdamW for the moods, closed-form ridge for valence/arousal, a
temperature fitted on out-of-fold logits.
"""

from __future__ import annotations

import numpy as np
import torch

from moodtagger.core.model.head import MoodHead


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
