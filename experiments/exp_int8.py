"""int8 vs float, flip TTA vs center crop only: the v2 cross-validation on the shipped graphs.

    .venv/bin/python experiments/exp_int8.py                 # 5 fold seeds, 4 rows (~CV time x 4)
    .venv/bin/python experiments/exp_int8.py --seeds 0       # one fold seed (quicker)
    .venv/bin/python experiments/exp_int8.py --agreement     # only int8 vs float outputs on imagenet-sample
    .venv/bin/python experiments/exp_int8.py --config v4 --rows fp32-tta,int8-tta --no-agreement
                       # the shipped v4's nested CV (V4_CONFIG; the ImageNet sample's descriptors too)

The v2 heads are trained on frozen backbone descriptors (final pool + stage mean/std pools), so
the honest, cheap check of a quantised backbone is: compute every data set photo's descriptor
with the int8 graph and with the float graph (the shipped ONNX files themselves, the tensor
that feeds the heads: one row per view, center crop and its mirror), then run the *same* nested
CV (``multitask_cv.nested_cv``, same folds and seeds, the shipped V2Config) on both. "center only"
is the same CV with the center crop's descriptor instead of the mean of both views (what the
graph would compute without flip TTA). Crops come from the training path's decode (the cached
features' center crop), the same uint8 crops for every row.

``--agreement``: the shipped outputs (probabilities, valence/arousal, embedding) of the int8 file
against the float file on the 750 imagenet-sample photos that were not used for calibration.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from moodtagger.core import imaging
from moodtagger.core.model import engine, registry
from moodtagger.training import datasets, evaluate
from moodtagger.training import multitask_cv as mtcv
from moodtagger.training import multitask_data as mtd
from moodtagger.training.configs import V2Config

DESCRIPTOR = "/Concat_1_output_0"  # per-view (final, stage pools) rows, before the view mean


def session(path: Path, outputs: list[str] | None = None):
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    for name in outputs or []:
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = os.cpu_count() or 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def crops(files: list[Path], pre: imaging.Preprocess) -> np.ndarray:
    from concurrent.futures import ThreadPoolExecutor

    def one(f: Path) -> np.ndarray:
        info = imaging.open_image(f, min_side=pre.resize_short_side)
        return imaging.center_crop_input(info.image, pre)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return np.stack(list(pool.map(one, files)))


def descriptors(model_file: Path, files: list[Path], pre: imaging.Preprocess) -> np.ndarray:
    """(n, 3, d): [center, mirror, center] descriptor rows from ``model_file`` (the third slot is
    the cached features' whole-frame view, unused by the shipped config: ``augment_full`` off)."""
    h = hashlib.sha256(registry.sha256_of(model_file).encode())
    for f in files:
        h.update(f"{f}:{f.stat().st_size}\n".encode())
    cache = imaging.cache_dir() / "exp_int8" / f"{h.hexdigest()[:20]}.npy"
    if cache.exists():
        return np.load(cache)
    sess = session(model_file, [DESCRIPTOR])
    out = []
    for i in range(0, len(files), 64):
        x = crops(files[i : i + 64], pre)
        for j in range(0, len(x), 16):
            b = x[j : j + 16]
            (d,) = sess.run([DESCRIPTOR], {"images": b})
            n = len(b)
            assert d.shape[0] == 2 * n, d.shape
            out.append(np.stack([d[:n], d[n:], d[:n]], 1))
    result = np.concatenate(out).astype(np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, result)
    return result


def all_data(model_file: Path, flip_tta: bool, pre: imaging.Preprocess) -> mtd.AllData:
    return mtd.assemble(
        lambda fs: mtd.descriptor_views(descriptors(model_file, list(fs), pre), flip_tta)
    )


def agreement(entry: registry.ModelEntry) -> None:
    fp32, int8 = entry.onnx.file, entry.onnx_int8.file  # type: ignore[union-attr]
    files = sorted((datasets.shared_data_dir() / "imagenet-sample").glob("*.JPEG"))
    files = [f for i, f in enumerate(files) if i % 4]  # not the calibration photos
    x = np.stack([engine.prepare_file(str(f), entry.preprocess) for f in files])
    outs = {}
    for name, path in (("fp32", fp32), ("int8", int8)):
        s = session(path)
        outs[name] = [
            np.concatenate(o)
            for o in zip(
                *[
                    s.run(list(engine.OUTPUTS), {"images": x[i : i + 8]})
                    for i in range(0, len(x), 8)
                ],
                strict=True,
            )
        ]
    (p, va, e), (q, vb, f) = outs["fp32"], outs["int8"]
    cos = (e * f).sum(1) / np.linalg.norm(e, axis=1) / np.linalg.norm(f, axis=1)
    pos = [0, 2, 3, 5]
    print(f"int8 vs fp32 on {len(files)} imagenet-sample photos (not the calibration ones):")
    print(f"  max |dprob| {np.abs(p - q).max():.4f}, mean |dprob| {np.abs(p - q).mean():.4f}")
    print(f"  top mood agreement {(p.argmax(1) == q.argmax(1)).mean():.3f}")
    print(
        f"  positive share: max |d| {np.abs(p[:, pos].sum(1) - q[:, pos].sum(1)).max():.4f}, "
        f"same side of 0.5 {((p[:, pos].sum(1) > 0.5) == (q[:, pos].sum(1) > 0.5)).mean():.3f}"
    )
    print(
        f"  valence max |d| {np.abs(va[:, 0] - vb[:, 0]).max():.3f} mean "
        f"{np.abs(va[:, 0] - vb[:, 0]).mean():.3f}; arousal max |d| "
        f"{np.abs(va[:, 1] - vb[:, 1]).max():.3f}"
    )
    print(f"  embedding cosine min {cos.min():.4f} mean {cos.mean():.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--agreement", action="store_true", help="only the output agreement")
    ap.add_argument("--no-agreement", action="store_true", help="only the cross-validation")
    ap.add_argument("--rows", default="fp32-tta,fp32-center,int8-tta,int8-center")
    ap.add_argument("--config", choices=("v2", "v4"), default="v2", help="which nested CV")
    args = ap.parse_args()
    entry = registry.entry()
    if entry.onnx is None or entry.onnx_int8 is None:
        raise SystemExit(
            "run python -m moodtagger.training.export_onnx --int8 first (float and int8 files)"
        )
    if not args.no_agreement:
        agreement(entry)
    if args.agreement:
        return
    cfg = V2Config()
    assert not cfg.augment_full and cfg.mlp_hidden == 0  # the third view slot stays unused
    seeds = [int(s) for s in args.seeds.split(",")]
    files = {"fp32": entry.onnx.file, "int8": entry.onnx_int8.file}
    runs: dict[str, list[dict[str, float]]] = {}
    for row in args.rows.split(","):
        precision, view = row.split("-")
        t0 = time.perf_counter()
        data = all_data(files[precision], view == "tta", entry.preprocess)
        c = V2Config(flip_tta=view == "tta")
        if args.config == "v4":  # v3's corrections see the ImageNet sample's descriptors too
            import dataclasses

            from moodtagger.training.configs import V4_CONFIG

            c = dataclasses.replace(V4_CONFIG, flip_tta=view == "tta")
            x = descriptors(files[precision], datasets.load_imagenet_sample(), entry.preprocess)
            data.split.in_x = mtd.descriptor_views(x, view == "tta")
        runs[row] = []
        for seed in seeds:
            with threadpool_limits(1):  # many small BLAS calls (as `moodtagger eval` runs them)
                m = mtcv.nested_cv(data, c, seed=seed)[0]
            runs[row].append(m)
            print(
                f"  {row} seed {seed}: "
                + evaluate.format_seed(m)
                + f" ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    print(
        f"\n{args.config} nested CV, fold seeds {args.seeds}: mean ± std (paired diff vs fp32-tta)"
    )
    print(evaluate.format_paired(runs, "fp32-tta"))


if __name__ == "__main__":
    main()
