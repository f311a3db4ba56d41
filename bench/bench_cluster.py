"""Prediction on a local Ray cluster (1 and 2 workers) against local ``predict``, in one run.

    .venv/bin/python bench/bench_cluster.py            # 300 photos of ../shared/data/imagenet-sample
    .venv/bin/python bench/bench_cluster.py --n 1000   # more photos (steadier numbers)

Measured on the same files (page cache warmed first), ONNX export cached, Ray started once
(``ray.init(num_cpus=--cpus)``, not timed):

* local: ``MoodModel(device="cpu").predict_paths`` -- what ``moodtagger predict`` runs (decode
  thread pool over all cores, ONNX Runtime on all cores), model loaded before timing;
* ray k: ``core.cluster.iter_rows(workers=k)`` -- ``predict --ray`` without the CSV: k model
  actors of one CPU each (decode fused into the actor, one ONNX thread). ``wall`` includes the
  actor start (model load per worker); ``steady`` is (n - n/3) / (t(n) - t(n/3)) from a run
  on a third of the files and one on all of them: start-up cancels out, leaving the rate a
  long run on a big cluster sees per worker.

On a machine that other jobs share, all numbers move together; the ratios are the point.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from moodtagger.core import cluster
from moodtagger.core.model.engine import MoodModel

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = ROOT.parent / "shared" / "data" / "imagenet-sample"


def local(files: list[str], batch: int) -> float:
    model = MoodModel(device="cpu")
    list(model.predict_paths(files[:batch], batch_size=batch))  # warm-up
    t0 = time.perf_counter()
    n = sum(len(b) for b in model.predict_paths(files, batch_size=batch))
    return n / (time.perf_counter() - t0)


def _seconds(files: list[str], batch: int, workers: int) -> float:
    t0 = time.perf_counter()
    n = sum(1 for _ in cluster.iter_rows(files, batch_size=batch, workers=workers))
    assert n == len(files)
    return time.perf_counter() - t0


def on_ray(files: list[str], batch: int, workers: int) -> tuple[float, float]:
    """(wall rate on all files, steady rate): the steady rate is the difference of a run on a
    third of the files and one on all of them, so actor start-up and pipeline fill cancel out."""
    third = files[: len(files) // 3]
    t_small, t_all = _seconds(third, batch, workers), _seconds(files, batch, workers)
    return len(files) / t_all, (len(files) - len(third)) / max(t_all - t_small, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=300, help="photos of the sample to use")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs given to Ray")
    args = ap.parse_args()
    import ray

    files = [str(p) for p in sorted(SAMPLE.iterdir())[: args.n]]
    for f in files:  # warm the page cache: measure decoding and the model, not the disk
        Path(f).read_bytes()
    MoodModel(device="cpu")  # the ONNX export exists before any worker starts
    print(
        f"{len(files)} photos, {os.cpu_count()} CPU cores on this machine, Ray gets {args.cpus}, "
        f"batch {args.batch_size}"
    )
    base = local(files, args.batch_size)
    print(f"local predict (all cores)     {base:7.1f} img/s   1.00x")
    ray.init(
        num_cpus=args.cpus, include_dashboard=False, configure_logging=False, log_to_driver=False
    )
    try:
        for k in (1, 2):
            wall, steady = on_ray(files, args.batch_size, k)
            print(
                f"ray, {k} worker{'s' if k > 1 else ' '} x 1 CPU       {wall:7.1f} img/s   {wall / base:.2f}x"
                f"   (steady {steady:.1f} img/s = {steady / k:.1f} per worker, {steady / base:.2f}x)"
            )
    finally:
        ray.shutdown()
    again = local(files, args.batch_size)
    print(f"local predict again           {again:7.1f} img/s   (drift check: {again / base:.2f}x)")


if __name__ == "__main__":
    main()
