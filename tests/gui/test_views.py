"""The views of issue 15: why-map, mood map, review sorts, search, comforts, quitting, undo after
a write. Real widgets (offscreen), real catalog, real model where it matters."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication

from moodtagger.core.moods import MOODS
from moodtagger.gui.models.photomodel import Roles

from .test_window import MODEL_TIMEOUT_MS, proxy_rows

MODEL_ID = "test-model"


def open_scanned(qtbot, make_window, folder):
    win = make_window()
    with qtbot.waitSignal(win.pipelineFinished, timeout=MODEL_TIMEOUT_MS):
        win.open_folder(str(folder))
    return win


# -- why this mood ------------------------------------------------------------------------------
def test_why_toggle_overlays_a_heat_map_that_changes_with_the_mood(
    qtbot, make_window, photo_folder
):
    win = open_scanned(qtbot, make_window, photo_folder)
    win.grid.setCurrentIndex(win.proxy.index(0, 0))
    qtbot.waitUntil(lambda: win.detail.photo_id is not None)
    pid = win.detail.photo_id
    qtbot.waitUntil(
        lambda: win.detail._base is not None and win.detail._base.width() > 300, timeout=20_000
    )
    plain = win.detail.preview._image.copy()
    win.grid.setFocus()
    qtbot.keyClick(win.grid, Qt.Key.Key_W)  # View → Why this mood? (W)
    assert win.detail.why_button.isChecked()
    qtbot.waitUntil(lambda: win.detail._why is not None, timeout=MODEL_TIMEOUT_MS)
    assert win.why.last_seconds is not None
    with_map = win.detail.preview._image.copy()
    assert with_map.size() == plain.size() and with_map != plain
    top = win.detail.why_target()
    assert top == win.model.index_of(pid).data(Roles.TopMoodRole)[0]
    assert top in win.detail.why_status.text().lower()
    scores = win.model.index_of(pid).data(Roles.MoodScoresRole)
    other = sorted(MOODS, key=lambda m: -scores[MOODS.index(m)])[1]  # likely enough for a map
    win.detail.why_mood.setCurrentIndex(win.detail.why_mood.findData(other))
    assert win.detail.preview._image != with_map  # another mood, another map (cached: instant)
    win.detail.why_button.setChecked(False)
    assert win.detail.preview._image == plain


def test_screenshot_with_why_map_and_mood_map(tmp_path, photo_folder):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    cat = str(tmp_path / "cat.sqlite3")
    target = sorted(photo_folder.iterdir())[2]
    shots = {}
    for name, extra in (("why", ["--select", str(target), "--why"]), ("map", ["--view", "map"])):
        shots[name] = tmp_path / f"{name}.png"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "moodtagger",
                "gui",
                str(photo_folder),
                "--catalog",
                cat,
                *extra,
                "--screenshot",
                str(shots[name]),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        img = QImage(str(shots[name]))
        assert not img.isNull() and img.width() >= 1200
    assert QImage(str(shots["why"])) != QImage(str(shots["map"]))


# -- mood map ---------------------------------------------------------------------------------------
@pytest.fixture
def big_window(qtbot, tmp_path, settings):
    from moodtagger.gui.window import MainWindow
    from moodtagger.testing import synthesize_catalog

    path = tmp_path / "big.sqlite3"
    synthesize_catalog(path, 100_000, MODEL_ID)
    win = MainWindow(str(path), settings, load_async=False, warm_up_model=False)
    win.confirm_quit = False
    win.model_id = MODEL_ID
    win.reload()
    win.resize(1300, 850)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def test_mood_map_draws_100k_points_interactively_and_selects(qtbot, big_window):
    win = big_window
    assert win.model.rowCount() == 100_000
    win.set_view("map")
    m = win.map
    assert len(m.ids) == 100_000
    times = []
    for k in range(8):  # pan and zoom, as a user would
        m.zoom(1.1 if k % 2 else 1 / 1.1)
        m.pan_pixels(7, -5)
        t0 = time.perf_counter()
        m.repaint()
        times.append((time.perf_counter() - t0) * 1000)
    assert np.median(times) < 150, times  # bench/bench_map.py: a few ms on a quiet CPU
    m.fit()
    # a rectangle drag over the centre selects exactly the points inside, in the grid too
    r = m.plot_rect()
    a = QPoint(int(r.center().x() - 60), int(r.center().y() - 40))
    b = QPoint(int(r.center().x() + 60), int(r.center().y() + 40))
    with qtbot.waitSignal(m.selected) as sig:
        qtbot.mousePress(m, Qt.MouseButton.LeftButton, pos=a)
        qtbot.mouseMove(m, b)
        qtbot.mouseRelease(m, Qt.MouseButton.LeftButton, pos=b)
    ids = set(sig.args[0].tolist())
    x0, y0 = m.to_data(QPointF(a))
    x1, y1 = m.to_data(QPointF(b))
    # the model's values there (the library's scale, by default, stretches the plane)
    x0, x1 = m.model_value(x0, 0), m.model_value(x1, 0)
    y0, y1 = m.model_value(y0, 1), m.model_value(y1, 1)
    rows = win.model.rows
    inside = (
        (rows.valence >= min(x0, x1))
        & (rows.valence <= max(x0, x1))
        & (rows.arousal >= min(y0, y1))
        & (rows.arousal <= max(y0, y1))
    )
    assert ids == set(rows.ids[inside].tolist()) and 50 < len(ids) < 100_000
    assert set(win.grid.selected_ids()) == ids
    # ... or filters the grid
    win.map_page.target.setCurrentIndex(win.map_page.target.findData("filter"))
    m.selected.emit(np.array(sorted(ids)[:10]))
    assert win.proxy.rowCount() == 10 and win.filters.only_button.isVisible()
    win.filters.only_button.click()
    assert win.proxy.rowCount() == 100_000


def test_lasso_selects_points_inside_the_polygon(qapp):
    from moodtagger.gui.views.mapview import points_in_polygon

    x = np.array([1.0, 5.0, 5.0, 8.0, 2.0])
    y = np.array([1.0, 5.0, 2.0, 8.0, 7.0])
    triangle = np.array([[0.0, 0.0], [9.0, 0.0], [0.0, 9.0]])  # below the line x + y = 9
    assert points_in_polygon(x, y, triangle).tolist() == [True, False, True, False, False]


# -- review queue, search ---------------------------------------------------------------------------
def test_review_sorts_ambiguity_and_disagreement(qapp, catalog, make_image, tmp_path):
    from moodtagger.core.catalog import Prediction
    from moodtagger.core.scanner import scan

    from .test_model import make_model

    def probs(**kw):
        rest = (1.0 - sum(kw.values())) / (len(MOODS) - len(kw))
        return Prediction(tuple(kw.get(m, rest) for m in MOODS), 5.0, 5.0)

    root = tmp_path / "lib"
    for i, n in enumerate("abcd"):
        make_image(f"{n}.jpg", seed=i, root=root)
    scan(catalog, [root])
    ids = {os.path.basename(p.path)[0]: p.id for p in catalog.photos.all()}
    catalog.predictions.save(
        MODEL_ID,
        [
            (ids["a"], probs(awe=0.8)),
            (ids["b"], probs(awe=0.40, fear=0.38)),
            (ids["c"], probs(fear=0.7)),
            (ids["d"], probs(sadness=0.5, awe=0.3)),
        ],
    )
    catalog.choices.set(ids["c"], ["fear"])  # agrees
    catalog.choices.set(
        ids["d"], ["awe"], state="written"
    )  # imported from the file: disagrees by 0.2
    catalog.choices.set(ids["a"], ["anger"])  # disagrees by 0.8 - p(anger)
    model, proxy = make_model(catalog)
    proxy.sort_by("ambiguity")
    assert [proxy.index(r, 0).data() for r in range(4)][:2] == ["b.jpg", "d.jpg"]  # gaps .02, .2
    proxy.sort_by("disagreement", descending=True)
    assert [proxy.index(r, 0).data() for r in range(4)] == ["a.jpg", "d.jpg", "b.jpg", "c.jpg"] or [
        proxy.index(r, 0).data() for r in range(3)
    ] == ["a.jpg", "d.jpg", "c.jpg"]


def test_search_finds_name_folder_and_keywords_in_the_file(qapp, catalog, make_image, tmp_path):
    from moodtagger.core.scanner import scan
    from moodtagger.gui.models.photomodel import Filter

    from .test_model import make_model

    make_image("IMG_0001.jpg", root=tmp_path / "holiday 2024")
    make_image("IMG_0002.jpg", seed=1, root=tmp_path / "work")
    make_image("beach.jpg", seed=2, root=tmp_path / "work")
    scan(catalog, [tmp_path])
    ids = {os.path.basename(p.path): p.id for p in catalog.photos.all()}
    catalog.file_keywords.set(ids["IMG_0002.jpg"], ["Sunset", "Family"], [])
    model, proxy = make_model(catalog)
    model.set_keywords(catalog.file_keywords.all())

    def shown(text):
        proxy.set_filter(Filter(text=text))
        return sorted(proxy.index(r, 0).data() for r in range(proxy.rowCount()))

    assert shown("beach") == ["beach.jpg"]
    assert shown("HOLIDAY") == ["IMG_0001.jpg"]
    assert shown("sunset") == ["IMG_0002.jpg"]
    assert shown("work family") == ["IMG_0002.jpg"]  # every word must match
    assert shown("nothing-like-this") == []


def test_write_dialog_offers_the_photos_shown(qtbot, make_window, photo_folder):
    win = open_scanned(qtbot, make_window, photo_folder)
    ids = [i.data(Roles.PhotoIdRole) for i in proxy_rows(win)]
    win.choices.set_moods(ids[:3], ["awe"])
    win.filters.search.setText(win.proxy.index(0, 0).data())  # only the first photo is shown
    qtbot.waitUntil(lambda: win.proxy.rowCount() == 1)
    assert win.writing.shown_pending_ids() == [ids[0]]
    dlg = win.writing.open_dialog()
    assert "Photos shown (1" in dlg.scope_shown.text() and "3 chosen" in dlg.scope_all.text()
    dlg.scope_shown.setChecked(True)
    assert dlg.photo_ids() == [ids[0]]
    qtbot.waitUntil(lambda: dlg._phase == "planned", timeout=60_000)
    assert dlg.table.topLevelItemCount() == 1
    dlg.close()
    # accepting everything above a threshold also stays inside what is shown
    n = win.choice_actions.accept_all_above(0.0)
    assert n == 0  # the one shown photo is chosen already
    win.filters.search.clear()
    qtbot.waitUntil(lambda: win.proxy.rowCount() == 6)


# -- comforts ---------------------------------------------------------------------------------------
def test_menu_bar_lists_the_keyboard_shortcuts(qtbot, make_window):
    win = make_window()
    titles = [a.text().replace("&", "") for a in win.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Help"]
    help_texts = [a.text() for a in win.menus["Help"].actions()]
    assert "Keyboard shortcuts" in help_texts
    win.acts.shortcuts.trigger()
    table = win.shortcuts.table
    rows = {
        table.topLevelItem(i).text(0): table.topLevelItem(i).text(1)
        for i in range(table.topLevelItemCount())
    }
    assert "1 … 8" in rows and "Enter" in rows and "Space" in rows
    assert any("Ctrl+Z" in k for k in rows) and any("Ctrl+2" in k for k in rows)
    win.shortcuts.close()


def _dark_palette() -> QPalette:
    pal = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, "#2b2b2b"),
        (QPalette.ColorRole.Base, "#1e1e1e"),
        (QPalette.ColorRole.AlternateBase, "#2b2b2b"),
        (QPalette.ColorRole.Text, "#eeeeee"),
        (QPalette.ColorRole.WindowText, "#eeeeee"),
        (QPalette.ColorRole.Highlight, "#3d6fb4"),
        (QPalette.ColorRole.HighlightedText, "#ffffff"),
        (QPalette.ColorRole.Mid, "#555555"),
    ):
        pal.setColor(role, QColor(color))
    return pal


SCORES = dict(
    sadness=0.45,
    anger=0.25,
    fear=0.12,
    disgust=0.06,
    awe=0.05,
    amusement=0.03,
    contentment=0.02,
    excitement=0.02,
)  # the top three are the palette's darkest colours: the hardest case on a dark plate


def paint_cell(palette: QPalette, selected: bool, thumb_size: int, choice=None) -> tuple:
    """One grid cell painted by the real delegate (the roles it reads, no window)."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

    from moodtagger.gui.views.delegate import PhotoDelegate

    class Index:  # the roles the delegate reads
        def __init__(self):
            self.values = {
                Roles.MoodScoresRole: tuple(SCORES[m] for m in MOODS),
                Roles.StateRole: "unconfirmed" if choice is None else "chosen",
                Roles.ChoiceRole: choice,
                Roles.PhotoIdRole: 1,
                Qt.ItemDataRole.DisplayRole: "x.jpg",
            }

        def data(self, role=Qt.ItemDataRole.DisplayRole):
            return self.values.get(role)

        def isValid(self):
            return True

    d = PhotoDelegate(thumb_size=thumb_size)
    size = d.cell_size()
    img = QImage(size, QImage.Format.Format_RGB32)
    img.fill(palette.color(QPalette.ColorRole.Base))
    opt = QStyleOptionViewItem()
    opt.rect = QRect(0, 0, size.width(), size.height())
    opt.palette = palette
    opt.state = QStyle.StateFlag.State_Enabled | (
        QStyle.StateFlag.State_Selected if selected else QStyle.StateFlag(0)
    )
    p = QPainter(img)
    index = Index()
    d.paint(p, opt, index)
    p.end()
    return d, QRect(opt.rect), img, index


def measure_bars(palette: QPalette, selected: bool, thumb_size: int = 160) -> dict:
    """Per shown bar, measured on the painted pixels: its thickness in px, its length in px,
    the contrast of the bar (the better of its fill and its edge) with the plate beside it,
    and the contrast of its label with the plate (WCAG formula)."""
    from moodtagger.gui.views.delegate import MOOD_COLORS, contrast_ratio

    d, cell, img, index = paint_cell(palette, selected, thumb_size)
    plate = d.plate_rect(cell)
    plate_px = QColor(img.pixel(int(plate.left()) + 2, int(plate.top()) + 2))
    out = {}
    for mood, (label, track) in d.bar_rects(cell, index).items():
        color = QColor(MOOD_COLORS[mood]).rgb()
        x = int(track.left()) + 3
        ys = [
            y
            for y in range(int(track.top()) - 2, int(track.bottom()) + 3)
            if img.pixel(x, y) == color
        ]
        y = int(track.center().y())
        xs = [
            x for x in range(int(track.left()), int(track.right()) + 1) if img.pixel(x, y) == color
        ]
        edge = QColor(img.pixel(int(track.left()), y))
        fill = QColor(color)
        beside = QColor(img.pixel(int(track.left()) - 3, y))  # the plate left of the bar
        text = [
            QColor(img.pixel(px, py))
            for px in range(int(label.left()), int(label.right()))
            for py in range(int(label.top()), int(label.bottom()))
        ]
        out[mood] = {
            "thickness": len(ys),
            "length": len(xs),
            "track": track.width(),
            "bar": max(contrast_ratio(fill, beside), contrast_ratio(edge, beside)),
            "label": max(contrast_ratio(c, plate_px) for c in text),
            "plate": plate_px,
        }
    return out


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("selected", [False, True])
def test_top_moods_read_at_a_glance_on_a_dark_opaque_plate(qapp, scheme, selected):
    """Issue 26.5: the top three moods as thick labelled bars on a dark opaque plate, the same
    in light and dark palettes and on the selection; measured on the painted pixels at the
    default thumbnail size."""
    from moodtagger.gui.settings import AppSettings
    from moodtagger.gui.views.delegate import relative_luminance

    pal = QApplication.palette() if scheme == "light" else _dark_palette()
    bars = measure_bars(pal, selected, AppSettings().thumb_size)
    assert list(bars) == ["sadness", "anger", "fear"]  # the top three, the likeliest first
    for mood, m in bars.items():
        assert relative_luminance(m["plate"]) < 0.03, m  # a dark plate
        assert m["thickness"] >= 12, (mood, m)  # thick bars
        assert m["bar"] >= 3.0, (mood, m)  # WCAG non-text contrast with the plate
        assert m["label"] >= 7.0, (mood, m)  # its name reads (WCAG AAA text contrast)
        assert abs(m["length"] - SCORES[mood] * m["track"]) <= 3, (mood, m)  # length = p
    assert len({m["plate"].rgb() for m in bars.values()}) == 1


def test_a_chosen_mood_is_shown_first_and_marked(qapp):
    from moodtagger.gui.views.delegate import PhotoDelegate

    d, cell, _img, index = paint_cell(QApplication.palette(), False, 160, choice=("awe",))
    assert list(d.bar_rects(cell, index)) == ["awe", "sadness", "anger"]
    assert PhotoDelegate.row_label("awe", 0.05, True).startswith("✓")


def test_hovering_a_bar_names_it(qtbot, make_window, photo_folder):
    win = open_scanned(qtbot, make_window, photo_folder)
    idx = win.proxy.index(0, 0)
    rect = win.grid.visualRect(idx)
    bars = win.delegate.bar_rects(rect, idx)
    mood = list(bars)[1]  # the second likeliest mood's bar
    qtbot.mouseMove(win.grid.viewport(), bars[mood][1].center().toPoint())
    qtbot.waitUntil(lambda: win.grid.hover_bar is not None)
    assert win.grid.hover_bar == (idx.data(Roles.PhotoIdRole), mood)
    p = idx.data(Roles.MoodScoresRole)[MOODS.index(mood)]
    assert win.delegate.hover_text(idx) == f"{mood.capitalize()} {p:.0%}"
    qtbot.mouseMove(
        win.grid.viewport(), QPoint(rect.center().x(), rect.top() + 20)
    )  # over the thumbnail
    qtbot.waitUntil(lambda: win.grid.hover_bar is None)


def test_opening_a_folder_selects_it_and_the_grid_fills_the_width(
    qtbot, make_window, photo_folder, tmp_path
):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copyfile(next(photo_folder.iterdir()), other / "x.jpg")
    win = make_window()
    with qtbot.waitSignal(win.pipelineFinished, timeout=MODEL_TIMEOUT_MS):
        win.open_folder(str(other))
    with qtbot.waitSignal(win.pipelineFinished, timeout=MODEL_TIMEOUT_MS):
        win.open_folder(str(photo_folder))
    assert win.folders.currentItem().text() == "photos"
    assert win.proxy.rowCount() == 6  # only the opened folder
    for width in (900, 1033, 1250):
        win.resize(width + 560, 800)
        qtbot.wait(20)
        vp = win.grid.viewport().width()
        top = win.grid.visualRect(win.proxy.index(0, 0)).top()
        first_row = [win.grid.visualRect(win.proxy.index(c, 0)) for c in range(6)]
        first_row = [r for r in first_row if r.top() == top]
        cols = (vp - 1) // win.grid.base_cell.width()
        if cols <= 6:
            assert len(first_row) == cols
            assert vp - first_row[-1].right() <= cols + 3, (
                vp,
                first_row[-1],
            )  # no empty band on the right


# -- quitting, undo after a write (issue 11) ----------------------------------------------------------
def _answer_quit_box(win, button_text: str):
    def click():
        box = win.writing.quit_box
        if box is None:
            QTimer.singleShot(20, click)
            return
        for b in box.buttons():
            if b.text().replace("&", "") == button_text:
                b.click()
                return

    QTimer.singleShot(20, click)


def test_quitting_with_unwritten_choices_asks_first(qtbot, make_window, photo_folder):
    win = open_scanned(qtbot, make_window, photo_folder)
    win.confirm_quit = True
    win.choices.set_moods([win.proxy.index(0, 0).data(Roles.PhotoIdRole)], ["awe"])
    _answer_quit_box(win, "Cancel")
    win.close()
    assert win.isVisible() and not win.closed  # still open, nothing lost
    _answer_quit_box(win, "Quit without writing")
    win.close()
    assert win.closed


def test_undo_after_a_write_makes_the_removal_pending(qtbot, make_window, photo_folder):
    from moodtagger.gui.dialogs.write import metadata_available

    assert metadata_available() and shutil.which("exiftool")
    win = open_scanned(qtbot, make_window, photo_folder)
    idx = win.proxy.index(0, 0)
    pid = idx.data(Roles.PhotoIdRole)
    win.grid.setCurrentIndex(idx)
    win.choice_actions.toggle_mood("awe")
    dlg = win.writing.open_dialog()
    qtbot.waitUntil(lambda: dlg._phase == "planned", timeout=60_000)
    with qtbot.waitSignal(dlg.written, timeout=60_000):
        dlg.write()
    dlg.close()
    assert win.catalog.choices.get(pid)[1] == "written"
    win.undo_stack.undo()  # the file still says Awe: the catalog must not pretend it does not
    choice = win.catalog.choices.get(pid)
    assert choice is not None and choice[0] == [] and choice[1] == "pending"
    assert win.model.index_of(pid).data(Roles.StateRole) == "chosen"
    assert win.writing.pending_count() == 1  # writing it removes Awe from the file
