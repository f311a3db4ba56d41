"""Issue 27 item 2: `teach` picks the photos whose labels would help most.

A real library: ImageNet sample photos, some of them with bursts of near-duplicates made with
Pillow (another crop, another exposure, a slightly turned and shifted frame), scanned and
predicted by the real model (real embeddings), in a real catalog.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog
from moodtagger.core.library import Library
from moodtagger.core.teach import pick

N_PHOTOS = 14
BURSTS = (0, 3, 6, 9, 12)  # these photos get three near-duplicates each


def burst_shots(src: Path, folder: Path) -> list[Path]:
    """Three near-duplicates of ``src``: a crop, an exposure, a slightly turned, shifted frame."""
    out = [folder / f"{src.stem}-crop.jpg", folder / f"{src.stem}-bright.jpg"]
    out.append(folder / f"{src.stem}-turn.jpg")
    with Image.open(src) as im:
        im = im.convert("RGB")
        w, h = im.size
        im.crop((0, 0, int(w * 0.85), int(h * 0.85))).save(out[0], quality=90)
        ImageEnhance.Brightness(im).enhance(1.3).save(out[1], quality=90)
        turned = im.rotate(3, resample=Image.Resampling.BILINEAR)
        turned.crop((int(w * 0.06), int(h * 0.04), w, h)).save(out[2], quality=90)
    return out


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, imagenet_sample: Path):
    """(folder, catalog, burst of each file name): scanned and predicted once."""
    base = tmp_path_factory.mktemp("teach")
    lib = base / "lib"
    lib.mkdir()
    sources = sorted(imagenet_sample.glob("*.JPEG"))[7::61][:N_PHOTOS]
    burst: dict[str, int] = {}
    for i, src in enumerate(sources):
        shutil.copy(src, lib / f"p{i:02d}.jpg")
        burst[f"p{i:02d}.jpg"] = i
        if i in BURSTS:
            for shot in burst_shots(lib / f"p{i:02d}.jpg", lib):
                burst[shot.name] = i
    db = base / "catalog.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOODTAGGER_CACHE", str(base / "cache"))
        assert main(["scan", "-q", "--device", "cpu", "--catalog", str(db), str(lib)]) == 0
    return lib, db, burst


@pytest.fixture
def lib(library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A private copy of the catalog (the photos are shared, never written)."""
    folder, db, burst = library
    copy = tmp_path / "catalog.sqlite3"
    shutil.copy(db, copy)
    monkeypatch.setenv("MOODTAGGER_PERSONAL_MODELS", str(tmp_path / "models"))
    return folder, str(copy), burst


def _teach(db: str, n: int) -> list:
    with Catalog(db) as cat, Library(cat) as lib:
        return lib.teach(n)


def test_teach_returns_exactly_n_one_per_burst(lib) -> None:
    folder, db, burst = lib
    for n in (1, 5, N_PHOTOS - 1):
        picks = _teach(db, n)
        assert len(picks) == n
        names = [Path(p.path).name for p in picks]
        assert len({burst[x] for x in names}) == n, names  # never two from one burst
        assert all(0.0 <= p.uncertainty <= 1.0 and p.why for p in picks)


def test_teach_gives_fewer_only_when_fewer_unlabelled_bursts(lib) -> None:
    folder, db, burst = lib
    picks = _teach(db, 100)
    assert sorted(burst[Path(p.path).name] for p in picks) == list(range(N_PHOTOS))


def test_teach_never_picks_a_chosen_photo_or_its_burst(lib, capsys) -> None:
    folder, db, burst = lib
    first = _teach(db, 6)
    chosen = [first[0].path, first[1].path, str(folder / "p01.jpg"), str(folder / "p00-turn.jpg")]
    assert main(["choose", "-q", "--mood", "awe", "--catalog", db, *chosen]) == 0
    done = {burst[Path(p).name] for p in chosen}
    picks = _teach(db, 100)
    names = [Path(p.path).name for p in picks]
    assert not {str(folder / x) for x in names} & set(chosen)
    assert not {burst[x] for x in names} & done
    assert len(picks) == N_PHOTOS - len(done)  # every other burst, once
    # an accepted suggestion is a choice too
    assert main(["accept", "-q", "--min", "0", "--catalog", db, str(folder / names[0])]) == 0
    assert names[0] not in {Path(p.path).name for p in _teach(db, 100)}


def test_teach_uses_the_personal_model_once_learnt(lib) -> None:
    folder, db, burst = lib
    picks = _teach(db, 4)
    assert main(["choose", "-q", "--mood", "fear", "--catalog", db, picks[0].path]) == 0
    assert main(["choose", "-q", "--mood", "awe", "--catalog", db, picks[1].path]) == 0
    assert main(["learn", "-q", "--catalog", db]) == 0
    with Catalog(db) as cat, Library(cat) as lib:
        assert lib.learning()
        after = lib.teach(3)
        probs = {r: lib.rows([p.photo_id]).probs[0] for r, p in enumerate(after)}
    for r, p in enumerate(after):  # its suggestion is the personal model's
        assert p.probability == pytest.approx(float(probs[r].max()), abs=1e-6)


def test_pick_spreads_over_the_library_and_prefers_uncertain_ones() -> None:
    """Two scenes; the uncertain ones of each are picked before a second one of a scene."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(64), rng.standard_normal(64)
    z = np.array(
        [a + 0.9 * rng.standard_normal(64) for _ in range(20)]
        + [b + 0.9 * rng.standard_normal(64) for _ in range(20)]
    )
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    probs = np.full((40, 8), 0.02)
    probs[:, 0] = np.linspace(0.9, 0.44, 40)  # later rows: less sure (row 39: a tie)
    probs[:, 1] = 1 - probs.sum(1) + probs[:, 1]
    out = pick(probs, z, np.zeros(40, bool), 2)
    rows = [r for r, _u, _n in out]
    assert {r < 20 for r in rows} == {True, False}  # one per scene
    assert 39 in rows  # the least sure photo first


def test_cli_teach_lists_paths_suggestions_and_reasons(lib, capsys) -> None:
    folder, db, burst = lib
    capsys.readouterr()
    assert main(["teach", "-n", "4", "--json", "--catalog", db]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4
    assert set(rows[0]) >= {"path", "mood", "probability", "second", "uncertainty", "why"}
    assert main(["teach", "-n", "3", "--catalog", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and all("unsure between" in line for line in out)
    assert main(["teach", "-n", "0", "--catalog", db]) == 2


def test_pick_counts_photos_taken_moments_apart_and_alike_as_one_burst() -> None:
    """Cosine 0.5 alone is two scenes; taken one second apart it is one burst."""
    z = np.array([[1.0, 0.0, 0.0], [0.5, np.sqrt(0.75), 0.0], [0.0, 0.0, 1.0]])
    probs = np.tile(np.array([0.4, 0.35, 0.25, 0, 0, 0, 0, 0]), (3, 1))
    assert len(pick(probs, z, np.zeros(3, bool), 3)) == 3
    times = np.array([100.0, 101.0, 5000.0])
    out = pick(probs, z, np.zeros(3, bool), 3, times=times)
    assert len(out) == 2 and {r for r, _u, _n in out} & {0, 1} != {0, 1}
