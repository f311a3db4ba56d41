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
