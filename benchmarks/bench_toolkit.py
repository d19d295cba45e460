"""The training toolkit's cost at MNIST scale: 784 -> 256 -> 128 -> 10, float32, batch 128, one
epoch of SGD, with Dropout(0.2) after each hidden layer, with BatchNorm (Dense(linear),
BatchNorm, ReLU) or LayerNorm in each, and with a cosine schedule + clip_norm — each against the
plain network in the same run. PyTorch does the same four networks (nn.Dropout, nn.BatchNorm1d,
nn.LayerNorm) for its own ratios: what the layers cost in a mature library on this machine.

Random Gaussian inputs and random labels (the arithmetic is measured, not learning); every case
interleaved with the others, median and min-max of ``--repeats`` rounds.

    python benchmarks/bench_toolkit.py [--repeats 5] [--rows 60000] [--hidden 256 128]
"""

from __future__ import annotations

import argparse
import statistics

import _harness
import numpy as np
import peers

import xmlp

HIDDEN, BATCH, LR = [256, 128], 128, 0.01
VARIANTS = ("plain", "dropout 0.2", "batchnorm", "layernorm")


def hidden(variant: str) -> list[xmlp.Layer]:
    out: list[xmlp.Layer] = []
    for units in HIDDEN:
        if variant in ("batchnorm", "layernorm"):
            out += [xmlp.Dense(units, "linear"), xmlp.BatchNorm() if variant == "batchnorm" else xmlp.LayerNorm(),
                    xmlp.Activation("relu")]
        else:
            out.append(xmlp.Dense(units, "relu"))
            if variant == "dropout 0.2":
                out.append(xmlp.Dropout(0.2))
    return out


def xmlp_epoch(x, y, variant: str, **fit):
    def run():
        timer = peers.EpochTimer()
        model = xmlp.Sequential(hidden(variant) + [xmlp.Dense(10, "softmax")], dtype="float32", preprocess=None)
        model.fit(x, y, epochs=1, batch_size=BATCH, learning_rate=LR, seed=0, metrics=(), callbacks=[timer], **fit)
        return timer.seconds[0]

    return run


def torch_epoch(x, y, variant: str):
    import time

    import torch

    def run():
        torch.manual_seed(0)
        sizes, layers = [784, *HIDDEN], []
        for a, b in zip(sizes, sizes[1:]):
            layers.append(torch.nn.Linear(a, b))
            if variant == "batchnorm":
                layers.append(torch.nn.BatchNorm1d(b))
            elif variant == "layernorm":
                layers.append(torch.nn.LayerNorm(b))
            layers.append(torch.nn.ReLU())
            if variant == "dropout 0.2":
                layers.append(torch.nn.Dropout(0.2))
        net = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 10)).train()
        opt = torch.optim.SGD(net.parameters(), lr=LR)
        loss_fn = torch.nn.CrossEntropyLoss()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        t0 = time.perf_counter()
        perm = torch.randperm(xt.shape[0])
        total = torch.zeros(())
        for start in range(0, xt.shape[0], BATCH):
            idx = perm[start:start + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.detach() * idx.shape[0]
        float(total)  # the epoch's one read, as in xmlp
        return time.perf_counter() - t0

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--hidden", type=int, nargs="+", default=HIDDEN, help="hidden widths (default: 256 128)")
    args = parser.parse_args()
    HIDDEN[:] = args.hidden
    rng = np.random.default_rng(0)
    rows = args.rows - args.rows % BATCH + 2 if args.rows % BATCH == 1 else args.rows  # BatchNorm: no batch of one
    x = rng.standard_normal(size=(rows, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=rows)
    cases = {f"xmlp {v}": xmlp_epoch(x, y, v) for v in VARIANTS}
    cases["xmlp plain + cosine + clip_norm"] = xmlp_epoch(x, y, "plain", lr_schedule=xmlp.CosineDecay(1),
                                                          clip_norm=1.0)
    reason = peers.available("torch")
    if reason:
        _harness.skipped("PyTorch", reason)
    else:
        cases.update({f"PyTorch {v}": torch_epoch(x, y, v) for v in VARIANTS})
    widths = "-".join(map(str, HIDDEN))
    _harness.header(f"the toolkit at MNIST scale: {rows} rows, 784-{widths}-10 ReLU, batch {BATCH}, one epoch of SGD, "
                    f"float32; median of {args.repeats} interleaved runs (seconds of the epoch itself)")
    times = _harness.interleaved(cases, args.repeats)
    print(f"{'network':<34} {'median s':>9} {'min-max s':>17} {'vs its plain':>13}")
    for name, ts in times.items():
        lib = name.split()[0]
        base = statistics.median(times[f"{lib} plain"])
        med = statistics.median(ts)
        print(f"{name:<34} {med:9.3f} {min(ts):8.3f}-{max(ts):<8.3f} {med / base:12.2f}x")
    if not reason:
        ratio = statistics.median(times["xmlp plain"]) / statistics.median(times["PyTorch plain"])
        print(f"# xmlp plain / PyTorch plain: {ratio:.2f}x")


if __name__ == "__main__":
    main()
