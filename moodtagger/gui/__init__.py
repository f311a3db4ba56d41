"""PySide6 front end: adapts the Qt-free core (``moodtagger.core``); nothing here decides a rule.

Where things are:

* ``app.py`` (start-up: ``moodtagger gui``) and ``window.py`` (the main window: builds the parts
  below and wires them);
* ``models/`` — the grid's Qt model and its filter proxy (named roles, column-wise rows);
* ``views/`` — widgets that show things: the grid and its delegate, the folder list, the filter
  panel, the mood map, the detail panel, the actions/menus/status bar;
* ``dialogs/`` — windows the user answers: write moods, settings, shortcuts and about;
* ``controllers/`` — what connects the views to the core: the library lane, choices (every
  change through the core's ``Library``, undoable), filtering, the detail panel, the mood map,
  "more like this", thumbnails, "why this mood", writing, learning, settings;
* ``jobs.py`` (the one way to run background work: lanes), ``errors.py`` (expected errors vs
  bugs, the crash dialog), ``settings.py`` (persistent settings).
"""
