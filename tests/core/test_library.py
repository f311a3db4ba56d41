"""Issue 13 item 1: one library core. `moodtagger list` and the GUI's filter use the same rule
(core.rows.filter_mask: chosen or top mood); Library.refresh streams the changed photo ids.
Real files, real SQLite; predictions are stored by hand where the model's output is not the point."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from moodtagger.cli import main
from moodtagger.core import rows as R
from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.library import SCANNING, Library, RefreshEvents, current_model_id
from moodtagger.core.moods import MOODS

MODEL = current_model_id() or "test-model"


def _probs(top: str, p: float, second: str | None = None, q: float = 0.0) -> tuple[float, ...]:
    rest = [m for m in MOODS if m not in (top, second)]
    left = (1.0 - p - q) / len(rest)
    return tuple(p if m == top else q if m == second else left for m in MOODS)


# name: (prediction or None, chosen moods or None, choice state)
CASES = {
    "awe_high.jpg": (_probs("awe", 0.8), None, None),
    "awe_low.jpg": (_probs("awe", 0.35, "fear", 0.3), None, None),
    "fear_top_chosen_awe.jpg": (_probs("fear", 0.9), ["awe"], "pending"),  # the user's word wins
    "awe_top_chosen_fear.jpg": (_probs("awe", 0.9), ["fear"], "written"),
    "chosen_none.jpg": (_probs("awe", 0.9), [], "pending"),  # chose "no mood"
    "no_prediction.jpg": (None, None, None),
    "no_prediction_chosen_awe.jpg": (None, ["awe", "sadness"], "failed"),
    "sad.jpg": (_probs("sadness", 0.6), None, None),
}


@pytest.fixture
def lib(make_image, tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "lib"
    for i, name in enumerate(CASES):
        make_image(name, root=root, seed=i)
    make_image("broken.jpg", root=root).write_bytes(b"\xff\xd8 not a jpeg")
    db = str(tmp_path / "c.db")
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(root)]) == 1  # broken.jpg
    with Catalog(db) as cat:
        photos = {Path(p.path).name: p.id for p in cat.photos.all(status="ok")}
        cat.predictions.save(
            MODEL, [(photos[n], Prediction(c[0])) for n, c in CASES.items() if c[0]]
        )
        with cat.transaction():
            for name, (_, chosen, state) in CASES.items():
                if chosen is not None:
                    cat.choices.set(photos[name], chosen)
                    if state != "pending":
                        cat.choices.mark(photos[name], state)
    return root, db


def _cli(capsys, db: str, *args: str) -> list[str]:
    capsys.readouterr()
    assert main(["list", "--json", "--catalog", db, *args]) == 0
    return [Path(r["path"]).name for r in json.loads(capsys.readouterr().out)]


def _core(db: str, flt: R.Filter) -> list[str]:
    """What the GUI grid shows for ``flt``: every non-missing row through filter_mask."""
    with Catalog(db) as cat:
        rows = R.load_rows(cat, MODEL)
    return [
        Path(p).name for p, keep in zip(rows.paths, R.filter_mask(rows, flt), strict=True) if keep
    ]


@pytest.mark.parametrize("mood", ["awe", "fear", "sadness", "anger"])
@pytest.mark.parametrize("min_p", [0.0, 0.5, 0.85])
def test_list_mood_min_returns_the_photos_of_the_core_filter(
    lib, capsys, mood: str, min_p: float
) -> None:
    _, db = lib
    got = _cli(capsys, db, "--mood", mood, "--min", str(min_p))
    assert sorted(got) == sorted(_core(db, R.Filter(moods=frozenset([mood]), min_prob=min_p)))


def test_the_filter_is_chosen_or_top(lib, capsys) -> None:
    _, db = lib
    # chosen moods match whatever the suggestion; a photo with a choice is not matched by its
    # top suggestion any more (the old `list` looked at the top suggestion only)
    assert sorted(_cli(capsys, db, "--mood", "awe")) == [
        "awe_high.jpg",
        "awe_low.jpg",
        "fear_top_chosen_awe.jpg",
        "no_prediction_chosen_awe.jpg",
    ]
    assert _cli(capsys, db, "--mood", "awe", "--min", "0.5") == [
        "awe_high.jpg",
        "fear_top_chosen_awe.jpg",
        "no_prediction_chosen_awe.jpg",
    ]
    assert _cli(capsys, db, "--mood", "fear") == ["awe_top_chosen_fear.jpg"]
    # --min alone: the top suggestion's probability (chosen or not)
    assert sorted(_cli(capsys, db, "--min", "0.85")) == [
        "awe_top_chosen_fear.jpg",
        "chosen_none.jpg",
        "fear_top_chosen_awe.jpg",
    ]
    # states use the catalog's names; an unreadable file is 'failed' like a failed write
    assert sorted(_cli(capsys, db, "--state", "failed")) == [
        "broken.jpg",
        "no_prediction_chosen_awe.jpg",
    ]
    assert sorted(_cli(capsys, db, "--state", "failed")) == sorted(
        _core(db, R.Filter(states=frozenset(["failed"])))
    )


def test_list_sorts_with_the_core_order(lib, capsys) -> None:
    _, db = lib
    got = _cli(capsys, db, "--sort", "top", "--desc", "--min", "0.5")
    assert got == [
        "awe_top_chosen_fear.jpg",
        "chosen_none.jpg",
        "fear_top_chosen_awe.jpg",
        "awe_high.jpg",
        "sad.jpg",
    ]  # ties by name
    with Catalog(db) as cat:
        rows = Library(cat, MODEL).query(R.Filter(min_prob=0.5), ("top", True))
    assert got == [Path(p).name for p in rows.paths]
    assert [round(float(x), 2) for x in np.nanmax(rows.probs, axis=1)] == [0.9, 0.9, 0.9, 0.8, 0.6]
    assert _cli(capsys, db, "--sort", "name")[:2] == ["awe_high.jpg", "awe_low.jpg"]


def test_refresh_streams_the_ids_it_changed(make_image, tmp_path: Path) -> None:
    root = tmp_path / "lib"
    for i in range(5):
        make_image(f"p{i}.jpg", root=root, seed=i)
    (root / "bad.jpg").write_bytes(b"not an image")
    phases: list[str] = []
    changed: list[int] = []
    with Catalog(tmp_path / "c.db") as cat:
        lib = Library(cat, MODEL)
        events = RefreshEvents(phase=phases.append, changed=changed.extend)
        res = lib.refresh([str(root)], predict=False, events=events)
        assert phases[0] == SCANNING
        assert sorted(changed) == sorted(p.id for p in cat.photos.all())  # all 6, the bad one too
        assert [Path(p).name for p, _ in res.errors] == ["bad.jpg"]

        changed.clear()
        make_image("p1.jpg", root=root, seed=99)  # new pixels
        (root / "p2.jpg").unlink()
        missing: list[int] = []
        events.missing = missing.extend
        res = lib.refresh([str(root)], predict=False, events=events)
        assert changed == [cat.photos.by_path(root / "p1.jpg").id]
        assert missing == cat.photos.missing_ids() and len(missing) == 1
        assert res.scan.changed == 1 and res.scan.missing == 1

        changed.clear()
        cancel = threading.Event()
        cancel.set()
        assert lib.refresh([str(root)], predict=False, events=events, cancel=cancel).cancelled


def test_refresh_without_a_model_saves_the_index_and_says_why(
    make_image, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("MOODTAGGER_MODELS", str(tmp_path / "no-models-here"))
    make_image("a.jpg", root=tmp_path / "lib")
    with Catalog(tmp_path / "c.db") as cat:
        res = Library(cat).refresh([str(tmp_path / "lib")])
        assert res.predict is None and res.predict_error
        assert cat.photos.count("ok") == 1


def test_choose_accept_forget_through_the_facade(lib) -> None:
    root, db = lib
    with Catalog(db) as cat:
        library = Library(cat, MODEL)
        scope = library.resolve([str(root / "awe_high.jpg"), str(root / "nope.jpg")])
        assert len(scope.ids) == 1 and scope.errors == [
            (str(root / "nope.jpg"), "no such file or folder")
        ]
        result = library.accept(0.7)
        assert [cat.photos.by_id(i).path for i, _, _ in result.accepted] == [
            str(root / "awe_high.jpg")
        ]
        assert library.forget(scope.ids) == 1 and cat.choices.get(scope.ids[0]) is None
        library.choose(scope.ids, ["sadness"])
        assert cat.choices.get(scope.ids[0])[:2] == (["sadness"], "pending")
        flt = R.Filter(moods=frozenset(["sadness"]))
        assert sorted(Path(p).name for p in library.query(flt).paths) == [
            "awe_high.jpg",
            "no_prediction_chosen_awe.jpg",
            "sad.jpg",
        ]


def test_scan_without_exiftool_still_predicts_and_says_so(make_image, tmp_path: Path) -> None:
    """One error policy: a stage that cannot run (no exiftool) is reported in one sentence
    (exit 2); the index is saved and the moods are still predicted."""
    import os
    import subprocess
    import sys

    if current_model_id() is None:
        pytest.skip("no mood model installed")
    for i in range(2):
        make_image(f"p{i}.jpg", root=tmp_path / "lib", seed=i)
    db = tmp_path / "c.db"
    env = {**os.environ, "MOODTAGGER_EXIFTOOL": str(tmp_path / "no-exiftool")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "moodtagger",
            "scan",
            "--json",
            "--catalog",
            str(db),
            str(tmp_path / "lib"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "keywords in the files not read" in proc.stderr and "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    assert out["scan"]["new"] == 2 and out["predict"]["predicted"] == 2 and out["import_error"]


def test_the_accept_rule() -> None:
    from moodtagger.core.choices import suggested_mood

    pred = Prediction(_probs("awe", 0.6))
    assert suggested_mood(pred, None, 0.5) == ("awe", pytest.approx(0.6))
    assert suggested_mood(pred, None, 0.7) is None  # below the minimum
    assert suggested_mood(None, None) is None  # no prediction
    assert suggested_mood(pred, ["fear"]) is None  # the user's choice stays ...
    assert suggested_mood(pred, [], 0.5) is None  # ... also "no mood"
    assert (
        suggested_mood(pred, ["fear"], replace=True)[0] == "awe"
    )  # ... unless replaced on purpose


def test_without_a_model_id_rows_and_entries_show_the_newest_current_prediction(lib) -> None:
    """`list` with no model installed: the filter sees the same predictions `export` shows."""
    _, db = lib
    with Catalog(db) as cat:
        rows = R.load_rows(cat, None)
        shown = {Path(p).name for i, p in enumerate(rows.paths) if rows.prediction(i) is not None}
        assert shown == {n for n, c in CASES.items() if c[0] is not None}
        exported = {
            Path(p.path).name for p, pred in cat.views.with_predictions(None) if pred is not None
        }
        assert shown == exported


def test_the_apps_accept_and_undo_use_the_clis_rules(lib, make_image) -> None:
    """Issue 25: the GUI's Enter / "accept all" ask Library.suggest (the accept rule and its
    stale-file check, as `moodtagger accept`), and its edits and undo go through
    Library.restore, which keeps a change on a written photo pending."""
    root, db = lib
    with Catalog(db) as cat:
        library = Library(cat, MODEL)
        ids = {Path(p.path).name: p.id for p in cat.photos.all(status="ok")}
        high, chosen = ids["awe_high.jpg"], ids["fear_top_chosen_awe.jpg"]
        # Enter replaces the user's choice; accept-all (and the CLI) leaves it alone
        plan = library.suggest([high, chosen], replace=True)
        assert {(i, m) for i, m, _ in plan.accepted} == {(chosen, "fear"), (high, "awe")}
        assert [i for i, _, _ in library.suggest([high, chosen]).accepted] == [high]
        make_image("awe_high.jpg", root=root, seed=42)  # changed on disk since the scan
        plan = library.suggest([high, chosen], replace=True)
        assert plan.stale == [str(root / "awe_high.jpg")] and len(plan.accepted) == 1
        assert library.accept(0.0, [high]).stale == plan.stale  # the CLI's accept says the same
        # undo of a choice on a written photo: the file still has its moods, so it is pending
        written = ids["awe_top_chosen_fear.jpg"]
        stored = library.restore({written: (None, "pending", None)})
        assert stored[written] == ((), "pending", None)
        assert cat.choices.get(written) == ([], "pending", None)
        stored = library.restore({high: (("awe",), "pending", None)}, {high: "model"})
        assert library.choice_sources([high]) == {high: "model"}


def test_the_library_owns_one_exiftool_and_closing_it_stops_it(shared_data, tmp_path: Path) -> None:
    """Issue 25: no process-wide exiftool closed by hand. A refresh reads RAW previews and the
    keywords through the Library's one exiftool (the same process for every file), and
    ``with Library(...)`` stops it: its thread and process are gone afterwards."""
    import os
    import shutil
    import subprocess

    from PIL import Image

    folder = tmp_path / "raws"
    folder.mkdir()
    preview = tmp_path / "preview.jpg"
    Image.new("RGB", (640, 480), (10, 200, 30)).save(preview, quality=90)
    for i in range(3):
        raw = folder / f"IMG_{i}.CR2"
        shutil.copyfile(shared_data / "exiftool-test-images" / "CanonRaw.cr2", raw)
        subprocess.run(
            ["exiftool", "-q", "-m", "-overwrite_original", f"-PreviewImage<={preview}", raw],
            check=True,
        )

    def exiftool_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "moodtagger-exiftool"}

    before = exiftool_threads()
    with Catalog(tmp_path / "c.db") as cat:
        with Library(cat, MODEL) as lib:
            res = lib.refresh([str(folder)], predict=False)
            service = lib.exiftool
            pid = service.pid
            assert res.scan is not None and res.scan.new == 3 and not res.errors, res.errors
            assert pid is not None and service.restarts == 0  # one process for every file
            assert [p.format for p in cat.photos.all()] == ["RAW"] * 3
        assert exiftool_threads() <= before  # (close() joins the owner thread)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
