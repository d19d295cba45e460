"""Ensembles of K networks in the 42 setup (30 -> 24 -> 24 -> 2, batch 8, float64, plain SGD,
455 training rows, the validation loss each epoch): xmlp's stacked ensemble (one batched network)
against the same K members trained one after another (xmlp before the stack), K PyTorch
networks as PyTorch users write them (a loop of ``nn.Sequential``s, and the careful batched form:
parameters shaped (K, n_in, n_out), ``torch.baddbmm``, one ``optim.SGD``) and K scikit-learn
``MLPClassifier`` fits (it has no batched ensemble). Interleaved rounds; ratios to xmlp's one
network of the same run. Then the whole command, ``xmlp train --ensemble K --no-refit
--no-plots`` (defaults otherwise), in fresh processes.

    python benchmarks/bench_ensemble.py [--repeats 5] [--epochs 70] [--members 1 5 10] [--commands 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import _harness
import numpy as np
import peers

import xmlp
from xmlp.data.split import split_indices
from xmlp.datasets import load_wdbc
from xmlp.training import batched


def xmlp_ensemble(x, y, k, epochs, lr, val, stacked: bool) -> Callable[[], None]:
    def run():
        real = batched.stack_for
        if not stacked:  # every member through its own Trainer, one after another
            batched.stack_for = lambda *a: None
        try:
            model = xmlp.Sequential([xmlp.Dense(24, "relu"), xmlp.Dense(24, "relu"), xmlp.Dense(2, "softmax")],
                                    dtype="float64", preprocess=None, ensemble=k)
            model.fit(x, y, validation_data=val, epochs=epochs, batch_size=8, learning_rate=lr, seed=0, metrics=())
        finally:
            batched.stack_for = real

    return run


def torch_batched(x, y, k, epochs, lr, val) -> Callable[[], None]:
    """K members as one module: (K, n_in, n_out) weights, baddbmm, each member its own
    permutation; the summed per-member mean losses give each member its own gradient."""
    import torch

    def run():
        torch.manual_seed(0)
        sizes = [x.shape[1], 24, 24, 2]
        params = []
        for a, b in zip(sizes, sizes[1:]):
            bound = 1.0 / a ** 0.5  # torch.nn.Linear's default initialisation
            params += [torch.empty(k, a, b, dtype=torch.float64).uniform_(-bound, bound).requires_grad_(),
                       torch.empty(k, 1, b, dtype=torch.float64).uniform_(-bound, bound).requires_grad_()]
        opt = torch.optim.SGD(params, lr=lr)
        xt, yt = torch.as_tensor(x), torch.as_tensor(y, dtype=torch.int64)
        xv, yv = torch.as_tensor(val[0]), torch.as_tensor(val[1], dtype=torch.int64)
        n = xt.shape[0]

        def forward(h):
            for i in range(0, len(params), 2):
                h = torch.baddbmm(params[i + 1], h, params[i])
                if i < len(params) - 2:
                    h = torch.relu(h)
            return h

        for _ in range(epochs):
            perm = torch.stack([torch.randperm(n) for _ in range(k)])
            total = torch.zeros((), dtype=torch.float64)
            for start in range(0, n, 8):
                idx = perm[:, start:start + 8]
                opt.zero_grad(set_to_none=True)
                z = forward(xt[idx])
                loss = torch.nn.functional.cross_entropy(z.reshape(-1, 2), yt[idx].reshape(-1)) * k
                loss.backward()
                opt.step()
                total += loss.detach()
            with torch.no_grad():
                z = forward(xv.expand(k, -1, -1))
                torch.nn.functional.cross_entropy(z.reshape(-1, 2), yv.repeat(k))
            float(total)

    return run


def command(k: int, out: str) -> Callable[[], None]:
    argv = [sys.executable, "-m", "xmlp", "train", "--ensemble", str(k), "--no-refit", "--no-plots", "--force",
            "--out", out]

    def run():
        subprocess.run(argv, check=True, capture_output=True)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=70)
    parser.add_argument("--members", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--commands", type=int, default=3, help="interleaved pairs of whole commands (0: none)")
    args = parser.parse_args()
    _harness.header("ensembles in the 42 setup")

    x, labels, _ = load_wdbc()
    y = (labels == "M").astype(np.int64)
    train, valid = split_indices(labels, 114, np.random.default_rng(0))
    xs = (x - x[train].mean(axis=0)) / x[train].std(axis=0)
    val = (xs[valid], y[valid])
    lr = 0.0314
    cases: dict[str, Callable[[], Any]] = {}
    have_torch = peers.available("torch") is None
    have_sklearn = peers.available("sklearn") is None
    setup = dict(hidden=[24, 24], epochs=args.epochs, batch=8, lr=lr, dtype=np.float64, val=val)
    for k in args.members:
        cases[f"xmlp K={k}" + (" stacked" if k > 1 else " (one network)")] = xmlp_ensemble(xs[train], y[train], k, args.epochs, lr, val, True)
        if k > 1:
            cases[f"xmlp K={k} one after another"] = xmlp_ensemble(xs[train], y[train], k, args.epochs, lr, val, False)
        if have_torch:
            one = peers.torch_nn(xs[train], y[train], labels[train], **setup)
            cases[f"torch K={k} loop of nn.Sequential"] = lambda one=one, k=k: [one() for _ in range(k)] and None
            cases[f"torch K={k} batched (baddbmm)"] = torch_batched(xs[train], y[train], k, args.epochs, lr, val)
        if have_sklearn:
            one = peers.sklearn_mlp(xs[train], y[train], labels[train], **setup)
            cases[f"sklearn K={k} MLPClassifier fits"] = lambda one=one, k=k: [one() for _ in range(k)] and None
    for name, why in (("torch", peers.available("torch")), ("sklearn", peers.available("sklearn"))):
        if why:
            _harness.skipped(name, why)
    times = _harness.interleaved(cases, args.repeats)
    print(f"\n## fit(): {args.epochs} epochs, median of {args.repeats} interleaved rounds")
    _harness.table(times, f"xmlp K={args.members[0]}" + (" stacked" if args.members[0] > 1 else " (one network)"))

    if args.commands:
        with tempfile.TemporaryDirectory() as tmp:
            runs = {f"xmlp train --ensemble {k}": command(k, f"{tmp}/k{k}") for k in args.members}
            t0 = time.perf_counter()
            times = _harness.interleaved(runs, args.commands)
        print(f"\n## whole command (--no-refit --no-plots, defaults otherwise), {args.commands} interleaved rounds "
              f"({time.perf_counter() - t0:.0f} s)")
        _harness.table(times, f"xmlp train --ensemble {args.members[0]}")
        base = statistics.median(times[f"xmlp train --ensemble {args.members[0]}"])
        for name, ts in times.items():
            print(f"# {name}: median {statistics.median(ts):.2f} s ({statistics.median(ts) / base:.2f}x)")


if __name__ == "__main__":
    main()
