"""A library of N photos against the same library at N/10 (issue 29): how each cost grows.

Builds, through the core's own API, a synthetic but realistic catalog: N photos in nested
folders (year/event/file) with capture dates, the shipped model's current predictions (real
model ids, probabilities from a Dirichlet), real-looking embeddings (the cached backbone
features of ArtPhoto/Emotion6 photos plus per-copy noise, as in ``bench_similar.py``), 5%
chosen, and a personal model learnt from those choices. Then measures, in one run, at N and at
N/10, printing each number and the ratio:

* ``gui --screenshot``: the whole app process, opening the catalog to the first rows painted,
  wall time and peak memory (``/usr/bin/time``): the first open after every photo changed
  (rows read from the catalog, their copy written) and a later one (rows from that copy);
* the app's filter (mood awe, p >= 0.5) and sort (by top probability), in the app's own
  models (PhotoModel + PhotoProxy, offscreen) on rows already loaded; scrolling (the data of
  every 50th row the grid would paint);
* ``similar`` with the index in memory (per query), ``learn`` (fit + re-predict every photo);
* ``list --mood awe --min 0.5 --json`` and ``export`` as whole processes (time, peak memory).

    python bench/bench_scale.py --n 1000000 --catalog /tmp/scale.sqlite3
    python bench/bench_scale.py --n 1000000 --catalog /tmp/scale.sqlite3 --only build
    python bench/bench_scale.py --n 1000000 --catalog /tmp/scale.sqlite3 --only measure

The N/10 catalog lives beside PATH (``PATH`` with ``.tenth`` before the suffix); an existing
catalog of the right size is reused, so ``--only measure`` after ``--only build`` measures
without building again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.catalog.records import ScannedFile
from moodtagger.core.model import registry
from moodtagger.core.moods import MOODS

CHUNK = 20_000


def real_vectors(dim_fallback: int = 1280) -> np.ndarray:
    """Backbone embeddings of real photos: the feature cache training fills (any data set in
    it), else ArtPhoto's and Emotion6's extracted now; random ones only without ../shared."""
    from moodtagger.core import imaging

    cached = sorted((imaging.cache_dir() / "features").glob("lite0-*.npz"))
    if cached:
        return np.concatenate([np.load(f)["final"][:, :2].mean(1) for f in cached])
    try:
        from moodtagger.training import datasets, features

        sets = (datasets.load_artphoto().files, datasets.load_emotion6().files)
        return np.concatenate([features.extract(f)["final"][:, :2].mean(1) for f in sets])
    except Exception as e:  # noqa: BLE001 - a bench without the team's photos still runs
        print(f"(no cached features: {e}; random vectors instead)")
        return np.abs(np.random.default_rng(0).normal(size=(2000, dim_fallback)))


def tenth_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.tenth{path.suffix}")


def built_with(path: Path) -> str | None:
    """The shipped model whose predictions a built catalog holds (None: not built yet)."""
    if not path.exists():
        return None
    with Catalog(path) as cat:
        row = cat.conn.execute(
            "SELECT model_id FROM predictions WHERE model_id NOT LIKE 'personal-%' LIMIT 1"
        ).fetchone()
    return row[0] if row else None


def photo_count(path: Path) -> int:
    if not path.exists():
        return -1
    with Catalog(path) as cat:
        return cat.photos.count()


def build(path: Path, n: int, base: np.ndarray, model_id: str, seed: int = 0) -> None:
    """N photos through the core API: store_scanned, predictions, embeddings, choices, learn."""
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    start = time.mktime((2015, 1, 1, 8, 0, 0, 0, 0, -1))
    with Catalog(path) as cat:
        root = "/photos"
        with cat.transaction():
            cat.photos.add_root(root)
        for lo in range(0, n, CHUNK):
            hi = min(n, lo + CHUNK)
            batch = []
            for i in range(lo, hi):
                event = i // 400  # ~400 photos an event, ~40 events a year
                year = 2015 + event // 40
                taken = start + i * 600 + rng.integers(0, 300)
                batch.append(
                    (
                        ScannedFile(
                            path=os.fsencode(
                                f"{root}/{year}/{year}-event-{event:05d}/IMG_{i:07d}.jpg"
                            ),
                            size=150_000 + int(i % 997),
                            mtime_ns=int((start + n * 600 - i * 60) * 1e9),  # reversed to dates
                            identity=f"{seed:02x}{i:030x}",
                            width=4000,
                            height=3000,
                            orientation=1,
                            format="JPEG",
                            taken_at=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(taken)),
                            ctime_ns=int(start * 1e9),
                        ),
                        None,
                    )
                )
            stored = cat.photos.store_scanned(batch)
            ids = [pid for pid, _ in stored]
            probs = rng.dirichlet(np.full(len(MOODS), 0.6), size=len(ids))
            va = np.clip(rng.normal(5.0, 1.3, size=(len(ids), 2)), 1.0, 9.0)
            src = rng.integers(0, len(base), len(ids))
            vecs = np.maximum(base[src] + rng.normal(0, 0.05, (len(ids), base.shape[1])), 0)
            vecs = vecs.astype(np.float16)
            cat.predictions.save(
                model_id,
                [
                    (pid, Prediction(tuple(map(float, probs[k])), float(va[k, 0]), float(va[k, 1])))
                    for k, pid in enumerate(ids)
                ],
            )
            cat.embeddings.save(model_id, [(pid, vecs[k]) for k, pid in enumerate(ids)])
            chosen = np.nonzero(rng.random(len(ids)) < 0.05)[0]
            with cat.transaction():
                for k in chosen.tolist():
                    cat.choices.set(ids[k], [MOODS[int(np.argmax(probs[k]))]], source="user")
            print(f"  {hi:,}/{n:,} photos ({time.perf_counter() - t0:.0f} s)", flush=True)
        from moodtagger.core.model import personal

        s = personal.learn(cat, model_id)
        print(
            f"built {path} ({n:,} photos, {sum(s.examples.values()):,} choices, personal model "
            f"{s.model_id}) in {time.perf_counter() - t0:.0f} s"
        )


def timed_process(args: list[str], out: Path | None = None) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (GiB) of ``python -m moodtagger ARGS`` as a user runs it."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        cmd = ["/usr/bin/time", "-f", "%e %M", "-o", tf.name, sys.executable, "-m", "moodtagger"]
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
        with open(out or os.devnull, "w") as sink:
            proc = subprocess.run(
                cmd + args, stdout=sink, stderr=subprocess.PIPE, text=True, env=env
            )
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-800:]}")
        wall, rss_kb = tf.read().split()[-2:]
    return float(wall), int(rss_kb) / 2**20, proc.stderr


def in_app(path: Path, model_id: str, learn: bool = True, similar: bool = True) -> dict[str, float]:
    """The app's own models on loaded rows: filter, sort, scroll; similar and learn."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from moodtagger.core.embeddings import EmbeddingIndex
    from moodtagger.core.model import personal
    from moodtagger.core.rows import Filter, load_rows
    from moodtagger.gui.models.photomodel import PhotoModel, PhotoProxy

    app = QApplication.instance() or QApplication([])
    out: dict[str, float] = {}
    with Catalog(path) as cat:
        current = cat.models_in_use.get(model_id) or model_id
        t = time.perf_counter()
        rows = load_rows(cat, current)
        out["load rows (s)"] = time.perf_counter() - t
        model = PhotoModel()
        proxy = PhotoProxy()
        t = time.perf_counter()
        model.set_rows(rows)
        proxy.setSourceModel(model)
        out["model + proxy set (s)"] = time.perf_counter() - t
        t = time.perf_counter()
        proxy.set_filter(Filter(moods=frozenset({"awe"}), min_prob=0.5))
        proxy.rowCount()
        out["filter awe >= 0.5 (ms)"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        proxy.sort_by("top", descending=True)
        proxy.rowCount()
        out["sort by top (ms)"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        proxy.set_filter(Filter())
        proxy.rowCount()
        out["clear filter (ms)"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        n_rows = proxy.rowCount()
        for r in range(0, n_rows, max(1, n_rows // 2000)):
            ix = proxy.index(r, 0)
            proxy.data(ix, Qt.ItemDataRole.DisplayRole)
            proxy.data(ix, Qt.ItemDataRole.ToolTipRole)
        out["scroll: 2,000 rows' data (ms)"] = (time.perf_counter() - t) * 1000
        app.processEvents()
        out.update(with_grid(app, proxy))
        if not similar:  # --grid-only: the rows, the models and the grid
            return out

        t = time.perf_counter()
        ids, vecs = cat.embeddings.all(model_id)  # the first time: read, and the copy written
        out["similar: embeddings, first read (s)"] = time.perf_counter() - t
        del ids, vecs
        t = time.perf_counter()
        ids, vecs = cat.embeddings.all(model_id)  # as every later process: the mapped copy
        out["similar: embeddings, mapped copy (s)"] = time.perf_counter() - t
        t = time.perf_counter()
        index = EmbeddingIndex(ids, vecs)
        out["similar: build index (s)"] = time.perf_counter() - t
        rng = np.random.default_rng(1)
        queries = rng.choice(len(ids), 50, replace=False)
        t = time.perf_counter()
        for q in queries:
            index.search(vecs[q], 10, exclude={int(ids[q])})
        out["similar: per query (ms)"] = (time.perf_counter() - t) / len(queries) * 1000
        del index, vecs
        if learn:
            t = time.perf_counter()
            personal.learn(cat, model_id)
            out["learn (s)"] = time.perf_counter() - t
    return out


def with_grid(app, proxy) -> dict[str, float]:
    """Filter, sort and clear again with the app's grid shown on the proxy (offscreen, the
    window's cell size): each until the grid has laid out and painted once."""
    from moodtagger.core.rows import Filter
    from moodtagger.gui.views.delegate import PhotoDelegate
    from moodtagger.gui.views.grid import PhotoGrid

    grid = PhotoGrid()
    grid.setModel(proxy)
    delegate = PhotoDelegate(grid)
    grid.setItemDelegate(delegate)
    grid.set_base_cell(delegate.cell_size())
    proxy.sourceModel().thumbnails_enabled = False  # no files: cells paint placeholders
    grid.resize(1100, 850)
    grid.show()
    app.processEvents()
    grid.setCurrentIndex(proxy.index(0, 0))
    out = {}
    steps = (
        ("filter", lambda: proxy.set_filter(Filter(moods=frozenset({"awe"}), min_prob=0.5))),
        ("sort by name", lambda: proxy.sort_by("name")),
        ("clear", lambda: proxy.set_filter(Filter())),
        ("sort by top", lambda: proxy.sort_by("top", descending=True)),
    )
    from PySide6.QtCore import QEvent, QObject

    class Paints(QObject):  # counts the grid's paints: each step is timed to exactly one
        n = 0

        def eventFilter(self, _obj, event) -> bool:
            Paints.n += event.type() == QEvent.Type.Paint
            return False

    counter = Paints()
    grid.viewport().installEventFilter(counter)
    for label, step in steps:
        t = time.perf_counter()
        painted = Paints.n
        step()
        app.processEvents()  # the grid's delayed layout, and usually its paint
        if Paints.n == painted:
            grid.viewport().repaint()
        out[f"with the grid: {label} (ms)"] = (time.perf_counter() - t) * 1000
    grid.close()
    return out


def measure(path: Path, model_id: str, work: Path, learn: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    shot = work / "shot.png"
    # the first open after every photo changed (a build, a learn) reads the catalog and writes
    # the rows' copy in the cache folder; every later open reads that copy
    gui = ["gui", "--catalog", str(path), "--screenshot", str(shot)]
    wall, rss, _ = timed_process(gui)
    out["gui first open, rows from the catalog (s)"] = wall
    wall, rss, _ = timed_process(gui)
    out["gui open to screenshot (s)"], out["gui peak memory (GiB)"] = wall, rss
    wall, rss, _ = timed_process(
        ["list", "--catalog", str(path), "--mood", "awe", "--min", "0.5", "--json"],
        work / "list.json",
    )
    out["list --mood awe --min 0.5 --json (s)"], out["list peak memory (GiB)"] = wall, rss
    csv = work / "export.csv"
    wall, rss, _ = timed_process(["export", "--catalog", str(path), "-o", str(csv)])
    out["export (s)"], out["export peak memory (GiB)"] = wall, rss
    # the in-app numbers in a process of their own (its peak memory is the browsing peak)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        proc = subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%M",
                "-o",
                tf.name,
                sys.executable,
                __file__,
                "--in-app",
                "--catalog",
                str(path),
                *([] if learn else ["--no-learn"]),
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(f"in-app measurement failed: {proc.stderr[-1500:]}")
        out["in-app peak memory (GiB)"] = int(tf.read().split()[-1]) / 2**20
    for line in proc.stdout.splitlines():
        key, _, value = line.rpartition("=")
        out[key] = float(value)
    return out


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--only", choices=["build", "measure"])
    ap.add_argument(
        "--no-learn",
        action="store_true",
        help="skip measuring learn (it replaces the catalog's personal model)",
    )
    ap.add_argument("--in-app", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--grid-only",
        action="store_true",
        help="with --in-app: only the rows, the app's models and its grid (no similar, learn)",
    )
    args = ap.parse_args()
    os.environ.setdefault(
        "MOODTAGGER_PERSONAL_MODELS", str(args.catalog.parent / "moodtagger-scale-models")
    )
    model_id = built_with(args.catalog) or registry.default_model_id()
    # measure with the model the catalog was built with: under a newer default model the app
    # would re-predict every (file-less) photo and mark it unreadable
    os.environ["MOODTAGGER_MODEL"] = model_id
    if args.in_app:
        learn, similar = not (args.no_learn or args.grid_only), not args.grid_only
        for key, value in in_app(args.catalog, model_id, learn, similar).items():
            print(f"{key}={value}")
        return 0
    sizes = [(args.catalog, args.n), (tenth_path(args.catalog), args.n // 10)]
    if args.only != "measure":
        base = None
        for path, n in sizes:
            if photo_count(path) == n:
                print(f"{path}: {n:,} photos already built")
                continue
            base = real_vectors() if base is None else base
            build(path, n, base, model_id)
        if args.only == "build":
            return 0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for path, n in sizes:
            if photo_count(path) != n:
                raise SystemExit(f"{path} does not hold {n:,} photos: run with --only build first")
            print(f"measuring {n:,} photos ...")
            results.append(measure(path, model_id, Path(tmp), not args.no_learn))
    big, small = results
    print(f"\n{'':44} {args.n // 10:>12,} {args.n:>12,}   ratio")
    for key in big:
        ratio = big[key] / small[key] if small[key] else float("nan")
        print(f"{key:44} {small[key]:12.3f} {big[key]:12.3f}   {ratio:5.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
