"""The grid's data: :class:`~moodtagger.gui.models.photomodel.PhotoModel` (one row per photo,
named roles) and :class:`~moodtagger.gui.models.photomodel.PhotoProxy` (the live filter)."""
