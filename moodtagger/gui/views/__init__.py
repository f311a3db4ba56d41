"""Widgets that show the photos and their moods: the grid (``grid.py``) with the delegate that
paints a cell (``delegate.py``), the folder list, the filter panel, the mood map, the detail
panel and its "why" heat-map overlay (``heatmap.py``), and the window's actions, menus, layout
and status bar (``mainwidgets.py``). They know nothing of the catalog; controllers fill them."""
