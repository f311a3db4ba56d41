"""The mood model: registry, inference engine, training (torch only where a model is built)."""
