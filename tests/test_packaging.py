"""The wheel's package list is written out by hand in pyproject.toml (``[tool.setuptools]
packages``), so a new subpackage that is not added there would be left out of the wheel: an
installed moodtagger would fail with ModuleNotFoundError while every test of the checkout passes.
This fast test catches that before tests/e2e/test_wheel.py (slow) would."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_under_moodtagger_is_in_pyprojects_package_list() -> None:
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "moodtagger").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    missing = sorted(on_disk - listed)
    assert not missing, (
        f"add {missing} to [tool.setuptools] packages in pyproject.toml, "
        "or the wheel ships without them"
    )


def test_the_shipped_folders_are_mapped_into_the_package() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    for name in ("models", "resources"):
        package = f"moodtagger.{name}"
        assert package in setuptools["packages"]
        assert setuptools["package-dir"][package] == name
        assert (ROOT / name).is_dir()
        assert setuptools["package-data"][package], f"{package} ships no files"
    listed = set(setuptools["packages"])
    stale = sorted(
        p
        for p in listed - {"moodtagger.models", "moodtagger.resources"}
        if not (ROOT / Path(*p.split(".")) / "__init__.py").is_file()
    )
    assert not stale, f"pyproject.toml lists packages that do not exist: {stale}"


BOOTSTRAP = Path(__file__).resolve().parents[1] / "packaging" / "bootstrap.sh"


def _extras(cmd: str, tmp_path: Path, env: dict[str, str], nvidia_smi: int | None = None) -> str:
    """What bootstrap.sh's extras_for prints for ``cmd`` (its two functions, run by bash)."""
    import re
    import subprocess

    text = BOOTSTRAP.read_text()
    funcs = "\n".join(
        m.group(0)
        for name in ("wants_torch", "extras_for")
        for m in [re.search(rf"^{name}\(\) {{.*?^}}", text, re.S | re.M)]
        if m
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "nvidia-smi"
    fake.unlink(missing_ok=True)
    if nvidia_smi is not None:  # an nvidia-smi that answers (0) or fails (no driver: 9)
        fake.write_text(f"#!/bin/sh\nexit {nvidia_smi}\n")
        fake.chmod(0o755)
    out = subprocess.run(
        ["bash", "-c", f"{funcs}\nextras_for {cmd}"],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_the_app_path_of_the_bootstrap_installs_no_dev_or_train_extras(tmp_path: Path) -> None:
    """Issue 26.6: `bootstrap.sh app` installed .[dev] (6.8 GB: CUDA torch, Ray, pytest, mypy)
    for a CPU desktop user. `app` installs .[gui] (ONNX Runtime is a base dependency); torch
    only with a GPU that answers or on request; `test` installs .[dev]."""
    text = BOOTSTRAP.read_text()
    installs = [ln.strip() for ln in text.splitlines() if "pip install" in ln and "#" not in ln]
    assert installs == ['"$VENV/bin/python" -m pip install -q -e ".[$extras]"'], installs
    assert _extras("app", tmp_path, {}) == "gui"
    assert _extras("app", tmp_path, {}, nvidia_smi=9) == "gui"  # nvidia-smi, but no GPU
    assert _extras("app", tmp_path, {}, nvidia_smi=0) == "gui,torch"
    assert _extras("app", tmp_path, {"MOODTAGGER_TORCH": "1"}) == "gui,torch"
    assert _extras("app", tmp_path, {"MOODTAGGER_TORCH": "0"}, nvidia_smi=0) == "gui"
    assert _extras("test", tmp_path, {}) == "dev"
    extras = _pyproject()["project"]["optional-dependencies"]
    app = {r for name in ("gui", "torch") for r in extras[name]}
    assert not any(r.split("[")[0].split(">")[0] in ("pytest", "mypy", "ray") for r in app)
