"""11.3: the GUI's "keep the file date" setting reaches the writer (a real, offscreen dialog)."""

from __future__ import annotations


def test_keep_date_setting_round_trip(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MOODTAGGER_SETTINGS", str(tmp_path / "s.ini"))
    from moodtagger.gui.dialogs.settings import SettingsDialog
    from moodtagger.gui.settings import AppSettings

    assert AppSettings().write_settings().preserve_mtime is False
    dlg = SettingsDialog(AppSettings())
    qtbot.addWidget(dlg)
    dlg.keep_date.setChecked(True)
    chosen = dlg.result_settings()
    chosen.save()
    loaded = AppSettings.load()
    assert loaded.keep_date is True and loaded.write_settings().preserve_mtime is True
