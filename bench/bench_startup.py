"""First start on a CPU machine: the shipped ONNX export against exporting at first start, same run.

    .venv/bin/python bench/bench_startup.py [--runs 3] [PHOTO]

Each run is the whole command a user types, ``python -m moodtagger predict -q PHOTO``, in a
fresh process with an empty cache, timed from outside by ``/usr/bin/time`` (wall seconds and
peak RSS):

(a) baseline: the default model's entry without its ``onnx`` section, i.e. what a first start did
    before the export shipped: load torch, build the network, export it to ONNX, check it
    against torch, then predict with ONNX Runtime;
(b) the shipped entry: ONNX Runtime straight from ``models/<id>.onnx``; torch is blocked
    (``import torch`` fails), as on a machine without it;
(c) for scale: (a)'s second start, with its export cached.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from moodtagger.core.model import registry

ROOT = Path(__file__).resolve().parents[1]

PHOTO = ROOT.parent / "shared" / "data" / "imagenet-sample" / "n01440764_tench.JPEG"
BLOCK_TORCH = "import sys, runpy; sys.modules['torch'] = None; sys.argv[0] = 'moodtagger'; runpy.run_module('moodtagger', run_name='__main__')"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of ``cmd``, measured by /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        done = subprocess.run(
            ["/usr/bin/time", "-o", out.name, "-f", "%e %M", *cmd],
            env=env,
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"{cmd} failed:\n{done.stderr}")
        wall, kb = out.read().split()[-2:]
    return float(wall), int(kb) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("photo", nargs="?", default=str(PHOTO))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    e = registry.entry()
    base = {k: v for k, v in os.environ.items() if not k.startswith("MOODTAGGER_")}
    base["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        legacy = Path(tmp) / "models-without-onnx"
        legacy.mkdir()
        shutil.copy(e.head_file, legacy / e.head_file.name)
        data = dict(e.data)
        data.pop("onnx")
        (legacy / e.path.name).write_text(json.dumps(data))
        rows: dict[str, list[tuple[float, float]]] = {"a": [], "b": [], "c": []}
        for i in range(args.runs):
            cache_a, cache_b = Path(tmp) / f"cache-a{i}", Path(tmp) / f"cache-b{i}"
            env_a = dict(base, MOODTAGGER_MODELS=str(legacy), MOODTAGGER_CACHE=str(cache_a))
            cmd = [sys.executable, "-m", "moodtagger", "predict", "-q", args.photo]
            rows["a"].append(timed(cmd, env_a))
            rows["c"].append(timed(cmd, env_a))
            rows["b"].append(
                timed(
                    [sys.executable, "-c", BLOCK_TORCH, "predict", "-q", args.photo],
                    dict(base, MOODTAGGER_CACHE=str(cache_b)),
                )
            )
    med = {
        k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v))
        for k, v in rows.items()
    }
    print(
        f"`moodtagger predict -q one.jpg`, {e.id}, median of {args.runs} fresh processes (wall s, peak RSS MB):"
    )
    print(
        f"(a) first start, export at start (torch):   {med['a'][0]:6.2f} s  {med['a'][1]:7.0f} MB"
    )
    print(
        f"(b) first start, shipped ONNX, no torch:     {med['b'][0]:6.2f} s  {med['b'][1]:7.0f} MB"
    )
    print(
        f"(c) (a)'s second start (export cached):      {med['c'][0]:6.2f} s  {med['c'][1]:7.0f} MB"
    )
    print(
        f"first start: {med['a'][0] / med['b'][0]:.1f}x faster, {med['a'][1] / med['b'][1]:.1f}x less memory with the shipped export"
    )


if __name__ == "__main__":
    main()
