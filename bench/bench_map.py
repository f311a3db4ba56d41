"""Mood map frame time at 100,000 points (issue 15: "100,000 points stay interactive").

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_map.py [--n 100000]

A synthetic catalog (``moodtagger.testing``: random predictions, valence and arousal) is opened in
the main window, the mood map is shown at 1000x700 and 30 frames are drawn while panning and
zooming as a user would (each frame: ``repaint()``, the whole paint path). Baseline in the same
run: the naive way, a QPainter ``drawEllipse`` per point (what a QGraphicsScene or a plain
paintEvent loop does) for the same points, one frame.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_TMP = tempfile.mkdtemp(prefix="mt-bench-map-")
os.environ["MOODTAGGER_SETTINGS"] = os.path.join(_TMP, "settings.ini")

from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from moodtagger.gui.views.delegate import MOOD_COLORS
    from moodtagger.gui.window import MainWindow
    from moodtagger.testing import synthesize_catalog

    cat = os.path.join(_TMP, "map.sqlite3")
    synthesize_catalog(cat, args.n, "bench-model")
    win = MainWindow(cat, load_async=False, warm_up_model=False)
    win.confirm_quit = False
    win.model_id = "bench-model"
    win.reload()
    win.show()
    win.set_view("map")
    m = win.map
    m.resize(1000, 700)
    app.processEvents()
    assert len(m.ids) == args.n, len(m.ids)
    whole = []  # panning with every point in view
    for k in range(15):
        m.pan_pixels(4 if k % 2 else -4, 3 if k % 2 else -3)
        t0 = time.perf_counter()
        m.repaint()
        whole.append((time.perf_counter() - t0) * 1000)
        assert m.visible_count > 0.9 * args.n
    times = []
    for k in range(30):
        if k % 3 == 0:
            m.zoom(1.15 if k < 15 else 1 / 1.15, QPointF(500, 350))
        else:
            m.pan_pixels(9, -6)
        t0 = time.perf_counter()
        m.repaint()
        times.append((time.perf_counter() - t0) * 1000)
    m.fit()
    t0 = time.perf_counter()
    m.repaint()
    full = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    ids = m.ids_in_lasso(
        [QPointF(300, 200), QPointF(700, 220), QPointF(650, 500), QPointF(320, 480)]
    )
    lasso_ms = (time.perf_counter() - t0) * 1000

    # baseline: one ellipse per point with QPainter
    img = QImage(1000, 700, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QColor("white"))
    sx, sy = m.to_screen(m.x, m.y)
    colors = [QColor(c) for c in MOOD_COLORS.values()]
    t0 = time.perf_counter()
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setPen(Qt.PenStyle.NoPen)
    for i, (x, y) in enumerate(zip(sx.tolist(), sy.tolist(), strict=True)):
        p.setBrush(colors[i % 8])
        p.drawEllipse(QRectF(x - 1.5, y - 1.5, 3, 3))
    p.end()
    naive = (time.perf_counter() - t0) * 1000
    med = statistics.median(whole)
    print(f"points: {args.n:,}")
    print(
        f"mood map frame, all points in view (pan, 15 frames): median {med:.1f} ms, max {max(whole):.1f} ms "
        f"(~{1000 / med:.0f} frames/s)"
    )
    print(
        f"mood map frame while zooming in and out (30 frames): median {statistics.median(times):.1f} ms, "
        f"max {max(times):.1f} ms"
    )
    print(
        f"whole plane frame: {full:.1f} ms; lasso selection of {len(ids):,} points: {lasso_ms:.1f} ms"
    )
    print(
        f"baseline, one QPainter ellipse per point: {naive:.0f} ms per frame -> {naive / med:.0f}x slower"
    )
    win.close()


if __name__ == "__main__":
    main()
