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
from moodtagger.core import vectors as vectors_
from moodtagger.core.catalog import Catalog
from moodtagger.core.model.personal_model import (
    Params,
    PersonalError,
    PersonalModel,
    damaged,
    targets_from_moods,
)
from moodtagger.core.moods import MOODS

KIND = "personal"
PREFIX = "personal-"


def personal_dir() -> Path:
    return paths.personal_models_dir()


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
    size = catalog.embeddings.size(parent_id)
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
    mid = catalog.models_in_use.get(parent_id)
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
    mid = catalog.models_in_use.get(parent_id)
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
    in_use = set(catalog.models_in_use.all().values())
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
    custom: dict[str, int] = field(default_factory=dict)  # custom mood -> examples (issue 27)

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
    ids, vectors = catalog.embeddings.all(parent)
    if len(ids) == 0:
        raise PersonalError(
            f"the catalog has no embeddings by {parent}; run `moodtagger scan` first "
            "(photos predicted by an older moodtagger: scan with a model that computes them)"
        )
    pos = {int(p): i for i, p in enumerate(ids)}
    labelled = catalog.choices.labelled()
    # the eight only: a photo chosen only for custom moods (issue 27) teaches them, not this
    labelled = [(pid, ms, src) for pid, ms, src in labelled if any(m in MOODS for m in ms)]
    use = [(pid, moods) for pid, moods, _src in labelled if pid in pos]
    if not use:
        raise PersonalError(
            "there are no chosen moods to learn from (choose moods with the number keys "
            "or `moodtagger choose`, or scan photos that have mood keywords)"
        )
    prior_all = catalog.predictions.probs_for(parent, ids.tolist())
    have_prior = ~np.isnan(prior_all).any(1)
    use = [(pid, moods) for pid, moods in use if have_prior[pos[pid]]]
    rows = np.array([pos[pid] for pid, _ in use])
    targets = targets_from_moods([m for _, m in use])
    center = library_center(vectors)
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

    shown = model_in_use(catalog, parent)
    before = _top(prior_all) if shown == parent else _top_moods(catalog, shown, ids)
    with catalog.writer_lock():
        # one commit: the switch, every prediction of the new model, and dropping the ones
        # nothing shows any more (a kill leaves the catalog as it was, or done)
        with catalog.transaction():
            catalog.models_in_use.set(parent, model_id)
            after = np.full(len(ids), -1)
            predicted = _predict_and_store(
                catalog, parent, model_id, model, ids, vectors, prior_all, progress, tops=after
            )
            catalog.predictions.delete_unused(PREFIX)
        remove_unused(catalog)
    summary = LearnSummary(model_id, parent, examples, predicted, skipped=len(labelled) - len(use))
    _count_changes(summary, before, after)
    summary.seconds = time.perf_counter() - t0
    return summary


def reset(catalog: Catalog, parent_id: str | None = None) -> LearnSummary:
    """Back to the shipped model: the personal model is no longer used; its predictions and
    its files (and those of any other model this catalog learnt and no longer uses) go."""
    t0 = time.perf_counter()
    parent = _parent(parent_id)
    old = catalog.models_in_use.get(parent)
    summary = LearnSummary(parent, parent)
    if old is None:
        with catalog.writer_lock():
            catalog.predictions.delete_unused(PREFIX)
            remove_unused(catalog)
        return summary
    ids, _ = catalog.embeddings.all(parent)
    before = _top_moods(catalog, model_in_use(catalog, parent), ids)  # what was shown
    with catalog.writer_lock():
        with catalog.transaction():
            catalog.models_in_use.set(parent, None)
            catalog.predictions.delete_unused(PREFIX)
        remove_unused(catalog)
    _count_changes(summary, before, _top_moods(catalog, parent, ids))
    summary.seconds = time.perf_counter() - t0
    return summary


def refresh(catalog: Catalog, parent_id: str, photo_ids: Sequence[int] | None = None) -> int:
    """Predict, with the personal model in use for ``parent_id`` (if any), every photo that has
    a current parent prediction but no current personal one (after a scan); ``photo_ids``: just
    these (a batch the parent has just predicted). A photo without an embedding gets the
    parent's prediction unchanged. Returns how many were predicted."""
    mid = catalog.models_in_use.get(parent_id)
    if mid is None:
        return 0
    if photo_ids is not None:
        todo = [int(i) for i in photo_ids]
    else:
        todo = [p.id for p in catalog.predictions.photos_needing(mid)]
    if not todo:
        return 0
    try:
        model = usable(catalog, parent_id, mid)
    except PersonalError:  # the catalog shows the parent's predictions (see `problem`)
        return 0
    prior = catalog.predictions.probs_for(parent_id, todo)
    keep = ~np.isnan(prior).any(1)
    todo = [pid for pid, k in zip(todo, keep, strict=True) if k]
    if not todo:
        return 0
    ids, vectors = catalog.embeddings.all(parent_id, todo)
    return _predict_and_store(
        catalog,
        parent_id,
        mid,
        model,
        np.array(todo, np.int64),
        vectors,
        catalog.predictions.probs_for(parent_id, todo),
        None,
        emb_ids=ids,
    )


def fill_missing(catalog: Catalog, parent_id: str) -> list[int]:
    """Every photo without a current prediction by the personal model in use for
    ``parent_id`` (a command killed between storing the parent's prediction and the personal
    one, or an older moodtagger's `learn`) gets one, from the stored embeddings and the
    parent's predictions (no decoding). Returns the photos predicted."""
    mid = catalog.models_in_use.get(parent_id)
    if mid is None:
        return []
    todo = [p.id for p in catalog.predictions.photos_needing(mid)]
    if not todo or not refresh(catalog, parent_id, todo):
        return []
    still = {p.id for p in catalog.predictions.photos_needing(mid, todo)}
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
    tops: np.ndarray | None = None,
) -> int:
    """Personal predictions for ``ids`` (whose parent probabilities are ``prior``); ``vectors``
    are the embeddings of ``emb_ids`` (default: ``ids``). ``tops`` (n,): set to each stored
    prediction's top mood."""
    ids = np.asarray(ids, np.int64)
    ok = ~np.isnan(prior).any(1)
    probs = np.where(ok[:, None], prior, 0.0).astype(np.float32)
    emb_ids = ids if emb_ids is None else emb_ids
    if len(emb_ids):
        if emb_ids is ids:
            rows = np.arange(len(ids))
        else:
            where = {int(p): i for i, p in enumerate(ids)}
            rows = np.array([where[int(p)] for p in emb_ids])
        use = ok[rows]
        if use.any():
            # every photo, usually: no copy of the (n, d) embeddings then
            probs[rows[use]] = model.predict(
                prior[rows[use]], vectors if use.all() else vectors[use]
            )
    va = catalog.predictions.valence_arousal_for(parent, ids.tolist())
    keep = np.flatnonzero(ok)
    p = probs[keep].astype(np.float64)
    p /= p.sum(1, keepdims=True)
    if tops is not None:
        tops[keep] = p.argmax(1)
    step = 20_000
    for s in range(0, len(keep), step):  # whole arrays to the catalog: no object per photo
        rows = keep[s : s + step]
        catalog.predictions.save_arrays(model_id, ids[rows], p[s : s + step], va[rows])
        if progress:
            progress(min(s + step, len(keep)), len(keep))
    return len(keep)


def library_center(vectors: np.ndarray, most: int = 100_000) -> np.ndarray:
    """The library's mean unit embedding: of every photo up to ``most``, else of ``most``
    photos evenly spread over the library (a million unit vectors took 15 s for a mean that
    100,000 of them give to a fraction of a percent of its length)."""
    return vectors_.library_center(vectors[:: max(1, -(-len(vectors) // most))])


def _top_moods(catalog: Catalog, model_id: str, ids: np.ndarray) -> np.ndarray:
    return _top(catalog.predictions.probs_for(model_id, [int(i) for i in ids]))


def _top(p: np.ndarray) -> np.ndarray:
    """Each row's top mood (-1: no prediction)."""
    return np.where(np.isnan(p).any(1), -1, np.nan_to_num(p).argmax(1))


def _count_changes(summary: LearnSummary, before: np.ndarray, after: np.ndarray) -> None:
    moved = (before != after) & (before >= 0) & (after >= 0)
    summary.changed = int(moved.sum())
    c: Counter[tuple[str, str]] = Counter()
    for a, b in zip(before[moved], after[moved], strict=True):
        c[(MOODS[a], MOODS[b])] += 1
    summary.changes = dict(c.most_common())
