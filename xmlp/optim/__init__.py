"""Optimizers (layer 1, compute): ``optimizers`` (SGD with momentum/Nesterov, RMSprop, Adam, their
options and presets) and ``step`` (one update of every parameter: weight decay, then the
optimizer's generic update or the backend's fused kernels). They receive the layers duck-typed,
as ``torch.optim`` receives parameters: ``optim`` never imports ``nn``.
"""
