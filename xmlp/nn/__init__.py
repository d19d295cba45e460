"""The network (layer 1, compute): layers, activations, losses, initializers and ``Network``, the
stack of layers with its fused output loss on one backend. Array API only (``initializers``
draws on the host by design); never imports ``optim``, ``data`` or ``io``.

``activations`` · ``losses`` · ``initializers`` · ``layers`` (``Dense``) · ``network``
(``Network``, ``Flat``: the parameters and gradients as views of two buffers).
"""
