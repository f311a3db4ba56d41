"""Regenerate the app's screenshots: ``python -m moodtagger.gui.screenshots [OUT_DIR]``.

Builds a demo library of synthetic pictures (Pillow gradients and shapes, nested event folders,
two ``photo_000.jpg`` in different folders, some with keywords already in the file), opens the
real main window on it (offscreen when there is no display; a private catalog, cache and
settings in a temporary folder, so nothing of the user's is touched), lets the real model
predict, and saves into ``OUT_DIR`` (default ``resources/screenshots``):

``folders.png`` the folder panel, ``grid.png`` the window with the grid's mood bars, ``map.png``
the mood map, ``write.png`` the write dialog's dry run (folders, keywords now → after).
No photo of ``../shared/data`` is used: the pictures are drawn here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from moodtagger.core import paths

# (folder, how many photos, colours) — the demo library's events
EVENTS: tuple[tuple[str, int, tuple[str, str]], ...] = (
    ("Trips/Norway 2024", 5, ("#1d4e89", "#f2d7a0")),
    ("Trips/Norway 2024/Fjords", 4, ("#0b3d2e", "#9fd3c7")),
    ("Trips/Spain", 5, ("#d1495b", "#edae49")),
    ("Family/Birthday", 5, ("#6a0572", "#ffb5a7")),
    ("Garden", 5, ("#386641", "#f2e8cf")),
)
KEYWORDS = {"Trips/Norway 2024": ["Beach", "Norway"], "Trips/Spain": ["Beach", "Spain"]}


def make_demo_library(root: Path) -> list[Path]:
    """Draw the demo pictures (640×480 JPEGs) into ``root``; returns their paths."""
    import numpy as np
    from PIL import Image, ImageDraw

    made = []
    rng = np.random.default_rng(26)
    for folder, count, (c0, c1) in EVENTS:
        (root / folder).mkdir(parents=True, exist_ok=True)
        a = np.array(Image.new("RGB", (1, 1), c0).getpixel((0, 0)), np.float32)
        b = np.array(Image.new("RGB", (1, 1), c1).getpixel((0, 0)), np.float32)
        for k in range(count):
            t = np.linspace(0, 1, 480, dtype=np.float32)[:, None, None] ** rng.uniform(0.5, 2)
            sky = a * (1 - t) + b * t
            img = Image.fromarray(np.repeat(sky, 640, axis=1).clip(0, 255).astype(np.uint8))
            draw = ImageDraw.Draw(img)
            for _ in range(int(rng.integers(3, 9))):  # hills, suns and stones
                x, y = rng.uniform(0, 640), rng.uniform(120, 480)
                r = rng.uniform(20, 160)
                colour = tuple(int(v) for v in rng.integers(0, 255, 3))
                shape = draw.ellipse if rng.random() < 0.6 else draw.rectangle
                shape((x - r, y - r / 2, x + r, y + r / 2), fill=colour)
            path = root / folder / f"photo_{k:03d}.jpg"
            img.save(path, quality=88)
            made.append(path)
    return made


def _set_keywords(root: Path, paths: list[Path]) -> None:
    """Keywords already in some files (as another photo tool would have written them)."""
    from moodtagger.core.tools import exiftool_path

    for path in paths:
        words = KEYWORDS.get(path.parent.relative_to(root).as_posix())
        if words:
            subprocess.run(
                [exiftool_path(), "-q", "-overwrite_original"]
                + [f"-XMP-dc:Subject={w}" for w in words]
                + [str(path)],
                check=True,
            )


def _wait(app, done: Callable[[], bool], timeout: float = 600.0) -> None:
    t0 = time.monotonic()
    while not done():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("the demo library took too long to scan and predict")
        app.processEvents()
        time.sleep(0.02)


def _settle(app, seconds: float = 0.5) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        app.processEvents()
        time.sleep(0.02)


def take(out: Path, work: Path) -> list[Path]:
    """Open the app on a demo library under ``work`` and save the screenshots into ``out``."""
    from moodtagger.gui.app import make_app
    from moodtagger.gui.settings import AppSettings
    from moodtagger.gui.window import MainWindow

    library = work / "Pictures"
    photos = make_demo_library(library)
    _set_keywords(library, photos)
    app = make_app()
    window = MainWindow(str(work / "catalog.sqlite3"), AppSettings())
    window.confirm_quit = False
    window.resize(1440, 900)
    window.show()
    finished: list[object] = []
    window.pipelineFinished.connect(finished.append)
    window.open_folder(str(library))
    _wait(app, lambda: bool(finished) and window.is_idle())
    saved = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        from moodtagger.gui.models.photomodel import Roles

        rows = [window.proxy.index(r, 0) for r in range(window.proxy.rowCount())]
        ids = [int(i.data(Roles.PhotoIdRole)) for i in rows]
        # a few choices: accepted suggestions and a chosen second mood, so marks show
        window.choices.accept_top(ids[:4])
        window.choices.toggle(ids[1:2], "awe")
        if hasattr(window.folders, "expandAll"):  # a folder tree: show its nesting
            window.folders.expandAll()
        window.grid.setFocus()
        window.grid.setCurrentIndex(window.proxy.index(1, 0))
        _wait(app, window.is_idle)
        _settle(app)
        saved.append(_save(window.grab(), out / "grid.png"))
        saved.append(_save(window.splitter.widget(0).grab(), out / "folders.png"))
        window.set_view("map")
        _settle(app)
        _wait(app, window.is_idle)
        _settle(app)
        saved.append(_save(window.grab(), out / "map.png"))
        window.set_view("grid")
        # the write dialog's dry run: two photo_000.jpg in different folders, keywords kept
        same_name = [
            int(i.data(Roles.PhotoIdRole))
            for i in rows
            if i.data(Roles.PathRole).endswith(("Norway 2024/photo_000.jpg", "Spain/photo_000.jpg"))
        ]
        window.choices.set_moods(same_name, ["awe"])
        dlg = window.writing.open_dialog()
        assert dlg is not None
        dlg.scope_all.setChecked(True)
        _wait(app, lambda: dlg._phase == "planned")
        dlg.resize(1100, 420)
        _settle(app)
        saved.append(_save(dlg.grab(), out / "write.png"))
        dlg.close()
    finally:
        window.close()
        window.shutdown()
    return saved


def _save(image, path: Path) -> Path:
    if not image.save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")
    print(f"saved {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moodtagger.gui.screenshots")
    parser.add_argument(
        "out", nargs="?", default="resources/screenshots", help="folder for the PNGs"
    )
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    with tempfile.TemporaryDirectory(prefix="moodtagger-shots-") as tmp:
        work = Path(tmp)
        os.environ[paths.CACHE] = str(work / "cache")
        os.environ[paths.SETTINGS] = str(work / "moodtagger.ini")
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        take(out, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
