"""The estimator (layer 3): ``sequential`` (``Sequential``, ``load_model``: the face users call),
``fit`` (the one training path: fresh, warm, partial), ``fit_data`` (what a fit trains on: a
device array or a feed), ``inputs`` (features on their way in), ``calibration`` (temperature),
``scoring`` (host-side scores of probabilities), ``seeding`` (a fit's random streams), ``state``
(``TrainingState``: what continuing a training needs) and ``saving`` (a ``Sequential`` ⇄ the
model file's data). Uses ``training``, ``nn``, ``optim``, ``data`` and ``io``.
"""
