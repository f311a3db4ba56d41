"""The mood model the app runs: registry, inference engine, heads, why, personal model (torch only
where a network is built). Training and evaluation live in :mod:`moodtagger.training`."""
