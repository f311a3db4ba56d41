"""The "why this mood?" overlay drawn on the detail preview: a heat map over the part of the
photo the model saw, the rest dimmed. The maps come from
:class:`~moodtagger.gui.controllers.why.WhyService`."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

LITTLE_EVIDENCE = 0.05
"""Below this probability a mood's heat map is not drawn: the panel says in words that little in
the photo speaks for the mood (its map would be noise, or blank)."""


def little_evidence(p: float | None) -> bool:
    """The mood is too unlikely for its heat map to mean anything (:data:`LITTLE_EVIDENCE`)."""
    return p is not None and p < LITTLE_EVIDENCE


def heat_image(heat: np.ndarray, max_alpha: int = 200) -> QImage:
    """A small ARGB image of ``heat`` ((h, w) in [0, 1]); cool regions stay see-through (the
    core's colours, :func:`moodtagger.core.model.why.heat_rgba`, as ``moodtagger why`` draws)."""
    from moodtagger.core.model.why import heat_rgba

    rgba = np.ascontiguousarray(heat_rgba(heat, max_alpha))
    img = QImage(
        rgba.data, rgba.shape[1], rgba.shape[0], 4 * rgba.shape[1], QImage.Format.Format_RGBA8888
    )
    return img.copy()


def compose(base: QImage, heat: np.ndarray, crop: tuple[float, float, float, float]) -> QImage:
    """``base`` with the heat map over the part the model saw (``crop`` fractions); the rest of
    the photo is dimmed, so it is plain the model never looked there."""
    out = base.convertToFormat(QImage.Format.Format_RGB32)
    w, h = out.width(), out.height()
    rect = QRectF(crop[0] * w, crop[1] * h, crop[2] * w, crop[3] * h)
    p = QPainter(out)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    dim = QColor(0, 0, 0, 110)
    full = QRectF(0, 0, w, h)
    for r in (
        QRectF(0, 0, w, rect.top()),
        QRectF(0, rect.bottom(), w, h - rect.bottom()),
        QRectF(0, rect.top(), rect.left(), rect.height()),
        QRectF(rect.right(), rect.top(), w - rect.right(), rect.height()),
    ):
        r = r.intersected(full)
        if r.width() > 0 and r.height() > 0:
            p.fillRect(r, dim)
    p.drawImage(rect, heat_image(heat))
    p.end()
    return out
