"""The mood map: every shown photo as a point in the valence-arousal plane (1-9 each).

Scale: by default the library's own (``relative``): each axis is stretched so that the shown
photos' 2nd..98th percentiles span :data:`REL_SPAN` of the plane, since the model's valence and
arousal of everyday photos sit in a narrow band around the centre (one clump on the absolute
scale); the axes then name the model's values at their ticks. ``set_relative(False)`` (the
map bar's *Library scale* button) shows the absolute 1-9 scale.

The 8 moods' regions are the plane's cells nearest to each mood's place in Russell's circumplex
(approximate positions, tinted in the mood's colour and labelled); each point is coloured by the
photo's chosen mood, else its top suggestion. Drawing is vectorised: the points are rasterised
with numpy into one image per frame (100,000 points take a few milliseconds, see
``bench/bench_map.py``), and when few points are in view they become small thumbnails.

Mouse: drag = rectangle selection, Shift+drag (or the Lasso tool) = lasso, Ctrl+drag or middle
drag = pan, wheel = zoom around the cursor, click = that photo. A selection is emitted as photo
ids; the window makes it the grid's selection or its filter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from moodtagger.core.moods import INDEX, MOODS, display_name
from moodtagger.gui.views.delegate import MOOD_COLORS, custom_mood_color

# approximate places of the Mikels moods in the valence-arousal plane (1-9)
ANCHORS: dict[str, tuple[float, float]] = {
    "excitement": (7.0, 7.3),
    "amusement": (7.9, 5.6),
    "awe": (6.2, 5.0),
    "contentment": (7.0, 2.8),
    "anger": (3.0, 7.3),
    "fear": (2.0, 5.9),
    "disgust": (3.6, 5.0),
    "sadness": (3.0, 2.8),
}
LO, HI = 1.0, 9.0
REL_SPAN = (1.5, 8.5)  # where the library's 2nd..98th percentiles land on the library scale
ROBUST = (2.0, 98.0)
THUMBS_BELOW = 120  # points in view: below this, draw thumbnails instead of dots
THUMB_SIDE = 56
_GREY = QColor("#9a9a9a")
CUSTOM_BASE = len(MOODS) + 1  # point code of the first custom mood (len(MOODS): grey, none)


def _argb(color: QColor, alpha: int = 255) -> np.uint32:
    return np.uint32((alpha << 24) | (color.red() << 16) | (color.green() << 8) | color.blue())


def points_in_polygon(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule, vectorised over points (loop over the polygon's edges)."""
    inside = np.zeros(len(x), bool)
    n = len(poly)
    if n < 3:
        return inside
    px, py = poly[:, 0], poly[:, 1]
    j = n - 1
    for i in range(n):
        xi, yi, xj, yj = px[i], py[i], px[j], py[j]
        crosses = (yi > y) != (yj > y)
        if crosses.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                xint = (xj - xi) * (y - yi) / (yj - yi) + xi
            inside ^= crosses & (x < xint)
        j = i
    return inside


class PlaneScale:
    """Where the model's valence and arousal land on the plane shown: the library's scale
    (``relative``, see the module doc) or the absolute 1-9 scale."""

    def __init__(self) -> None:
        self.relative = True
        self.axes = ((LO, HI), (LO, HI))  # per axis: the model's values at REL_SPAN's ends

    def fit(self, valence: np.ndarray, arousal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fit the scale to these photos; returns their places on the plane."""
        if not self.relative or not len(valence):
            self.axes = ((LO, HI), (LO, HI))
            return valence.copy(), arousal.copy()
        axes = []
        for v in (valence, arousal):
            lo, hi = (float(q) for q in np.percentile(v, ROBUST))
            if hi - lo < 0.1:  # one photo, or all alike: a unit window around them
                lo, hi = (lo + hi) / 2 - 0.5, (lo + hi) / 2 + 0.5
            axes.append((lo, hi))
        self.axes = (axes[0], axes[1])
        return self.to_plane(valence, 0), self.to_plane(arousal, 1)

    def to_plane(self, v: np.ndarray, axis: int) -> np.ndarray:
        if not self.relative:
            return v.copy()
        (lo, hi), (a, b) = self.axes[axis], REL_SPAN
        return np.clip(a + (v - lo) * (b - a) / (hi - lo), LO, HI).astype(np.float32)

    def model_value(self, plane: float, axis: int) -> float:
        if not self.relative:
            return plane
        (lo, hi), (a, b) = self.axes[axis], REL_SPAN
        return lo + (plane - a) * (hi - lo) / (b - a)

    def tick(self, v: int, axis: int) -> str:
        """An axis tick's label: the model's value there (one decimal more where ticks are close)."""
        if not self.relative:
            return str(v)
        lo, hi = self.axes[axis]
        digits = 1 if (hi - lo) / (REL_SPAN[1] - REL_SPAN[0]) >= 0.1 else 2
        return f"{self.model_value(v, axis):.{digits}f}"


class MoodMap(QWidget):
    selected = Signal(object)  # np.ndarray of photo ids (rectangle / lasso / click)
    activated = Signal(int)  # double click on a photo

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.ids = np.zeros(0, np.int64)
        self.x = np.zeros(0, np.float32)  # valence, on the scale shown
        self.y = np.zeros(0, np.float32)  # arousal, on the scale shown
        self.valence = np.zeros(0, np.float32)  # the model's values (absolute 1-9)
        self.arousal = np.zeros(0, np.float32)
        self.plane = PlaneScale()  # the library's scale (see the module doc) or absolute 1-9
        self.mood = np.zeros(0, np.int8)  # index into MOODS, -1 = none, CUSTOM_BASE + j: custom
        self.custom_names: tuple[str, ...] = ()  # the catalog's custom moods (issue 27)
        self.highlight = np.zeros(0, bool)
        self.lasso_mode = False
        self.thumbnail_for: Callable[[int], QImage | None] | None = None
        self.view = QRectF(LO, LO, HI - LO, HI - LO)  # data rectangle shown
        self._drag: dict | None = None
        self._path: list[QPointF] = []
        self._order = np.zeros(0, np.int64)
        self._palette_cache: tuple | None = None
        self._bg_cache: tuple | None = None
        self.last_frame_ms = 0.0
        self.visible_count = 0

    # -- data -----------------------------------------------------------------------------------
    def set_points(
        self,
        ids: np.ndarray,
        valence: np.ndarray,
        arousal: np.ndarray,
        mood: np.ndarray,
        custom_names: tuple[str, ...] = (),
    ) -> None:
        self.custom_names = tuple(custom_names)
        ok = ~(np.isnan(valence) | np.isnan(arousal))
        self.ids = np.asarray(ids, np.int64)[ok]
        self.valence = np.asarray(valence, np.float32)[ok]
        self.arousal = np.asarray(arousal, np.float32)[ok]
        self.mood = np.asarray(mood, np.int8)[ok]
        self._rescale()
        # a fixed shuffled drawing order: no mood hides the others by always being painted last
        self._order = np.random.default_rng(0).permutation(len(self.ids))
        self.highlight = np.zeros(len(self.ids), bool)
        self.update()

    def set_highlight(self, ids) -> None:
        self.highlight = (
            np.isin(self.ids, np.asarray(list(ids), np.int64)) if len(self.ids) else self.highlight
        )
        self.update()

    @property
    def relative(self) -> bool:
        return self.plane.relative

    def set_relative(self, on: bool) -> None:
        """The library's scale (True) or the absolute 1-9 scale."""
        self.plane.relative = bool(on)
        self._rescale()
        self.update()

    def _rescale(self) -> None:
        self.x, self.y = self.plane.fit(self.valence, self.arousal)

    def model_value(self, plane: float, axis: int) -> float:
        """The model's value (1-9) at a place of the plane shown (axis 0: valence)."""
        return self.plane.model_value(plane, axis)

    def fit(self) -> None:
        self.view = QRectF(LO, LO, HI - LO, HI - LO)
        self.update()

    # -- geometry ---------------------------------------------------------------------------------
    def plot_rect(self) -> QRectF:
        return QRectF(self.rect()).adjusted(50, 8, -8, -28)

    def to_screen(self, vx, vy):
        r = self.plot_rect()
        sx = r.left() + (np.asarray(vx) - self.view.left()) * r.width() / self.view.width()
        sy = r.bottom() - (np.asarray(vy) - self.view.top()) * r.height() / self.view.height()
        return sx, sy

    def to_data(self, p: QPointF) -> tuple[float, float]:
        r = self.plot_rect()
        vx = self.view.left() + (p.x() - r.left()) * self.view.width() / r.width()
        vy = self.view.top() + (r.bottom() - p.y()) * self.view.height() / r.height()
        return vx, vy

    def zoom(self, factor: float, around: QPointF | None = None) -> None:
        cx, cy = (
            self.to_data(around)
            if around is not None
            else (self.view.center().x(), self.view.center().y())
        )
        w = min(HI - LO + 2, max(0.02, self.view.width() / factor))
        h = min(HI - LO + 2, max(0.02, self.view.height() / factor))
        fx = (cx - self.view.left()) / self.view.width()
        fy = (cy - self.view.top()) / self.view.height()
        self.view = QRectF(cx - fx * w, cy - fy * h, w, h)
        self.update()

    def pan_pixels(self, dx: float, dy: float) -> None:
        r = self.plot_rect()
        self.view.translate(
            -dx * self.view.width() / r.width(), dy * self.view.height() / r.height()
        )
        self.update()

    def ids_in_rect(self, a: QPointF, b: QPointF) -> np.ndarray:
        x0, y0 = self.to_data(a)
        x1, y1 = self.to_data(b)
        m = (
            (self.x >= min(x0, x1))
            & (self.x <= max(x0, x1))
            & (self.y >= min(y0, y1))
            & (self.y <= max(y0, y1))
        )
        return self.ids[m]

    def ids_in_lasso(self, points: list[QPointF]) -> np.ndarray:
        if len(points) < 3:
            return np.zeros(0, np.int64)
        step = max(1, len(points) // 200)
        poly = np.array([self.to_data(p) for p in points[::step]], dtype=np.float64)
        return self.ids[
            points_in_polygon(self.x.astype(np.float64), self.y.astype(np.float64), poly)
        ]

    def nearest(self, p: QPointF, radius: float = 8.0) -> int | None:
        if not len(self.ids):
            return None
        sx, sy = self.to_screen(self.x, self.y)
        d2 = (sx - p.x()) ** 2 + (sy - p.y()) ** 2
        k = int(np.argmin(d2))
        return int(self.ids[k]) if d2[k] <= radius * radius else None

    # -- painting ---------------------------------------------------------------------------------
    def _colors(self) -> np.ndarray:
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        key = (dark, len(self.custom_names))
        if self._palette_cache is None or self._palette_cache[0] != key:
            table = np.array(
                [_argb(QColor(MOOD_COLORS[m])) for m in MOODS]
                + [_argb(_GREY)]
                + [_argb(custom_mood_color(j)) for j in range(len(self.custom_names))],
                dtype=np.uint32,
            )
            self._palette_cache = (key, table)
        return self._palette_cache[1]

    def _background(self, w: int, h: int, dark: bool) -> QImage:
        key = (w, h, dark, self.view.getRect())
        if self._bg_cache is not None and self._bg_cache[0] == key:
            return self._bg_cache[1]
        step = 4
        gw, gh = max(1, w // step), max(1, h // step)
        r = self.plot_rect()
        xs = self.view.left() + (np.arange(gw) * step + step / 2) * self.view.width() / r.width()
        ys = (
            self.view.top()
            + (r.height() - (np.arange(gh) * step + step / 2)) * self.view.height() / r.height()
        )
        names = list(ANCHORS)
        ax = np.array([ANCHORS[m][0] for m in names])
        ay = np.array([ANCHORS[m][1] for m in names])
        d = (xs[None, :, None] - ax) ** 2 + (ys[:, None, None] - ay) ** 2
        nearest = np.argmin(d, axis=2)
        alpha = 46 if dark else 38
        tints = np.array([_argb(QColor(MOOD_COLORS[m]), alpha) for m in names], dtype=np.uint32)
        buf = np.ascontiguousarray(tints[nearest])
        img = QImage(buf.data, gw, gh, 4 * gw, QImage.Format.Format_ARGB32).copy()
        self._bg_cache = (key, img)
        return img

    def render_points(self, w: int, h: int) -> tuple[QImage, np.ndarray]:
        """The dots as one ARGB image of the plot area, and the indexes of the points in view."""
        buf = np.zeros((h, w), np.uint32)
        if not len(self.ids):
            return QImage(
                buf.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied
            ).copy(), np.zeros(0, np.int64)
        r = self.plot_rect()
        order = self._order
        sx = (self.x[order] - self.view.left()) * (r.width() / self.view.width())
        sy = r.height() - (self.y[order] - self.view.top()) * (r.height() / self.view.height())
        px = sx.astype(np.int32)
        py = sy.astype(np.int32)
        inside = (px >= 1) & (px < w - 1) & (py >= 1) & (py < h - 1)
        px, py = px[inside], py[inside]
        sel = order[inside]
        colors = self._colors()[np.where(self.mood[sel] < 0, len(MOODS), self.mood[sel])]
        dot = 1 if len(sel) > 20_000 else 2  # a 2x2 or 3x3 dot
        for dy in range(-1, dot):
            for dx in range(-1, dot):
                buf[py + dy, px + dx] = colors
        hl = self.highlight[sel]
        if hl.any():
            hx, hy = px[hl], py[hl]
            ring = _argb(self.palette().color(QPalette.ColorRole.Text))
            for dy in (-2, 2):
                for dx in range(-2, 3):
                    yy, xx = np.clip(hy + dy, 0, h - 1), np.clip(hx + dx, 0, w - 1)
                    buf[yy, xx] = ring
                    buf[np.clip(hy + dx, 0, h - 1), np.clip(hx + dy, 0, w - 1)] = ring
            c = colors[hl]
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    buf[hy + dy, hx + dx] = c
        img = QImage(buf.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied).copy()
        return img, sel

    def paintEvent(self, _event) -> None:
        import time

        t0 = time.perf_counter()
        p = QPainter(self)
        pal = self.palette()
        dark = pal.color(QPalette.ColorRole.Base).lightness() < 128
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        r = self.plot_rect()
        w, h = max(1, int(r.width())), max(1, int(r.height()))
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(r, self._background(w, h, dark))
        p.setClipRect(r)
        self._paint_grid(p, r, pal)
        img, sel = self.render_points(w, h)
        self.visible_count = len(sel)
        if 0 < len(sel) <= THUMBS_BELOW and self.thumbnail_for is not None:
            self._paint_thumbs(p, r, sel)
        else:
            p.drawImage(int(r.left()), int(r.top()), img)
        self._paint_labels(p, r, pal, dark)
        p.setClipping(False)
        paint_axes(self, p, r, pal)
        self._paint_drag(p, pal)
        p.end()
        self.last_frame_ms = (time.perf_counter() - t0) * 1000.0

    def _paint_grid(self, p: QPainter, r: QRectF, pal: QPalette) -> None:
        c = QColor(pal.color(QPalette.ColorRole.Text))
        c.setAlpha(40)
        p.setPen(QPen(c, 1, Qt.PenStyle.DotLine))
        for v in range(1, 10):
            sx, sy = self.to_screen(v, v)
            p.drawLine(QPointF(float(sx), r.top()), QPointF(float(sx), r.bottom()))
            p.drawLine(QPointF(r.left(), float(sy)), QPointF(r.right(), float(sy)))
        c.setAlpha(110)
        p.setPen(QPen(c, 1.2))
        sx, sy = self.to_screen(5.0, 5.0)
        p.drawLine(QPointF(float(sx), r.top()), QPointF(float(sx), r.bottom()))
        p.drawLine(QPointF(r.left(), float(sy)), QPointF(r.right(), float(sy)))

    def _label_font(self) -> QFont:
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        return font

    def label_rects(self) -> dict[str, QRectF]:
        """Where each region's label is drawn (in view), in widget pixels."""
        from PySide6.QtGui import QFontMetrics

        fm = QFontMetrics(self._label_font())
        r = self.plot_rect()
        out = {}
        for mood, (vx, vy) in ANCHORS.items():
            sx, sy = self.to_screen(vx, vy)
            text = display_name(mood)
            tw = fm.horizontalAdvance(text) + 12
            box = QRectF(float(sx) - tw / 2, float(sy) - fm.height() / 2 - 2, tw, fm.height() + 4)
            if box.intersects(r):
                out[mood] = box
        return out

    def _paint_labels(self, p: QPainter, r: QRectF, pal: QPalette, dark: bool) -> None:
        """The regions' names, last and on opaque plates: no point or thumbnail covers them."""
        p.setFont(self._label_font())
        for mood, box in self.label_rects().items():
            p.setPen(QPen(QColor(MOOD_COLORS[mood]), 2))
            p.setBrush(pal.color(QPalette.ColorRole.Base))
            p.drawRoundedRect(box, 4, 4)
            p.setPen(pal.color(QPalette.ColorRole.Text))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, display_name(mood))

    def _paint_thumbs(self, p: QPainter, r: QRectF, sel: np.ndarray) -> None:
        sx, sy = self.to_screen(self.x[sel], self.y[sel])
        side = THUMB_SIDE
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        for k, i in enumerate(sel.tolist()):
            img = self.thumbnail_for(int(self.ids[i])) if self.thumbnail_for else None
            color = point_color(int(self.mood[i]))
            cx, cy = float(sx[k]), float(sy[k])
            if img is not None and not img.isNull():
                size = img.size().scaled(QSize(side, side), Qt.AspectRatioMode.KeepAspectRatio)
                target = QRectF(
                    cx - size.width() / 2, cy - size.height() / 2, size.width(), size.height()
                )
                p.drawImage(target, img)
            else:
                target = QRectF(cx - side / 3, cy - side / 3, 2 * side / 3, 2 * side / 3)
                p.fillRect(target, self.palette().color(QPalette.ColorRole.Mid))
            width = 3.0 if self.highlight[i] else 2.0
            p.setPen(
                QPen(
                    self.palette().color(QPalette.ColorRole.Text) if self.highlight[i] else color,
                    width,
                )
            )
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(target)

    def _paint_drag(self, p: QPainter, pal: QPalette) -> None:
        if self._drag is None or self._drag.get("kind") == "pan":
            return
        c = QColor(pal.color(QPalette.ColorRole.Highlight))
        fill = QColor(c)
        fill.setAlpha(50)
        p.setPen(QPen(c, 1.5, Qt.PenStyle.DashLine))
        p.setBrush(fill)
        if self._drag["kind"] == "rect":
            p.drawRect(QRectF(self._drag["start"], self._drag["now"]).normalized())
        elif len(self._path) > 1:
            path = QPainterPath()
            path.addPolygon(QPolygonF(self._path))
            path.closeSubpath()
            p.drawPath(path)

    # -- mouse ------------------------------------------------------------------------------------
    def mousePressEvent(self, e) -> None:
        pos = e.position()
        mods = e.modifiers()
        if e.button() == Qt.MouseButton.MiddleButton or (
            e.button() == Qt.MouseButton.LeftButton and mods & Qt.KeyboardModifier.ControlModifier
        ):
            self._drag = {"kind": "pan", "last": pos}
        elif e.button() == Qt.MouseButton.LeftButton:
            lasso = self.lasso_mode or bool(mods & Qt.KeyboardModifier.ShiftModifier)
            self._drag = {"kind": "lasso" if lasso else "rect", "start": pos, "now": pos}
            self._path = [pos]
        e.accept()

    def mouseMoveEvent(self, e) -> None:
        pos = e.position()
        if self._drag is None:
            pid = self.nearest(pos)
            self.setToolTip(self._tooltip(pid) if pid is not None else "")
            return
        if self._drag["kind"] == "pan":
            d = pos - self._drag["last"]
            self._drag["last"] = pos
            self.pan_pixels(d.x(), d.y())
            return
        self._drag["now"] = pos
        if self._drag["kind"] == "lasso":
            self._path.append(pos)
        self.update()

    def mouseReleaseEvent(self, e) -> None:
        drag, self._drag = self._drag, None
        if drag is None or drag["kind"] == "pan":
            return
        pos = e.position()
        moved = (pos - drag["start"]).manhattanLength() > 4
        if not moved:
            pid = self.nearest(pos)
            self.selected.emit(np.array([pid] if pid is not None else [], np.int64))
        elif drag["kind"] == "rect":
            self.selected.emit(self.ids_in_rect(drag["start"], pos))
        else:
            self._path.append(pos)
            self.selected.emit(self.ids_in_lasso(self._path))
        self._path = []
        self.update()

    def mouseDoubleClickEvent(self, e) -> None:
        pid = self.nearest(e.position())
        if pid is not None:
            self.activated.emit(pid)

    def wheelEvent(self, e) -> None:
        steps = e.angleDelta().y() / 120.0
        if steps:
            self.zoom(1.25**steps, e.position())
        e.accept()

    def _tooltip(self, pid: int) -> str:
        k = int(np.nonzero(self.ids == pid)[0][0])
        mood = point_name(int(self.mood[k]), self.custom_names)
        return f"{mood} · valence {self.valence[k]:.1f} · arousal {self.arousal[k]:.1f}"


def paint_axes(m: MoodMap, p: QPainter, r: QRectF, pal: QPalette) -> None:
    """The frame, the ticks (the model's values on the library scale) and the axes' names."""
    p.setPen(pal.color(QPalette.ColorRole.Text))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(r)
    font = QFont(m.font())
    p.setFont(font)

    tick = m.plane.tick
    for v in range(1, 10):
        sx, sy = m.to_screen(v, v)
        if r.left() <= sx <= r.right():
            p.drawText(
                QRectF(float(sx) - 16, r.bottom() + 2, 32, 14),
                Qt.AlignmentFlag.AlignCenter,
                tick(v, 0),
            )
        if r.top() <= sy <= r.bottom():
            p.drawText(
                QRectF(r.left() - 34, float(sy) - 7, 31, 14),
                Qt.AlignmentFlag.AlignRight,
                tick(v, 1),
            )
    scale = " (library scale)" if m.relative else ""
    p.drawText(
        QRectF(r.left(), r.bottom() + 12, r.width(), 16),
        Qt.AlignmentFlag.AlignCenter,
        f"valence{scale}: unpleasant → pleasant",
    )
    p.save()
    p.translate(10, r.center().y())
    p.rotate(-90)
    p.drawText(
        QRectF(-r.height() / 2, -8, r.height(), 16),
        Qt.AlignmentFlag.AlignCenter,
        f"arousal{scale}: calm → excited",
    )
    p.restore()


def point_color(m: int) -> QColor:
    """The colour of point code ``m`` (see :attr:`MoodMap.mood`)."""
    if 0 <= m < len(MOODS):
        return QColor(MOOD_COLORS[MOODS[m]])
    return custom_mood_color(m - CUSTOM_BASE) if m >= CUSTOM_BASE else _GREY


def point_name(m: int, custom_names) -> str:
    if 0 <= m < len(MOODS):
        return display_name(MOODS[m])
    return f"{custom_names[m - CUSTOM_BASE]} (chosen)" if m >= CUSTOM_BASE else "no mood yet"


def mood_index_for(rows, derived) -> np.ndarray:
    """Per row: the first chosen custom mood (``CUSTOM_BASE + j``: the user's own word is drawn
    in its colour), else the first chosen of the eight, else the top suggestion, else -1."""
    out = np.where(derived.has_pred, derived.top_idx, -1).astype(np.int8)
    bits = rows.choice_bits.astype(np.int32)
    chosen = bits > 0
    if chosen.any():
        first = np.full(len(bits), -1, np.int8)
        for i in range(len(MOODS) - 1, -1, -1):
            first = np.where((bits & (1 << i)) != 0, i, first)
        out = np.where(chosen, first, out)
    custom = getattr(rows, "custom_chosen", None)
    if custom is not None and custom.size and custom.any():
        out = np.where(custom.any(axis=1), CUSTOM_BASE + custom.argmax(axis=1), out).astype(np.int8)
    return out


__all__ = ["ANCHORS", "INDEX", "MoodMap", "mood_index_for", "points_in_polygon"]
