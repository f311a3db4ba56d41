"""Why-this-mood latency: heat maps of all 8 moods for one photo (issue 15: under 1 s), and the
ONNX class-activation map against torch Grad-CAM (issue 26).

    .venv/bin/python bench/bench_why.py [--n 20]     # both parts
    .venv/bin/python bench/bench_why.py --cam        # the ONNX map only

The ONNX part (``--cam``): on 50 photos of ../shared/data/imagenet-sample (every 20th by name)
the mean Spearman rank correlation between the ONNX class-activation maps
(``why.CamModel``, no torch) and the torch Grad-CAM maps (``why.WhyModel``), over the 7x7 cells
of every mood's map, with and without the flip view; then the time to the first map in a fresh
Python process that never imports torch (start, imports, session, decode, map), median of 3.

Loads the registry's model once (timed separately: the GUI does it in the background the first
time the toggle is used), then explains N photos of ../shared/data/imagenet-sample (decode +
forward + 8 gradient passes). Baseline in the same run: the plain way, one full forward and
backward pass per mood (8 x torch.autograd over the whole network) on the same photos.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


FIRST_MAP = """
import sys, time
t0 = time.perf_counter()
from moodtagger.core.model import why
m = why.load(backend=sys.argv[2])
r = m.explain(sys.argv[1])
assert m.backend == sys.argv[2] and ("torch" in sys.modules) == (m.backend == "torch")
print(time.perf_counter() - t0)
"""


def cam_vs_gradcam() -> None:
    import subprocess
    import sys

    import numpy as np
    from scipy.stats import spearmanr

    from moodtagger.core import imaging
    from moodtagger.core.model.why import CamModel, WhyModel

    sample = ROOT.parent / "shared" / "data" / "imagenet-sample"
    files = [str(sample / n) for n in sorted(os.listdir(sample))[::20]][:50]
    for flip in (False, True):
        cam, grad = CamModel(flip=flip), WhyModel(flip=flip)
        rhos, undefined, same_peak = [], 0, 0
        for f in files:
            crop = imaging.decode(f, model=cam.preprocess, make_thumbnail=False).model_input
            a, _ = cam.explain_array(crop)
            b, _ = grad.explain_array(crop)
            for ma, mb in zip(a, b, strict=True):
                rho = spearmanr(ma.ravel(), mb.ravel()).statistic
                if np.isnan(rho):  # a constant (all-zero) map
                    undefined += 1
                    continue
                rhos.append(rho)
                same_peak += int(np.argmax(ma) == np.argmax(mb))
        print(
            f"ONNX CAM vs torch Grad-CAM, flip={flip}: mean Spearman {np.mean(rhos):.3f} "
            f"(median {np.median(rhos):.3f}, min {np.min(rhos):.3f}) over {len(rhos)} maps "
            f"({len(files)} photos x 8 moods; {undefined} constant maps left out); "
            f"same hottest cell {same_peak / len(rhos):.0%}"
        )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def first_map(backend: str) -> tuple[float, float]:
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", FIRST_MAP, files[0], backend],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t
        if out.returncode:
            raise SystemExit(out.stderr)
        return wall, float(out.stdout.split()[-1])

    wall, inside = sorted(first_map("onnx") for _ in range(3))[1]
    print(
        f"first map in a fresh process (ONNX, no torch): {inside:.2f} s from the first import "
        f"to the 8 maps, {wall:.2f} s with the interpreter's start (median of 3)"
    )
    wall, inside = first_map("torch")
    print(f"baseline, torch Grad-CAM in a fresh process: {inside:.2f} s ({wall:.2f} s with start)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--cam", action="store_true", help="only the ONNX map vs torch Grad-CAM")
    args = ap.parse_args()
    cam_vs_gradcam()
    if args.cam:
        return
    sample = ROOT.parent / "shared" / "data" / "imagenet-sample"
    files = [str(sample / n) for n in sorted(os.listdir(sample))[7::37][: args.n]]
    t0 = time.perf_counter()
    import numpy as np
    import torch

    from moodtagger.core import imaging
    from moodtagger.core.model.why import WhyModel

    model = WhyModel(flip=False)
    load = time.perf_counter() - t0
    model.explain(files[0])  # first call warms the batched-gradient path
    times = [model.explain(f).seconds for f in files]

    # baseline: 8 separate full backward passes (each recomputes the graph)
    base = []
    net = model.net
    for f in files[: max(3, len(files) // 4)]:
        crop = imaging.decode(f, model=model.preprocess, make_thumbnail=False).model_input
        t = time.perf_counter()
        for k in range(8):
            x = torch.from_numpy(np.array(crop[None]))
            model._maps = []
            hooks = [mod.register_forward_hook(model._keep) for mod in model._modules]
            with torch.enable_grad():
                p = net(x)[0]
                torch.autograd.grad(torch.log(p[0, k]), model._maps)
            for h in hooks:
                h.remove()
        base.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"model load (torch import + build, once): {load:.2f} s")
    print(
        f"why-map, 8 moods, one photo: median {med * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {len(times)} photos"
    )
    print(
        f"baseline, 8 full forward+backward passes: median {statistics.median(base) * 1000:.0f} ms "
        f"-> {statistics.median(base) / med:.1f}x slower"
    )


if __name__ == "__main__":
    main()
