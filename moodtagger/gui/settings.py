"""Persistent settings (QSettings); the dialog that edits them is
:class:`moodtagger.gui.dialogs.settings.SettingsDialog`.

``MOODTAGGER_SETTINGS=/path/file.ini`` keeps them in that INI file instead of the platform's
place (tests and portable installs use it).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings

from moodtagger.core import paths
from moodtagger.core.catalog import default_catalog_path

# Fields offered for writing when the metadata module does not list its own.


def open_qsettings() -> QSettings:
    path = paths.settings_file()
    if path is not None:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, "moodtagger", "moodtagger"
    )


def metadata_fields() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every field the writer knows, the default ones): the core's own lists."""
    from moodtagger.core.metadata.fields import ALL_FIELDS, DEFAULT_FIELDS

    return tuple(dict.fromkeys((*ALL_FIELDS, *DEFAULT_FIELDS))), DEFAULT_FIELDS


@dataclass
class AppSettings:
    catalog_path: str = ""  # "" = the default per-user catalog
    model_id: str = ""  # "" = the registry default
    device: str = "auto"
    write_fields: tuple[str, ...] = ()  # () = the writer's defaults
    keyword_root: str = "Mood"
    sidecar: str = "xmp"  # 'xmp' (photo.xmp) | 'ext' (photo.CR2.xmp)
    readonly: str = "error"  # 'error' | 'sidecar'
    keep_date: bool = False  # writing keeps the files' modification time
    thumb_size: int = 160
    accept_threshold: float = 0.5
    ambiguity_margin: float = 0.10

    KEYS = (
        "catalog_path",
        "model_id",
        "device",
        "write_fields",
        "keyword_root",
        "sidecar",
        "readonly",
        "keep_date",
        "thumb_size",
        "accept_threshold",
        "ambiguity_margin",
    )

    @classmethod
    def load(cls, qs: QSettings | None = None) -> AppSettings:
        qs = qs or open_qsettings()
        out = cls()
        for key in cls.KEYS:
            default = getattr(out, key)
            raw = qs.value(f"settings/{key}", None)
            if raw is None:
                continue
            try:
                if isinstance(default, tuple):
                    value = tuple(
                        x for x in (raw if isinstance(raw, list) else str(raw).split(",")) if x
                    )
                elif isinstance(default, bool):
                    value = str(raw).lower() in ("1", "true", "yes")
                elif isinstance(default, int):
                    value = int(raw)
                elif isinstance(default, float):
                    value = float(raw)
                else:
                    value = str(raw)
            except (TypeError, ValueError):
                continue
            setattr(out, key, value)
        out.thumb_size = max(96, min(320, out.thumb_size))
        return out

    def save(self, qs: QSettings | None = None) -> None:
        qs = qs or open_qsettings()
        for key in self.KEYS:
            value = getattr(self, key)
            qs.setValue(f"settings/{key}", ",".join(value) if isinstance(value, tuple) else value)
        qs.sync()

    def resolved_catalog(self) -> str:
        return self.catalog_path or str(default_catalog_path())

    def write_settings(self):
        """The metadata writer's WriteSettings for these settings."""
        from moodtagger.core.metadata import WriteSettings

        kw: dict[str, object] = {
            "root": self.keyword_root,
            "sidecar": self.sidecar,
            "readonly": self.readonly,
            "preserve_mtime": self.keep_date,
        }
        if self.write_fields:
            kw["fields"] = tuple(self.write_fields)
        return WriteSettings(**kw)
