"""Issue 13 item 4: when a scan is followed by prediction, one decode yields both the
thumbnail and the model input.

Real files (JPEG with EXIF rotation, PNG, TIFF, photos from ../shared), the real shipped model,
a real catalog. The spy only counts calls to the real decoder; it changes nothing.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from moodtagger.core import imaging, scanner
from moodtagger.core.catalog import Catalog
from moodtagger.core.library import Library
from moodtagger.core.model import registry
from moodtagger.core.model.engine import prepare_file
from moodtagger.core.model.service import predict_pending


@pytest.fixture
def folder(make_image, imagenet_sample: Path, tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    root.mkdir()
    for src in sorted(imagenet_sample.iterdir())[:11]:
        shutil.copy(src, root / src.name)
    make_image("rotated.jpg", size=(640, 360), orientation=6, root=root, seed=1)
    make_image("flat.png", size=(500, 300), root=root, seed=2)
    make_image("scan.tif", size=(300, 420), root=root, seed=3)
    make_image("big.jpg", size=(2400, 1600), root=root, seed=4)  # draft-mode decode
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def _spy(monkeypatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    real = imaging.open_image

    def counting(path, **kw):
        calls[Path(path).name] += 1
        return real(path, **kw)

    monkeypatch.setattr(imaging.decoding, "open_image", counting)
    return calls


def test_the_scans_decode_gives_exactly_the_model_input_prediction_uses(folder: Path) -> None:
    pre = registry.entry().preprocess
    for path in sorted(folder.iterdir()):
        if path.name == "broken.jpg":
            continue
        res, model_input = scanner.inspect_with_model_input(
            path.as_posix().encode(), path.stat().st_size, path.stat().st_mtime_ns, model=pre
        )
        assert res.error is None, (path.name, res.error)
        assert model_input is not None and model_input.shape == (pre.crop, pre.crop, 3)
        assert np.array_equal(model_input, prepare_file(str(path), pre)), path.name
        # and the scan learns what it always did: identity, size, orientation
        alone = scanner.inspect_file(
            path.as_posix().encode(), path.stat().st_size, path.stat().st_mtime_ns
        )
        assert (res.identity, res.width, res.height, res.orientation) == (
            alone.identity,
            alone.width,
            alone.height,
            alone.orientation,
        )


def test_scan_then_predict_decodes_each_photo_once(
    folder: Path, tmp_path: Path, monkeypatch
) -> None:
    calls = _spy(monkeypatch)
    with Catalog(tmp_path / "once.db") as cat:
        res = Library(cat).refresh([str(folder)])
        model_id = res.predict.model_id
        assert res.scan.new == 16 and [Path(p).name for p, _ in res.errors] == ["broken.jpg"]
        assert res.predict.predicted == 15 and not cat.predictions.photos_needing(model_id)
        once = {p.path: cat.predictions.current(p.id, model_id) for p in cat.photos.all()}
        for p in cat.photos.all(status="ok"):  # the thumbnails came from the same decode
            assert imaging.thumb_path(p.identity).is_file()
    assert set(calls.values()) == {1}, {k: v for k, v in calls.items() if v != 1}
    assert len(calls) == 16

    # the same predictions as the two-pass path (scan, then predict decoding again)
    monkeypatch.undo()
    with Catalog(tmp_path / "twice.db") as cat:
        scanner.scan(cat, [folder])
        predict_pending(cat)
        for p in cat.photos.all(status="ok"):
            a, b = once[p.path], cat.predictions.current(p.id, model_id)
            assert a is not None and b is not None
            assert np.allclose(a.probs, b.probs, atol=1e-6), p.path
            assert abs(a.valence - b.valence) < 1e-5 and abs(a.arousal - b.arousal) < 1e-5


def test_a_rescan_predicts_only_what_changed_and_decodes_it_once(
    folder: Path, tmp_path: Path, make_image, monkeypatch
) -> None:
    with Catalog(tmp_path / "c.db") as cat:
        lib = Library(cat)
        lib.refresh([str(folder)])
        (folder / "flat.png").rename(folder / "moved.png")  # a move keeps its prediction
        make_image("rotated.jpg", size=(640, 360), orientation=6, root=folder, seed=9)  # new pixels
        calls = _spy(monkeypatch)
        res = lib.refresh([str(folder)])
        assert res.scan.changed == 1 and res.scan.moved == 1
        assert res.predict.predicted == 1
        assert calls == Counter({"rotated.jpg": 1, "moved.png": 1})
