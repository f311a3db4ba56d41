"""`predict --ray` on a real local Ray cluster (num_cpus=2, one per module) and
`import-predictions`: parity with local predict, a worker killed mid-run, bad files, the
scan --no-predict -> cluster -> import workflow."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import ray

from moodtagger.cli import main
from moodtagger.core import cluster
from moodtagger.core.catalog import Catalog
from moodtagger.core.model.engine import MoodModel
from moodtagger.core.model.registry import entry
from moodtagger.core.moods import MOODS

TOL = 1e-4


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ray-cache")


@pytest.fixture(autouse=True)
def _shared_cache(module_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Driver and Ray workers use one cache: the ONNX export is made once per module."""
    monkeypatch.setenv("MOODTAGGER_CACHE", str(module_cache))


@pytest.fixture(scope="module")
def ray_cluster(module_cache: Path):
    """One local Ray cluster for the module (2 CPUs), with the ONNX export already cached."""
    old = os.environ.get("MOODTAGGER_CACHE")
    os.environ["MOODTAGGER_CACHE"] = str(module_cache)
    try:
        MoodModel(device="cpu")  # export once here, not in every worker
    finally:
        os.environ.pop("MOODTAGGER_CACHE") if old is None else os.environ.__setitem__(
            "MOODTAGGER_CACHE", old
        )
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        configure_logging=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"MOODTAGGER_CACHE": str(module_cache)}},
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def photos(imagenet_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Real photos, one with a non-UTF-8 name, plus two unreadable files."""
    lib = tmp_path_factory.mktemp("lib")
    files = sorted(imagenet_sample.iterdir())[:14]
    out = [shutil.copy(f, lib / f.name) for f in files]
    odd = os.path.join(os.fsencode(lib), b"caf\xe9.jpg")
    shutil.copy(files[-1], odd)
    out.append(os.fsdecode(odd))
    (lib / "garbage.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (lib / "empty.png").write_bytes(b"")
    return [str(p) for p in out] + [str(lib / "garbage.jpg"), str(lib / "empty.png")]


def _csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8", errors="surrogateescape"))))


def _close(a: list[str], b: list[str]) -> bool:
    """Same path, top mood and text columns (chosen, state, model); numbers within TOL."""
    return (
        a[:2] == b[:2]
        and a[13:] == b[13:]
        and all(
            abs(float(x) - float(y)) <= TOL for x, y in zip(a[2:13], b[2:13], strict=True) if x or y
        )
    )


def test_ray_predict_equals_local_predict(ray_cluster, photos, tmp_path: Path, capsys) -> None:
    local, remote = tmp_path / "local.csv", tmp_path / "ray.csv"
    assert main(["predict", "-q", "--device", "cpu", *photos, "-o", str(local)]) == 1
    local_err = capsys.readouterr().err
    assert main(["predict", "-q", "--ray", "local", *photos, "-o", str(remote)]) == 1
    ray_err = capsys.readouterr().err
    a, b = _csv(local), _csv(remote)
    assert a[0] == b[0] and len(a) == len(b) == len(photos) - 2 + 1
    assert [r[0] for r in b[1:]] == [r[0] for r in a[1:]]  # same files, same order
    for ra, rb in zip(a[1:], b[1:], strict=True):
        assert _close(ra, rb), (ra, rb)
    # unreadable files: the same per-file errors as locally, the run went on
    errors = sorted(line for line in ray_err.splitlines() if line.startswith("error: "))
    assert errors == sorted(line for line in local_err.splitlines() if line.startswith("error: "))
    assert [e.split(": ")[1].rsplit("/", 1)[1] for e in errors] == ["empty.png", "garbage.jpg"]


def test_killed_worker_loses_and_doubles_no_rows(ray_cluster, imagenet_sample: Path) -> None:
    paths = [str(p) for p in sorted(imagenet_sample.iterdir())[:64]]
    ref = {
        r.path: r.prediction
        for r in MoodModel(device="cpu").predict_paths(paths, batch_size=4)
        for r in r
    }  # noqa: B020
    rows, killed = [], None
    for row in cluster.iter_rows(paths, batch_size=4, workers=1, block_rows=4):
        rows.append(row)
        if killed is None:
            killed = row.pid
            os.kill(killed, signal.SIGKILL)  # the worker process holding the model, mid-run
    pids_after = {r.pid for r in rows[1:]}
    assert killed in {r.pid for r in rows[:1]}
    assert pids_after - {killed}, "no row came from a restarted worker: the kill was not mid-run"
    assert sorted(r.idx for r in rows) == list(range(len(paths)))  # none lost, none doubled
    for r in rows:
        want = ref[r.result.path]
        assert r.result.error is None
        assert (
            max(abs(x - y) for x, y in zip(r.result.prediction.probs, want.probs, strict=True))
            <= TOL
        )


def test_unreachable_cluster_is_one_sentence(photos) -> None:
    # a fresh process (this one already runs Ray): nobody listens on port 1
    run = subprocess.run(
        [sys.executable, "-m", "moodtagger", "predict", "-q", "--ray", "127.0.0.1:1", photos[0]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and run.stdout == ""
    err = run.stderr.strip()
    assert (
        err.startswith("moodtagger: cannot reach the Ray cluster at 127.0.0.1:1")
        and "\n" not in err
    )


def test_scan_no_predict_then_cluster_then_import(
    ray_cluster, photos, tmp_path: Path, capsys
) -> None:
    lib = os.path.dirname(photos[0])
    db = str(tmp_path / "cat.sqlite3")
    model_id = entry().id
    assert main(["scan", "-q", "--no-predict", "--catalog", db, lib]) == 1  # the two bad files
    with Catalog(db) as cat:
        assert len(cat.predictions.photos_needing(model_id)) == len(photos) - 2
        assert all(cat.predictions.get(p.id, model_id) is None for p in cat.photos.all(status="ok"))
    out = tmp_path / "ray.json"
    assert main(["predict", "-q", "--json", "--ray", "local", lib, "-o", str(out)]) == 1
    recs = json.loads(out.read_text(encoding="utf-8", errors="surrogateescape"))
    changed = next(r["path"] for r in recs if r["path"].endswith(".JPEG"))
    os.utime(changed, ns=(1, 1))  # touched after the scan: no longer the content the catalog knows
    capsys.readouterr()
    assert main(["import-predictions", "--catalog", db, str(out)]) == 1
    err = capsys.readouterr().err
    assert f"error: {changed}: changed since it was scanned" in err
    assert "garbage.jpg: " in err and "empty.png: " in err
    with Catalog(db) as cat:
        todo = cat.predictions.photos_needing(model_id)
        assert [p.path for p in todo] == [changed]
        by_path = {r["path"]: r for r in recs}
        for p in cat.photos.all(status="ok"):
            got = cat.predictions.get(p.id, model_id)
            if p.path == changed:
                continue
            want = by_path[p.path]
            assert (
                max(abs(got.probs[i] - want["probabilities"][m]) for i, m in enumerate(MOODS))
                <= 1e-6
            )
            assert abs(got.valence - want["valence"]) <= 1e-3
    # importing again changes nothing and doubles nothing
    assert main(["import-predictions", "-q", "--catalog", db, str(out)]) == 1
    with Catalog(db) as cat:
        n = cat.conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    assert n == len(photos) - 3


def test_import_csv_and_refusals(photos, tmp_path: Path, capsys) -> None:
    lib = os.path.dirname(photos[0])
    db = str(tmp_path / "cat.sqlite3")
    assert main(["scan", "-q", "--no-predict", "--catalog", db, lib]) == 1
    out = tmp_path / "p.csv"
    outside = tmp_path / "elsewhere.jpg"
    shutil.copy(photos[0], outside)
    assert (
        main(
            ["predict", "-q", "--device", "cpu", photos[0], photos[1], str(outside), "-o", str(out)]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["import-predictions", "--catalog", db, str(out)]) == 1
    err = capsys.readouterr().err
    assert f"error: {outside}: not in the catalog" in err
    with Catalog(db) as cat:
        assert cat.predictions.get(cat.photos.by_path(photos[0]).id, entry().id) is not None
    bad = tmp_path / "other.json"
    bad.write_text(
        json.dumps(
            [
                {
                    "path": photos[2],
                    "model": "someone-elses-model",
                    "probabilities": {m: 1 / 8 for m in MOODS},
                }
            ]
        )
    )
    assert main(["import-predictions", "--catalog", db, str(bad)]) == 1
    assert "predicted with someone-elses-model" in capsys.readouterr().err
    (tmp_path / "junk.csv").write_text("a,b\n1,2\n")
    assert main(["import-predictions", "--catalog", db, str(tmp_path / "junk.csv")]) == 2
    assert "neither a predict CSV" in capsys.readouterr().err
