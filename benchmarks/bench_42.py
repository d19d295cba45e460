"""The 42 setup: 30 -> 24 -> 24 -> 2, batch 8, 70 epochs, 455 training rows, float64.

xmlp on NumPy (and on torch) against the plain NumPy loop in ``plain_numpy.py``, PyTorch
``nn.Sequential`` + ``optim.SGD`` and scikit-learn's ``MLPClassifier``, interleaved in one run.
Every implementation trains 70 epochs and computes each epoch's training and validation loss.

    python benchmarks/bench_42.py [--repeats 7]
"""

from __future__ import annotations

import argparse

import _harness
import numpy as np
import peers

from xmlp.data.split import split_indices
from xmlp.datasets import load_wdbc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=70, help="(70 is the 42 setup; fewer for a quick look)")
    args = parser.parse_args()

    x, labels, _ = load_wdbc()
    y = (labels == "M").astype(np.int64)
    train, valid = split_indices(labels, 114, np.random.default_rng(0))
    xs = (x - x[train].mean(axis=0)) / x[train].std(axis=0)
    setup = dict(hidden=[24, 24], epochs=args.epochs, batch=8, lr=0.0314, dtype=np.float64,
                 val=(xs[valid], y[valid]))
    data = (xs[train], y[train], labels[train])

    cases = {
        **peers.plain_cases(*data, **setup),
        "xmlp numpy (loss only)": peers.xmlp_fit(*data, **setup),
        "xmlp numpy (+accuracy)": peers.xmlp_fit(*data, **setup, metrics=("accuracy",)),
    }
    for name, label, make in (("torch", "xmlp torch backend", lambda: peers.xmlp_fit(*data, **setup, backend="torch")),
                              ("torch", "PyTorch nn.Sequential + SGD", lambda: peers.torch_nn(*data, **setup)),
                              ("sklearn", "scikit-learn MLPClassifier", lambda: peers.sklearn_mlp(*data, **setup))):
        why = peers.available(name)
        if why:
            _harness.skipped(label, why)
        else:
            cases[label] = make()

    _harness.header(f"42 setup: 455 rows, 30-24-24-2 ReLU, batch 8, {args.epochs} epochs, SGD lr 0.0314, float64; "
                    f"median of {args.repeats} interleaved runs")
    times = _harness.interleaved(cases, args.repeats)
    _harness.table(times, _harness.fastest(times, "plain NumPy loop"))


if __name__ == "__main__":
    main()
