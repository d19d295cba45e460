"""Host data (layer 1): reading it, splitting it, preparing it. NumPy on the host; never imports
``nn``, ``optim`` or ``io``.

``textlines`` (any input line by line, bounded) · ``csv/`` (the CSV readers: ``read_table``) ·
``sources`` (data read in chunks) · ``npy``, ``parquet`` (sources of those files) · ``spill``
(a source's first pass kept in binary files) · ``scan`` (a source's first pass) · ``feeds``
(rows sent to the device in pieces) · ``shards`` (per-process rows and merged moments) ·
``split`` (training/validation) · ``rowbuffer`` (rows moved in place) · ``preprocessing``
(``Standardizer``, ``LabelEncoder``, the model input) · ``power`` (Yeo-Johnson).
"""
