"""Training and evaluating the mood model (``moodtagger train``, ``moodtagger eval``) and
exporting it to ONNX (``python -m moodtagger.training.export_onnx``).

Beside :mod:`moodtagger.core.model` (what the app runs) as open_clip's ``open_clip_train`` sits
beside ``open_clip``: this package imports the core, the core never imports it. It needs the
``train`` extra (torch, scikit-learn) and the labelled data under ``../shared/data``.
"""
