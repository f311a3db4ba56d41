"""Catalog-level prediction: stores predictions, stores decode errors on the photo, skips done work."""

from __future__ import annotations

from pathlib import Path

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog
from moodtagger.core.model.service import predict_pending


def test_predict_pending_saves_predictions_and_errors(make_image, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    for i in range(3):
        make_image(f"p{i}.jpg", root=lib, size=(320, 240), seed=i)
    db = tmp_path / "c.db"
    assert main(["scan", "--no-predict", "-q", "--catalog", str(db), str(lib)]) == 0
    (lib / "p1.jpg").write_bytes(b"truncated after the scan")  # decoding fails at predict time
    cat = Catalog(db)
    try:
        calls: list[tuple[int, int]] = []
        s = predict_pending(
            cat, device="cpu", batch_size=2, progress=lambda d, t: calls.append((d, t))
        )
        assert (s.predicted, s.failed) == (2, 1)
        assert s.errors[0][0].endswith("p1.jpg")
        assert calls[-1] == (3, 3)
        by_name = {Path(p.path).name: p for p in cat.photos.all()}
        assert by_name["p1.jpg"].status == "error" and by_name["p1.jpg"].error
        pred = cat.predictions.get(by_name["p0.jpg"].id, s.model_id)
        assert pred is not None and abs(sum(pred.probs) - 1) < 1e-6
        again = predict_pending(cat, device="cpu")
        assert (again.predicted, again.failed) == (0, 0)
    finally:
        cat.close()
