"""Painting one grid cell: thumbnail, the top moods as labelled bars, ambiguity and error flags.

Under the thumbnail, a dark opaque plate (the same in light and dark themes and on the selection,
as digiKam and Excire put labels on a dark band) holds the photo's top :data:`ROWS` moods, the
chosen ones first (marked ✓), then the likeliest: per row the mood's name and probability in
light text and a thick horizontal bar whose length is the probability. Colours: Paul Tol's
*muted* qualitative scheme (distinguishable with every common colour-vision deficiency); a bar
whose colour is too dark for the plate gets a light edge, so every bar has at least 3:1 contrast
(WCAG non-text) with the plate and every label at least 7:1. Everything else uses the palette.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QHelpEvent, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from moodtagger.core.moods import DISPLAY_ORDER, INDEX, display_name
from moodtagger.gui.models.photomodel import Roles

MOOD_COLORS: dict[str, str] = {
    # positive (light)
    "amusement": "#DDCC77",  # sand
    "awe": "#88CCEE",  # cyan
    "contentment": "#44AA99",  # teal
    "excitement": "#CC6677",  # rose
    # negative (dark)
    "anger": "#882255",  # wine
    "disgust": "#999933",  # olive
    "fear": "#AA4499",  # purple
    "sadness": "#332288",  # indigo
}
STATE_COLORS = {
    "chosen": "#0077BB",
    "written": "#009988",
    "failed": "#CC3311",
    "ambiguous": "#EE7733",
}

PAD = 6
ROWS = 3  # moods shown per photo: the chosen ones, then the likeliest
ROW_H = 15  # a bar's thickness (px)
ROW_GAP = 3
PLATE_PAD = 4
BARS_H = ROWS * ROW_H + (ROWS - 1) * ROW_GAP
PLATE_H = BARS_H + 2 * PLATE_PAD
LABEL_FRAC = 0.66  # the labels' share of the plate's width
TEXT_H = 16
PLATE = QColor("#1f1f1f")  # the plate: dark and opaque in every palette
PLATE_TEXT = QColor("#f2f2f2")
TRACK = QColor("#383838")  # the part of a row a bar does not fill (the 100% scale)


def mood_color(mood: str) -> QColor:
    return QColor(MOOD_COLORS[mood])


# the user's own moods (issue 27): Okabe-Ito colours, apart from the eight's Paul Tol "muted"
CUSTOM_MOOD_COLORS = ("#E69F00", "#0072B2", "#D55E00", "#F0E442", "#009E73", "#CC79A7")


def custom_mood_color(index: int) -> QColor:
    """The colour of the ``index``-th custom mood (catalog order), for bars, map and buttons."""
    return QColor(CUSTOM_MOOD_COLORS[index % len(CUSTOM_MOOD_COLORS)])


def custom_probs(index) -> dict[str, tuple[float | None, QColor]]:
    """The custom moods of ``index``'s photo: name -> (probability or None, colour), read from
    the source model's rows (empty when the catalog has none)."""
    model = index.model() if hasattr(index, "model") else None
    src = model.sourceModel() if hasattr(model, "sourceModel") else model
    rows = getattr(src, "rows", None)
    if rows is None or not rows.custom_names or not hasattr(src, "row_of"):
        return {}
    r = src.row_of(index.data(Roles.PhotoIdRole))
    if r is None or r >= len(rows.custom_probs):
        return {}
    out = {}
    for j, name in enumerate(rows.custom_names):
        p = float(rows.custom_probs[r, j])
        out[name] = (None if p != p else p, custom_mood_color(j))  # NaN: never learnt
    return out


def _prob(mood: str, scores, custom) -> float | None:
    if mood in INDEX:
        return None if scores is None else float(scores[INDEX[mood]])
    return custom.get(mood, (None, None))[0]


def relative_luminance(c: QColor) -> float:
    """WCAG 2 relative luminance of an opaque colour."""

    def lin(v: int) -> float:
        x = v / 255.0
        return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.red()) + 0.7152 * lin(c.green()) + 0.0722 * lin(c.blue())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio (1 .. 21); graphics need 3:1 against what they sit on."""
    la, lb = relative_luminance(a), relative_luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


class PhotoDelegate(QStyledItemDelegate):
    def __init__(self, parent=None, thumb_size: int = 160):
        super().__init__(parent)
        self.thumb_size = thumb_size
        self.cell_width: int | None = None  # set by the grid: the columns share its width
        self.hover: tuple[int, str] | None = None  # (photo id, mood) of the bar under the mouse

    def set_thumb_size(self, size: int) -> None:
        self.thumb_size = size  # the view sets its grid size from cell_size()

    def cell_size(self) -> QSize:
        t = self.thumb_size
        return QSize(t + 2 * PAD, t + 3 * PAD + PLATE_H + 2 * TEXT_H)

    def sizeHint(self, option, index) -> QSize:
        base = self.cell_size()
        return QSize(max(base.width(), self.cell_width or 0), base.height())

    # -- geometry ---------------------------------------------------------------------------
    def _content(self, cell: QRect) -> QRect:
        """The cell's content (thumbnail width + padding), centred in a wider grid cell."""
        w = self.thumb_size + 2 * PAD
        return QRect(cell.x() + max(0, (cell.width() - w) // 2), cell.y(), w, cell.height())

    def _thumb_rect(self, cell: QRect) -> QRect:
        c = self._content(cell)
        return QRect(c.x() + PAD, c.y() + PAD, self.thumb_size, self.thumb_size)

    def plate_rect(self, cell: QRect) -> QRectF:
        """The dark plate under the thumbnail that the mood rows stand on."""
        c = self._content(cell)
        return QRectF(c.x() + PAD, c.y() + 2 * PAD + self.thumb_size, self.thumb_size, PLATE_H)

    @staticmethod
    def rows(scores, choice, custom=None) -> list[str]:
        """The moods a cell shows, top to bottom: the chosen ones, then the likeliest (a custom
        mood when its own probability is at least 0.5; ``custom``: :func:`custom_probs`)."""
        out = [m for m in (choice or ())][:ROWS]
        ranked = [(m, float(scores[INDEX[m]])) for m in DISPLAY_ORDER] if scores is not None else []
        ranked += [(m, p) for m, (p, _c) in (custom or {}).items() if p is not None and p >= 0.5]
        ranked.sort(key=lambda mp: -mp[1])
        out += [m for m, _p in ranked if m not in out][: ROWS - len(out)]
        return out

    @staticmethod
    def row_label(mood: str, p: float | None, chosen: bool) -> str:
        return ("✓" if chosen else "") + display_name(mood)

    def bar_rects(self, cell: QRect, index) -> dict[str, tuple[QRectF, QRectF]]:
        """Per mood shown: its label's rectangle and its bar's track (the bar at 100%)."""
        plate = self.plate_rect(cell)
        label_w = round(plate.width() * LABEL_FRAC)
        out = {}
        moods = self.rows(
            index.data(Roles.MoodScoresRole), index.data(Roles.ChoiceRole), custom_probs(index)
        )
        for k, mood in enumerate(moods):
            y = plate.top() + PLATE_PAD + k * (ROW_H + ROW_GAP)
            label = QRectF(plate.left() + PLATE_PAD, y, label_w - PLATE_PAD - 4, ROW_H)
            track = QRectF(
                plate.left() + label_w, y, plate.right() - PLATE_PAD - plate.left() - label_w, ROW_H
            )
            out[mood] = (label, track)
        return out

    def bar_at(self, cell: QRect, pos, index=None) -> str | None:
        if index is None:
            return None
        p = QPointF(pos)
        for mood, (label, track) in self.bar_rects(cell, index).items():
            if label.united(track).adjusted(0, -1, 0, 1).contains(p):
                return mood
        return None

    # -- painting ---------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        pal: QPalette = option.palette
        cell = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(cell.adjusted(1, 1, -1, -1), pal.color(QPalette.ColorRole.Highlight))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(
                cell.adjusted(1, 1, -1, -1), pal.color(QPalette.ColorRole.AlternateBase)
            )

        thumb_rect = self._thumb_rect(cell)
        image: QImage | None = index.data(Roles.ThumbnailRole)
        error = index.data(Roles.ErrorRole)
        state = index.data(Roles.StateRole)
        if image is not None and not image.isNull():
            size = image.size().scaled(thumb_rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(QPoint(0, 0), size)
            target.moveCenter(thumb_rect.center())
            painter.drawImage(target, image)
        else:
            painter.fillRect(
                thumb_rect,
                pal.color(QPalette.ColorRole.Mid).lighter(130)
                if pal.color(QPalette.ColorRole.Base).lightness() > 128
                else pal.color(QPalette.ColorRole.Dark),
            )
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            text = (
                "unreadable"
                if (error and state == "failed" and index.data(Roles.MoodScoresRole) is None)
                else "…"
            )
            painter.drawText(thumb_rect, Qt.AlignmentFlag.AlignCenter, text)

        hover_mood = (
            self.hover[1] if self.hover and self.hover[0] == index.data(Roles.PhotoIdRole) else None
        )
        self._paint_bars(painter, option.font, cell, index, hover_mood)
        self._paint_badges(
            painter,
            thumb_rect,
            state,
            bool(index.data(Roles.AmbiguousRole)),
            index.data(Roles.ChoiceRole) is not None,
        )

        # one line of mood text (the choice, else the top suggestion), one line of file name
        text_color = pal.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        content = self._content(cell)
        line1 = QRect(
            content.x() + PAD, cell.bottom() - PAD - 2 * TEXT_H + 1, self.thumb_size, TEXT_H
        )
        line2 = QRect(content.x() + PAD, cell.bottom() - PAD - TEXT_H + 1, self.thumb_size, TEXT_H)
        font = QFont(option.font)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        choice = index.data(Roles.ChoiceRole)
        top = index.data(Roles.TopMoodRole)
        hovered = self.hover_text(index)
        if hovered is not None:  # the bar under the mouse, named (the 8 bars at a glance)
            mood_text = hovered
        elif choice is not None:
            mood_text = "✓ " + (", ".join(display_name(m) for m in choice) or "no mood")
        elif top is not None:
            mood_text = f"{display_name(top[0])} {top[1]:.0%}"
        elif state == "failed":
            mood_text = "cannot read"
        else:
            mood_text = "…"
        bold = QFont(font)
        bold.setBold(choice is not None or hovered is not None)
        painter.setFont(bold)
        painter.setPen(text_color)
        painter.drawText(
            line1,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            painter.fontMetrics().elidedText(mood_text, Qt.TextElideMode.ElideRight, line1.width()),
        )
        small = QFont(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(small)
        muted = QColor(text_color)
        muted.setAlpha(170)
        painter.setPen(muted)
        name = painter.fontMetrics().elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole) or ""),
            Qt.TextElideMode.ElideMiddle,
            line2.width(),
        )
        painter.drawText(line2, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        if option.state & QStyle.StateFlag.State_HasFocus:
            pen = QPen(
                pal.color(QPalette.ColorRole.Highlight).darker(150 if selected else 100),
                1,
                Qt.PenStyle.DotLine,
            )
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(cell.adjusted(1, 1, -2, -2))
        painter.restore()

    def hover_text(self, index) -> str | None:
        if not self.hover or self.hover[0] != index.data(Roles.PhotoIdRole):
            return None
        mood = self.hover[1]
        p = _prob(mood, index.data(Roles.MoodScoresRole), custom_probs(index))
        text = display_name(mood) + (f" {p:.0%}" if p is not None else "")
        choice = index.data(Roles.ChoiceRole)
        return text + (" · chosen" if choice and mood in choice else "")

    def _paint_bars(
        self, painter: QPainter, font: QFont, cell: QRect, index, hover_mood: str | None = None
    ) -> None:
        """The plate and its rows: ``✓ Name  45%`` in light text, then a thick bar (length = p)
        in the mood's colour, edged in light grey where the colour is too dark for the plate."""
        scores, choice = index.data(Roles.MoodScoresRole), index.data(Roles.ChoiceRole)
        custom = custom_probs(index)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(PLATE)
        painter.drawRoundedRect(self.plate_rect(cell), 3, 3)
        small = QFont(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        painter.setFont(small)
        fm = painter.fontMetrics()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for mood, (label, track) in self.bar_rects(cell, index).items():
            p = _prob(mood, scores, custom)
            p = None if p is None else max(0.0, min(1.0, p))
            pct = "" if p is None else f"{p:.0%}"
            pct_w = fm.horizontalAdvance(pct) + 4
            name = fm.elidedText(
                self.row_label(mood, p, bool(choice and mood in choice)),
                Qt.TextElideMode.ElideRight,
                int(label.width()) - pct_w - 2,
            )
            painter.setPen(PLATE_TEXT)
            align = Qt.AlignmentFlag.AlignVCenter
            painter.drawText(label, align | Qt.AlignmentFlag.AlignLeft, name)
            painter.drawText(label, align | Qt.AlignmentFlag.AlignRight, pct)
            painter.fillRect(track, TRACK)
            if p is None:
                continue
            color = mood_color(mood) if mood in INDEX else custom[mood][1]
            w = max(2.0, round(track.width() * p))
            bar = QRectF(round(track.x()), round(track.y()), w, ROW_H)
            painter.fillRect(bar, color)
            if contrast_ratio(color, PLATE) < 3.0 or mood == hover_mood:
                painter.setPen(QPen(PLATE_TEXT, 2 if mood == hover_mood else 1))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(bar.adjusted(0, 0, -1, -1))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)

    def _paint_badges(
        self, painter: QPainter, thumb: QRect, state: str, ambiguous: bool, chosen: bool
    ) -> None:
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        d = 18

        def badge(x: int, color: str, text: str) -> None:
            r = QRect(x, thumb.y() + 3, d, d)
            painter.setPen(QPen(QColor("white"), 1.5))
            painter.setBrush(QColor(color))
            painter.drawEllipse(r)
            painter.setPen(QColor("white"))
            painter.drawText(r, Qt.AlignmentFlag.AlignCenter, text)

        right = thumb.right() - d - 2
        if state == "failed":
            badge(right, STATE_COLORS["failed"], "!")
        elif state == "written":
            badge(right, STATE_COLORS["written"], "✓")
        elif state == "chosen":
            badge(right, STATE_COLORS["chosen"], "•")
        if ambiguous and not chosen:
            badge(thumb.x() + 3, STATE_COLORS["ambiguous"], "?")

    # -- tooltips per bar ---------------------------------------------------------------------------
    def helpEvent(self, event: QHelpEvent, view, option, index) -> bool:
        if event.type() == QEvent.Type.ToolTip and index.isValid():
            mood = self.bar_at(option.rect, event.pos(), index)
            if mood is not None:
                p = _prob(mood, index.data(Roles.MoodScoresRole), custom_probs(index))
                text = display_name(mood)
                if p is not None:
                    text += f" {p:.0%}"
                choice = index.data(Roles.ChoiceRole)
                if choice and mood in choice:
                    text += " (chosen)"
                QToolTip.showText(event.globalPos(), text, view)
                return True
        return super().helpEvent(event, view, option, index)
