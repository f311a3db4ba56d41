"""Helpers for the test suite and the benches (the app never imports this module): a synthetic
catalog of N photos (rows only, no files) for open-time tests and the GUI benches, and the
whole ``python -m moodtagger`` command as a user runs it (:func:`run_moodtagger`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from moodtagger.core.catalog import PROB_COLUMNS, Catalog
from moodtagger.core.moods import MOODS

CHECKOUT = Path(__file__).resolve().parents[1]
# Root ignores file permissions; without these capabilities root is bound by them like any user
NO_DAC = [
    "setpriv",
    "--bounding-set",
    "-dac_override,-dac_read_search",
    "--inh-caps",
    "-dac_override,-dac_read_search",
]


def run_moodtagger(
    *args: str, env: dict[str, str] | None = None, as_user: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m moodtagger ARGS`` in a process of its own, from this checkout; ``as_user``:
    bound by file permissions even when running as root."""
    prefix = NO_DAC if as_user and os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "moodtagger", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(CHECKOUT), **(env or {})},
        timeout=timeout,
        cwd=CHECKOUT,
    )


def synthesize_catalog(
    path: str | os.PathLike[str],
    n: int,
    model_id: str,
    *,
    seed: int = 0,
    chosen_fraction: float = 0.05,
) -> None:
    """Photos under /synthetic/NNN/, a prediction for each, a choice for ``chosen_fraction``."""
    rng = np.random.default_rng(seed)
    now = time.time()
    probs = rng.dirichlet(np.full(len(MOODS), 0.6), size=n)
    va = np.clip(rng.normal(5.0, 1.3, size=(n, 2)), 1.0, 9.0)  # valence, arousal
    with Catalog(Path(path)) as cat, cat.transaction() as c:
        c.execute("INSERT INTO roots(id, path, added_at) VALUES (1, ?, ?)", (b"/synthetic", now))
        c.executemany(
            "INSERT INTO photos(id, path, root_id, size, mtime_ns, identity, width, height, orientation, "
            "format, status, added_at, updated_at) VALUES (?, ?, 1, 1000, ?, ?, 4000, 3000, 1, 'JPEG', 'ok', ?, ?)",
            (
                (
                    i + 1,
                    f"/synthetic/{i // 1000:03d}/IMG_{i:06d}.jpg".encode(),
                    int((now - i * 60) * 1e9),
                    f"{i:032x}",
                    now,
                    now,
                )
                for i in range(n)
            ),
        )
        cols = ", ".join(PROB_COLUMNS)
        marks = ", ".join("?" * len(PROB_COLUMNS))
        c.executemany(
            f"INSERT INTO predictions(photo_id, model_id, identity, {cols}, valence, arousal, created_at) "
            f"VALUES (?, ?, ?, {marks}, ?, ?, ?)",
            (
                (
                    i + 1,
                    model_id,
                    f"{i:032x}",
                    *map(float, probs[i]),
                    float(va[i, 0]),
                    float(va[i, 1]),
                    now,
                )
                for i in range(n)
            ),
        )
        chosen = rng.random(n) < chosen_fraction
        c.executemany(
            "INSERT INTO choices(photo_id, moods, state, source, updated_at) VALUES (?, ?, 'pending', 'user', ?)",
            (
                (i + 1, json.dumps([MOODS[int(np.argmax(probs[i]))]]), now)
                for i in np.nonzero(chosen)[0].tolist()
            ),
        )
