"""Mood inference throughput: naive loop vs the pipelined engine, with its two ceilings.

    .venv/bin/python bench/bench_inference.py                   # imagenet-sample (1,000 photos)
    .venv/bin/python bench/bench_inference.py --camera 100      # + 100 camera-size JPEGs
    .venv/bin/python bench/bench_inference.py --n 300           # fewer photos (quicker)

Measured in one run, on the same files (page cache warmed first):

* naive: the loop a user would write: PIL open -> torchvision Resize/CenterCrop -> the same
  network in eager torch, one image at a time;
* D, decode-only: ``MoodModel.prepare`` (EXIF-aware decode, draft-mode JPEG, crop) in a thread
  pool over all cores;
* I, inference-only: ``MoodModel.predict_arrays`` on pre-decoded batches (ONNX Runtime on CPU,
  fp16 + channels_last on CUDA), all cores; on CPU for the float graph and for its int8
  quantisation (``python -m moodtagger.training.export_onnx --int8``; built into a temporary models folder
  when the model does not ship one; v2 does);
* end-to-end: ``service.predict_pending`` on a scanned catalog: decode -> model -> catalog rows,
  decoding overlapped with inference. On a CPU both share the cores, so the ceiling is
  1/(1/D + 1/I); the target is end-to-end >= 0.8 x that, and >= 8x the naive loop;
* whole process, measured from outside: ``moodtagger predict FILES -o out.csv`` as a subprocess
  (ONNX export already cached), minus the same command on one file (start-up), per photo; on
  CPU once as shipped and once with the other precision (fp32 / int8). Targets: >= 8x the naive
  loop and >= 0.8 x 1/(1/D + 1/I).

``--model`` picks a registry id (default: the default model, v2).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from bench_scan import camera_set  # this folder is on sys.path when a bench runs
from PIL import Image

from moodtagger.core.catalog import Catalog
from moodtagger.core.model import registry
from moodtagger.core.model.engine import MoodModel
from moodtagger.core.model.service import predict_pending
from moodtagger.core.scanner import scan
from moodtagger.training import export_onnx as export

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = ROOT.parent / "shared" / "data" / "imagenet-sample"


def naive(files: list[Path], net: torch.nn.Module, pre) -> float:
    from torchvision import transforms as T

    size = pre.crop
    tf = T.Compose(
        [
            T.Resize(pre.resize_short_side, interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(size),
            T.PILToTensor(),
        ]
    )
    with torch.inference_mode():
        net(torch.zeros(1, size, size, 3, dtype=torch.uint8))  # warm-up
    t0 = time.perf_counter()
    with torch.inference_mode():
        for f in files:
            x = tf(Image.open(f).convert("RGB")).permute(1, 2, 0)[None]
            net(x.contiguous())
    return len(files) / (time.perf_counter() - t0)


def decode_only(model: MoodModel, files: list[Path]) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        arrays = list(pool.map(lambda f: model.prepare(str(f)), files))
    return len(files) / (time.perf_counter() - t0), np.stack(arrays)


def inference_only(model: MoodModel, arrays: np.ndarray, batch: int) -> float:
    model.predict_arrays(arrays[:batch])  # warm-up (ONNX Runtime allocates on the first runs)
    t0 = time.perf_counter()
    for i in range(0, len(arrays), batch):
        model.predict_arrays(arrays[i : i + batch])
    return len(arrays) / (time.perf_counter() - t0)


def end_to_end(model: MoodModel, folder: Path, files: list[Path], batch: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="mt-bench-") as tmp:
        os.environ["MOODTAGGER_CACHE"] = os.path.join(tmp, "cache")
        with Catalog(Path(tmp) / "c.db") as cat:
            scan(cat, [folder], thumbnails=False)
            keep = {str(f) for f in files}
            drop = [p.id for p in cat.photos.all() if p.path not in keep]
            if drop:
                with cat.transaction() as c:
                    c.executemany(
                        "UPDATE photos SET status='missing' WHERE id=?", [(i,) for i in drop]
                    )
            t0 = time.perf_counter()
            s = predict_pending(cat, model=model, batch_size=batch)
            return s.predicted / (time.perf_counter() - t0), s.failed


def whole_process(
    files: list[Path], model_id: str, device: str, fp32: bool = False, models: Path | None = None
) -> float:
    """Photos/s of ``moodtagger predict`` run as a whole process, start-up subtracted
    (``fp32``: with ``MOODTAGGER_ONNX_FP32=1``, the float graph even where int8 ships;
    ``models``: another models folder, ``MOODTAGGER_MODELS``)."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="mt-bench-proc-") as tmp:
        env = dict(
            os.environ,
            MOODTAGGER_CACHE=os.environ.get("MOODTAGGER_CACHE", os.path.join(tmp, "cache")),
        )
        env.pop("MOODTAGGER_ONNX_FP32", None)
        if fp32:
            env["MOODTAGGER_ONNX_FP32"] = "1"
        if models is not None:
            env["MOODTAGGER_MODELS"] = str(models)
        cmd = [
            sys.executable,
            "-m",
            "moodtagger",
            "predict",
            "-q",
            "--device",
            device,
            "--model",
            model_id,
            "-o",
            os.path.join(tmp, "out.csv"),
        ]

        def timed(paths: list[Path]) -> float:
            t0 = time.perf_counter()
            subprocess.run(cmd + [str(f) for f in paths], env=env, check=True, cwd=ROOT)
            return time.perf_counter() - t0

        timed(files[:1])  # the first start exports/verifies the ONNX model into the cache
        start = min(timed(files[:1]) for _ in range(2))
        total = timed(files)
        return (len(files) - 1) / max(total - start, 1e-9)


def run(
    label: str,
    folder: Path,
    files: list[Path],
    model: MoodModel,
    batch: int,
    naive_n: int,
    other_backend: bool = True,
) -> None:
    for f in files:
        f.read_bytes()  # warm the page cache for every side
    net = model.net if model.backend == "torch" else None
    if net is None:
        net = registry.build(model.entry)
    n_rate = naive(files[:naive_n], net, model.preprocess)
    d_rate, arrays = decode_only(model, files)
    i_rate = inference_only(model, arrays, batch)
    # on CPU: the other precision too, in the same run (inference-only, whole process)
    alt, alt_models = None, None
    if model.device == "cpu" and model.backend == "onnxruntime":
        if model.precision == "int8":
            alt = MoodModel(model.model_id, device="cpu", backend="onnx-fp32")
        else:
            alt_models = int8_models(model.entry)
            alt = with_models(alt_models, lambda: MoodModel(model.model_id, device="cpu"))
            assert alt.precision == "int8"
    i_alt = inference_only(alt, arrays, batch) if alt is not None else float("nan")
    other = "torch" if model.backend != "torch" else "onnx"
    i_other = float("nan")
    if other_backend:
        try:
            i_other = inference_only(
                MoodModel(model.model_id, device=model.device, backend=other), arrays, batch
            )
        except Exception as exc:  # e.g. onnxruntime missing: report, keep the rest
            print(f"  ({other} inference-only unavailable: {exc})")
    e_rate, failed = end_to_end(model, folder, files, batch)
    p_rate = whole_process(files, model.model_id, model.device)
    p_alt = (
        whole_process(
            files, model.model_id, model.device, fp32=model.precision == "int8", models=alt_models
        )
        if alt is not None
        else float("nan")
    )

    def ceiling_of(i: float) -> float:
        return 1 / (1 / d_rate + 1 / i) if model.device == "cpu" else min(d_rate, i)

    ceiling = ceiling_of(i_rate)
    print(
        f"\n{label}: {len(files)} photos, model {model.model_id}, device {model.device} "
        f"({model.backend} {model.precision}), batch {batch}, {os.cpu_count()} cores"
    )
    print(f"  naive loop (first {naive_n})   {n_rate:8.1f} img/s")
    print(f"  D decode-only            {d_rate:8.1f} img/s")
    print(f"  I inference-only         {i_rate:8.1f} img/s  ({model.precision})")
    if alt is not None:
        print(
            f"  I inference-only, {alt.precision}   {i_alt:8.1f} img/s  "
            f"(int8 = {ratio(model, i_rate, i_alt):.2f} x fp32)"
        )
    print(f"  I' inference-only, {other:<6}{i_other:8.1f} img/s  (other backend, not used below)")
    print(f"  ceiling 1/(1/D+1/I)      {ceiling:8.1f} img/s")
    print(
        f"  end-to-end (to catalog)  {e_rate:8.1f} img/s  = {e_rate / ceiling:.2f} x ceiling, "
        f"{e_rate / n_rate:.1f} x naive  ({failed} failed)"
    )
    print(
        f"  whole process (predict)  {p_rate:8.1f} img/s  = {p_rate / ceiling:.2f} x ceiling, "
        f"{p_rate / n_rate:.1f} x naive  (start-up subtracted; target >= 0.8 x ceiling, >= 8 x naive)"
    )
    if alt is not None:
        c_alt = ceiling_of(i_alt)
        print(
            f"  whole process, {alt.precision}      {p_alt:8.1f} img/s  = {p_alt / c_alt:.2f} x its "
            f"ceiling ({c_alt:.1f}), {p_alt / n_rate:.1f} x naive; "
            f"int8 = {ratio(model, p_rate, p_alt):.2f} x fp32"
        )


def ratio(model: MoodModel, rate: float, alt_rate: float) -> float:
    """int8 rate / fp32 rate, whichever of the two ``model`` runs."""
    return rate / alt_rate if model.precision == "int8" else alt_rate / rate


def int8_models(entry) -> Path:
    """A temporary models folder: ``entry``'s files plus its int8 quantisation, registered as
    ``python -m moodtagger.training.export_onnx --int8`` would (for a model that ships the float graph only)."""
    folder = Path(tempfile.mkdtemp(prefix="mt-bench-int8-"))
    dest = folder / f"{entry.id}.int8.onnx"
    export.quantize(entry, entry.onnx.file, dest)
    export.copy_with_int8(entry, dest, folder)
    print(f"(int8 quantisation of {entry.id} built into {folder})")
    return folder


def with_models(folder: Path, make):
    old = os.environ.get("MOODTAGGER_MODELS")
    os.environ["MOODTAGGER_MODELS"] = str(folder)
    try:
        return make()
    finally:
        if old is None:
            os.environ.pop("MOODTAGGER_MODELS", None)
        else:
            os.environ["MOODTAGGER_MODELS"] = old


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=registry.BATCH_SIZE)
    ap.add_argument(
        "--n", "--limit", dest="limit", type=int, default=1000, help="photos of the sample to use"
    )
    ap.add_argument("--naive", type=int, default=200, help="photos for the (slow) naive loop")
    ap.add_argument("--camera", type=int, default=0, help="also N camera-size JPEGs (4000x3000)")
    ap.add_argument("--model", default=None, help="registry id (default: the default model)")
    ap.add_argument(
        "--no-other-backend", action="store_true", help="skip the other backend's inference-only"
    )
    args = ap.parse_args()
    model = MoodModel(args.model, device=args.device)
    files = sorted(SAMPLE.glob("*.JPEG"))[: args.limit]
    run(
        "imagenet-sample",
        SAMPLE,
        files,
        model,
        args.batch_size,
        min(args.naive, len(files)),
        not args.no_other_backend,
    )
    if args.camera:
        folder = camera_set(args.camera)
        cam = sorted(folder.glob("*.jpg"))[: args.camera]
        run(
            "camera JPEGs 4000x3000 q92",
            folder,
            cam,
            model,
            args.batch_size,
            min(args.naive, len(cam)) // 2 or 1,
            not args.no_other_backend,
        )


if __name__ == "__main__":
    main()
