"""Windows the user answers: writing the moods into the files (``write.py``), the settings
(``settings.py``), the keyboard shortcuts and "About" (``help.py``)."""
