"""PySide6 front end: adapts the Qt-free core."""
