"""The implementations the benchmarks compare, each as ``make(...) -> run()`` for one setup.

All train the same MLP (ReLU hidden layers, softmax + cross-entropy, plain SGD, shuffled
minibatches) and report the epoch's training loss; peers that are not installed are skipped.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
from plain_numpy import VARIANTS
from plain_numpy import train as plain_train

import xmlp
from xmlp.training.callbacks import Callback


class EpochTimer(Callback):
    """Seconds of each epoch (from its first batch to its metrics on the host)."""

    def __init__(self):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, n_batches):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        self.seconds.append(time.perf_counter() - self.t0)


def plain(x, y, labels, hidden, epochs, batch, lr, dtype, val, variant="inplace") -> Callable[[], float | None]:
    onehot = np.eye(y.max() + 1, dtype=dtype)[y]
    xv, yv = val if val is not None else (x[:1], y[:1])
    onehot_v = np.eye(y.max() + 1, dtype=dtype)[yv]

    def run():
        plain_train(x, onehot, xv, onehot_v, hidden, epochs, batch, lr, 0, dtype=dtype, variant=variant)

    return run


def plain_cases(*args, **kwargs) -> dict[str, Callable[[], float | None]]:
    """Every variant of the plain loop (plain_numpy.VARIANTS), named for the tables."""
    return {f"plain NumPy loop ({v})": plain(*args, **kwargs, variant=v) for v in VARIANTS}


def xmlp_fit(x, y, labels, hidden, epochs, batch, lr, dtype, val, backend="numpy", metrics=(),
             epoch_only=False) -> Callable[[], float | None]:
    be = xmlp.get_backend(backend)

    def run():
        timer = EpochTimer()
        model = xmlp.Sequential([xmlp.Dense(h, "relu") for h in hidden] + [xmlp.Dense(int(y.max()) + 1, "softmax")],
                                backend=be, dtype=np.dtype(dtype).name, preprocess=None)
        model.fit(x, y, validation_data=val, epochs=epochs, batch_size=batch, learning_rate=lr, seed=0,
                  metrics=metrics, callbacks=[timer])
        be.synchronize()
        return sum(timer.seconds) if epoch_only else None

    return run


def torch_nn(x, y, labels, hidden, epochs, batch, lr, dtype, val, device="cpu") -> Callable[[], float | None]:
    import torch

    tdtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
    dev = torch.device(device)

    def run():
        torch.manual_seed(0)
        sizes = [x.shape[1], *hidden]
        layers: list[Any] = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        layers.append(torch.nn.Linear(sizes[-1], int(y.max()) + 1))
        net = torch.nn.Sequential(*layers).to(dev, tdtype)
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        xt = torch.as_tensor(x, dtype=tdtype, device=dev)
        yt = torch.as_tensor(y, dtype=torch.int64, device=dev)
        n = xt.shape[0]
        for _ in range(epochs):
            perm = torch.randperm(n, device=dev)
            total = torch.zeros((), dtype=tdtype, device=dev)
            for start in range(0, n, batch):
                idx = perm[start : start + batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                total += loss.detach() * idx.shape[0]
            if val is not None:
                with torch.no_grad():
                    loss_fn(net(torch.as_tensor(val[0], dtype=tdtype, device=dev)),
                            torch.as_tensor(val[1], device=dev))
            float(total)  # the epoch's one read, as in xmlp
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    return run


def sklearn_mlp(x, y, labels, hidden, epochs, batch, lr, dtype, val) -> Callable[[], float | None]:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def run():
        clf = MLPClassifier(hidden_layer_sizes=tuple(hidden), activation="relu", solver="sgd",
                            learning_rate_init=lr, batch_size=batch, max_iter=epochs, momentum=0.0,
                            nesterovs_momentum=False, alpha=0.0, shuffle=True, random_state=0,
                            tol=0.0, n_iter_no_change=epochs + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x.astype(dtype, copy=False), y)

    return run


def available(name: str) -> str | None:
    """None if the peer can run here, else why not."""
    import importlib.util

    module = {"torch": "torch", "sklearn": "sklearn"}.get(name)
    if module and importlib.util.find_spec(module) is None:
        return f"{module} not installed"
    return None
