"""Batched mood inference on CUDA, MPS or CPU, with decoding overlapped with inference.

* Device: ``auto`` picks CUDA, then MPS, then CPU. On a GPU the network runs in fp16 (bf16 on
  MPS) with channels_last. torch is the GPU (and training) engine; it is an optional extra.
* On the CPU the network runs with ONNX Runtime (~2-3x faster than eager torch on CPU) from the
  verified export that ships beside the model (``models/<id>.onnx``, hashed in the registry
  entry, made by :mod:`moodtagger.training.export_onnx`): a CPU machine never imports torch, not
  even on its first start (saves ~1 s and several hundred MB per start, and the GUI's one long stall:
  loading torch's libraries holds the GIL). A model without a current shipped export (e.g. a
  head retrained but not yet re-exported) is exported once into the user cache with torch,
  checked against torch within a tolerance; ``MOODTAGGER_NO_ONNX=1`` forces torch.
* int8: where an entry registers a statically quantised copy of that export
  (``models/<id>.int8.onnx``, ``onnx_int8`` in the entry: its sha256 and the float file it was
  made from; :mod:`moodtagger.training.export_onnx` ``--int8``), the CPU runs it (~1.4-1.8x the
  float graph's inference rate). v2 ships one: cross-validated on 5 fold seeds, every number within 0.005 of
  the float graph (model card). ``MOODTAGGER_ONNX_FP32=1`` or ``backend="onnx-fp32"`` forces
  the float graph.
* :meth:`MoodModel.predict_paths` decodes in a thread pool while the model runs on the previous
  batch, so the model never waits for the disk. Bad files come out as per-file errors.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import platform
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from moodtagger.core import imaging, paths
from moodtagger.core.catalog import Prediction
from moodtagger.core.imaging import Preprocess
from moodtagger.core.model import registry

if TYPE_CHECKING:
    from moodtagger.core.metadata.exiftool import ExifToolService
    from moodtagger.core.model.head import MoodNet

log = logging.getLogger(__name__)

ONNX_TOLERANCE = 2e-3  # max abs difference of probabilities, torch vs ONNX Runtime
GRAPH_VERSION = (
    2  # bump when MoodNet's outputs change (2: + embedding), so old exports are not reused
)
TORCH_HINT = "pip install 'moodtagger[torch]'"
# max abs difference of probabilities, int8 graph vs float graph, on the check batch (v2: 0.026;
# on 750 real photos max 0.081, mean 0.008, same top mood for 94%: see the model card)
INT8_TOLERANCE = 0.1
BACKENDS = ("auto", "onnx", "onnx-fp32", "torch")
# the outputs inference reads; a v2 export has two more for the why-map (training/cam.py)
OUTPUTS = ("probs", "va", "embedding")


def torch_installed() -> bool:
    """Is torch importable here? (Answered without importing it.)"""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # ValueError: a None in sys.modules (torch blocked)
        return False


def gpu_possible() -> bool:
    """Could torch find a GPU here? Answered without importing torch: torch is installed and
    there is an NVIDIA driver (Linux: /proc/driver/nvidia, Windows: nvcuda.dll) or Apple
    silicon (MPS)."""
    if not torch_installed():
        return False
    system = platform.system()
    if system == "Darwin":
        return platform.machine() == "arm64"
    if system == "Windows":
        root = os.environ.get("SystemRoot", r"C:\Windows")
        return os.path.exists(os.path.join(root, "System32", "nvcuda.dll"))
    return os.path.exists("/proc/driver/nvidia/version")


def pick_device(requested: str = "auto") -> str:
    requested = (requested or "auto").lower()
    if requested not in ("auto", "cpu", "cuda", "mps"):
        raise registry.ModelError(f"unknown device {requested!r}; use auto, cpu, cuda or mps")
    if requested == "cpu" or (requested == "auto" and not gpu_possible()):
        return "cpu"
    if not torch_installed():
        raise registry.ModelError(f"--device {requested} needs torch: {TORCH_HINT}")
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise registry.ModelError("--device cuda was asked for, but no CUDA GPU is available")
    if requested == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise registry.ModelError("--device mps was asked for, but MPS is not available")
    return requested


def shipped_onnx(entry: registry.ModelEntry) -> Path | None:
    """The entry's shipped ONNX export when it is current (made from this head and backbone, for
    this graph version); None when there is none or it is stale (logged). A shipped file that
    fails its own sha256 check is a :class:`~registry.ModelError`."""
    onnx = entry.onnx
    if onnx is None:
        return None
    stale = [
        what
        for what, made, now in (
            ("head", onnx.head_sha256, entry.sha256),
            ("backbone", onnx.backbone_sha256, entry.backbone_sha256),
            ("preprocessing", onnx.preprocess, entry.data.get("preprocess")),
            ("graph version", onnx.graph_version, GRAPH_VERSION),
        )
        if made != now
    ]
    if stale:
        log.warning(
            "the shipped ONNX export of %s was made from another %s; re-export it with `%s`",
            entry.id,
            " and ".join(stale),
            registry.EXPORT_SCRIPT,
        )
        return None
    registry.verify(onnx.file, onnx.sha256, "ONNX export")
    return onnx.file


def shipped_int8(entry: registry.ModelEntry) -> Path | None:
    """The entry's shipped int8 ONNX file when it is current: quantised from the current
    shipped float export (:func:`shipped_onnx`). A file failing its sha256 check is a
    :class:`~registry.ModelError`."""
    q = entry.onnx_int8
    if q is None:
        return None
    fp32 = shipped_onnx(entry)
    if fp32 is None or entry.onnx is None or q.float_sha256 != entry.onnx.sha256:
        log.warning(
            "the shipped int8 model of %s was made from another float export; re-export it with `%s`",
            entry.id,
            registry.EXPORT_SCRIPT,
        )
        return None
    registry.verify(q.file, q.sha256, "int8 ONNX model")
    return q.file


def needs_torch(model_id: str | None = None, device: str = "auto") -> bool:
    """Will :class:`MoodModel` import torch? (GPU, torch forced, or no usable ONNX export.)"""
    if paths.flag(paths.NO_ONNX) or (device or "auto").lower() not in ("auto", "cpu"):
        return True
    if (device or "auto").lower() == "auto" and gpu_possible():
        return True
    entry = registry.entry(model_id)
    return shipped_onnx(entry) is None and not _cached_onnx_path(entry).exists()


def _cached_onnx_path(entry: registry.ModelEntry) -> Path:
    """Where a model without a current shipped export is exported to (once per user)."""
    tag = f"{entry.id}-{entry.sha256[:12]}-g{GRAPH_VERSION}-torch{_torch_version()}"
    return imaging.cache_dir() / "onnx" / f"{tag}.onnx"


@dataclass(frozen=True)
class Result:
    path: str
    prediction: Prediction | None
    error: str | None
    key: object = None  # caller's id (e.g. the catalog photo id)
    # the backbone's pooled 1,280-d feature (float16, mean of the flip views): a photo embedding
    # for "find similar photos", computed in the same pass as the moods
    embedding: np.ndarray | None = None


class MoodModel:
    """The loaded mood model. Owned by one (worker) thread; not shared."""

    def __init__(
        self,
        model_id: str | None = None,
        device: str = "auto",
        *,
        backend: str = "auto",
        threads: int | None = None,
    ):
        self.entry = registry.entry(model_id)
        self.model_id = self.entry.id
        self.preprocess = self.entry.preprocess
        self.size = self.preprocess.crop
        self.device = pick_device(device)
        self.net: MoodNet | None = None
        self._session = None
        self.backend = "torch"
        self.onnx_file: Path | None = None  # the ONNX file in use (shipped or cached export)
        self.precision = "fp32"  # "int8" when the quantised graph runs
        if backend not in BACKENDS:
            raise registry.ModelError(f"unknown backend {backend!r}; use {', '.join(BACKENDS)}")
        use_onnx = (
            self.device == "cpu"
            and backend in ("auto", "onnx", "onnx-fp32")
            and not paths.flag(paths.NO_ONNX)
        )
        if use_onnx:
            int8 = (
                shipped_int8(self.entry)
                if backend != "onnx-fp32" and not paths.flag(paths.ONNX_FP32)
                else None
            )
            ready = int8 or shipped_onnx(self.entry) or _cached_onnx_path(self.entry)
            if ready.exists():
                try:  # a verified export: no torch needed
                    self._open_session(ready, threads)
                    return
                except Exception as exc:
                    if ready != _cached_onnx_path(self.entry):
                        raise registry.ModelError(
                            f"the shipped ONNX model {ready} cannot be loaded: {exc}"
                        ) from exc
                    log.warning("cached ONNX model unusable (%s); rebuilding it", exc)
                    ready.unlink(missing_ok=True)
        if not torch_installed():
            raise registry.ModelError(
                f"model {self.model_id} has no current ONNX export, and running or exporting it "
                f"needs torch: {TORCH_HINT}"
            )
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.net = registry.build(self.entry)
        if use_onnx:
            path = _cached_onnx_path(self.entry)
            try:
                export_onnx(self.net, self.size, path)
                self._open_session(path, threads)
            except Exception as exc:  # fall back to torch, but say why
                if backend == "onnx":
                    raise
                log.warning("ONNX Runtime unavailable (%s); using torch on CPU", exc)
        if self.backend == "torch":
            self.dtype = torch.float32
            if self.device == "cuda":
                self.dtype = torch.float16
            elif self.device == "mps":
                self.dtype = torch.bfloat16
            # weights stay fp32; autocast runs the convolutions in fp16 (CUDA) / bf16 (MPS)
            self.net = self.net.to(self.device).to(memory_format=torch.channels_last)

    def _open_session(self, path: Path, threads: int | None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or (os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # errors only: fusing the int8 graph's QDQ pairs drops the ReLU6 bounds, and ONNX Runtime
        # would print a warning per dropped constant on every start
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.backend, self.onnx_file = "onnxruntime", path
        q = self.entry.onnx_int8
        self.precision = "int8" if q is not None and path == q.file else "fp32"

    # -- inference -------------------------------------------------------------------------
    def predict_arrays(self, batch: np.ndarray) -> list[Prediction]:
        """``batch``: uint8 (N, size, size, 3) center crops -> predictions."""
        return self.predict_arrays_with_embeddings(batch)[0]

    def predict_arrays_with_embeddings(
        self, batch: np.ndarray
    ) -> tuple[list[Prediction], np.ndarray]:
        """``batch``: uint8 (N, size, size, 3) -> (predictions, float16 embeddings (N, 1280))."""
        if len(batch) == 0:
            return [], np.zeros((0, 0), np.float16)
        if self._session is not None:
            probs, va, emb = self._session.run(
                list(OUTPUTS), {"images": np.ascontiguousarray(batch)}
            )
        else:
            import torch

            assert self.net is not None
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
                out = (
                    self.net(x)
                    if self.dtype == torch.float32
                    else _cast_run(self.net, x, self.dtype)
                )
                probs, va, emb = (t.float().cpu().numpy() for t in out)
        probs = probs.astype(np.float64)
        probs /= probs.sum(1, keepdims=True)
        preds = [
            Prediction(
                tuple(float(x) for x in p), float(np.clip(v[0], 1, 9)), float(np.clip(v[1], 1, 9))
            )
            for p, v in zip(probs, va, strict=True)
        ]
        return preds, emb.astype(np.float16)

    def prepare(self, path: str) -> np.ndarray:
        """Decode one file to the model input (raises imaging.ImageError)."""
        return prepare_file(path, self.preprocess)

    def predict_paths(
        self,
        items: Iterable[str | tuple[object, str]],
        *,
        batch_size: int = registry.BATCH_SIZE,
        decode_workers: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
        total: int | None = None,
        exiftool: ExifToolService | None = None,
    ) -> Iterator[list[Result]]:
        """Yield batches of results in input order; decoding overlaps inference.

        ``items`` are paths or ``(key, path)`` pairs (the key comes back in :class:`Result`).
        ``exiftool`` reads RAW previews (:func:`moodtagger.core.imaging.decode`).
        """
        work = [(it if isinstance(it, tuple) else (None, it)) for it in items]
        total = len(work) if total is None else total
        workers = decode_workers or max(1, (os.cpu_count() or 2))
        done = 0
        with ThreadPoolExecutor(workers, thread_name_prefix="moodtagger-decode") as pool:
            futures: deque[tuple[object, str, Future]] = deque()
            it = iter(work)
            window = batch_size * 3  # decode ahead: the next batches are ready when the model is

            def fill() -> None:
                while len(futures) < window:
                    nxt = next(it, None)
                    if nxt is None:
                        return
                    futures.append(
                        (
                            nxt[0],
                            nxt[1],
                            pool.submit(decode_safe, nxt[1], self.preprocess, exiftool),
                        )
                    )

            fill()
            while futures:
                if cancel is not None and cancel.is_set():
                    for _, _, f in futures:
                        f.cancel()
                    return
                batch = [futures.popleft() for _ in range(min(batch_size, len(futures)))]
                fill()
                arrays, ok, results = [], [], []
                for key, path, fut in batch:
                    arr, err = fut.result()
                    results.append(Result(path, None, err, key))
                    if arr is not None:
                        arrays.append(arr)
                        ok.append(len(results) - 1)
                preds, embs = (
                    self.predict_arrays_with_embeddings(np.stack(arrays))
                    if arrays
                    else ([], np.zeros((0, 0), np.float16))
                )
                for i, p, e in zip(ok, preds, embs, strict=True):
                    r = results[i]
                    results[i] = Result(r.path, p, None, r.key, e)
                done += len(batch)
                if progress:
                    progress(done, total)
                yield results


def prepare_file(path: str, pre: Preprocess, exiftool: ExifToolService | None = None) -> np.ndarray:
    """Decode one file to the uint8 (crop, crop, 3) model input (raises imaging.ImageError).
    ``pre`` comes from the model's registry entry; local prediction and the Ray pipeline
    (core/cluster.py) both come through here."""
    model_input = imaging.decode(
        path, model=pre, make_thumbnail=False, exiftool=exiftool
    ).model_input
    assert model_input is not None
    return model_input


def decode_safe(
    path: str, pre: Preprocess, exiftool: ExifToolService | None = None
) -> tuple[np.ndarray | None, str | None]:
    """:func:`prepare_file` that never raises: a bad file is ``(None, reason)``."""
    try:
        return prepare_file(path, pre, exiftool), None
    except imaging.ImageError as exc:
        return None, str(exc)
    except Exception as exc:  # never let one file stop the run
        return None, f"unexpected error while decoding: {exc!r}"


def export_onnx(net, size: int, dest: Path, outputs: tuple[str, ...] = OUTPUTS) -> dict[str, float]:
    """Export the torch network ``net`` to ONNX at ``dest`` and verify it against torch on a
    check batch before the file is put in place (written to a temp file, then renamed).
    ``outputs``: the names of ``net``'s outputs (:data:`OUTPUTS`, then any extra ones).
    Returns the largest absolute differences per output; raises when probabilities differ by
    more than :data:`ONNX_TOLERANCE`."""
    import onnxruntime as ort
    import torch

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(f".{os.getpid()}.tmp")
    x = torch.from_numpy(_check_batch(size))
    with torch.inference_mode():
        ref = [t.numpy() for t in net(x)]
    try:
        torch.onnx.export(
            net,
            (x,),
            str(tmp),
            input_names=["images"],
            output_names=list(outputs),
            dynamic_axes={"images": {0: "n"}, **{name: {0: "n"} for name in outputs}},
            opset_version=17,
            dynamo=False,
        )
        sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"images": x.numpy()})
        diffs = {
            name: float(np.abs(g - r).max()) for name, g, r in zip(outputs, got, ref, strict=True)
        }
        if not diffs["probs"] <= ONNX_TOLERANCE:
            raise RuntimeError(f"ONNX output differs from torch by {diffs['probs']:.2e}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return diffs


def _torch_version() -> str:
    """torch's version without importing it (the ONNX cache key)."""
    try:
        return importlib.metadata.version("torch").split("+")[0]
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - torch is a dependency
        return "unknown"


def _cast_run(net, x, dtype):
    import torch

    with torch.autocast(device_type=x.device.type, dtype=dtype):
        return net(x)


def _check_batch(size: int) -> np.ndarray:
    """A deterministic, natural-ish batch for the export check (gradients + noise)."""
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, size, dtype=np.float32)
    imgs = []
    for i in range(2):
        img = np.stack(
            [
                np.add.outer(base, base) / 2,
                np.add.outer(base[::-1], base) / 2,
                np.full((size, size), 40.0 * (i + 1)),
            ],
            -1,
        )
        img += rng.normal(0, 20, img.shape)
        imgs.append(img.clip(0, 255).astype(np.uint8))
    return np.stack(imgs)
