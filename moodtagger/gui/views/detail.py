"""The detail panel (preview, full distribution, valence/arousal, keywords in the file, mood
toggles) and the full-size preview dialog (Space)."""

from __future__ import annotations

import os

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from moodtagger.core.moods import DISPLAY_ORDER, INDEX, POSITIVE, display_name
from moodtagger.gui.views.delegate import MOOD_COLORS, custom_mood_color, mood_color

PREVIEW_SIDE = 720


class ProbabilityBar(QWidget):
    def __init__(self, mood: str, parent: QWidget | None = None, color: QColor | None = None):
        super().__init__(parent)
        self.mood = mood
        self.color = color if color is not None else mood_color(mood)
        self.value: float | None = None
        self.setMinimumSize(60, 14)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_value(self, value: float | None) -> None:
        self.value = value
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0, 2, 0, -2)
        track = self.palette().color(QPalette.ColorRole.Mid)
        track.setAlpha(60)
        p.fillRect(r, track)
        if self.value is not None:
            p.fillRect(
                QRectF(r.x(), r.y(), r.width() * max(0.0, min(1.0, self.value)), r.height()),
                self.color,
            )
        p.end()


class PreviewLabel(QLabel):
    """Shows a QImage scaled to fit, sharp on high-DPI screens."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | None, placeholder: str = "") -> None:
        self._image = image if image is not None and not image.isNull() else None
        if self._image is None:
            self.setPixmap(QPixmap())
            self.setText(placeholder)
        else:
            self.setText("")
            self._rescale()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._image is None:
            return
        dpr = self.devicePixelRatioF()
        box = QSize(int(self.width() * dpr), int(self.height() * dpr))
        pm = QPixmap.fromImage(
            self._image.scaled(
                box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )
        pm.setDevicePixelRatio(dpr)
        self.setPixmap(pm)

    def sizeHint(self) -> QSize:
        return QSize(320, 240)


class DetailPanel(QWidget):
    """Shows the current photo (or a summary of the selection) and edits its choice."""

    moodToggled = Signal(str)  # the user clicked a mood toggle (applies to the selection)
    whyChanged = Signal()  # the why-map toggle or its mood changed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumWidth(260)
        layout = QVBoxLayout(self)
        self.preview = PreviewLabel()
        layout.addWidget(self.preview, 1)
        why_row = QHBoxLayout()
        self.why_button = QToolButton()
        self.why_button.setText("Why this mood?")
        self.why_button.setCheckable(True)
        self.why_button.setToolTip("Overlay a heat map of the regions that drive the mood (W)")
        self.why_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.why_button.toggled.connect(lambda _on: self._why_changed())
        self.why_mood = QComboBox()
        self.why_mood.addItem("chosen / top mood", "")
        for mood in DISPLAY_ORDER:
            self.why_mood.addItem(display_name(mood), mood)
        self.why_mood.setToolTip("Which mood's heat map to show")
        self.why_mood.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.why_mood.currentIndexChanged.connect(lambda _i: self._why_changed())
        self.why_status = QLabel("")
        self.why_status.setWordWrap(True)
        why_row.addWidget(self.why_button)
        why_row.addWidget(self.why_mood, 1)
        layout.addLayout(why_row)
        layout.addWidget(self.why_status)
        self._base: QImage | None = None
        self._why = None  # WhyResult for photo_id
        self._scores = None
        self._choice = None
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        layout.addWidget(self.title)
        self.path = QLabel()
        self.path.setWordWrap(True)
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.path)
        self.taken = QLabel()  # the capture date (set_taken)
        self.taken.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.taken)
        self.state = QLabel()
        self.state.setWordWrap(True)
        layout.addWidget(self.state)

        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        self.toggles: dict[str, QToolButton] = {}
        self.bars: dict[str, ProbabilityBar] = {}
        self.percent: dict[str, QLabel] = {}
        row = 0
        for k, mood in enumerate(DISPLAY_ORDER):
            if mood == DISPLAY_ORDER[len(POSITIVE)]:
                spacer = QLabel("")
                spacer.setFixedHeight(6)
                grid.addWidget(spacer, row, 0)
                row += 1
            btn = QToolButton()
            btn.setCheckable(True)
            btn.setText(f"{k + 1}  {display_name(mood)}")
            btn.setToolTip(f"Toggle {display_name(mood)} for the selected photos (key {k + 1})")
            btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            btn.setStyleSheet(
                f"QToolButton {{ border: 1px solid palette(mid); border-left: 6px solid {MOOD_COLORS[mood]}; "
                "border-radius: 2px; padding: 2px 6px; text-align: left; }"
                "QToolButton:checked { background: palette(highlight); color: palette(highlighted-text);"
                " font-weight: bold; }"
            )
            btn.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            btn.clicked.connect(lambda _checked=False, m=mood: self.moodToggled.emit(m))
            btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the grid
            bar = ProbabilityBar(mood)
            pct = QLabel("")
            pct.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            pct.setMinimumWidth(38)
            grid.addWidget(btn, row, 0)
            grid.addWidget(bar, row, 1)
            grid.addWidget(pct, row, 2)
            self.toggles[mood], self.bars[mood], self.percent[mood] = btn, bar, pct
            row += 1
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        self._mood_grid, self._custom_row = grid, row  # custom moods' rows go below the eight
        self.custom_names: tuple[str, ...] = ()
        self.va = QLabel()
        layout.addWidget(self.va)
        self.keywords = QLabel()
        self.keywords.setWordWrap(True)
        self.keywords.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.keywords)
        self.photo_id: int | None = None
        self.show_nothing()

    def set_custom_moods(self, names) -> None:
        """One toggle + bar per custom mood (issue 27) below the eight, in catalog order (keys 9
        and 0 for the first two); rebuilt when moods are added or removed."""
        names = tuple(names)
        if names == self.custom_names:
            return
        for old in self.custom_names:
            for w in (self.toggles.pop(old), self.bars.pop(old), self.percent.pop(old)):
                self._mood_grid.removeWidget(w)
                w.deleteLater()
        self.custom_names = names
        for j, name in enumerate(names):
            color = custom_mood_color(j)
            btn = QToolButton()
            btn.setCheckable(True)
            key = ("9", "0")[j] if j < 2 else ""
            btn.setText(f"{key or ' '}  {name}")
            btn.setToolTip(
                f"Toggle {name} for the selected photos" + (f" (key {key})" if key else "")
            )
            btn.setStyleSheet(
                "QToolButton { border: 1px solid palette(mid); "
                f"border-left: 6px solid {color.name()}; "
                "border-radius: 2px; padding: 2px 6px; text-align: left; }"
                "QToolButton:checked { background: palette(highlight); "
                "color: palette(highlighted-text); font-weight: bold; }"
            )
            btn.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            btn.clicked.connect(lambda _checked=False, m=name: self.moodToggled.emit(m))
            btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            bar = ProbabilityBar(name, color=color)
            pct = QLabel("")
            pct.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            pct.setMinimumWidth(38)
            row = self._custom_row + 1 + j  # one row left empty: a gap after the eight
            self._mood_grid.addWidget(btn, row, 0)
            self._mood_grid.addWidget(bar, row, 1)
            self._mood_grid.addWidget(pct, row, 2)
            self.toggles[name], self.bars[name], self.percent[name] = btn, bar, pct
        self._enable_toggles(self.photo_id is not None)

    # -- content ---------------------------------------------------------------------------------
    def show_nothing(self) -> None:
        self.photo_id = None
        self._base = self._why = self._scores = self._choice = None
        self.why_status.setText("")
        self.preview.set_image(None, "Select a photo")
        self.title.setText("")
        self.path.setText("")
        self.state.setText("")
        self.va.setText("")
        self.keywords.setText("")
        for mood in self.toggles:
            self._set_toggle(mood, Qt.CheckState.Unchecked)
            self.bars[mood].set_value(None)
            self.percent[mood].setText("")
        self._enable_toggles(False)

    def show_photo(
        self,
        photo_id: int,
        *,
        name: str,
        path: str,
        scores,
        choice,
        state: str,
        error: str | None,
        va,
        keywords: tuple[list[str], list[str]] | None,
        image: QImage | None,
        custom: dict[str, float | None] | None = None,
    ) -> None:
        """``custom``: the custom moods' probabilities (None: not learnt)."""
        new = photo_id != self.photo_id
        self.photo_id = photo_id
        self._scores, self._choice = scores, choice
        if new:
            self._why = None
            self.why_status.setText("")
        if new or image is not None:
            self._base = image if image is not None and not image.isNull() else None
            self._show_preview("loading…" if not error else "no preview")
        self.title.setText(name)
        folder = os.path.basename(os.path.dirname(path))
        self.path.setText(f"in {folder}" if folder else "")
        self.path.setToolTip(path)
        text = {
            "unconfirmed": "Suggestion only (not chosen yet)",
            "chosen": "Chosen, not written yet",
            "written": "Written to the file",
            "failed": "Problem",
        }.get(state, state)
        if error:
            text += f": {error}"
        if choice is not None:
            text += "\nChosen: " + (", ".join(display_name(m) for m in choice) or "no mood")
        self.state.setText(text)
        for mood in self.toggles:
            if mood in INDEX:
                p = None if scores is None else scores[INDEX[mood]]
            else:
                p = (custom or {}).get(mood)
            self.bars[mood].set_value(p)
            self.percent[mood].setText("" if p is None else f"{p:.0%}")
            self._set_toggle(
                mood,
                Qt.CheckState.Checked if choice and mood in choice else Qt.CheckState.Unchecked,
            )
        self.va.setText("" if va is None else f"Valence {va[0]:.1f} · Arousal {va[1]:.1f}  (1–9)")
        if keywords is None:
            self.keywords.setText("Keywords in the file: not read yet")
        else:
            kws, _moods = keywords
            self.keywords.setText("Keywords in the file: " + (", ".join(kws) if kws else "none"))
        self._enable_toggles(True)

    def set_taken(self, text: str) -> None:
        """The capture date line ("Taken 2021-06-15 23:30"; empty: none shown)."""
        self.taken.setText(f"Taken {text}" if text else "")
        self.taken.setToolTip(
            "The capture date, in the camera's local time (EXIF/XMP); a photo without one: "
            "its file time when first scanned, kept when the file is written"
            if text
            else ""
        )

    def set_preview(self, photo_id: int, image: QImage | None) -> None:
        if photo_id == self.photo_id and image is not None:
            self._base = image
            self._show_preview()

    # -- why this mood ------------------------------------------------------------------------------
    @property
    def why_on(self) -> bool:
        return self.why_button.isChecked()

    def why_target(self) -> str | None:
        """The mood whose heat map is shown: the one picked, else the first chosen, else the top."""
        picked = self.why_mood.currentData()
        if picked:
            return picked
        eight = [m for m in self._choice or () if m in INDEX]  # a custom mood has no why-map
        if eight:
            return eight[0]
        if self._scores is not None:
            return max(INDEX, key=lambda m: self._scores[INDEX[m]])
        return None

    def set_why(self, photo_id: int, result) -> None:
        if photo_id != self.photo_id:
            return
        self._why = result
        self._show_preview()

    def why_failed(self, photo_id: int, message: str) -> None:
        if photo_id == self.photo_id:
            self.why_status.setText(f"No heat map: {message}")

    def _why_changed(self) -> None:
        self._show_preview()
        self.whyChanged.emit()

    def _show_preview(self, placeholder: str = "loading…") -> None:
        image = self._base
        mood = self.why_target()
        if image is not None and self.why_on and self._why is not None and mood is not None:
            from moodtagger.gui.views.heatmap import compose, little_evidence

            p = float((self._scores if self._scores is not None else self._why.probs)[INDEX[mood]])
            if little_evidence(p):  # no map of noise: say it in words, show the photo as it is
                self.why_status.setText(
                    f"Little in this photo speaks for {display_name(mood)} "
                    f"(the model gives it {p:.0%}), so there is no heat map to show"
                )
            else:
                image = compose(image, self._why.map_for(mood), self._why.crop)
                self.why_status.setText(
                    f"Heat map: what speaks for {display_name(mood)} (dimmed: not seen)"
                )
        elif self.why_on and self.photo_id is not None:
            self.why_status.setText("Computing the heat map…")
        elif not self.why_on:
            self.why_status.setText("")
        self.preview.set_image(image, placeholder)

    def show_many(
        self, count: int, counts: dict[str, int], preds_mean: dict[str, float] | None
    ) -> None:
        """A multi-selection: how many photos have each mood chosen (toggles partially checked)."""
        self.photo_id = None
        self._base = self._why = None
        self.preview.set_image(None, f"{count} photos selected")
        self.title.setText(f"{count} photos selected")
        self.path.setText("Keys 1–8 or the buttons toggle a mood for all of them.")
        self.state.setText("")
        self.va.setText("")
        self.keywords.setText("")
        for mood in self.toggles:
            c = counts.get(mood, 0)
            st = (
                Qt.CheckState.Checked
                if c == count
                else Qt.CheckState.PartiallyChecked
                if c
                else Qt.CheckState.Unchecked
            )
            self._set_toggle(mood, st)
            p = None if preds_mean is None else preds_mean.get(mood)
            self.bars[mood].set_value(p)
            self.percent[mood].setText("" if p is None else f"⌀ {p:.0%}")
        self._enable_toggles(True)

    def _set_toggle(self, mood: str, state: Qt.CheckState) -> None:
        btn = self.toggles[mood]
        btn.setChecked(state == Qt.CheckState.Checked)
        font = btn.font()
        font.setItalic(state == Qt.CheckState.PartiallyChecked)
        btn.setFont(font)

    def _enable_toggles(self, on: bool) -> None:
        for btn in self.toggles.values():
            btn.setEnabled(on)


class PreviewDialog(QDialog):
    """A large preview; Space, Escape or Enter close it."""

    def __init__(self, title: str, image: QImage | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = PreviewLabel()
        self.label.set_image(image, "loading…")
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, QColor("#202020"))
        self.setPalette(pal)
        self.setAutoFillBackground(True)
        layout.addWidget(self.label)
        self.resize(1000, 750)

    def set_image(self, image: QImage | None) -> None:
        self.label.set_image(image, "no preview")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (
            Qt.Key.Key_Space,
            Qt.Key.Key_Escape,
            Qt.Key.Key_Return,
            Qt.Key.Key_Enter,
        ):
            self.accept()
            return
        super().keyPressEvent(event)
