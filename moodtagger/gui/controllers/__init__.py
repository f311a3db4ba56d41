"""What connects the views to the core, one job per module:

* ``host.py`` — the window as these controllers see it (a typed protocol: no import back);
* ``library.py`` — the ``library`` lane: open the catalog, scan -> keywords -> predict, learn
  (the work itself in ``pipeline.py``); it owns the GUI thread's ``Library``;
* ``choices.py`` — every change of choices as an undoable command carried out by the core's
  ``Library`` (the CLI's rules), and the choice keys/actions;
* ``filtering.py`` — the folder list and filter panel into the proxy's filter, sort and count;
* ``detail.py`` — the detail panel on the selection; ``why.py`` — "why this mood?" heat maps;
* ``moodmap.py`` — the mood map beside the grid; ``similar.py`` — "more like this";
* ``thumbs.py`` — thumbnails and previews off the GUI thread;
* ``writing.py``, ``learning.py``, ``preferences.py`` — the write, learn and settings flows.
"""
