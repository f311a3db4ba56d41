"""Issue 14 in the app: "More like this" as a grid filter, "Learn from my choices" and going
back to the shipped model.

Real photos (the ImageNet sample) with two bursts made from them (another crop, another
exposure), a real catalog scanned and predicted once by the real model with `moodtagger scan`,
and the window on a private copy of it. The app's answers are checked against the CLI's
(`similar`, `list`): both front ends call the same core functions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance
from PySide6.QtCore import Qt

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog
from moodtagger.core.library import Library
from moodtagger.core.moods import DISPLAY_ORDER, MOODS
from moodtagger.gui.models.photomodel import Roles

N_PHOTOS = 20
BURSTS = ("n0", "n1")  # photos that get two near-duplicates each
TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, imagenet_sample: Path) -> tuple[Path, Path]:
    """(photo folder, catalog): 20 sample photos + 2 bursts, scanned and predicted once."""
    base = tmp_path_factory.mktemp("gui-learn")
    lib = base / "lib"
    lib.mkdir()
    sources = sorted(imagenet_sample.glob("*.JPEG"))[:: 1000 // N_PHOTOS][:N_PHOTOS]
    for i, src in enumerate(sources):
        shutil.copyfile(src, lib / f"n{i}.jpg")
    for name in BURSTS:
        with Image.open(lib / f"{name}.jpg") as im:
            im = im.convert("RGB")
            w, h = im.size
            im.crop((0, 0, int(w * 0.85), int(h * 0.85))).save(lib / f"{name}-crop.jpg", quality=90)
            ImageEnhance.Brightness(im).enhance(1.4).save(lib / f"{name}-bright.jpg", quality=90)
    db = base / "catalog.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOODTAGGER_CACHE", str(base / "cache"))
        assert main(["scan", "-q", "--device", "cpu", "--catalog", str(db), str(lib)]) == 0
    return lib, db


@pytest.fixture
def lib(library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A private copy of the catalog and a private folder for personal models."""
    folder, db = library
    copy = tmp_path / "catalog.sqlite3"
    shutil.copyfile(db, copy)
    monkeypatch.setenv("MOODTAGGER_PERSONAL_MODELS", str(tmp_path / "models"))
    return folder, copy


@pytest.fixture
def window(qtbot, make_window, lib):
    win = make_window(lib[1])
    qtbot.waitUntil(lambda: win.loaded, timeout=20_000)
    assert win.model.rowCount() == N_PHOTOS + 2 * len(BURSTS)
    return win


def shown_names(win) -> list[str]:
    return [win.proxy.index(r, 0).data() for r in range(win.proxy.rowCount())]


def tops(win) -> dict[str, str]:
    out = {}
    for r in range(win.model.rowCount()):
        idx = win.model.index(r, 0)
        out[idx.data()] = idx.data(Roles.TopMoodRole)[0]
    return out


def cli(capsys, *argv: str):
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def select(win, *names: str) -> list[int]:
    ids = [
        win.catalog.photos.by_path(str(Path(win.model.rows.paths[0]).parent / n)).id for n in names
    ]
    win.grid.select_ids(ids)
    return ids


# -- more like this -------------------------------------------------------------------------------


def test_more_like_this_filters_the_grid_most_similar_first_and_clears(qtbot, window, lib, capsys):
    win = window
    folder, db = lib
    win.filters.sort_by("top", True)
    select(win, "n0.jpg")
    win.like_this.k = 5
    with qtbot.waitSignal(win.similar.found, timeout=30_000):
        win.acts.similar.trigger()  # the menu action (key M)

    # the selection first, then the CLI's `similar` answer, in its order
    want = [
        Path(h["path"]).name
        for h in cli(
            capsys, "similar", str(folder / "n0.jpg"), "-n", "5", "--json", "--catalog", str(db)
        )
    ]
    assert shown_names(win) == ["n0.jpg", *want]
    assert set(want[:2]) == {"n0-crop.jpg", "n0-bright.jpg"}  # the burst first
    assert (
        win.filters.only_button.isVisible() and "Like n0.jpg: 5" in win.filters.only_button.text()
    )
    assert win.filters.sort_combo.currentData() == "similarity"
    assert "5 photos like n0.jpg" in win.status_label.text()

    # it is a filter like the others: a mood filter narrows it further
    mood = win.proxy.index(1, 0).data(Roles.TopMoodRole)[0]
    win.filters.mood_buttons[mood].setChecked(True)
    assert 1 <= win.proxy.rowCount() <= 6
    assert all(i in ["n0.jpg", *want] for i in shown_names(win))
    win.filters.mood_buttons[mood].setChecked(False)

    # clearing it shows every photo again, in the order chosen before
    qtbot.mouseClick(win.filters.only_button, Qt.MouseButton.LeftButton)
    assert win.proxy.rowCount() == N_PHOTOS + 2 * len(BURSTS)
    assert not win.filters.only_button.isVisible() and win.like_this.result is None
    assert win.model.sort_key == ("top", True) and win.filters.sort_combo.findData("similarity") < 0

    # two photos of different scenes: both scenes' near-duplicates
    select(win, "n0.jpg", "n1.jpg")
    win.like_this.k = 4
    with qtbot.waitSignal(win.similar.found, timeout=30_000):
        win.more_like_this()
    names = shown_names(win)
    assert set(names[:2]) == {"n0.jpg", "n1.jpg"}
    assert set(names[2:]) == {f"{n}-{v}.jpg" for n in BURSTS for v in ("crop", "bright")}

    # a selection on the mood map (as a filter) takes its place
    win.filtering.set_only_ids(select(win, "n5.jpg", "n6.jpg"))
    assert sorted(shown_names(win)) == ["n5.jpg", "n6.jpg"] and win.like_this.result is None
    assert "Map selection: 2" in win.filters.only_button.text()
    assert win.model.sort_key == ("top", True) and win.filters.sort_combo.findData("similarity") < 0


def test_more_like_this_without_embeddings_says_why(qtbot, window):
    win = window
    win.catalog.conn.execute("DELETE FROM embeddings")
    select(win, "n3.jpg")
    with qtbot.waitSignal(win.similar.failed, timeout=30_000):
        win.more_like_this()
    assert "no embedding" in win.status_label.text()
    assert win.proxy.rowCount() == N_PHOTOS + 2 * len(BURSTS)


# -- learn from my choices ------------------------------------------------------------------------


def _least_likely(win, *names: str) -> str:
    rows = {
        win.model.index(r, 0).data(): win.model.index(r, 0).data(Roles.MoodScoresRole)
        for r in range(win.model.rowCount())
    }
    return MOODS[int(np.argmin(np.sum([rows[n] for n in names], axis=0)))]


def test_learn_from_my_choices_then_back_to_the_shipped_model(
    qtbot, window, lib, capsys, make_image
):
    win = window
    folder, db = lib
    shipped = tops(win)
    base = win.model_id
    assert not win.acts.unlearn.isEnabled()

    # the user picks, with the number keys, a mood the model does not suggest for a burst
    mood = _least_likely(win, "n0.jpg", "n0-crop.jpg", "n0-bright.jpg")
    select(win, "n0.jpg")
    win.grid.setFocus()
    qtbot.keyClick(win.grid, Qt.Key(int(Qt.Key.Key_1) + DISPLAY_ORDER.index(mood)))
    assert win.catalog.choices.get(win.grid.selected_ids()[0])[0] == [mood]

    with qtbot.waitSignal(win.learnFinished, timeout=TIMEOUT_MS) as done:
        win.acts.learn.trigger()
        assert win.busy  # it runs on the library lane; the window keeps working meanwhile
        assert win.grid.model() is win.proxy and win.proxy.rowCount() == N_PHOTOS + 2 * len(BURSTS)
    summary = done.args[0]
    assert summary is not None and win.model_id == summary.model_id != base
    learnt = tops(win)
    assert learnt["n0-crop.jpg"] == mood and learnt["n0-bright.jpg"] == mood  # the burst follows
    # the app shows what the CLI lists (same catalog, same model in use)
    listed = {
        Path(r["path"]).name: r["mood"] for r in cli(capsys, "list", "--json", "--catalog", str(db))
    }
    assert listed == learnt
    changed = sum(learnt[n] != shipped[n] for n in shipped)
    assert changed == summary.changed >= 2
    # the summary: how many changed and to what, with the way back
    box = win.learning.box
    assert box is not None and box.isVisible()
    assert f"{changed} suggestion" in box.text() and "changed" in box.text()
    assert f"{mood.capitalize()}: " in box.informativeText()
    assert win.acts.unlearn.isEnabled()

    # a photo scanned afterwards gets the suggestion of the model in use, batch by batch
    make_image("late.jpg", root=folder.parent / "more", size=(320, 240), seed=3)
    with qtbot.waitSignal(win.pipelineFinished, timeout=TIMEOUT_MS):
        win.open_folder(str(folder.parent / "more"))
    late = win.model.index_of(
        win.catalog.photos.by_path(str(folder.parent / "more" / "late.jpg")).id
    )
    with Catalog(db) as cat:
        assert cat.models_in_use.get(base) == win.model_id
        personal = Library(cat).rows([late.data(Roles.PhotoIdRole)]).probs[0]
        shipped_p = cat.predictions.probs_for(base, [late.data(Roles.PhotoIdRole)])[0]
    assert np.allclose(late.data(Roles.MoodScoresRole), personal, atol=1e-6)
    assert not np.allclose(
        personal, shipped_p, atol=1e-6
    )  # (so the check above can tell them apart)

    # back to the shipped model, from the summary's button
    with qtbot.waitSignal(win.learnFinished, timeout=TIMEOUT_MS) as done:
        qtbot.mouseClick(win.learning.back_button, Qt.MouseButton.LeftButton)
    assert done.args[0].changed >= 2 and win.model_id == base
    assert {n: t for n, t in tops(win).items() if n in shipped} == shipped
    assert "Back to the shipped model" in win.status_label.text()
    assert not win.acts.unlearn.isEnabled()
    with Catalog(db) as cat:
        assert cat.models_in_use.get(base) is None


def test_accepting_suggestions_teaches_nothing(qtbot, window):
    """Enter accepts the model's suggestion: that is not the user's taste, so learning (like
    `moodtagger learn`) finds no choice to learn from and says so."""
    win = window
    select(win, "n2.jpg")
    qtbot.keyClick(win.grid, Qt.Key.Key_Return)
    pid = win.catalog.photos.by_path(str(Path(win.model.rows.paths[0]).parent / "n2.jpg")).id
    assert win.catalog.choices.get(pid)[1] == "pending"
    assert win.catalog.choices.labelled() == []
    with qtbot.waitSignal(win.learnFinished, timeout=TIMEOUT_MS) as done:
        win.learning.learn()
    assert done.args[0] is None
    assert "no chosen moods" in win.learning.box.text()
    win.learning.box.close()


def test_a_damaged_personal_model_shows_the_shipped_suggestions_in_the_app(
    qtbot, make_window, lib, capsys, make_image
):
    """Issue 24: the personal model's file truncated after `learn`. The app opens, scans a new
    photo without an error dialog, shows the shipped model's suggestions (the new photo's too)
    and says in its status line which file cannot be used and what to run."""
    folder, db = lib
    assert (
        main(["choose", "-q", "--mood", "fear", "--catalog", str(db), str(folder / "n0.jpg")]) == 0
    )
    summary = cli(capsys, "learn", "--json", "--catalog", str(db))
    models = Path(db).parent / "models"
    npz = models / f"{summary['model']}.npz"
    npz.write_bytes(npz.read_bytes()[:100])

    win = make_window(db)
    qtbot.waitUntil(lambda: win.loaded, timeout=20_000)
    base = summary["parent"]
    assert win.model_id == base
    make_image("late.jpg", root=folder.parent / "more-damaged", size=(320, 240), seed=5)
    with qtbot.waitSignal(win.pipelineFinished, timeout=TIMEOUT_MS):
        win.open_folder(str(folder.parent / "more-damaged"))
    assert str(npz) in win.status_label.text() and "moodtagger learn" in win.status_label.text()
    pid = win.catalog.photos.by_path(str(folder.parent / "more-damaged" / "late.jpg")).id
    with Catalog(db) as cat:
        shipped = cat.predictions.probs_for(base, [pid])[0]
    assert not np.isnan(shipped).any()
    assert np.allclose(win.model.index_of(pid).data(Roles.MoodScoresRole), shipped, atol=1e-6)
