"""Issue 25 item 3: every per-user path and every ``MOODTAGGER_*`` variable has one home,
``core/paths.py``, documented there and in docs/environment.md; the other modules ask it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "moodtagger"
VARIABLE = re.compile(r"""environ(?:\.get\(|\[)\s*["'](MOODTAGGER_\w+)""")


def _sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}


def test_only_core_paths_reads_the_environment_and_platformdirs() -> None:
    home = PACKAGE / "core" / "paths.py"
    readers = {
        str(p.relative_to(ROOT)): sorted(
            set(VARIABLE.findall(text)) | ({"platformdirs"} if "platformdirs" in text else set())
        )
        for p, text in _sources().items()
        if p != home and (VARIABLE.search(text) or "platformdirs" in text)
    }
    assert readers == {}


def test_every_variable_is_documented() -> None:
    from moodtagger.core import paths

    doc = (ROOT / "docs" / "environment.md").read_text(encoding="utf-8")
    named = set(re.findall(r"MOODTAGGER_\w+", (PACKAGE / "core" / "paths.py").read_text()))
    assert named == set(paths.VARIABLES)
    for name in paths.VARIABLES:
        assert f"``{name}``" in (paths.__doc__ or ""), name
        assert f"`{name}`" in doc, name
    assert "docs/environment.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_variables_move_the_per_user_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moodtagger.core import imaging, paths
    from moodtagger.core.catalog import default_catalog_path
    from moodtagger.core.model.personal import personal_dir

    monkeypatch.setenv("MOODTAGGER_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("MOODTAGGER_CATALOG", str(tmp_path / "cat.db"))
    monkeypatch.setenv("MOODTAGGER_PERSONAL_MODELS", str(tmp_path / "pm"))
    assert imaging.cache_dir() == paths.cache_dir() == tmp_path / "c"
    assert paths.log_dir() == tmp_path / "c" / "logs"
    assert default_catalog_path() == paths.catalog_path() == tmp_path / "cat.db"
    assert personal_dir() == paths.personal_models_dir() == tmp_path / "pm"
    monkeypatch.delenv("MOODTAGGER_CATALOG")
    monkeypatch.delenv("MOODTAGGER_PERSONAL_MODELS")
    assert paths.catalog_path().parent == paths.data_dir() == paths.personal_models_dir().parent
