"""The personal model: the user's own choices, learnt on top of the shipped model (issue 14).

Everything works from what the catalog already holds for every photo -- the shipped (parent)
model's mood probabilities and the backbone embedding computed in the same pass -- so learning
and re-predicting 100,000 photos decodes nothing and takes seconds (numpy only, no torch).

The model, for a photo with parent probabilities ``p`` and embedding ``e``:

1. ``z = unit(unit(e) - c)``: the embedding's direction relative to the library's mean ``c``
   (centring makes unrelated photos' similarities spread around 0 instead of ~0.6);
2. a **linear correction on the parent's logits**: ``q = softmax(log p + W z)``. ``W`` is fitted
   on the labelled photos by class-balanced cross-entropy with an L2 penalty on ``W`` -- the
   penalty pulls toward ``W = 0``, i.e. the shipped model. With few labels ``W`` stays small;
3. a **nearest-neighbour term**: where the most similar labelled photo is a near-duplicate
   (cosine of ``z`` above ``near``), the photo follows that photo's label:
   ``(1 - a) q + a * label``, ``a`` rising from 0 at ``near`` to ``follow`` at ``same``.

Photos unlike every labelled one keep (nearly) the shipped suggestion: the linear term is small
and the neighbour term is off. The fitted model is saved in the user's data folder as a new
model id (``personal-<parent>-<time>``: an ``.npz`` of arrays, no pickles, and a JSON registry
entry with its parent, sha256 and examples per mood). The catalog records which personal model
stands in for which shipped one (``models_in_use``); ``reset`` removes that.

Kill-safe and self-healing (issue 24): the switch and every prediction of the new model are one
commit; :func:`fill_missing` (every ``scan``) predicts any photo the model in use has none for.
A model belongs to the catalog that learnt it (``"catalog"`` in its entry: the catalog's real
path); ``learn`` and ``reset`` delete that catalog's models it no longer uses
(:func:`remove_unused`), never another catalog's. A model that cannot be used (missing,
damaged, a file outside the folder) is never loaded: :func:`model_in_use` is then the parent and
:func:`problem` says why in one sentence.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodtagger.core import paths
from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.errors import MoodtaggerError
from moodtagger.core.moods import MOODS

KIND = "personal"
PREFIX = "personal-"


class PersonalError(MoodtaggerError):
    """Nothing to learn from, or a personal model that cannot be used (one sentence)."""


@dataclass(frozen=True)
class Params:
    """Chosen on ArtPhoto simulated users (``bench/bench_personal.py``, tuning seeds only)."""

    l2: float = 0.1  # penalty on W per labelled photo (larger: closer to the shipped model)
    steps: int = 300
    near: float = 0.65  # cosine (centred) where a labelled neighbour starts to count
    same: float = 0.75  # ... and where it counts fully
    follow: float = 0.95  # weight of a near-duplicate's label at `same` and above


def personal_dir() -> Path:
    return paths.personal_models_dir()


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _log_prior(probs: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-6, 1.0)
    return np.log(p / p.sum(-1, keepdims=True)).astype(np.float32)


def targets_from_moods(mood_lists: list[list[str]]) -> np.ndarray:
    """One row per photo: its chosen moods shared equally (a soft target)."""
    t = np.zeros((len(mood_lists), len(MOODS)), np.float32)
    for i, moods in enumerate(mood_lists):
        idx = [MOODS.index(m) for m in moods if m in MOODS]
        if idx:
            t[i, idx] = 1.0 / len(idx)
    return t


@dataclass
class PersonalModel:
    center: np.ndarray  # (d,) mean unit embedding of the library it was fitted in
    weight: np.ndarray  # (8, d) correction on the parent's logits
    examples: np.ndarray  # (n, d) float16 centred unit embeddings of the labelled photos
    targets: np.ndarray  # (n, 8) their labels
    params: Params = field(default_factory=Params)

    # -- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        prior_probs: np.ndarray,
        vectors: np.ndarray,
        targets: np.ndarray,
        *,
        center: np.ndarray,
        params: Params | None = None,
    ) -> PersonalModel:
        """``prior_probs`` (n, 8) and ``vectors`` (n, d) of the labelled photos, ``targets``
        (n, 8) their labels; ``center`` the library's mean unit embedding."""
        prm = params or Params()
        z = unit(unit(vectors) - center)
        b = _log_prior(prior_probs)
        t = np.asarray(targets, np.float32)
        n, d = z.shape
        counts = t.sum(0)
        present = counts > 0
        cw = np.where(
            present, counts.sum() / (max(1, present.sum()) * np.maximum(counts, 1e-9)), 0.0
        )
        w = (t * cw).sum(1)
        w = (w / max(w.mean(), 1e-9)).astype(np.float32)
        weight = np.zeros((len(MOODS), d), np.float32)
        # full-batch gradient descent with momentum on a convex loss (small: n x d x 8)
        lr, mom = 0.5, 0.9
        vel = np.zeros_like(weight)
        for _ in range(prm.steps):
            q = _softmax(b + z @ weight.T)
            grad = ((q - t) * w[:, None]).T @ z / n + 2 * prm.l2 * weight
            vel = mom * vel - lr * grad
            weight += vel
        return cls(center.astype(np.float32), weight, z.astype(np.float16), t, prm)

    # -- prediction --------------------------------------------------------------------------
    def predict(
        self, prior_probs: np.ndarray, vectors: np.ndarray, *, chunk: int = 8192
    ) -> np.ndarray:
        """(n, 8) probabilities for photos with parent probabilities and embeddings."""
        n = len(prior_probs)
        out = np.empty((n, len(MOODS)), np.float32)
        ex = self.examples.astype(np.float32)
        prm = self.params
        for s in range(0, n, chunk):
            z = unit(unit(vectors[s : s + chunk]) - self.center)
            q = _softmax(_log_prior(prior_probs[s : s + chunk]) + z @ self.weight.T)
            if len(ex):
                sims = z @ ex.T
                j = sims.argmax(1)
                best = sims[np.arange(len(z)), j]
                a = prm.follow * np.clip(
                    (best - prm.near) / max(prm.same - prm.near, 1e-6), 0.0, 1.0
                )
                q = (1 - a)[:, None] * q + a[:, None] * self.targets[j]
            out[s : s + chunk] = q
        return out

    # -- files -----------------------------------------------------------------------------
    def save(self, path: Path) -> str:
        """Write the arrays to ``path`` (.npz, atomically); returns its sha256."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(
            tmp,
            center=self.center,
            weight=self.weight,
            examples=self.examples,
            targets=self.targets,
            params=np.array(json.dumps(self.params.__dict__)),
        )
        os.replace(tmp, path)
        return _sha256(path)

    @classmethod
    def load(cls, path: Path, sha256: str | None = None) -> PersonalModel:
        """Read and check a saved model: arrays only (``allow_pickle=False``: no code ever runs
        from a model file), the keys, shapes and finite values :meth:`predict` needs, and the
        sha256 of its registry entry. Anything else is a :class:`PersonalError` naming ``path``."""
        try:
            if not path.is_file():
                raise _Bad("it is not a file")
            if sha256 is not None and _sha256(path) != sha256:
                raise _Bad("its sha256 differs from the one recorded when it was learnt")
            with np.load(path, allow_pickle=False) as z:
                missing = sorted(set(_ARRAYS) - set(z.files))
                if missing:
                    raise _Bad(f"it lacks {', '.join(missing)}")
                arrays = {k: z[k] for k in _ARRAYS}
            return cls._checked(arrays)
        except PersonalError:
            raise
        except _Bad as exc:
            raise PersonalError(damaged(path, str(exc))) from None
        except Exception as exc:  # noqa: BLE001 - whatever a damaged file raises: one sentence
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "allow_pickle" in reason or "Object arrays" in reason:
                reason = "it holds pickled objects, which are never loaded"
            else:
                reason = f"it is not a readable .npz of arrays: {reason}"
            raise PersonalError(damaged(path, reason)) from None

    @classmethod
    def _checked(cls, a: dict[str, np.ndarray]) -> PersonalModel:
        center, weight, examples, targets = (a[k] for k in _ARRAYS[:4])
        for name in _ARRAYS[:4]:
            if a[name].dtype.kind not in "fiu":
                raise _Bad(f"its {name} array is not numeric")
        d = center.shape[0] if center.ndim == 1 else 0
        if d == 0:
            raise _Bad(f"its center has shape {center.shape}, not (d,)")
        if weight.shape != (len(MOODS), d):
            raise _Bad(f"its weight has shape {weight.shape}, not {(len(MOODS), d)}")
        if examples.ndim != 2 or examples.shape[1] != d:
            raise _Bad(f"its examples have shape {examples.shape}, not (n, {d})")
        if targets.shape != (len(examples), len(MOODS)):
            raise _Bad(f"its targets have shape {targets.shape}, not {(len(examples), len(MOODS))}")
        for name in _ARRAYS[:4]:
            if not np.isfinite(a[name].astype(np.float64)).all():
                raise _Bad(f"its {name} holds NaN or infinite values")
        raw = a["params"]
        if raw.shape != () or raw.dtype.kind != "U":
            raise _Bad("its params are not one JSON text")
        try:
            values = json.loads(str(raw))
        except ValueError:
            raise _Bad("its params are not JSON") from None
        known = Params.__dataclass_fields__
        if not isinstance(values, dict) or not set(values) <= set(known):
            raise _Bad("its params are not Params")
        for k, v in values.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v):
                raise _Bad(f"its parameter {k} is not a finite number")
        params = Params(**values)
        if not 0 < params.steps <= 100_000:
            raise _Bad("its parameter steps is out of range")
        return cls(
            center.astype(np.float32),
            weight.astype(np.float32),
            examples.astype(np.float16),
            targets.astype(np.float32),
            params,
        )


class _Bad(ValueError):
    """What is wrong with a model file that reads (one clause, for :func:`damaged`)."""


_ARRAYS = ("center", "weight", "examples", "targets", "params")


def damaged(path: Path | str, reason: str) -> str:
    """The one sentence for a personal model that cannot be used."""
    return (
        f"the personal model {path} cannot be used ({reason}); the shipped model's suggestions "
        "are shown until you run `moodtagger learn` to learn it again "
        "or `moodtagger learn --reset`"
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------
# Registry of personal models (JSON beside each .npz in the user's data folder)
# ------------------------------------------------------------------------------------------


def _plain_name(name: object) -> bool:
    """A file name in the personal-models folder itself: no folder part, no way out of it."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
        and Path(name).name == name
    )


def entry(model_id: str) -> dict:
    folder = personal_dir()
    if not _plain_name(model_id):
        raise PersonalError(damaged(model_id, "its id is not a plain file name; refused"))
    path = folder / f"{model_id}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PersonalError(
            f"the personal model {model_id} is missing from {folder}; the shipped model's "
            "suggestions are shown until you run `moodtagger learn` to learn it again "
            "or `moodtagger learn --reset`"
        ) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or "its registry entry is not readable JSON"
        raise PersonalError(damaged(path, reason)) from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise PersonalError(damaged(path, "it is not a personal model's registry entry"))
    if not _plain_name(data.get("file")):
        raise PersonalError(
            damaged(path, f"its file {data.get('file')!r} is not in {folder}; refused")
        )
    sha = data.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        raise PersonalError(damaged(path, "it has no sha256"))
    return data


_CACHE: dict[tuple, PersonalModel | PersonalError] = {}
_CACHE_LOCK = threading.Lock()


def load(model_id: str) -> PersonalModel:
    """The checked personal model ``model_id`` (:class:`PersonalError`: missing or damaged,
    one sentence naming the file). A model read once is kept while its files are unchanged."""
    data = entry(model_id)
    folder = personal_dir()
    path = folder / data["file"]
    try:
        if path.resolve().parent != folder.resolve():  # a link out of the folder
            raise PersonalError(damaged(path, f"it leads out of {folder}; refused"))
        st = path.stat()
        key: tuple = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, data["sha256"])
    except OSError:
        key = (str(path), None)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is None:
        try:
            hit = PersonalModel.load(path, data["sha256"])
        except PersonalError as exc:
            hit = exc
        with _CACHE_LOCK:
            if len(_CACHE) > 8:
                _CACHE.clear()
            _CACHE[key] = hit
    if isinstance(hit, PersonalError):
        raise PersonalError(str(hit))
    return hit


def usable(catalog: Catalog, parent_id: str, model_id: str) -> PersonalModel:
    """``model_id`` loaded and fit for the catalog's embeddings by ``parent_id``."""
    model = load(model_id)
    size = catalog.embedding_size(parent_id)
    if size is not None and size != model.center.shape[0]:
        raise PersonalError(
            damaged(
                personal_dir() / f"{model_id}.npz",
                f"it was learnt on embeddings of size {model.center.shape[0]}, not {size}",
            )
        )
    return model


def problem(catalog: Catalog, parent_id: str) -> str | None:
    """Why the personal model the catalog uses for ``parent_id`` cannot be used (one sentence
    naming its file and the fix), or None: none in use, or it is fine."""
    mid = catalog.model_in_use(parent_id)
    if mid is None:
        return None
    try:
        usable(catalog, parent_id, mid)
    except PersonalError as exc:
        return str(exc)
    return None


def model_in_use(catalog: Catalog, parent_id: str) -> str:
    """The model whose predictions the catalog shows for ``parent_id``: the personal model
    learnt on top of it (if one is in use and can be used: present, undamaged), else
    ``parent_id`` itself -- the shipped model's suggestions stand in while it cannot."""
    mid = catalog.model_in_use(parent_id)
    if mid is None:
        return parent_id
    return parent_id if problem(catalog, parent_id) else mid


def owner(catalog: Catalog) -> str:
    """The catalog a personal model belongs to (the one whose `learn` made it): its real path."""
    return str(catalog.path) if str(catalog.path) == ":memory:" else os.path.realpath(catalog.path)


def remove_unused(catalog: Catalog, *, stale_after: float = 3600.0) -> list[str]:
    """Delete this catalog's personal models (the ones its `learn` made) that it no longer uses,
    and temporary files a killed `learn` left. Models other catalogs made are never touched,
    whatever they use: a model belongs to the catalog that learnt it (``"catalog"`` in its
    entry), and only that catalog switches to it. Returns the model ids removed."""
    folder = personal_dir()
    me = owner(catalog)
    in_use = set(catalog.models_in_use().values())
    removed: list[str] = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return removed
    now = time.time()
    for name in names:
        path = folder / name
        if name.startswith(f".{PREFIX}") or name.startswith(f"..{PREFIX}"):
            try:  # a temporary file: removed once no learn can still be writing it
                if now - path.stat().st_mtime > stale_after and path.is_file():
                    path.unlink()
            except OSError:
                pass
            continue
        if not (name.startswith(PREFIX) and name.endswith(".json")):
            continue
        mid = name[: -len(".json")]
        if mid in in_use:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("catalog") != me:
            continue
        for doomed in (folder / f"{mid}.npz", path):  # the entry last: it names the owner
            try:
                if not doomed.is_dir():
                    doomed.unlink(missing_ok=True)
            except OSError:
                pass
        removed.append(mid)
    return removed


# ------------------------------------------------------------------------------------------
# learn / reset / refresh
# ------------------------------------------------------------------------------------------


@dataclass
class LearnSummary:
    model_id: str  # the model now in use (the personal one, or the parent after reset)
    parent_id: str
    examples: dict[str, int] = field(default_factory=dict)  # labelled photos per mood
    predicted: int = 0  # photos re-predicted
    changed: int = 0  # photos whose top suggestion changed
    changes: dict[tuple[str, str], int] = field(default_factory=dict)  # (from, to) -> photos
    skipped: int = 0  # labelled photos without an embedding (not used)
    seconds: float = 0.0

    def changed_to(self) -> dict[str, int]:
        """Photos whose suggestion became each mood."""
        out: Counter[str] = Counter()
        for (_a, b), n in self.changes.items():
            out[b] += n
        return dict(out)


def _parent(parent_id: str | None) -> str:
    if parent_id:
        return parent_id
    from moodtagger.core.model import registry

    return registry.default_model_id()


def learn(
    catalog: Catalog,
    parent_id: str | None = None,
    *,
    params: Params | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LearnSummary:
    """Fit a personal model on the user's choices on top of ``parent_id`` (default: the shipped
    model), save it as a new model id, make it the catalog's model in use and re-predict every
    photo from the stored embeddings. Raises :class:`PersonalError` with nothing to learn."""
    t0 = time.perf_counter()
    parent = _parent(parent_id)
    ids, vectors = catalog.embeddings(parent)
    if len(ids) == 0:
        raise PersonalError(
            f"the catalog has no embeddings by {parent}; run `moodtagger scan` first "
            "(photos predicted by an older moodtagger: scan with a model that computes them)"
        )
    pos = {int(p): i for i, p in enumerate(ids)}
    labelled = catalog.labelled_photos()
    use = [(pid, moods) for pid, moods, _src in labelled if pid in pos]
    if not use:
        raise PersonalError(
            "there are no chosen moods to learn from (choose moods with the number keys "
            "or `moodtagger choose`, or scan photos that have mood keywords)"
        )
    prior_all = catalog.predictions_for(parent, ids.tolist())
    have_prior = ~np.isnan(prior_all).any(1)
    use = [(pid, moods) for pid, moods in use if have_prior[pos[pid]]]
    rows = np.array([pos[pid] for pid, _ in use])
    targets = targets_from_moods([m for _, m in use])
    center = unit(vectors).mean(0) if len(ids) <= 50_000 else _chunked_mean(vectors)
    model = PersonalModel.fit(prior_all[rows], vectors[rows], targets, center=center, params=params)
    examples = {m: int(c) for m, c in zip(MOODS, (targets > 0).sum(0), strict=True) if c}

    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = personal_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp_file = folder / f".{PREFIX}{stamp}.{os.getpid()}.npz"
        sha = model.save(tmp_file)
        # one id per learn: the same choices learnt in two catalogs (or twice) in one second
        # are two models (each catalog deletes only its own)
        tag = hashlib.sha256(f"{sha} {owner(catalog)} {time.time_ns()}".encode()).hexdigest()[:8]
        model_id = f"{PREFIX}{parent}-{stamp}-{tag}"
        data = {
            "id": model_id,
            "kind": KIND,
            "parent": parent,
            "file": f"{model_id}.npz",
            "sha256": sha,
            "catalog": owner(catalog),
            "examples_per_mood": examples,
            "examples": len(use),
            "labels": list(MOODS),
            "params": model.params.__dict__,
            "library_photos": len(ids),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "what": "personal model: the parent's logits + a class-balanced linear correction on the "
            "backbone embedding (L2 toward the parent) + near-duplicates follow a labelled photo",
        }
        # the entry first (it names the catalog that owns the model: a kill before the switch
        # below leaves files that catalog's next learn removes), then the arrays
        tmp_json = folder / f".{model_id}.json.tmp"
        tmp_json.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp_json, folder / f"{model_id}.json")
        os.replace(tmp_file, folder / f"{model_id}.npz")
    except OSError as exc:
        raise PersonalError(
            f"cannot save the personal model in {folder}: {exc.strerror or exc}"
        ) from None

    before = _top_moods(catalog, model_in_use(catalog, parent), ids)  # what was shown
    with catalog.writer_lock():
        # one commit: the switch, every prediction of the new model, and dropping the ones
        # nothing shows any more (a kill leaves the catalog as it was, or done)
        with catalog.transaction():
            catalog.set_model_in_use(parent, model_id)
            predicted = _predict_and_store(
                catalog, parent, model_id, model, ids, vectors, prior_all, progress
            )
            catalog.delete_unused_predictions(PREFIX)
        remove_unused(catalog)
    summary = LearnSummary(model_id, parent, examples, predicted, skipped=len(labelled) - len(use))
    _count_changes(summary, before, _top_moods(catalog, model_id, ids))
    summary.seconds = time.perf_counter() - t0
    return summary


def reset(catalog: Catalog, parent_id: str | None = None) -> LearnSummary:
    """Back to the shipped model: the personal model is no longer used; its predictions and
    its files (and those of any other model this catalog learnt and no longer uses) go."""
    t0 = time.perf_counter()
    parent = _parent(parent_id)
    old = catalog.model_in_use(parent)
    summary = LearnSummary(parent, parent)
    if old is None:
        with catalog.writer_lock():
            catalog.delete_unused_predictions(PREFIX)
            remove_unused(catalog)
        return summary
    ids, _ = catalog.embeddings(parent)
    before = _top_moods(catalog, model_in_use(catalog, parent), ids)  # what was shown
    with catalog.writer_lock():
        with catalog.transaction():
            catalog.set_model_in_use(parent, None)
            catalog.delete_unused_predictions(PREFIX)
        remove_unused(catalog)
    _count_changes(summary, before, _top_moods(catalog, parent, ids))
    summary.seconds = time.perf_counter() - t0
    return summary


def refresh(catalog: Catalog, parent_id: str, photo_ids: Sequence[int] | None = None) -> int:
    """Predict, with the personal model in use for ``parent_id`` (if any), every photo that has
    a current parent prediction but no current personal one (after a scan); ``photo_ids``: just
    these (a batch the parent has just predicted). A photo without an embedding gets the
    parent's prediction unchanged. Returns how many were predicted."""
    mid = catalog.model_in_use(parent_id)
    if mid is None:
        return 0
    if photo_ids is not None:
        todo = [int(i) for i in photo_ids]
    else:
        todo = [p.id for p in catalog.photos_needing_prediction(mid)]
    if not todo:
        return 0
    try:
        model = usable(catalog, parent_id, mid)
    except PersonalError:  # the catalog shows the parent's predictions (see `problem`)
        return 0
    prior = catalog.predictions_for(parent_id, todo)
    keep = ~np.isnan(prior).any(1)
    todo = [pid for pid, k in zip(todo, keep, strict=True) if k]
    if not todo:
        return 0
    ids, vectors = catalog.embeddings(parent_id, todo)
    return _predict_and_store(
        catalog,
        parent_id,
        mid,
        model,
        np.array(todo, np.int64),
        vectors,
        catalog.predictions_for(parent_id, todo),
        None,
        emb_ids=ids,
    )


def fill_missing(catalog: Catalog, parent_id: str) -> list[int]:
    """Every photo without a current prediction by the personal model in use for
    ``parent_id`` (a command killed between storing the parent's prediction and the personal
    one, or an older moodtagger's `learn`) gets one, from the stored embeddings and the
    parent's predictions (no decoding). Returns the photos predicted."""
    mid = catalog.model_in_use(parent_id)
    if mid is None:
        return []
    todo = [p.id for p in catalog.photos_needing_prediction(mid)]
    if not todo or not refresh(catalog, parent_id, todo):
        return []
    still = {p.id for p in catalog.photos_needing_prediction(mid, todo)}
    return [i for i in todo if i not in still]


def _predict_and_store(
    catalog: Catalog,
    parent: str,
    model_id: str,
    model: PersonalModel,
    ids: np.ndarray,
    vectors: np.ndarray,
    prior: np.ndarray,
    progress,
    *,
    emb_ids: np.ndarray | None = None,
) -> int:
    """Personal predictions for ``ids`` (whose parent probabilities are ``prior``); ``vectors``
    are the embeddings of ``emb_ids`` (default: ``ids``)."""
    ids = np.asarray(ids, np.int64)
    ok = ~np.isnan(prior).any(1)
    probs = np.where(ok[:, None], prior, 0.0).astype(np.float32)
    emb_ids = ids if emb_ids is None else emb_ids
    if len(emb_ids):
        where = {int(p): i for i, p in enumerate(ids)}
        rows = np.array([where[int(p)] for p in emb_ids])
        use = ok[rows]
        if use.any():
            probs[rows[use]] = model.predict(prior[rows[use]], vectors[use])
    va = catalog.valence_arousal_for(parent, ids.tolist())
    out = []
    for i in np.flatnonzero(ok):
        p = probs[i].astype(np.float64)
        p /= p.sum()
        v, a = va[i]
        out.append(
            (
                int(ids[i]),
                Prediction(
                    tuple(float(x) for x in p),
                    None if np.isnan(v) else float(v),
                    None if np.isnan(a) else float(a),
                ),
            )
        )
    step = 20_000
    for s in range(0, len(out), step):
        catalog.save_predictions(model_id, out[s : s + step])
        if progress:
            progress(min(s + step, len(out)), len(out))
    return len(out)


def _chunked_mean(vectors: np.ndarray) -> np.ndarray:
    acc = np.zeros(vectors.shape[1], np.float64)
    for s in range(0, len(vectors), 16384):
        acc += unit(vectors[s : s + 16384]).sum(0)
    return (acc / max(1, len(vectors))).astype(np.float32)


def _top_moods(catalog: Catalog, model_id: str, ids: np.ndarray) -> np.ndarray:
    p = catalog.predictions_for(model_id, [int(i) for i in ids])
    top = np.where(np.isnan(p).any(1), -1, np.nan_to_num(p).argmax(1))
    return top


def _count_changes(summary: LearnSummary, before: np.ndarray, after: np.ndarray) -> None:
    moved = (before != after) & (before >= 0) & (after >= 0)
    summary.changed = int(moved.sum())
    c: Counter[tuple[str, str]] = Counter()
    for a, b in zip(before[moved], after[moved], strict=True):
        c[(MOODS[a], MOODS[b])] += 1
    summary.changes = dict(c.most_common())
