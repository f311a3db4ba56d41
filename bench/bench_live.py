"""Never stale (issue 26.3): how fast and how cheaply the open app follows other programs.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_live.py [--photos 100000]

A catalog of N synthetic photos (rows, predictions, 5 % choices; no files) plus a folder of 12
real JPEGs (../shared/data/imagenet-sample, copied to a temp folder) scanned into it, opened in the
main window. Then, as a user would, in a second process: ``moodtagger choose`` and ``moodtagger
write`` on one real photo, and a copy of a new JPEG into the folder. Measured from outside:

* latency: from the command's exit (or the copy) to the row's change in the window's model;
* cost of a change event: rows read from the catalog (``Changes.rows``), and the time of the read
  (on the ``live`` lane) and of the merge (GUI thread), for N and for a same-run baseline of
  N/100 photos: O(changed rows) means about the same numbers for both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_TMP = tempfile.mkdtemp(prefix="mt-bench-live-")
os.environ["MOODTAGGER_CACHE"] = os.path.join(_TMP, "cache")
os.environ["MOODTAGGER_SETTINGS"] = os.path.join(_TMP, "settings.ini")

from PySide6.QtCore import QCoreApplication  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "imagenet-sample"


def cli(*args: str) -> float:
    r = subprocess.run(
        [sys.executable, "-m", "moodtagger", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if r.returncode:
        raise SystemExit(f"moodtagger {' '.join(args)} failed: {r.stdout}{r.stderr}")
    print(f"  $ moodtagger {' '.join(args[:1])} ... -> {r.stdout.strip().splitlines()[-1:]}")
    return time.monotonic()


def wait(cond, timeout: float = 10.0) -> float:
    t0 = time.monotonic()
    while not cond():
        QCoreApplication.processEvents()
        time.sleep(0.005)
        if time.monotonic() - t0 > timeout:
            raise SystemExit("timed out")
    return time.monotonic()


def run(n: int, names: list[str]) -> dict[str, float]:
    from moodtagger.core.model.registry import DEFAULT_MODEL
    from moodtagger.gui.controllers import live
    from moodtagger.gui.models.photomodel import Roles
    from moodtagger.gui.settings import AppSettings
    from moodtagger.gui.window import MainWindow
    from moodtagger.testing import synthesize_catalog

    work = Path(tempfile.mkdtemp(dir=_TMP))
    folder = work / "photos"
    folder.mkdir()
    for name in names[:12]:
        shutil.copyfile(SAMPLE / name, folder / name)
    cat = work / "catalog.sqlite3"
    synthesize_catalog(cat, n, DEFAULT_MODEL)
    cli("scan", "--catalog", str(cat), "--no-predict", "-q", str(folder))

    reads: list[tuple[int, float]] = []  # rows read, seconds (lane)
    merges: list[float] = []
    read, apply = live._read, live.LiveUpdates.apply

    def timed_read(*a, **kw):
        t0 = time.perf_counter()
        out = read(*a, **kw)
        rows = 0 if out is None else len(out.rows) + len(out.missing_ids)
        reads.append((rows, time.perf_counter() - t0))
        return out

    def timed_apply(self, changes):
        t0 = time.perf_counter()
        apply(self, changes)
        merges.append(time.perf_counter() - t0)

    live._read, live.LiveUpdates.apply = timed_read, timed_apply
    win = MainWindow(str(cat), AppSettings(), warm_up_model=False)
    win.confirm_quit = False
    win.show()
    wait(lambda: win.loaded and win.live.watching, 60)
    total = win.model.rowCount()

    def value(path: Path, role):
        photo = win.catalog.photos.by_path(str(path))
        row = None if photo is None else win.model.row_of(photo.id)
        return None if row is None else win.model.index(row, 0).data(role)

    out: dict[str, float] = {"rows": total}
    target = folder / names[0]
    t_exit = cli("choose", "--catalog", str(cat), "--mood", "awe", str(target))
    out["choose latency s"] = wait(lambda: value(target, Roles.StateRole) == "chosen") - t_exit
    target = folder / names[1]
    t_exit = cli("write", "--catalog", str(cat), "--mood", "anger", str(target))
    out["write latency s"] = wait(lambda: value(target, Roles.StateRole) == "written") - t_exit
    new = folder / ("copied_" + names[20])
    t0 = time.monotonic()
    shutil.copyfile(SAMPLE / names[20], new)
    out["copy -> new row s"] = wait(lambda: value(new, Roles.PhotoIdRole) is not None, 20) - t0
    wait(lambda: not win.library.busy, 120)
    live._read, live.LiveUpdates.apply = read, apply
    changed = [r for r in reads if r[0]]
    out["change events"] = len(changed)
    out["max rows read per event"] = max(r[0] for r in changed)
    out["max read s (lane)"] = max(r[1] for r in changed)
    out["max merge s (GUI)"] = max(merges)
    win.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=100_000)
    args = ap.parse_args()
    names = sorted(os.listdir(SAMPLE))
    QApplication.instance() or QApplication([])
    base = run(max(100, args.photos // 100), names)
    big = run(args.photos, names)
    print(f"\n{'':28}{'baseline':>12}{'library':>12}")
    for key in base:
        print(f"{key:28}{base[key]:>12.3f}{big[key]:>12.3f}")
    shutil.rmtree(_TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
