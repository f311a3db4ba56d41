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
    (photo,) = catalog.photos.all()
    assert [p.id for p in catalog.predictions.photos_needing("m")] == [photo.id]
    catalog.predictions.save("m", [(photo.id, Prediction(PROBS, valence=6.0))])
    assert catalog.predictions.photos_needing("m") == []
    assert catalog.predictions.get(photo.id, "m").top == ("awe", 0.4)
    # the file's content changed: the old prediction no longer counts
    catalog.conn.execute("UPDATE photos SET identity='id2' WHERE id=?", (photo.id,))
    assert [p.id for p in catalog.predictions.photos_needing("m")] == [photo.id]
    # one rule for "current prediction" (issue 11 item 5): the previous picture's prediction is
    # never shown, exported or accepted
    rows = list(catalog.views.with_predictions("m"))
    assert rows[0][1] is None
    assert catalog.predictions.current(photo.id, "m") is None
    catalog.conn.execute("UPDATE photos SET identity='id1' WHERE id=?", (photo.id,))
    assert len(catalog.predictions.current(photo.id, "m").probs) == len(MOODS)
