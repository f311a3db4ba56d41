"""Issue 14: embeddings in the catalog, `similar`, `choose`, `learn` (+ --reset).

Real photos (the ImageNet sample), bursts made from them with Pillow (another crop, another
exposure), a real catalog scanned and predicted by the real model, and real backbone embeddings.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog
from moodtagger.core.model import registry
from moodtagger.core.model.engine import Result
from moodtagger.core.moods import MOODS

N_PHOTOS = 20
BURSTS = ("n0", "n1")  # photos that get two near-duplicates each


def _bursts(src: Path, lib: Path) -> None:
    with Image.open(src) as im:
        im = im.convert("RGB")
        w, h = im.size
        im.crop((0, 0, int(w * 0.85), int(h * 0.85))).save(lib / f"{src.stem}-crop.jpg", quality=90)
        ImageEnhance.Brightness(im).enhance(1.4).save(lib / f"{src.stem}-bright.jpg", quality=90)


def _store_backbone_embeddings(cat: Catalog, model_id: str) -> None:
    """Embeddings as the engine computes them (the backbone's pooled feature, mean of the centre
    crop and its mirror image), for an engine that does not return them yet."""
    from moodtagger.training import features

    photos = cat.photos.all(status="ok")
    feats = features.extract([Path(p.path) for p in photos])["final"][:, :2].mean(1)
    cat.embeddings.save(model_id, [(p.id, v) for p, v in zip(photos, feats, strict=True)])


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, imagenet_sample: Path) -> tuple[Path, Path]:
    """(photo folder, catalog): 20 sample photos + 2 bursts, scanned and predicted once."""
    base = tmp_path_factory.mktemp("learn")
    lib = base / "lib"
    lib.mkdir()
    sources = sorted(imagenet_sample.glob("*.JPEG"))[:: 1000 // N_PHOTOS][:N_PHOTOS]
    for i, src in enumerate(sources):
        shutil.copy(src, lib / f"n{i}.jpg")
    for name in BURSTS:
        _bursts(lib / f"{name}.jpg", lib)
    db = base / "catalog.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOODTAGGER_CACHE", str(base / "cache"))
        assert main(["scan", "-q", "--device", "cpu", "--catalog", str(db), str(lib)]) == 0
        with Catalog(db) as cat:
            mid = registry.default_model_id()
            if len(cat.embeddings.all(mid)[0]) == 0:
                _store_backbone_embeddings(cat, mid)
    return lib, db


@pytest.fixture
def lib(library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A private copy of the catalog (the photos are shared, never written)."""
    folder, db = library
    copy = tmp_path / "catalog.sqlite3"
    shutil.copy(db, copy)
    monkeypatch.setenv("MOODTAGGER_PERSONAL_MODELS", str(tmp_path / "models"))
    return folder, str(copy)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def _tops(db: str, capsys) -> dict[str, str]:
    rc, out, _ = _run(capsys, "list", "--json", "--catalog", db)
    assert rc == 0
    return {Path(r["path"]).name: r["mood"] for r in json.loads(out)}


def _probs(db: str, capsys) -> dict[str, list[float]]:
    rc, out, _ = _run(capsys, "export", "--format", "json", "--catalog", db)
    assert rc == 0
    return {Path(r["path"]).name: [r["probabilities"][m] for m in MOODS] for r in json.loads(out)}


# -- 1. embeddings in the catalog --------------------------------------------------------------


def test_embeddings_are_stored_fp16_per_model_and_tied_to_the_pixels(lib, make_image) -> None:
    folder, db = lib
    with Catalog(db) as cat:
        mid = registry.default_model_id()
        ids, vecs = cat.embeddings.all(mid)
        assert len(ids) == N_PHOTOS + 2 * len(BURSTS)
        assert vecs.dtype == np.float16 and vecs.shape[1] == 1280
        assert cat.embeddings.all("another-model")[0].size == 0  # kept per model id
        photo = cat.photos.by_path(folder / "n3.jpg")
        assert photo is not None
        assert cat.embeddings.get(photo.id, mid) is not None
        # other pixels (the same path): the old embedding is no longer the photo's
        cat.conn.execute("UPDATE photos SET identity='other pixels' WHERE id=?", (photo.id,))
        assert cat.embeddings.get(photo.id, mid) is None
        assert photo.id not in cat.embeddings.all(mid)[0]


def test_scan_stores_the_engines_embedding_when_it_has_one(tmp_path: Path, make_image) -> None:
    """With an engine that returns embeddings, predicting a photo stores its embedding in the
    same pass; with one that does not, nothing is stored (and nothing fails)."""
    make_image("a.jpg", root=tmp_path / "p", size=(320, 240), seed=1)
    db = str(tmp_path / "c.db")
    assert main(["scan", "-q", "--device", "cpu", "--catalog", db, str(tmp_path / "p")]) == 0
    with Catalog(db) as cat:
        ids, vecs = cat.embeddings.all(registry.default_model_id())
        if "embedding" in Result.__dataclass_fields__:
            assert (
                len(ids) == 1
                and vecs.shape == (1, 1280)
                and np.isfinite(vecs.astype(np.float32)).all()
            )
        else:
            assert len(ids) == 0


# -- 2. similar --------------------------------------------------------------------------------


def test_similar_finds_both_burst_shots_first_and_excludes_the_photo(lib, capsys) -> None:
    folder, db = lib
    for name in BURSTS:
        rc, out, err = _run(
            capsys, "similar", str(folder / f"{name}.jpg"), "-n", "3", "--json", "--catalog", db
        )
        assert rc == 0, err
        hits = json.loads(out)
        assert [set(h) for h in hits] == [{"path", "similarity"}] * 3
        names = [Path(h["path"]).name for h in hits]
        assert f"{name}.jpg" not in names
        assert {f"{name}-crop.jpg", f"{name}-bright.jpg"} <= set(names[:3])
        sims = [h["similarity"] for h in hits]
        assert sims == sorted(sims, reverse=True) and -1 <= sims[-1] <= sims[0] <= 1
    rc, out, _ = _run(capsys, "similar", str(folder / "n5.jpg"), "-n", "50", "--catalog", db)
    assert rc == 0 and len(out.splitlines()) == N_PHOTOS + 2 * len(BURSTS) - 1


def test_similar_core_function_and_errors(lib, capsys) -> None:
    from moodtagger.core.embeddings import EmbeddingIndex, similar

    folder, db = lib
    with Catalog(db) as cat:
        photo = cat.photos.by_path(folder / "n0.jpg")
        hits = similar(cat, photo.id, 2)
        assert {Path(h.path).name for h in hits} == {"n0-crop.jpg", "n0-bright.jpg"}
        index = EmbeddingIndex.load(cat, registry.default_model_id(), exact_below=0, dims=64)
        assert index.basis is not None  # the shortlist path gives the same answer
        assert [h.photo_id for h in similar(cat, photo.id, 2, index=index)] == [
            h.photo_id for h in hits
        ]
    rc, _, err = _run(capsys, "similar", str(folder / "nope.jpg"), "--catalog", db)
    assert rc == 2 and "no such file" in err and "Traceback" not in err


# -- 3. choose ---------------------------------------------------------------------------------


def test_choose_stores_the_choice_and_writes_nothing(lib, capsys) -> None:
    folder, db = lib
    target = folder / "n4.jpg"
    before = (target.read_bytes(), os.stat(target).st_mtime_ns)
    rc, _, err = _run(
        capsys, "choose", "--mood", "awe", "--mood", "Fear", "--catalog", db, "--", str(target)
    )
    assert rc == 0, err
    assert (target.read_bytes(), os.stat(target).st_mtime_ns) == before
    with Catalog(db) as cat:
        assert cat.choices.get(cat.photos.by_path(target).id) == (["awe", "fear"], "pending", None)
    rc, out, _ = _run(capsys, "list", "--state", "chosen", "--json", "--catalog", db)
    assert [Path(r["path"]).name for r in json.loads(out)] == ["n4.jpg"]
    # a missing file is that file's error; the others are still chosen
    rc, _, err = _run(
        capsys,
        "choose",
        "--mood",
        "awe",
        "--catalog",
        db,
        "--",
        str(folder / "gone.jpg"),
        str(folder / "n6.jpg"),
    )
    assert rc == 1 and "error:" in err and "gone.jpg" in err
    with Catalog(db) as cat:
        assert cat.choices.get(cat.photos.by_path(folder / "n6.jpg").id)[0] == ["awe"]
    rc, _, err = _run(capsys, "choose", "--catalog", db, "--", str(target))
    assert rc == 2 and "--mood" in err


# -- 4./5. learn and --reset -------------------------------------------------------------------


def _label_for(probs: dict[str, list[float]], *names: str) -> str:
    """A mood that none of ``names`` has as its shipped top suggestion (the least likely one)."""
    total = np.sum([probs[n] for n in names], axis=0)
    return MOODS[int(np.argmin(total))]


def test_learn_bursts_follow_others_keep_the_shipped_suggestion_and_reset(lib, capsys) -> None:
    folder, db = lib
    shipped = _probs(db, capsys)
    shipped_top = {n: MOODS[int(np.argmax(p))] for n, p in shipped.items()}
    labels = {}
    for name in BURSTS:
        labels[name] = _label_for(shipped, f"{name}.jpg", f"{name}-crop.jpg", f"{name}-bright.jpg")
        assert (
            main(
                [
                    "choose",
                    "-q",
                    "--mood",
                    labels[name],
                    "--catalog",
                    db,
                    str(folder / f"{name}.jpg"),
                ]
            )
            == 0
        )
    # a few more choices that agree with the shipped model
    for name in ("n10", "n11"):
        assert (
            main(
                [
                    "choose",
                    "-q",
                    "--mood",
                    shipped_top[f"{name}.jpg"],
                    "--catalog",
                    db,
                    str(folder / f"{name}.jpg"),
                ]
            )
            == 0
        )
    rc, out, err = _run(capsys, "learn", "--json", "--catalog", db)
    assert rc == 0, err
    summary = json.loads(out)
    assert (
        summary["model"].startswith("personal-")
        and summary["parent"] == registry.default_model_id()
    )
    assert summary["predicted"] == N_PHOTOS + 2 * len(BURSTS)
    assert sum(summary["examples"].values()) == 4
    # the registry entry: parent, sha256 of the file, examples per mood
    entry = json.loads(
        (Path(os.environ["MOODTAGGER_PERSONAL_MODELS"]) / f"{summary['model']}.json").read_text()
    )
    assert (
        entry["parent"] == summary["parent"] and entry["examples_per_mood"] == summary["examples"]
    )
    import hashlib

    npz = Path(os.environ["MOODTAGGER_PERSONAL_MODELS"]) / entry["file"]
    assert hashlib.sha256(npz.read_bytes()).hexdigest() == entry["sha256"]

    tops = _tops(db, capsys)
    for name, mood in labels.items():
        assert tops[f"{name}.jpg"] == mood
        assert tops[f"{name}-crop.jpg"] == mood and tops[f"{name}-bright.jpg"] == mood
    learnt = _probs(db, capsys)
    others = [
        n for n in shipped if n.split("-")[0].removesuffix(".jpg") not in (*BURSTS, "n10", "n11")
    ]
    assert len(others) == N_PHOTOS - 4
    kept = [tops[n] == shipped_top[n] for n in others]
    assert np.mean(kept) >= 0.9, (kept, tops, shipped_top)
    drift = np.mean([np.abs(np.subtract(learnt[n], shipped[n])).max() for n in others])
    assert drift < 0.1
    assert summary["changed"] >= 2 * 3 - 0  # the two labelled photos and their bursts (at least)

    rc, out, err = _run(capsys, "learn", "--reset", "--catalog", db)
    assert rc == 0, err
    assert _probs(db, capsys) == shipped
    with Catalog(db) as cat:
        assert cat.models_in_use.get(registry.default_model_id()) is None


def test_learn_predicts_photos_scanned_afterwards(lib, capsys, make_image) -> None:
    folder, db = lib
    assert main(["choose", "-q", "--mood", "fear", "--catalog", db, str(folder / "n0.jpg")]) == 0
    assert main(["learn", "-q", "--catalog", db]) == 0
    extra = make_image("late.jpg", root=Path(db).parent / "more", size=(320, 240), seed=7)
    assert main(["scan", "-q", "--device", "cpu", "--catalog", db, str(extra.parent)]) == 0
    rows = {
        Path(r["path"]).name: r
        for r in json.loads(_run(capsys, "list", "--json", "--catalog", db)[1])
    }
    assert rows["late.jpg"]["mood"] is not None  # the personal model in use predicted it too


def test_learn_without_choices_or_catalog_is_one_sentence(lib, tmp_path: Path, capsys) -> None:
    _, db = lib
    rc, _, err = _run(capsys, "learn", "--catalog", db)
    assert rc == 2 and "no chosen moods" in err and "\n" == err[-1] and err.count("\n") == 1
    rc, _, err = _run(capsys, "learn", "--catalog", str(tmp_path / "none.db"))
    assert rc == 2 and "no catalog" in err
    rc, _, err = _run(capsys, "learn", "--reset", "--catalog", db)  # nothing learnt: a no-op
    assert rc == 0


def test_personal_model_keeps_unrelated_photos_near_the_prior() -> None:
    """The model's promise in numbers: far from every labelled photo, the prior comes back."""
    from moodtagger.core.model.personal import PersonalModel

    rng = np.random.default_rng(0)
    d = 64
    lab = np.abs(rng.normal(size=(4, d))).astype(np.float32)
    prior = rng.dirichlet(np.ones(8), 4)
    t = np.eye(8, dtype=np.float32)[[0, 1, 2, 3]]
    center = np.zeros(d, np.float32)
    model = PersonalModel.fit(prior, lab, t, center=center)
    far = -lab  # opposite directions: unlike every labelled photo
    p_far = rng.dirichlet(np.ones(8), 4)
    got = model.predict(p_far, far)
    assert np.abs(got - p_far).max() < 0.15
    near = model.predict(rng.dirichlet(np.ones(8), 4), lab + 0.01)  # near-duplicates follow
    assert (near.argmax(1) == [0, 1, 2, 3]).all()


# -- the Library facade both front ends call ------------------------------------------------------


def test_library_similar_to_a_selection_finds_each_scenes_bursts(lib) -> None:
    """ "More like this" on two photos of different scenes: both scenes' near-duplicates come
    first, the selection itself is left out, the most similar first."""
    from moodtagger.core.library import Library, LibraryError

    folder, db = lib
    with Catalog(db) as cat:
        library = Library(cat)
        ids = [cat.photos.by_path(folder / f"{name}.jpg").id for name in BURSTS]
        hits = library.similar(ids, 4)
        assert {Path(h.path).name for h in hits} == {
            f"{n}-{v}.jpg" for n in BURSTS for v in ("crop", "bright")
        }
        assert not set(ids) & {h.photo_id for h in hits}
        sims = [h.similarity for h in hits]
        assert sims == sorted(sims, reverse=True)
        # one photo: the CLI's answer; with a kept index: the same answer
        one = library.similar(ids[:1], 5)
        assert [h.photo_id for h in one] == [
            h.photo_id for h in library.similar(ids[:1], 5, index=library.embedding_index())
        ]
        from moodtagger.core.embeddings import similar

        assert [h.photo_id for h in one] == [h.photo_id for h in similar(cat, ids[0], 5)]
        cat.conn.execute("DELETE FROM embeddings")
        with pytest.raises(LibraryError, match="no embedding"):
            library.similar(ids[:1], 5)


def test_library_learn_and_reset_switch_the_model_in_use(lib, capsys) -> None:
    from moodtagger.core.library import Library

    folder, db = lib
    assert main(["choose", "-q", "--mood", "fear", "--catalog", db, str(folder / "n0.jpg")]) == 0
    with Catalog(db) as cat:
        library = Library(cat)
        base = library.model_id
        assert base == registry.default_model_id() and not library.learning()
        summary = library.learn()
        assert library.model_id == summary.model_id != base and library.learning()
        assert Library(cat).model_id == summary.model_id  # the next session shows it too
        tops = {
            Path(library.rows().paths[i]).name: MOODS[int(np.nanargmax(p))]
            for i, p in enumerate(library.rows().probs)
        }
        assert tops["n0.jpg"] == "fear"
        assert sum(summary.changed_to().values()) == summary.changed >= 1
        back = library.reset_learning()
        assert library.model_id == base == back.model_id and not library.learning()
        assert back.changed == summary.changed


def test_refresh_streams_the_personal_suggestions_batch_by_batch(lib, make_image) -> None:
    """After `learn`, a scan's new photos show the personal model's suggestion in the batch
    that predicts them (the scan predicts as it goes: decode once), not only at the end, and
    never the shipped model's."""
    from moodtagger.core.library import Library, RefreshEvents

    folder, db = lib
    assert main(["choose", "-q", "--mood", "fear", "--catalog", db, str(folder / "n0.jpg")]) == 0
    more = Path(db).parent / "more"
    for i in range(3):
        make_image(f"late{i}.jpg", root=more, size=(320, 240), seed=20 + i)
    with Catalog(db) as cat:
        library = Library(cat)
        library.learn()
        events_seen: list[tuple[str, list[int], int]] = []  # model, ids, rows with a suggestion

        def changed(ids: list[int]) -> None:
            rows = library.rows(ids)
            shown = int((~np.isnan(rows.probs).any(axis=1)).sum())
            events_seen.append((str(library.model_id), list(rows.ids), shown))

        events = RefreshEvents(changed=changed)
        res = library.refresh([str(more)], device="cpu", batch_size=1, events=events)
        assert res.predict is not None and res.predict.predicted == 3
        new_ids = sorted(p.id for p in cat.photos.all() if "late" in p.path)
        predicted = [e for e in events_seen if e[2]]
        # each batch of 1 is reported with the personal model's suggestion as it lands
        assert sorted({int(i) for _, ids, _ in predicted for i in ids}) == new_ids
        assert len(predicted) >= 3
        assert all(m.startswith("personal-") and n == len(ids) for m, ids, n in predicted)
