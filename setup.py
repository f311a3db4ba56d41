"""Packaging glue that pyproject.toml cannot express: the project's top-level ``models/`` (the
model registry: JSON entries, heads, the ONNX export) and ``resources/`` (the app icon) folders
ship inside the package as ``moodtagger/models`` and ``moodtagger/resources``, where
``moodtagger.core.shipped.shipped_dir()`` finds them with importlib.resources. Everything else
(and which files of these folders ship) is configured in pyproject.toml."""

from setuptools import find_packages, setup

SHIPPED = ("models", "resources")

setup(
    packages=[
        *find_packages(include=["moodtagger", "moodtagger.*"]),
        *(f"moodtagger.{d}" for d in SHIPPED),
    ],
    package_dir={f"moodtagger.{d}": d for d in SHIPPED},
)
