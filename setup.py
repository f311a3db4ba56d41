"""Packaging glue that pyproject.toml cannot express: the project's top-level ``models/`` folder
(the model registry: JSON entries, heads, the ONNX export) ships inside the package as
``moodtagger/models/``, where ``registry.models_dir()`` reads it with importlib.resources.
Everything else is configured in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["moodtagger", "moodtagger.*"]), "moodtagger.models"],
    package_dir={"moodtagger.models": "models"},
)
