"""Issue 29: loading the grid's rows stays linear at a million photos. Properties that catch a
regression without timing anything: the cyclic garbage collector never walks the freshly built
rows while they are loaded, and the rows stay what the catalog holds."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np

from moodtagger.core import rows as R
from moodtagger.core.catalog import Catalog, Prediction, ScannedFile
from moodtagger.core.moods import MOODS

MODEL = "m-scale"
N = 3000


def _catalog(tmp_path: Path) -> Path:
    db = tmp_path / "scale.sqlite3"
    rng = np.random.default_rng(0)
    with Catalog(db) as cat:
        with cat.transaction():
            cat.photos.add_root("/photos")
        batch = [
            (
                ScannedFile(
                    path=f"/photos/{i // 100:03d}/IMG_{i:05d}.jpg".encode(),
                    size=1000 + i,
                    mtime_ns=1_600_000_000_000_000_000 + i,
                    identity=f"{i:032x}",
                    width=40,
                    height=30,
                    orientation=1,
                    format="JPEG",
                    taken_at=f"2020-01-{1 + i % 28:02d}T10:00:00",
                    ctime_ns=0,
                ),
                None,
            )
            for i in range(N)
        ]
        ids = [pid for pid, _ in cat.photos.store_scanned(batch)]
        probs = rng.dirichlet(np.ones(len(MOODS)), size=N)
        cat.predictions.save(
            MODEL, [(pid, Prediction(tuple(map(float, probs[k])))) for k, pid in enumerate(ids)]
        )
        with cat.transaction():
            cat.choices.set(ids[0], ["awe"], source="user")
    return db


def test_loading_rows_never_runs_the_cyclic_garbage_collector(tmp_path: Path) -> None:
    """Each collection walks every tracked object: at a million rows the collector alone made
    loading super-linear. Loading builds no cycles, so it runs with the collector off."""
    db = _catalog(tmp_path)
    runs: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            runs.append(info["generation"])

    with Catalog(db) as cat:
        gc.collect()
        gc.callbacks.append(seen)
        try:
            rows = R.load_rows(cat, MODEL)
        finally:
            gc.callbacks.remove(seen)
    assert gc.isenabled()
    assert len(runs) <= 1, runs  # at most the one that re-enabling it lets run at the end
    assert len(rows) == N
    assert rows.paths[0] == "/photos/000/IMG_00000.jpg"
    assert rows.choice(0) == ("awe",)
    assert not np.isnan(rows.probs).any()


def test_export_entries_never_run_the_cyclic_garbage_collector(tmp_path: Path) -> None:
    """`export` at a million photos: its entries, like the grid's rows, are built with the
    collector off, and the CSV keeps six decimals per probability."""
    import io

    from moodtagger.core import export

    db = _catalog(tmp_path)
    runs: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            runs.append(info["generation"])

    with Catalog(db) as cat:
        gc.collect()
        gc.callbacks.append(seen)
        try:
            entries = export.catalog_entries(cat, MODEL)
        finally:
            gc.callbacks.remove(seen)
    assert gc.isenabled()
    assert len(runs) <= 1, runs  # at most the one that re-enabling it lets run at the end
    out = io.StringIO()
    assert export.write_csv(entries, out) == N
    first = out.getvalue().splitlines()[1].split(",")
    assert first[0] == "/photos/000/IMG_00000.jpg"
    probs = first[3 : 3 + len(MOODS)]
    assert all(len(x.split(".")[1]) == 6 for x in probs)
    assert first[1] == MOODS[int(np.argmax([float(x) for x in probs]))]


def test_photos_needing_a_prediction_come_in_path_order(tmp_path: Path) -> None:
    """The refresh's "what is left to predict" scans in rowid order (issue 29) but still hands
    the photos over in path order, as before."""
    db = tmp_path / "needing.sqlite3"
    order = [7, 2, 9, 0, 5, 3, 8, 1, 6, 4]  # stored (rowid) order differs from path order
    with Catalog(db) as cat:
        with cat.transaction():
            cat.photos.add_root("/p")
        batch = [
            (
                ScannedFile(
                    path=f"/p/{'é' if i == 9 else ''}IMG_{i}.jpg".encode(),
                    size=1,
                    mtime_ns=1,
                    identity=f"{i:032x}",
                    width=4,
                    height=3,
                    orientation=1,
                    format="JPEG",
                    taken_at=None,
                    ctime_ns=0,
                ),
                None,
            )
            for i in order
        ]
        ids = dict(zip(order, (pid for pid, _ in cat.photos.store_scanned(batch)), strict=True))
        cat.predictions.save(MODEL, [(ids[i], Prediction((0.125,) * 8)) for i in (0, 3, 6)])
        needing = cat.predictions.photos_needing(MODEL)
        sql_order = [
            r[0]
            for r in cat.conn.execute(
                "SELECT path FROM photos WHERE id IN "
                f"({','.join(str(ids[i]) for i in (1, 2, 4, 5, 7, 8, 9))}) ORDER BY path"
            )
        ]
    assert [Path(p.path).name for p in needing] == [
        Path(p.decode() if isinstance(p, bytes) else p).name for p in sql_order
    ]
    assert len(needing) == 7
