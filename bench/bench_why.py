"""Why-this-mood latency: heat maps of all 8 moods for one photo (issue 15: under 1 s).

    .venv/bin/python bench/bench_why.py [--n 20]

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
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
