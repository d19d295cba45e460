"""The epoch loop (layer 2, compute): ``trainer`` (``Trainer``: batches, steps, the one host read
per epoch), ``callbacks`` (``History``, ``EarlyStopping``, the epoch line, the progress bar),
``metrics`` (definitions, device-side counting, the per-epoch vector) and ``parallel`` (the loop's
side of data parallelism: which rows a process computes, the gradient all-reduce). Uses ``nn``
and ``optim``.
"""
