"""Files (layer 1): ``files`` (atomic writes that replace only regular files, all-or-nothing groups,
run folders staged beside their destination), ``model_file`` (the model file: (metadata,
tensors) ⇄ bytes, validated; knows data, not classes) and ``history`` (``history.csv`` out,
``history.json`` in). Never imports ``nn``, ``optim`` or ``data``.
"""
