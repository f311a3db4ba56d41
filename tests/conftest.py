"""Shared fixtures: real catalogs, real image files, the team data in ../shared.

No mocks: every fixture gives a real SQLite file, real image files written by Pillow, or the
real photos in ``../shared/data``. The thumbnail cache is redirected into a per-test folder so
tests never touch the user's cache.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the project (CI always has it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"team data not found at {SHARED_DATA}: clone the project beside ../shared")
    return SHARED_DATA


@pytest.fixture(scope="session")
def imagenet_sample(shared_data: Path) -> Path:
    folder = shared_data / "imagenet-sample"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing from ../shared")
    return folder


@pytest.fixture(scope="session")
def exiftool() -> str:
    """The exiftool moodtagger uses (no exiftool = a loud failure: writing keywords is core)."""
    from moodtagger.core.tools import exiftool_path

    return exiftool_path()


@pytest.fixture(autouse=True)
def _private_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test away from the user's catalog and thumbnail cache."""
    base = tmp_path_factory.mktemp("moodtagger-home")
    monkeypatch.setenv("MOODTAGGER_CACHE", str(base / "cache"))
    monkeypatch.setenv("MOODTAGGER_CATALOG", str(base / "catalog.sqlite3"))


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator:
    """A fresh catalog (schema at the current version) in a temp folder."""
    from moodtagger.core.catalog import Catalog

    cat = Catalog(tmp_path / "catalog.sqlite3")
    try:
        yield cat
    finally:
        cat.close()


def _pattern(width: int, height: int, seed: int) -> np.ndarray:
    """A smooth, photo-like RGB test pattern (compresses like a photo, distinct per seed)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    fx, fy, phase = rng.uniform(0.002, 0.02, 2).tolist() + [rng.uniform(0, 6.28)]
    r = 127 + 100 * np.sin(x * fx + phase)
    g = 127 + 100 * np.cos(y * fy + phase)
    b = 127 + 100 * np.sin((x + y) * (fx + fy) / 2)
    return np.stack([r, g, b], axis=-1).clip(0, 255).astype(np.uint8)


MakeImage = Callable[..., Path]


@pytest.fixture
def make_image(tmp_path: Path) -> MakeImage:
    """Factory writing a real image file: ``make_image("a/b.jpg", size=(64, 48), ...)``.

    The format follows the extension (JPEG/PNG/TIFF/WebP/HEIC). ``mode`` converts the pattern
    ("L", "RGBA", "P", "CMYK", "I;16" ...), ``orientation`` writes an EXIF Orientation tag,
    ``seed`` changes the content, ``root`` overrides the folder (default: the test's tmp_path).
    """

    def make(
        name: str | bytes,
        *,
        size: tuple[int, int] = (64, 48),
        mode: str = "RGB",
        orientation: int | None = None,
        seed: int = 0,
        quality: int = 90,
        root: Path | None = None,
    ) -> Path:
        folder = os.fsencode(root or tmp_path)
        path = os.path.join(folder, os.fsencode(name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        im = Image.fromarray(_pattern(size[0], size[1], seed), "RGB")
        if mode == "RGBA":
            im = im.convert("RGBA")
            im.putalpha(Image.linear_gradient("L").resize(im.size))
        elif mode == "I;16":
            im = Image.fromarray((np.asarray(im.convert("L"), dtype=np.uint16) * 257).astype("<u2"))
        elif mode != "RGB":
            im = im.convert(mode)
        ext = os.path.splitext(os.fsdecode(path))[1].lower()
        fmt = {
            ".jpg": "JPEG",
            ".jpeg": "JPEG",
            ".png": "PNG",
            ".tif": "TIFF",
            ".tiff": "TIFF",
            ".webp": "WEBP",
            ".heic": "HEIF",
            ".heif": "HEIF",
        }[ext]
        kwargs: dict[str, object] = {}
        if fmt in ("JPEG", "WEBP", "HEIF"):
            kwargs["quality"] = quality
        if orientation is not None:
            exif = Image.Exif()
            exif[0x0112] = orientation
            kwargs["exif"] = exif.tobytes()
        if fmt == "HEIF":
            import pillow_heif

            pillow_heif.register_heif_opener()
        with open(path, "wb") as fh:
            im.save(fh, fmt, **kwargs)
        return Path(os.fsdecode(path))

    return make


# -- kill at every commit (issue 24) ------------------------------------------------------------
KillRun = Callable[[int], "subprocess.CompletedProcess[str]"]


def run_killed_at_every_commit(run: KillRun, check: Callable[[int], None], limit: int = 200) -> int:
    """``run(n)`` starts a command (``python -m moodtagger ...``, on a fresh copy of the state)
    with ``MOODTAGGER_KILL_AT_COMMIT=n`` in its environment (the catalog SIGKILLs the process
    just before its n-th commit, see ``moodtagger.core.catalog``); ``check(n)`` then looks at
    what the kill left (typically: one ``scan``, then the invariants). n = 1, 2, ... until the
    command completes without being killed (checked too). Returns how many commits it made."""
    import signal

    for n in range(1, limit):
        done = run(n)
        if done.returncode != 0:
            assert done.returncode == -signal.SIGKILL, done.stderr
        check(n)
        if done.returncode == 0:
            return n - 1
    raise AssertionError(f"the command was still killed at its commit {limit - 1}")


@pytest.fixture
def kill_sweep() -> Callable[[KillRun, Callable[[int], None]], int]:
    """:func:`run_killed_at_every_commit`."""
    return run_killed_at_every_commit
