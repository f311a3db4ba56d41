"""Qt-free core: catalog, scanning, imaging, mood model, metadata. Never imports Qt."""
