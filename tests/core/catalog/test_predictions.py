"""Predictions: stored against the pixels they were made from; the one "current prediction" rule."""

from __future__ import annotations

from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.moods import MOODS

PROBS = (0.05, 0.05, 0.4, 0.1, 0.1, 0.1, 0.1, 0.1)


def test_predictions_follow_content_identity(catalog: Catalog) -> None:
    catalog.conn.execute(
        "INSERT INTO photos(path, identity, status, added_at, updated_at) VALUES (?, 'id1', 'ok', 0, 0)",
        (b"/x/a.jpg",),
    )
    (photo,) = catalog.photos()
    assert [p.id for p in catalog.photos_needing_prediction("m")] == [photo.id]
    catalog.save_predictions("m", [(photo.id, Prediction(PROBS, valence=6.0))])
    assert catalog.photos_needing_prediction("m") == []
    assert catalog.prediction(photo.id, "m").top == ("awe", 0.4)
    # the file's content changed: the old prediction no longer counts
    catalog.conn.execute("UPDATE photos SET identity='id2' WHERE id=?", (photo.id,))
    assert [p.id for p in catalog.photos_needing_prediction("m")] == [photo.id]
    # one rule for "current prediction" (issue 11 item 5): the previous picture's prediction is
    # never shown, exported or accepted
    rows = list(catalog.iter_with_predictions("m"))
    assert rows[0][1] is None
    assert catalog.current_prediction(photo.id, "m") is None
    catalog.conn.execute("UPDATE photos SET identity='id1' WHERE id=?", (photo.id,))
    assert len(catalog.current_prediction(photo.id, "m").probs) == len(MOODS)
