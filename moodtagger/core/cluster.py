"""Mood prediction on a Ray cluster (``moodtagger predict --ray ADDRESS|local``), with Ray Data.

Why Ray Data and not a home-made scheduler: it streams blocks of rows between stages with
back-pressure, keeps a pool of long-lived actors (the model is loaded once per worker), puts an
actor on a GPU when the cluster has one, and re-runs the lost work of a worker that dies (tasks
are retried, actors restarted; the output of a lost task is counted once). What stays ours:

* The pipeline is ``file list -> decode (engine.decode_safe: the same preprocessing as local
  predict) -> MoodModel.predict_arrays in batches (a callable class, one model per actor)``.
  No preprocessing rule lives here.
* Every row carries its position in the input (``idx``); the driver puts results back in input
  order and checks that each file came back exactly once (a lost or doubled row is a bug, and
  raises :class:`ClusterError` rather than writing a wrong CSV).
* Unreadable files are per-file errors, as locally; they never fail a Ray task.

Paths travel as bytes (names that are not UTF-8 survive) and must mean the same file on every
node (a shared file system); the workers need moodtagger installed (``moodtagger[cluster]``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from moodtagger.core.catalog import Prediction
from moodtagger.core.errors import MoodtaggerError
from moodtagger.core.imaging import Preprocess
from moodtagger.core.model import registry
from moodtagger.core.model.engine import MoodModel, Result, decode_safe
from moodtagger.core.moods import MOODS

INSTALL_HINT = "pip install 'moodtagger[cluster]'"


class ClusterError(MoodtaggerError):
    """Ray is missing, the cluster cannot be reached, or the run lost rows (one sentence)."""


@dataclass(frozen=True)
class Row:
    """One prediction as it comes back from a worker (``pid``: the worker process that ran it)."""

    idx: int
    result: Result
    pid: int


def _decode_batch(batch: dict[str, np.ndarray], pre: Preprocess) -> dict[str, np.ndarray]:
    """Ray Data stage 1: paths -> model inputs (the model's preprocessing, from its registry
    entry). A bad file keeps its row, with an error."""
    n = len(batch["idx"])
    images = np.zeros((n, pre.crop, pre.crop, 3), np.uint8)
    errors = [""] * n
    for i, raw in enumerate(batch["path"]):
        arr, err = decode_safe(os.fsdecode(bytes(raw)), pre)
        if arr is None:
            errors[i] = err or "unknown error"
        else:
            images[i] = arr
    return {"idx": batch["idx"], "image": images, "error": np.array(errors, dtype=object)}


class _Predictor:
    """Ray Data stage 2: a callable class, so each worker (actor) loads the model once."""

    def __init__(self, model_id: str | None, device: str, threads: int | None):
        self.model = MoodModel(model_id, device=device, threads=threads)
        self.pid = os.getpid()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["idx"])
        ok = np.array([not e for e in batch["error"]], bool)
        probs = np.full((n, len(MOODS)), np.nan)
        va = np.full((n, 2), np.nan)
        if ok.any():
            preds = self.model.predict_arrays(np.ascontiguousarray(batch["image"][ok]))
            probs[ok] = [p.probs for p in preds]
            va[ok] = [(p.valence, p.arousal) for p in preds]
        return {
            "idx": batch["idx"],
            "probs": probs,
            "va": va,
            "error": batch["error"],
            "pid": np.full(n, self.pid, np.int64),
        }


def connect(address: str) -> None:
    """``local``: start Ray on this machine (or use the one this process already runs);
    anything else: the address of a running cluster (``ray://host:10001``, ``host:6379``, ``auto``)."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    if ray.is_initialized():
        return
    _check_reachable(address)
    try:
        if address == "local":
            ray.init(include_dashboard=False, configure_logging=False, log_to_driver=False)
        else:
            ray.init(address=address, configure_logging=False, log_to_driver=False)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"cannot connect to the Ray cluster at {address!r}: {first}") from None


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a ``host:port`` nobody listens on (Ray itself retries for minutes)."""
    import socket

    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return  # 'auto' or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}"
        ) from None


def iter_rows(
    paths: Sequence[str],
    *,
    model_id: str | None = None,
    batch_size: int = 32,
    workers: int | None = None,
    cpus_per_worker: float = 1,
    block_rows: int | None = None,
) -> Iterator[Row]:
    """Stream predictions for ``paths`` from the connected cluster, in completion order.

    ``workers``: model actors (default: one per GPU when the cluster has GPUs, decoding in CPU
    tasks beside them; else one per cluster CPU but one, each decoding its own rows -- Ray Data
    fuses the two stages into the actor when both only need CPUs). On GPU workers the model runs where local ``predict
    --device auto`` would run it (CUDA); on CPU workers with ONNX Runtime, ``cpus_per_worker``
    threads each.
    """
    import logging

    import ray

    # the CLI draws its own progress bar: Ray's bars and progress log lines would interleave
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "bars disabled"
    entry = registry.entry(model_id)
    if not paths:
        return
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if workers is None:
        workers = gpus or max(1, int(resources.get("CPU", 1)) - 1)
    use_gpu = gpus > 0
    # workers get absolute paths (their working folder is not ours); results keep the caller's
    items = [{"idx": i, "path": os.fsencode(os.path.abspath(p))} for i, p in enumerate(paths)]
    block_rows = block_rows or max(batch_size, min(1024, len(items) // (4 * workers) or 1))
    ds: ray.data.Dataset = ray.data.from_items(
        items, override_num_blocks=max(1, -(-len(items) // block_rows))
    )
    # (the stubs do not know that fn_kwargs supplies _decode_batch's preprocessing)
    ds = ds.map_batches(
        _decode_batch,  # type: ignore[arg-type]
        fn_kwargs={"pre": entry.preprocess},
        batch_size=batch_size,
        num_cpus=1,
    )
    ds = ds.map_batches(
        _Predictor,
        fn_constructor_kwargs={
            "model_id": entry.id,
            "device": "auto" if use_gpu else "cpu",
            "threads": None if use_gpu else max(1, int(cpus_per_worker)),
        },
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_gpus=1 if use_gpu else 0,
        num_cpus=1 if use_gpu else cpus_per_worker,
    )
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for idx, probs, va, error, pid in zip(
            batch["idx"], batch["probs"], batch["va"], batch["error"], batch["pid"], strict=True
        ):
            i = int(idx)
            if error:
                res = Result(paths[i], None, str(error))
            else:
                res = Result(
                    paths[i],
                    Prediction(tuple(float(x) for x in probs), float(va[0]), float(va[1])),
                    None,
                )
            yield Row(i, res, int(pid))


def predict_paths(
    paths: Sequence[str],
    *,
    address: str = "local",
    model_id: str | None = None,
    batch_size: int = 32,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    **kw,
) -> list[Result]:
    """Predict ``paths`` on the Ray cluster at ``address``; results in input order, one per path
    (the same :class:`Result` as local prediction, so one writer serves both)."""
    connect(address)
    out: list[Result | None] = [None] * len(paths)
    done = 0
    if progress:
        progress(0, len(paths))
    from ray.exceptions import RayError

    try:
        for row in iter_rows(
            paths, model_id=model_id, batch_size=batch_size, workers=workers, **kw
        ):
            if out[row.idx] is not None:
                raise ClusterError(
                    f"the cluster returned {paths[row.idx]!r} twice; nothing was written"
                )
            out[row.idx] = row.result
            done += 1
            if progress and (done % batch_size == 0 or done == len(paths)):
                progress(done, len(paths))
    except RayError as exc:  # e.g. a worker node without moodtagger, or the cluster went away
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise ClusterError(
            f"the Ray run failed, nothing was written: {lines[-1] if lines else exc!r}"
        ) from None
    lost = [p for p, r in zip(paths, out, strict=True) if r is None]
    if lost:
        raise ClusterError(
            f"the cluster lost {len(lost)} of {len(paths)} files (first: {lost[0]!r}); "
            "nothing was written"
        )
    return out  # type: ignore[return-value]
