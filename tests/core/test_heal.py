"""Issue 24 items 1-2: a kill anywhere heals on the next run; a damaged personal model never
leaves photos blank or crashes.

Real photos (the ImageNet sample), a real catalog scanned by the real model, the real CLI run as
a subprocess and SIGKILLed at each of its commits (``MOODTAGGER_KILL_AT_COMMIT``, a hook on the
catalog's connection that sees every commit), then one ``scan``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import KILL_AT_COMMIT_ENV, Catalog
from moodtagger.core.model import registry
from moodtagger.core.moods import MOODS

ROOT = Path(__file__).resolve().parents[2]
N_PHOTOS = 10
N_CHOSEN = 5


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, imagenet_sample: Path) -> dict[str, Path]:
    """A library of 10 sample photos, scanned, 5 of them chosen, and 2 more photos that are not
    scanned yet."""
    base = tmp_path_factory.mktemp("heal")
    lib, more = base / "lib", base / "more"
    lib.mkdir()
    more.mkdir()
    sources = sorted(imagenet_sample.glob("*.JPEG"))[::80]
    for i, src in enumerate(sources[:N_PHOTOS]):
        shutil.copy(src, lib / f"p{i}.jpg")
    for i, src in enumerate(sources[N_PHOTOS : N_PHOTOS + 2]):
        shutil.copy(src, more / f"new{i}.jpg")
    db = base / "chosen.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOODTAGGER_CACHE", str(base / "cache"))
        assert main(["scan", "-q", "--device", "cpu", "--catalog", str(db), str(lib)]) == 0
        for i in range(N_CHOSEN):
            mood = MOODS[i % len(MOODS)]
            argv = ["choose", "-q", "--mood", mood, "--catalog", str(db), str(lib / f"p{i}.jpg")]
            assert main(argv) == 0
    return {"lib": lib, "more": more, "chosen": db}


def _env(work: Path, kill: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["MOODTAGGER_PERSONAL_MODELS"] = str(work / "models")
    env["MOODTAGGER_CACHE"] = str(work / "cache")
    env.pop(KILL_AT_COMMIT_ENV, None)
    if kill is not None:
        env[KILL_AT_COMMIT_ENV] = str(kill)
    return env


def _cli(work: Path, *argv: str, kill: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moodtagger", *argv],
        env=_env(work, kill),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _fresh(prepared: dict[str, Path], tmp_path: Path, n: int, *, learnt: bool) -> tuple[Path, Path]:
    """A private library, catalog and personal-models folder for the n-th kill; ``learnt``: a
    personal model learnt (in this catalog, at this path) and in use."""
    work = tmp_path / f"k{n}"
    work.mkdir()
    db = work / "catalog.sqlite3"
    shutil.copy(prepared["chosen"], db)
    (work / "more").mkdir()  # new photos, when a test adds some
    (work / "lib").symlink_to(prepared["lib"])  # the scanned photos (never written)
    if learnt:
        run = _cli(work, "learn", "-q", "--catalog", str(db))
        assert run.returncode == 0, run.stderr
    return work, db


def prepared_lib(work: Path) -> Path:
    return (work / "lib").resolve()


def _check_healed(work: Path, db: Path) -> str:
    """After one `scan`: every photo shows a current prediction by the model in use, the
    catalog is intact, and no model but the shipped parent and the one in use has predictions.
    Returns the model in use."""
    parent = registry.default_model_id()
    folders = [str(prepared_lib(work)), str(work / "more")]
    done = _cli(work, "scan", "-q", "--device", "cpu", "--catalog", str(db), *folders)
    assert done.returncode == 0, done.stderr
    rows = json.loads(_cli(work, "list", "--json", "--catalog", str(db)).stdout)
    assert rows and all(r["mood"] is not None for r in rows), [r for r in rows if r["mood"] is None]
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        in_use = conn.execute(
            "SELECT model_id FROM models_in_use WHERE parent_id=?", (parent,)
        ).fetchone()
        shown = in_use[0] if in_use else parent
        blank = conn.execute(
            "SELECT count(*) FROM photos p LEFT JOIN predictions r ON r.photo_id=p.id "
            "AND r.model_id=? AND r.identity IS p.identity WHERE p.status='ok' AND r.photo_id IS NULL",
            (shown,),
        ).fetchone()[0]
        assert blank == 0
        models = {r[0] for r in conn.execute("SELECT DISTINCT model_id FROM predictions")}
        assert models <= {parent, shown}, models
    finally:
        conn.close()
    if shown != parent:
        assert (work / "models" / f"{shown}.json").is_file()
    return shown


def _sweep(
    kill_sweep, prepared, tmp_path: Path, learnt: bool, argv: list[str], *, new_photos: bool = False
) -> int:
    """Run ``argv`` killed at its 1st, 2nd, ... commit until it completes; heal-check each."""
    places: dict[int, tuple[Path, Path]] = {}

    def run(n: int) -> subprocess.CompletedProcess[str]:
        work, db = places[n] = _fresh(prepared, tmp_path, n, learnt=learnt)
        if new_photos:
            for f in prepared["more"].iterdir():
                shutil.copy(f, work / "more" / f.name)
        args = [a.replace("{lib}", str(prepared_lib(work))) for a in argv]
        args = [a.replace("{more}", str(work / "more")) for a in args]
        return _cli(work, *args, "--catalog", str(db), kill=n)

    return kill_sweep(run, lambda n: _check_healed(*places[n]))


def test_learn_killed_at_every_commit_heals_on_the_next_scan(
    kill_sweep, prepared, tmp_path: Path
) -> None:
    """`learn` replacing a personal model, killed at each commit: after one scan every photo
    shows a suggestion of the model in use, and the old model's predictions are gone."""
    commits = _sweep(kill_sweep, prepared, tmp_path, True, ["learn", "-q"])
    assert commits >= 1


def test_first_learn_killed_at_every_commit_heals(kill_sweep, prepared, tmp_path: Path) -> None:
    _sweep(kill_sweep, prepared, tmp_path, False, ["learn", "-q"])


def test_reset_killed_at_every_commit_heals(kill_sweep, prepared, tmp_path: Path) -> None:
    assert _sweep(kill_sweep, prepared, tmp_path, True, ["learn", "--reset", "-q"]) >= 1


def test_scan_of_new_photos_with_a_personal_model_killed_at_every_commit_heals(
    kill_sweep, prepared, tmp_path: Path
) -> None:
    commits = _sweep(
        kill_sweep,
        prepared,
        tmp_path,
        True,
        ["scan", "-q", "--device", "cpu", "{lib}", "{more}"],
        new_photos=True,
    )
    assert commits >= 2


def test_a_catalog_left_without_predictions_by_its_model_is_filled_by_scan(
    prepared, tmp_path: Path
) -> None:
    """What an older moodtagger left after a kill: the personal model switched on, none of its
    predictions stored. `scan` (nothing changed on disk) fills every photo from the stored
    embeddings."""
    work, db = _fresh(prepared, tmp_path, 0, learnt=True)
    with Catalog(db) as cat:
        parent = registry.default_model_id()
        mid = cat.models_in_use.get(parent)
        assert mid is not None
        cat.predictions.delete(mid)
        photos = len(cat.photos.all(status="ok"))
    run = _cli(work, "scan", "--device", "cpu", "--catalog", str(db), str(prepared_lib(work)))
    assert run.returncode == 0 and "nothing changed" in run.stdout, run.stderr
    assert f"{photos} photos without a personal suggestion filled" in run.stdout
    assert _check_healed(work, db) == mid


def test_learn_leaves_one_model_per_catalog_and_never_removes_another_catalogs(
    prepared, tmp_path: Path
) -> None:
    """Each `learn` removes the model files it replaced (no pile-up), `learn --reset` removes
    the one it stops using, and a second catalog's personal model (same user folder) stays."""
    work, db = _fresh(prepared, tmp_path, 0, learnt=True)
    other = work / "other.sqlite3"
    shutil.copy(prepared["chosen"], other)
    assert _cli(work, "learn", "-q", "--catalog", str(other)).returncode == 0
    with Catalog(other) as cat:
        other_model = cat.models_in_use.get(registry.default_model_id())
    for _ in range(3):
        run = _cli(work, "learn", "-q", "--catalog", str(db))
        assert run.returncode == 0, run.stderr
    with Catalog(db) as cat:
        mine = cat.models_in_use.get(registry.default_model_id())
    names = sorted(p.name for p in (work / "models").iterdir())
    assert names == sorted(f"{m}.{ext}" for m in (mine, other_model) for ext in ("json", "npz"))
    assert _cli(work, "learn", "--reset", "-q", "--catalog", str(db)).returncode == 0
    names = sorted(p.name for p in (work / "models").iterdir())
    assert names == [f"{other_model}.json", f"{other_model}.npz"]
    assert _check_healed(work, other) == other_model


# -- item 2: a damaged personal model ----------------------------------------------------------


def _resave(npz: Path, **change: object) -> None:
    """Write the arrays of ``npz`` again with some replaced (None: left out)."""
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in change.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    npz.unlink()
    with open(npz, "wb") as fh:
        np.savez(fh, **arrays)


def _damage(kind: str, folder: Path, entry: dict) -> None:
    npz = folder / entry["file"]
    with np.load(npz, allow_pickle=False) as z:
        weight = z["weight"]
    if kind == "truncated":
        npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    elif kind == "pickled":
        _resave(npz, weight=np.array([{"boom": 1}] * 8, dtype=object))
    elif kind == "wrong-shape":
        _resave(npz, weight=weight[:, :-3])
    elif kind == "missing-key":
        _resave(npz, targets=None)
    elif kind == "nan-weights":
        weight = weight.copy()
        weight[0, 0] = np.nan
        _resave(npz, weight=weight)
    elif kind == "directory":
        npz.unlink()
        npz.mkdir()
    elif kind == "sha-mismatch":
        _resave(npz, weight=weight * 3)
        return  # the recorded sha256 stays the old one
    elif kind == "absolute-path":
        elsewhere = folder.parent / "elsewhere" / "model.npz"
        elsewhere.parent.mkdir()
        shutil.move(npz, elsewhere)
        entry["file"] = str(elsewhere)
    elif kind == "dotdot-path":
        shutil.move(npz, folder.parent / "x.npz")
        entry["file"] = "../x.npz"
    if npz.is_file():  # the file's content is what is wrong, not its hash
        import hashlib

        entry["sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
    (folder / f"{entry['id']}.json").write_text(json.dumps(entry))


DAMAGE = (
    "truncated",
    "pickled",
    "wrong-shape",
    "missing-key",
    "nan-weights",
    "directory",
    "sha-mismatch",
    "absolute-path",
    "dotdot-path",
)


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_personal_model_shows_the_shipped_suggestions_with_one_sentence(
    prepared, tmp_path: Path, kind: str
) -> None:
    work, db = _fresh(prepared, tmp_path, 0, learnt=True)
    parent = registry.default_model_id()
    with Catalog(db) as cat:
        mid = cat.models_in_use.get(parent)
    assert mid is not None
    folder = work / "models"
    entry = json.loads((folder / f"{mid}.json").read_text())
    _damage(kind, folder, entry)
    for f in prepared["more"].iterdir():
        shutil.copy(f, work / "more" / f.name)

    run = _cli(work, "scan", "-q", "--device", "cpu", "--catalog", str(db), str(work / "more"))
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert lines[0].startswith("warning: the personal model ") and str(folder) in lines[0]
    assert "`moodtagger learn`" in lines[0] and "`moodtagger learn --reset`" in lines[0]
    if kind in ("absolute-path", "dotdot-path"):
        assert "refused" in lines[0]

    # every photo, the new ones included, shows the shipped model's suggestion meanwhile, and
    # every command that shows suggestions says why (the same sentence)
    exported = _cli(work, "export", "--format", "json", "--catalog", str(db))
    shown = {r["path"]: r for r in json.loads(exported.stdout)}
    listed = _cli(work, "list", "--catalog", str(db))
    accepted = _cli(work, "accept", "--min", "0.99", "--catalog", str(db))
    for other in (exported, listed, accepted):
        assert other.returncode == 0, other.stderr
        assert [ln for ln in other.stderr.splitlines() if ln.startswith("warning:")] == lines
    with Catalog(db) as cat:
        photos = cat.photos.all(status="ok")
        shipped = cat.predictions.probs_for(parent, [p.id for p in photos])
    assert len(photos) == N_PHOTOS + 2
    assert not np.isnan(shipped).any()
    for photo, probs in zip(photos, shipped, strict=True):
        got = [shown[photo.path]["probabilities"][m] for m in MOODS]
        assert np.allclose(got, probs, atol=1e-5), photo.path
    assert {Path(p).name for p in shown} >= {"new0.jpg", "new1.jpg"}

    # both fixes work; going back changes no suggestion (the shipped ones were shown already);
    # nothing outside the folder was touched
    run = _cli(work, "learn", "--reset", "--json", "--catalog", str(db))
    assert run.returncode == 0 and json.loads(run.stdout)["changed"] == 0, run.stderr
    run = _cli(work, "learn", "-q", "--catalog", str(db))
    assert run.returncode == 0, run.stderr
    rows = json.loads(_cli(work, "list", "--json", "--catalog", str(db)).stdout)
    assert all(r["mood"] is not None for r in rows)
    if kind == "absolute-path":
        assert (folder.parent / "elsewhere" / "model.npz").is_file()
    if kind == "dotdot-path":
        assert (folder.parent / "x.npz").is_file()


def test_transactions_nest_and_commit_once(tmp_path: Path) -> None:
    """A method with its own transaction inside a larger one is a savepoint: an error in it
    undoes only its part, and nothing is visible to another connection before the outer
    COMMIT."""
    from moodtagger.core.catalog import Prediction

    with Catalog(tmp_path / "c.db") as cat:
        with cat.transaction() as c:
            c.execute(
                "INSERT INTO photos(path, status, identity, added_at, updated_at) "
                "VALUES (x'61', 'ok', 'i', 0, 0)"
            )
            pid = c.execute("SELECT id FROM photos").fetchone()[0]
            cat.predictions.save("m", [(pid, Prediction((1.0,) + (0.0,) * 7))])
            with pytest.raises(sqlite3.IntegrityError), cat.transaction():
                cat.models_in_use.set("m", "personal-x")
                c.execute("INSERT INTO photos(path, added_at, updated_at) VALUES (NULL, 0, 0)")
            other = sqlite3.connect(tmp_path / "c.db")
            assert other.execute("SELECT count(*) FROM predictions").fetchone()[0] == 0
        assert other.execute("SELECT count(*) FROM predictions").fetchone()[0] == 1
        assert cat.models_in_use.get("m") is None  # the failed savepoint was undone alone
        other.close()


def test_import_predictions_killed_at_every_commit_heals(
    kill_sweep, prepared, tmp_path: Path
) -> None:
    """`import-predictions` of a predict CSV into a catalog scanned with --no-predict, killed at
    each commit: its rows are stored whole or not at all, and one `scan` then gives every
    photo a current prediction (the imported ones kept, the rest predicted)."""
    src = tmp_path / "src"
    src.mkdir()
    out = src / "predicted.csv"
    lib = prepared["lib"]
    run = _cli(src, "predict", "-q", "--device", "cpu", "-o", str(out), str(lib))
    assert run.returncode == 0, run.stderr
    places: dict[int, tuple[Path, Path]] = {}

    def start(n: int) -> subprocess.CompletedProcess[str]:
        work = tmp_path / f"i{n}"
        work.mkdir()
        (work / "more").mkdir()
        (work / "lib").symlink_to(lib)
        db = places[n] = (work, work / "catalog.sqlite3")
        scanned = _cli(work, "scan", "-q", "--no-predict", "--catalog", str(db[1]), str(lib))
        assert scanned.returncode == 0, scanned.stderr
        return _cli(work, "import-predictions", "-q", "--catalog", str(db[1]), str(out), kill=n)

    def check(n: int) -> None:
        work, db = places[n]
        conn = sqlite3.connect(db)
        try:  # one chunk, one transaction: every row of the file or none
            stored = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
            assert stored in (0, N_PHOTOS), stored
        finally:
            conn.close()
        _check_healed(work, db)

    assert kill_sweep(start, check) >= 1
