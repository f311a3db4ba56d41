"""The user's own moods (issue 27): the one place for adding, naming, resolving and removing
them, for the CLI (`moodtagger mood ...`, `--mood NAME`) and the app.

A custom mood is stored by its name as typed (the keyword written into files: ``Name``,
``Mood|Name``, ``Mood/Name``); names are unique ignoring case (:func:`add`), follow the one
name rule (:func:`moodtagger.core.moods.custom_name_problem`) and are resolved ignoring case
(:func:`resolve`). A chosen custom mood sits in the photo's choice beside the eight. Removing
one (:func:`remove`) drops it from every choice and its probabilities; the files keep their
keywords unless the caller then writes the photos it returns. A removed mood's ``Mood|Name``
found in a file is not imported again (:func:`for_import`); adding it again brings it back.
"""

from __future__ import annotations

from collections.abc import Iterable

from moodtagger.core.catalog import Catalog
from moodtagger.core.catalog.moods import CustomMood
from moodtagger.core.errors import MoodtaggerError
from moodtagger.core.moods import MOODS, custom_name_problem, normalize_mood

MAX_CUSTOM = 32  # custom moods per catalog


class MoodNameError(MoodtaggerError):
    """A mood name that cannot be used (one sentence)."""


def add(catalog: Catalog, name: str) -> CustomMood:
    """Add the custom mood ``name`` (as typed); raise :class:`MoodNameError` in one sentence."""
    problem = custom_name_problem(name)
    if problem:
        raise MoodNameError(problem)
    with catalog.writer_lock():
        found = catalog.moods.find(name)
        if found is not None and not found.removed:
            raise MoodNameError(f"the mood {found.name!r} exists already (names ignore case)")
        if len(catalog.moods.all()) >= MAX_CUSTOM:
            raise MoodNameError(f"a catalog holds at most {MAX_CUSTOM} custom moods")
        return catalog.moods.add(name)


def resolve(catalog: Catalog | None, text: str) -> str:
    """The mood id of a user-typed mood: one of the eight (``sad`` -> sadness) or a custom
    mood of ``catalog`` by name ignoring case (its name as typed); raise MoodNameError."""
    try:
        return normalize_mood(text)
    except ValueError:
        pass
    found = catalog.moods.find(text.strip()) if catalog is not None else None
    if found is not None and not found.removed:
        return found.name
    names = list(MOODS) + (catalog.moods.names() if catalog is not None else [])
    raise MoodNameError(
        f"unknown mood {text!r}; choose from: {', '.join(names)} "
        f"(or add your own with `moodtagger mood add NAME`)"
    )


def remove(
    catalog: Catalog, name: str, *, clear_files: bool = False
) -> tuple[CustomMood, list[int], list[int]]:
    """Remove the custom mood ``name``: out of every choice and its probabilities dropped.
    Returns the mood, the photos whose choice named it, and those of them whose files hold it
    (as last read or written). The files are left alone: a written choice stays marked
    written, one left with no mood is forgotten (unconfirmed, as the files still hold the
    mood); with ``clear_files`` the caller writes the third list (their choice without it,
    kept even when empty) and then calls :func:`forget_empty`."""
    found = catalog.moods.find(name.strip())
    if found is None or found.removed:
        raise MoodNameError(f"there is no custom mood {name!r} (see `moodtagger mood list`)")
    touched: list[int] = []
    in_files: list[int] = []
    key = found.name.casefold()
    with catalog.writer_lock(), catalog.transaction():
        for pid, moods in catalog.choices.naming(found.name):
            known = catalog.file_keywords.get(pid)
            if known is not None and any(m.casefold() == key for m in known[1]):
                in_files.append(pid)
            keep = [m for m in moods if m.casefold() != found.name.casefold()]
            current = catalog.choices.get(pid)
            assert current is not None
            src = catalog.choices.sources([pid]).get(pid, "user")
            if not keep and not (clear_files and pid in in_files):
                catalog.choices.forget(pid)
                touched.append(pid)
                continue
            catalog.choices.set(pid, keep, source=src, state=current.state)
            if current.error:
                catalog.choices.mark(pid, current.state, current.error)
            touched.append(pid)
        catalog.moods.mark_removed(found.id)
    return found, touched, in_files


def forget_empty(catalog: Catalog, photo_ids: Iterable[int]) -> None:
    """After a write that cleared them: photos left with no mood are unconfirmed again."""
    with catalog.transaction():
        for pid in photo_ids:
            current = catalog.choices.get(pid)
            if current is not None and not current.moods and current.state == "written":
                catalog.choices.forget(pid)


def for_import(catalog: Catalog, names: Iterable[str]) -> list[str]:
    """Moods found in a file as the catalog stores them: the eight as they are; a custom name
    the catalog knows in its spelling; one it removed dropped; an unknown one added (it was
    written by moodtagger elsewhere)."""
    out: list[str] = []
    for m in names:
        if m in MOODS:
            out.append(m)
            continue
        found = catalog.moods.find(m)
        if found is None:
            if custom_name_problem(m) or len(catalog.moods.all()) >= MAX_CUSTOM:
                continue
            found = catalog.moods.add(m)
        if not found.removed and found.name not in out:
            out.append(found.name)
    return out


def counts(catalog: Catalog) -> dict[str, int]:
    """Photos chosen for each custom mood in use (the user's own choices and accepted ones)."""
    out = {m.name: 0 for m in catalog.moods.all()}
    keys = {n.casefold(): n for n in out}
    for _pid, moods in catalog.choices.all_moods():
        for m in moods:
            if m.casefold() in keys:
                out[keys[m.casefold()]] += 1
    return out


def learn(catalog: Catalog, parent_id: str, *, seed: int = 0) -> dict[str, int]:
    """Score every photo with an embedding by ``parent_id`` for each custom mood with at least
    :data:`~moodtagger.core.model.custom.MIN_EXAMPLES` of the user's own examples (see
    :mod:`moodtagger.core.model.custom`); a mood with fewer loses its old scores. Returns the
    examples per custom mood."""
    import numpy as np

    from moodtagger.core.model import custom
    from moodtagger.core.vectors import CentredRows, library_center

    moods = catalog.moods.all()
    if not moods:
        return {}
    ids, vectors = catalog.embeddings.all(parent_id)
    pos = {int(p): i for i, p in enumerate(ids)}
    labelled = [
        (pos[pid], {m.casefold() for m in ms})
        for pid, ms, _src in catalog.choices.labelled()
        if pid in pos
    ]
    center = library_center(vectors) if len(ids) else None
    # centred when a row is asked for: a float32 copy of a million photos' would be 5 GB
    z = CentredRows(vectors, center) if center is not None else vectors
    rng = np.random.default_rng(seed)
    params = custom.CustomParams()
    out: dict[str, int] = {}
    with catalog.writer_lock(), catalog.transaction():
        for m in moods:
            key = m.name.casefold()
            rows = np.array([r for r, ms in labelled if key in ms], np.int64)
            others = np.array([r for r, ms in labelled if key not in ms], np.int64)
            out[m.name] = len(rows)
            if len(rows) < custom.MIN_EXAMPLES:
                catalog.moods.save_scores(m.id, [], [])
                continue
            fit, cal = custom.background(len(z), rows, others, params, rng)
            fitted, probs = custom.fit(z, rows, fit, cal, params, center=center)
            catalog.moods.save_scores(m.id, ids.tolist(), probs.tolist(), fitted.to_bytes())
    return out


def fill_missing(catalog: Catalog, parent_id: str) -> list[int]:
    """Photos scanned after `learn` (no current probability for a learnt custom mood) get one
    from their stored embedding and the mood's stored scorer. Returns the photos scored."""
    from moodtagger.core.model import custom

    done: set[int] = set()
    for m in catalog.moods.all():
        data = catalog.moods.scorer(m.id)
        if data is None:
            continue
        todo = catalog.moods.unscored_embedded(m.id, parent_id)
        if not todo:
            continue
        got, vectors = catalog.embeddings.all(parent_id, todo)
        probs = custom.Fitted.from_bytes(data).predict(vectors)
        catalog.moods.add_scores(m.id, got.tolist(), probs.tolist())
        done.update(int(i) for i in got)
    return sorted(done)
