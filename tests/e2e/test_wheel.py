"""The wheel built from the repo installs into a fresh venv and predicts from any folder, with
an empty cache and no torch: the shipped ONNX export, read as package data, is all it needs.

The venv is real (``python -m venv``, the wheel installed by pip) and reuses the test venv's
third-party packages through a path entry (no network here); a ``.pth`` line makes
``import torch`` fail in it, as on a machine without torch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from moodtagger.core.model.engine import MoodModel
from moodtagger.core.moods import MOODS

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "model" / "data"


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert done.returncode == 0, f"{cmd[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; returns its bin/ folder."""
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout (the wheel is built from the tracked files)")
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    files = _run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT
    ).stdout
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(base / "dist"),
            str(src),
        ]
    )
    (wheel,) = (base / "dist").glob("moodtagger-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"
    purelib = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    # the test venv's packages (numpy, onnxruntime, ...) without its own .pth files (no editable
    # moodtagger from the checkout), and no torch
    (purelib / "shared_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (purelib / "no_torch.pth").write_text("import sys; sys.modules['torch'] = None\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--ignore-installed",  # the test venv's own (editable) moodtagger is visible through the path entry
            str(wheel),
        ],
        env=_env(base, bindir),
    )
    return bindir


def _env(tmp_path: Path, bindir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "MOODTAGGER_", "VIRTUAL_ENV"))
    }
    env.update(
        PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
        MOODTAGGER_CACHE=str(tmp_path / "empty-cache"),
        MOODTAGGER_CATALOG=str(tmp_path / "catalog.sqlite3"),
        HOME=str(tmp_path / "home"),
    )
    return env


def test_the_installed_wheel_reads_its_models_as_package_data(
    installed: Path, tmp_path: Path
) -> None:
    code = (
        "import moodtagger\n"
        "from moodtagger.core.model import registry\n"
        "from moodtagger.core.shipped import shipped_dir\n"
        "print(moodtagger.__file__); print(registry.models_dir()); print(shipped_dir('resources'))\n"
    )
    out = _run([str(installed / "python"), "-c", code], cwd=tmp_path, env=_env(tmp_path, installed))
    module, models, resources = (Path(line) for line in out.stdout.split("\n")[:3])
    package = module.parent
    assert package.is_relative_to(installed.parent), out.stdout  # the venv's copy, not the checkout
    assert models == package / "models" and resources == package / "resources"
    assert (models / "moodtagger-lite0-multitask-v4.onnx").is_file()
    assert (resources / "moodtagger.svg").is_file()
    # `moodtagger train`/`eval` and the ONNX export: the training package ships beside the runtime
    assert (package / "training" / "train.py").is_file()
    assert (package / "training" / "export_onnx.py").is_file()
    done = subprocess.run(
        [str(installed / "python"), "-c", "import torch"],
        capture_output=True,
        text=True,
        env=_env(tmp_path, installed),
    )
    assert done.returncode != 0 and "torch" in done.stderr


def test_predict_from_the_installed_wheel_without_torch(
    installed: Path, tmp_path: Path, shared_data: Path
) -> None:
    photo = shared_data / "imagenet-sample" / "n01440764_tench.JPEG"
    if not photo.is_file():
        photo = sorted((shared_data / "imagenet-sample").glob("*.JPEG"))[0]
    golden = GOLDEN / "golden.jpg"
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    env = _env(tmp_path, installed)
    done = _run(
        ["moodtagger", "predict", "--json", str(photo), str(golden)], cwd=elsewhere, env=env
    )
    # the shipped int8 graph, found in the installed package
    assert "moodtagger-lite0-multitask-v4 (cpu, onnxruntime int8)" in done.stderr, done.stderr
    recs = json.loads(done.stdout)
    assert [Path(r["path"]).name for r in recs] == [photo.name, golden.name]
    probs = [list(r["probabilities"].values()) for r in recs]
    assert list(recs[0]["probabilities"]) == list(MOODS)
    # the committed golden photo gives the committed golden output
    want = json.loads((GOLDEN / "golden.json").read_text())["moodtagger-lite0-multitask-v4 int8"]
    assert np.allclose(probs[1], want["probs"], atol=2e-3)
    # and the real photo what the checkout predicts for it
    (ref,) = next(MoodModel(device="cpu").predict_paths([str(photo)]))
    assert np.allclose(probs[0], ref.prediction.probs, atol=1e-4)
    assert recs[0]["mood"] == ref.prediction.top[0]
    assert not (tmp_path / "empty-cache" / "onnx").exists()  # nothing exported on first start
