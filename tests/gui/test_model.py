"""The grid model and filter proxy, tested without a window (real catalog, real files)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QUndoStack

from moodtagger.core.catalog import Prediction
from moodtagger.core.library import Library
from moodtagger.core.moods import MOODS
from moodtagger.core.rows import load_rows
from moodtagger.core.scanner import scan
from moodtagger.gui.controllers.choices import ChoiceController
from moodtagger.gui.models.photomodel import Filter, PhotoModel, PhotoProxy, Roles

MODEL_ID = "test-model"


def probs(**kw: float) -> Prediction:
    """A distribution with the given moods, the rest shared equally."""
    rest = (1.0 - sum(kw.values())) / (len(MOODS) - len(kw))
    return Prediction(tuple(kw.get(m, rest) for m in MOODS), 5.0, 4.0)


@pytest.fixture
def library(catalog, make_image, tmp_path):
    """Five scanned photos with known predictions, one unreadable file, one without prediction."""
    root = tmp_path / "lib"
    for i, name in enumerate(["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"]):
        make_image(name, seed=i, root=root)
    (root / "broken.jpg").write_bytes(b"not a jpeg at all")
    scan(catalog, [root])
    ids = {p.path.rsplit("/", 1)[1]: p.id for p in catalog.photos.all()}
    catalog.predictions.save(
        MODEL_ID,
        [
            (ids["a.jpg"], probs(awe=0.80)),
            (ids["b.jpg"], probs(awe=0.40, fear=0.35)),  # ambiguous: gap 0.05
            (ids["c.jpg"], probs(sadness=0.60)),
            (ids["d.jpg"], probs(contentment=0.55)),
            (ids["e.jpg"], probs(fear=0.30, anger=0.28)),  # ambiguous
        ],
    )
    return ids


def make_model(catalog) -> tuple[PhotoModel, PhotoProxy]:
    model = PhotoModel()
    model.thumbnails_enabled = False
    model.set_rows(load_rows(catalog, MODEL_ID))
    proxy = PhotoProxy()
    proxy.setSourceModel(model)
    return model, proxy


def shown_names(proxy: PhotoProxy) -> list[str]:
    return [proxy.index(r, 0).data() for r in range(proxy.rowCount())]


def test_rows_and_roles(qapp, catalog, library):
    model, _ = make_model(catalog)
    assert model.rowCount() == 7
    a = model.index_of(library["a.jpg"])
    assert a.data() == "a.jpg"
    scores = a.data(Roles.MoodScoresRole)
    assert scores[MOODS.index("awe")] == pytest.approx(0.80, abs=1e-6)
    assert a.data(Roles.TopMoodRole)[0] == "awe"
    assert a.data(Roles.StateRole) == "unconfirmed"
    assert a.data(Roles.AmbiguousRole) is False
    assert a.data(Roles.ValenceArousalRole) == (5.0, 4.0)
    assert model.index_of(library["b.jpg"]).data(Roles.AmbiguousRole) is True
    f = model.index_of(library["f.jpg"])
    assert f.data(Roles.MoodScoresRole) is None and f.data(Roles.TopMoodRole) is None
    broken = model.index_of(library["broken.jpg"])
    assert broken.data(Roles.StateRole) == "failed"
    assert broken.data(Roles.ErrorRole)
    assert "a.jpg" in a.data(Roles.PathRole)


def test_filter_by_moods_min_probability_state_and_ambiguity(qapp, catalog, library):
    model, proxy = make_model(catalog)
    proxy.set_filter(Filter(moods=frozenset({"awe"})))
    assert shown_names(proxy) == ["a.jpg", "b.jpg"]
    proxy.set_filter(Filter(moods=frozenset({"awe"}), min_prob=0.5))
    assert shown_names(proxy) == ["a.jpg"]
    proxy.set_filter(Filter(moods=frozenset({"sadness", "contentment"})))
    assert shown_names(proxy) == ["c.jpg", "d.jpg"]
    proxy.set_filter(Filter(min_prob=0.58))
    assert shown_names(proxy) == ["a.jpg", "c.jpg"]
    proxy.set_filter(Filter(ambiguous_only=True))
    assert shown_names(proxy) == ["b.jpg", "e.jpg"]
    proxy.set_filter(Filter(states=frozenset({"failed"})))
    assert shown_names(proxy) == ["broken.jpg"]
    proxy.set_filter(Filter())
    assert proxy.rowCount() == 7


def test_choice_overrides_suggestion_in_filters_and_is_undoable(qapp, catalog, library):
    model, proxy = make_model(catalog)
    stack = QUndoStack()
    ctl = ChoiceController(lambda: Library(catalog, MODEL_ID), model, stack)
    proxy.set_filter(Filter(moods=frozenset({"fear"})))
    assert shown_names(proxy) == ["e.jpg"]
    ctl.toggle([library["a.jpg"]], "fear")  # the user says: a is fearful, whatever the model thinks
    assert shown_names(proxy) == ["a.jpg", "e.jpg"]  # the live filter follows the choice
    assert catalog.choices.get(library["a.jpg"]) == (["fear"], "pending", None)
    assert model.index_of(library["a.jpg"]).data(Roles.StateRole) == "chosen"
    proxy.set_filter(Filter(states=frozenset({"chosen"})))
    assert shown_names(proxy) == ["a.jpg"]
    stack.undo()
    assert catalog.choices.get(library["a.jpg"]) is None
    assert model.index_of(library["a.jpg"]).data(Roles.ChoiceRole) is None
    assert proxy.rowCount() == 0
    stack.redo()
    assert catalog.choices.get(library["a.jpg"]) == (["fear"], "pending", None)
    # toggling a mood on a multi-selection: added to all, then removed from all
    ids = [library["a.jpg"], library["b.jpg"]]
    ctl.toggle(ids, "awe")
    assert model.index_of(library["a.jpg"]).data(Roles.ChoiceRole) == ("awe", "fear")
    assert model.index_of(library["b.jpg"]).data(Roles.ChoiceRole) == ("awe",)
    ctl.toggle(ids, "awe")
    assert model.index_of(library["b.jpg"]).data(Roles.ChoiceRole) == ()
    assert stack.count() == 3


def test_accept_all_above_threshold_leaves_chosen_and_low_photos_alone(qapp, catalog, library):
    model, proxy = make_model(catalog)
    ctl = ChoiceController(lambda: Library(catalog, MODEL_ID), model, QUndoStack())
    ctl.toggle([library["c.jpg"]], "awe")
    n = ctl.accept_top(proxy.visible_ids(), min_prob=0.5, only_unconfirmed=True)
    assert n == 2  # a (awe .80), d (contentment .55); c was chosen by the user
    assert catalog.choices.get(library["a.jpg"])[0] == ["awe"]
    assert catalog.choices.get(library["d.jpg"])[0] == ["contentment"]
    assert catalog.choices.get(library["c.jpg"])[0] == ["awe"]
    assert catalog.choices.get(library["b.jpg"]) is None
    ctl.undo_stack.undo()
    assert catalog.choices.get(library["a.jpg"]) is None


def test_sort_by_mood_date_and_name_keeps_selection_rows(qapp, catalog, library):
    model, proxy = make_model(catalog)
    proxy.sort_by("awe", descending=True)
    assert shown_names(proxy)[:2] == ["a.jpg", "b.jpg"]
    proxy.sort_by("sadness", descending=True)
    assert shown_names(proxy)[0] == "c.jpg"
    proxy.sort_by("top", descending=True)
    assert shown_names(proxy)[0] == "a.jpg"
    proxy.sort_by("name", descending=True)
    assert shown_names(proxy)[0] == "f.jpg"
    proxy.sort_by("date")  # the capture date (here: the file time first seen), not the mtime
    mt = [
        model.rows.taken[model.row_of(proxy.index(r, 0).data(Roles.PhotoIdRole))]
        for r in range(proxy.rowCount())
    ]
    assert mt == sorted(mt)
    # a row id keeps pointing at the same photo after sorting
    for pid in library.values():
        assert model.index_of(pid).data(Roles.PhotoIdRole) == pid


def test_merge_announces_only_changed_rows_and_roles(qapp, catalog, library):
    model, proxy = make_model(catalog)
    changes: list[tuple[int, int, list[int]]] = []
    model.dataChanged.connect(lambda a, b, roles: changes.append((a.row(), b.row(), list(roles))))
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, a, b: inserted.append((a, b)))
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))

    catalog.predictions.save(MODEL_ID, [(library["f.jpg"], probs(amusement=0.9))])
    model.merge(load_rows(catalog, MODEL_ID))  # every row re-read, only f changed
    row_f = model.row_of(library["f.jpg"])
    assert [(a, b) for a, b, _ in changes] == [(row_f, row_f)]
    assert int(Roles.MoodScoresRole) in changes[0][2]
    assert int(Roles.ThumbnailRole) not in changes[0][2]
    assert not inserted and not resets
    assert model.index_of(library["f.jpg"]).data(Roles.TopMoodRole)[0] == "amusement"

    # the proxy re-filters the changed row live
    proxy.set_filter(Filter(moods=frozenset({"amusement"})))
    assert shown_names(proxy) == ["f.jpg"]


def test_merge_appends_new_photos_and_remove_drops_missing(
    qapp, catalog, library, make_image, tmp_path
):
    model, proxy = make_model(catalog)
    make_image("g.jpg", seed=10, root=tmp_path / "lib")
    scan(catalog, [tmp_path / "lib"])
    before = model.max_id()
    model.merge(load_rows(catalog, MODEL_ID, after_id=before))
    assert model.rowCount() == 8 and proxy.rowCount() == 8
    model.remove_ids([library["a.jpg"], library["c.jpg"]])
    assert model.rowCount() == 6
    assert model.row_of(library["a.jpg"]) is None
    assert model.index_of(library["d.jpg"]).data() == "d.jpg"


def test_thumbnail_role_asks_once_then_serves_the_image(qapp, catalog, library):
    from PySide6.QtGui import QImage

    model, _ = make_model(catalog)
    model.thumbnails_enabled = True
    asked: list[int] = []
    model.thumbnailWanted.connect(lambda pid, path, ident: asked.append(pid))
    idx = model.index_of(library["a.jpg"])
    assert idx.data(Roles.ThumbnailRole) is None
    assert idx.data(Roles.ThumbnailRole) is None
    assert asked == [library["a.jpg"]]
    changed: list[list[int]] = []
    model.dataChanged.connect(lambda a, b, roles: changed.append(list(roles)))
    img = QImage(8, 8, QImage.Format.Format_RGB888)
    model.set_thumbnails({library["a.jpg"]: img})
    assert changed == [[int(Roles.ThumbnailRole)]]
    assert idx.data(Roles.ThumbnailRole) == img
    # unreadable files never ask
    assert model.index_of(library["broken.jpg"]).data(Roles.ThumbnailRole) is None
    assert library["broken.jpg"] not in asked


def test_hundred_thousand_rows_load_and_filter(qapp, tmp_path):
    """A 100,000-photo catalog opens into the model and filters (its speed: bench/bench_gui.py)."""
    from moodtagger.core.catalog import Catalog
    from moodtagger.testing import synthesize_catalog

    path = tmp_path / "big.sqlite3"
    synthesize_catalog(path, 100_000, MODEL_ID)
    with Catalog(path) as cat:
        model, proxy = make_model(cat)
    assert model.rowCount() == 100_000 == proxy.rowCount()
    proxy.set_filter(Filter(moods=frozenset({"awe", "fear"}), min_prob=0.3))
    assert 0 < proxy.rowCount() < 100_000
    top = np.array(
        [proxy.index(r, 0).data(Roles.TopMoodRole)[0] for r in range(min(200, proxy.rowCount()))]
    )
    assert set(top) <= {"awe", "fear"}


def test_enter_on_a_photo_changed_on_disk_is_refused_like_the_cli_accept(
    qapp, catalog, library, make_image, tmp_path
):
    """Issue 25: the GUI's accept goes through the Library's accept rule. A file changed on
    disk since the scan keeps no choice made on the old picture's prediction (as
    ``moodtagger accept`` skips it); the others are accepted, and undo still works."""
    model, proxy = make_model(catalog)
    ctl = ChoiceController(lambda: Library(catalog, MODEL_ID), model, QUndoStack())
    a, c = library["a.jpg"], library["c.jpg"]
    make_image("a.jpg", seed=99, root=tmp_path / "lib")  # another picture under the same name
    n = ctl.accept_top([a, c])  # Enter on a selection of two
    assert n == 1
    assert catalog.choices.get(a) is None  # not accepted on the old picture's prediction
    assert model.index_of(a).data(Roles.ChoiceRole) is None
    assert catalog.choices.get(c) == (["sadness"], "pending", None)
    # accept-all skips it too
    assert ctl.accept_top(proxy.visible_ids(), min_prob=0.5, only_unconfirmed=True) == 1  # d
    assert catalog.choices.get(a) is None
    ctl.undo_stack.undo()
    ctl.undo_stack.undo()
    assert catalog.choices.get(c) is None


def test_enter_on_a_photo_written_with_its_top_mood_changes_nothing(qapp, catalog, library):
    """Issue 26.4: Enter on a photo whose file already has its top mood is no change (it stays
    written; no undo step, nothing to write), by the Library's one accept rule; another
    choice is still replaced by Enter."""
    from moodtagger.core.choices import suggested_mood

    model, _proxy = make_model(catalog)
    ctl = ChoiceController(lambda: Library(catalog, MODEL_ID), model, QUndoStack())
    a, c = library["a.jpg"], library["c.jpg"]
    catalog.choices.set(a, ["awe"], source="model")  # a's top mood, written into its file
    catalog.choices.mark(a, "written")
    catalog.choices.set(c, ["awe"])  # not c's top mood (sadness)
    catalog.choices.mark(c, "written")
    model.set_rows(load_rows(catalog, MODEL_ID))
    assert ctl.accept_top([a]) == 0
    assert catalog.choices.get(a) == (["awe"], "written", None)
    assert model.index_of(a).data(Roles.StateRole) == "written"
    assert ctl.undo_stack.count() == 0
    assert ctl.accept_top([c]) == 1  # Enter still replaces another choice: a change to write
    assert catalog.choices.get(c) == (["sadness"], "pending", None)
    pred = probs(awe=0.8)
    assert suggested_mood(pred, ["awe"], replace=True) is None  # the rule itself
    assert suggested_mood(pred, ["fear"], replace=True) == ("awe", pytest.approx(0.8))


def test_sorting_moves_no_rows_and_the_selection_follows_sort_filter_and_clear(
    qapp, catalog, library
):
    """Issue 29.3: sorting is an order over the rows (a million rows are never moved), the
    filter a numpy map; the selected and current photo survive a sort, a filter and its clear."""
    from PySide6.QtCore import QItemSelectionModel

    model, proxy = make_model(catalog)
    ids_before = model.rows.ids.copy()
    sel = QItemSelectionModel(proxy)
    a = proxy.mapFromSource(model.index_of(library["a.jpg"]))
    sel.select(a, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    sel.setCurrentIndex(a, QItemSelectionModel.SelectionFlag.NoUpdate)

    def selected() -> list[int]:
        return proxy.photo_ids(sel.selectedIndexes())

    proxy.sort_by("sadness", descending=True)
    assert (model.rows.ids == ids_before).all()  # the rows stay where they are
    assert shown_names(proxy)[0] == "c.jpg"
    assert selected() == [library["a.jpg"]]
    proxy.set_filter(Filter(moods=frozenset({"awe"}), min_prob=0.5))
    assert shown_names(proxy) == ["a.jpg"] and selected() == [library["a.jpg"]]
    assert proxy.photo_ids([sel.currentIndex()]) == [library["a.jpg"]]
    proxy.set_filter(Filter())
    assert shown_names(proxy)[0] == "c.jpg" and len(shown_names(proxy)) == 7
    assert selected() == [library["a.jpg"]]
    assert proxy.visible_ids() == [proxy.photo_ids([proxy.index(r, 0)])[0] for r in range(7)]
    proxy.set_filter(Filter(moods=frozenset({"sadness"})))  # a leaves the view: unselected
    assert selected() == [] and not sel.currentIndex().isValid()


def test_a_change_that_leaves_the_filter_leaves_the_grid(qapp, catalog, library):
    model, proxy = make_model(catalog)
    proxy.sort_by("awe", descending=True)
    proxy.set_filter(Filter(states=frozenset({"unconfirmed"})))
    assert "a.jpg" in shown_names(proxy)
    model.set_choice_values({library["a.jpg"]: (("awe",), "pending", None)})
    assert "a.jpg" not in shown_names(proxy)
    model.set_choice_values({library["a.jpg"]: (None, "pending", None)})
    assert shown_names(proxy)[0] == "a.jpg"  # back, in its sorted place
    model.remove_ids([library["b.jpg"]])
    assert "b.jpg" not in shown_names(proxy) and shown_names(proxy)[0] == "a.jpg"
    assert proxy.mapFromSource(model.index_of(library["c.jpg"])).data() == "c.jpg"
