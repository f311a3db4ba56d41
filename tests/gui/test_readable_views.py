"""Issue 26 item 5: the mood map spreads the library (library scale by default, the absolute
1-9 scale one click away), thumbnails never cover the region labels, and the why-map of an
unlikely mood says so in words. Real model, real catalog, real widgets (offscreen)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from moodtagger.core.moods import MOODS
from moodtagger.gui.models.photomodel import Roles

from .test_views import open_scanned
from .test_window import MODEL_TIMEOUT_MS


def spread(m) -> tuple[float, float]:
    """How much of the plot's width and height the points cover (their screen extent)."""
    sx, sy = m.to_screen(m.x, m.y)
    r = m.plot_rect()
    return float(np.ptp(sx)) / r.width(), float(np.ptp(sy)) / r.height()


def test_the_map_spreads_the_library_and_the_absolute_scale_is_one_click_away(
    qtbot, make_window, photo_folder
):
    win = open_scanned(qtbot, make_window, photo_folder)
    win.set_view("map")
    m = win.map
    qtbot.waitUntil(lambda: len(m.ids) == 6)
    valence = np.array(
        [win.model.index_of(int(i)).data(Roles.ValenceArousalRole)[0] for i in m.ids]
    )
    arousal = np.array(
        [win.model.index_of(int(i)).data(Roles.ValenceArousalRole)[1] for i in m.ids]
    )
    assert np.ptp(arousal) < 3.5  # the model's arousal of six photos: a clump in 1-9
    assert win.map_page.scale_button.isChecked() and m.relative  # the library's scale by default
    wide, high = spread(m)
    assert wide >= 0.7 and high >= 0.7, (wide, high)
    # the tooltip still says the model's values
    k = int(np.argmax(valence))
    assert f"valence {valence[k]:.1f}" in m._tooltip(int(m.ids[k]))
    qtbot.mouseClick(win.map_page.scale_button, Qt.MouseButton.LeftButton)  # one click
    assert not m.relative
    np.testing.assert_allclose(m.x, valence, atol=1e-5)  # the absolute 1-9 scale
    np.testing.assert_allclose(m.y, arousal, atol=1e-5)
    wide_abs, high_abs = spread(m)
    assert high_abs < high * 0.6, (high_abs, high)
    qtbot.mouseClick(win.map_page.scale_button, Qt.MouseButton.LeftButton)
    assert m.relative and spread(m) == (wide, high)


def test_thumbnails_never_cover_the_region_labels(qtbot):
    from moodtagger.gui.views.mapview import ANCHORS, MoodMap

    red = QImage(56, 56, QImage.Format.Format_RGB32)
    red.fill(QColor("#ff0000"))
    m = MoodMap()
    m.resize(900, 700)
    m.thumbnail_for = lambda _pid: red
    names = list(ANCHORS)
    vx = np.array([ANCHORS[n][0] for n in names] * 3, np.float32)
    vy = np.array([ANCHORS[n][1] for n in names] * 3, np.float32)
    vx[8:] += np.tile([0.2, -0.2], 8)  # more thumbnails around each label
    m.set_points(np.arange(24), vx, vy, np.zeros(24, np.int8))
    m.set_relative(False)
    m.show()
    qtbot.waitExposed(m)
    img = m.grab().toImage()
    boxes = m.label_rects()
    assert set(boxes) == set(ANCHORS)
    for mood, box in boxes.items():
        inner = box.adjusted(3, 3, -3, -3)
        coloured = 0
        for y in range(int(inner.top()), int(inner.bottom())):
            for x in range(int(inner.left()), int(inner.right())):
                c = QColor(img.pixel(x, y))
                coloured += (
                    max(c.red(), c.green(), c.blue()) - min(c.red(), c.green(), c.blue()) > 24
                )
        assert coloured == 0, (mood, coloured)  # only the plate and its text: no thumbnail


def test_the_why_map_of_an_unlikely_mood_says_so_in_words(qtbot, make_window, photo_folder):
    from moodtagger.gui.views.heatmap import LITTLE_EVIDENCE

    win = open_scanned(qtbot, make_window, photo_folder)
    win.grid.setCurrentIndex(win.proxy.index(0, 0))
    qtbot.waitUntil(lambda: win.detail.photo_id is not None)
    qtbot.waitUntil(
        lambda: win.detail._base is not None and win.detail._base.width() > 300, timeout=20_000
    )
    plain = win.detail.preview._image.copy()
    scores = win.proxy.index(0, 0).data(Roles.MoodScoresRole)
    low = MOODS[int(np.argmin(scores))]
    assert scores[MOODS.index(low)] < LITTLE_EVIDENCE
    win.detail.why_mood.setCurrentIndex(win.detail.why_mood.findData(low))
    win.detail.why_button.setChecked(True)
    qtbot.waitUntil(lambda: win.detail._why is not None, timeout=MODEL_TIMEOUT_MS)
    said = win.detail.why_status.text()
    name = low.capitalize()
    assert said.startswith(f"Little in this photo speaks for {name}"), said
    assert f"{scores[MOODS.index(low)]:.0%}" in said
    assert win.detail.preview._image == plain  # the photo as it is, not a blank dimmed frame
    top = MOODS[int(np.argmax(scores))]
    win.detail.why_mood.setCurrentIndex(win.detail.why_mood.findData(top))
    assert win.detail.why_status.text().startswith("Heat map: what speaks for")
    assert win.detail.preview._image != plain


def test_one_command_regenerates_the_screenshots(tmp_path):
    """`python -m moodtagger.gui.screenshots OUT` (docs/app.md): a synthetic demo library,
    the real window, model and exiftool; four PNGs."""
    import os
    import subprocess
    import sys

    out = tmp_path / "shots"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "moodtagger.gui.screenshots", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    sizes = {p.name: QImage(str(p)).size() for p in out.iterdir()}
    assert set(sizes) == {"folders.png", "grid.png", "map.png", "write.png"}
    assert sizes["grid.png"].width() >= 1400 and sizes["map.png"].width() >= 1400
    assert sizes["write.png"].width() >= 900 and sizes["folders.png"].height() >= 300
