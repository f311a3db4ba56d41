"""`moodtagger gui DIR --screenshot FILE.png` (offscreen), settings persistence, packaging files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_screenshot_command_scans_predicts_and_saves_the_window(tmp_path, photo_folder):
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "moodtagger",
            "gui",
            str(photo_folder),
            "--screenshot",
            str(shot),
            "--catalog",
            str(tmp_path / "cat.sqlite3"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 600
    # the catalog behind it is complete: every photo has a prediction
    from moodtagger.core.catalog import Catalog

    with Catalog(tmp_path / "cat.sqlite3") as cat:
        rows = list(cat.views.with_predictions(None))
    assert len(rows) == 6 and all(p is not None for _, p in rows)


def test_gui_on_a_missing_folder_is_a_usage_error(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "moodtagger",
            "gui",
            str(tmp_path / "nope"),
            "--screenshot",
            str(tmp_path / "x.png"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "not a folder" in proc.stderr


def test_settings_persist(qapp):
    from moodtagger.gui.settings import AppSettings

    s = AppSettings(
        thumb_size=200,
        keyword_root="Emotion",
        sidecar="ext",
        write_fields=("XMP-dc:Subject",),
        accept_threshold=0.7,
    )
    s.save()
    back = AppSettings.load()
    assert back == s


def test_settings_dialog_round_trip(qtbot):
    from moodtagger.gui.dialogs.settings import SettingsDialog
    from moodtagger.gui.settings import AppSettings

    dlg = SettingsDialog(AppSettings(thumb_size=128, readonly="sidecar"))
    qtbot.addWidget(dlg)
    dlg.root.setText("Feeling")
    got = dlg.result_settings()
    assert got.thumb_size == 128 and got.readonly == "sidecar" and got.keyword_root == "Feeling"


def test_desktop_file_is_valid():
    from moodtagger.gui.app import DESKTOP_ID

    path = ROOT / "packaging" / f"{DESKTOP_ID}.desktop"
    text = path.read_text()
    assert "Exec=moodtagger gui" in text and f"Icon={DESKTOP_ID}" in text
    mime = next(line for line in text.splitlines() if line.startswith("MimeType="))
    assert "image/jpeg" in mime and "image/tiff" in mime and "image/png" in mime
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed")
    proc = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_appstream_metainfo_is_valid():
    path = next((ROOT / "packaging").glob("*.metainfo.xml"))
    from moodtagger.gui.app import DESKTOP_ID

    root = ET.parse(path).getroot()
    assert root.findtext("id") == DESKTOP_ID  # the component id is the .desktop id
    assert root.findtext("launchable") == f"{DESKTOP_ID}.desktop"
    assert root.find("url[@type='homepage']") is not None
    shots = root.findall("screenshots/screenshot/image")
    assert len(shots) >= 2
    for img in shots:  # each screenshot the metainfo names is in the repository
        assert (ROOT / img.text.split("/main/", 1)[1]).is_file()
    if shutil.which("appstreamcli") is None:
        pytest.skip("appstreamcli is not installed")
    proc = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_icon_and_pyinstaller_spec():
    from PySide6.QtSvg import QSvgRenderer  # type: ignore[import-not-found]

    svg = ROOT / "resources" / "moodtagger.svg"
    assert QSvgRenderer(str(svg)).isValid()
    spec = (ROOT / "packaging" / "moodtagger.spec").read_text()
    compile(spec, "moodtagger.spec", "exec")  # valid Python
    assert "COLLECT(" in spec and "models" in spec
