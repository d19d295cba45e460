"""One ``xmlp train`` run from its settings: data, model, training, and the run folder (model
file, history, learning curves). ``prepare`` reads and checks everything and writes nothing;
``run`` trains and writes; ``train_all`` does several runs and compares them."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import backends
from backends.comm import Communicator

from . import losses
from .callbacks import EarlyStopping, History, ProgressBar
from .config import TrainSettings
from .csvdata import read_table
from .datasets import load_wdbc
from .errors import DataError, UnavailableError, UsageError
from .estimator import Sequential
from .fileio import atomic_write, check_dir_writable
from .layers import Dense
from .optimizers import Optimizer
from .parallel import Partition
from .shards import shard_range, shard_scores
from .split import split_indices


@dataclass
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    feature_names: list[str]
    source: str  # where the rows came from, for the record


@dataclass
class Job:
    """A prepared run: everything checked, nothing written yet."""

    settings: TrainSettings
    backend: backends.Backend
    data: Data
    out_dir: Path
    optimizer: Optimizer
    model: Sequential
    stopper: EarlyStopping | None
    #: this process's share of a data-parallel run (``xmlp.distributed`` sets it)
    partition: Partition | None = None

    def record(self) -> dict[str, Any]:
        out = {**self.settings.record(), "optimizer": self.optimizer.config(), "backend": self.backend.spec,
               "source": self.data.source}
        if self.partition is not None:  # a data-parallel run: how, and its collectives so far
            stats = self.partition.comm.stats
            out["processes"] = {"count": self.partition.size, "mode": self.partition.mode,
                                "transport": self.partition.comm.transport, "allreduce": stats.allreduce,
                                "staged": stats.staged}
        return out


def resolve_backend(device: str | None, library: str | None) -> backends.Backend:
    try:
        return backends.get_backend(device, library=library)
    except backends.UnknownBackendError as exc:
        raise UsageError(str(exc)) from exc
    except backends.BackendError as exc:
        raise UnavailableError(str(exc)) from exc


def default_run_dir() -> Path:
    base = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    path, k = base, 1
    while path.exists():
        k += 1
        path = Path(f"{base}-{k}")
    return path


def check_two_classes(where: str, labels: np.ndarray) -> None:
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DataError(f"{where}: expected at least two classes in the training data; received only "
                        f"{str(classes[0])!r} ({len(labels)} rows)")


def training_data(s: TrainSettings, shard: tuple[int, int] | None = None) -> Data:
    """The training and validation rows the settings name (files, or the embedded data split).
    ``shard`` = (rank, processes): only this process's rows of each part (files: only those
    rows are parsed; the class checks across shards are the caller's)."""
    if s.train:
        train = read_table(s.train, labels="required", dtype=s.dtype, part=shard)
        if shard is None:
            check_two_classes(train.path, train.y)
        if s.valid:
            classes = sorted(set(train.y.tolist())) if shard is None else None
            valid = read_table(s.valid, n_features=train.x.shape[1], labels="required", classes=classes, dtype=s.dtype,
                               part=shard)
            return Data(train.x, train.y, valid.x, valid.y, train.feature_names, f"{train.path} + {valid.path}")
        x, y, names, what = train.x, train.y, train.feature_names, train.path
    elif s.data:
        table = read_table(s.data, labels="required", dtype=s.dtype)
        check_two_classes(table.path, table.y)
        x, y, names, what = table.x, table.y, table.feature_names, table.path
    else:
        x, y, names = load_wdbc()
        what = "embedded WDBC data"
    try:
        tr, va = split_indices(y, s.valid_size, np.random.default_rng(s.seed))
    except ValueError as exc:
        raise UsageError(f"--valid-size: {exc}") from None
    if len(np.unique(y[tr])) < 2:
        raise DataError(f"{what}: expected at least two classes in the training part; received one")
    if shard is not None:  # an in-memory source: this process keeps its rows of each part
        tr, va = tr[slice(*shard_range(len(tr), *shard))], va[slice(*shard_range(len(va), *shard))]
    return Data(x[tr], y[tr], x[va], y[va], names, f"{what}, split {len(tr)}/{len(va)} (seed {s.seed})")


def build_model(s: TrainSettings, n_classes: int, backend: backends.Backend) -> Sequential:
    layers = [Dense(u, s.activation, kernel_initializer=s.weights_initializer) for u in s.layer]
    layers.append(Dense(n_classes, "softmax", kernel_initializer=s.weights_initializer))
    loss = losses.get(s.loss or ("binaryCrossentropy" if n_classes == 2 else "categoricalCrossentropy"))
    try:
        loss.check_classes(n_classes)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    return Sequential(layers, loss=loss.name, backend=backend, dtype=s.dtype)


def prepare(s: TrainSettings, out_dir: Path | None = None, data: Data | None = None,
            n_classes: int | None = None) -> Job:
    """Everything a training run needs, checked: nothing is written here. ``data`` and
    ``n_classes``: rows already read (a process's shard) and the classes of all shards."""
    backend = resolve_backend(s.device, s.backend)
    if not backend.supports(s.dtype):
        raise UnavailableError(f"expected a dtype {backend} supports; received {s.dtype} (hint: use --dtype float32)")
    data = data if data is not None else training_data(s)
    out_dir = out_dir or (Path(s.out) if s.out else default_run_dir())
    check_dir_writable(out_dir)
    model = build_model(s, n_classes or len(np.unique(data.y_train)), backend)
    return Job(s, backend, data, out_dir, s.make_optimizer(), model, s.make_early_stopping())


def run(job: Job) -> History:
    """Train; then the process of rank 0 (the only one, unless data-parallel) scores the model
    on the validation part and writes the run folder."""
    s, model, out_dir, d = job.settings, job.model, job.out_dir, job.data
    comm = job.partition.comm if job.partition is not None else Communicator()
    detail = (lambda *a: None) if s.quiet else print  # --quiet: only the summary lines
    detail(f"x_train shape : {d.x_train.shape}")
    detail(f"x_valid shape : {d.x_valid.shape}")
    history = model.fit(
        d.x_train, d.y_train, validation_data=(d.x_valid, d.y_valid), epochs=s.epochs, batch_size=s.batch_size,
        optimizer=job.optimizer, seed=s.seed, metrics=s.metrics, early_stopping=job.stopper,
        callbacks=[] if s.quiet or comm.rank else [ProgressBar()], verbose=not s.quiet,
        feature_names=d.feature_names, partition=job.partition,
    )
    sharded = job.partition is not None and job.partition.sharded
    if comm.rank != 0 and not sharded:
        return history
    if history.stopped_epoch is not None:
        print(f"early stopping at epoch {history.stopped_epoch}: no {s.monitor} improvement for "
              f"{s.patience} epochs; keeping the weights of epoch {history.best_epoch}")
    if s.calibrate:
        t = model.calibrate(d.x_valid, d.y_valid)
        print(f"calibrated on the validation part: softmax temperature {t:.4g}")
    final = shard_scores(model, d.x_valid, d.y_valid, comm) if sharded else model.evaluate(d.x_valid, d.y_valid)
    if comm.rank != 0:
        return history
    training = {**job.record(), "seed": model.seed, "epochs_run": history.epochs,
                "stopped_epoch": history.stopped_epoch, "best_epoch": history.best_epoch}
    final_metrics = {f"val_{k}": v for k, v in final.items() if k != "confusion"}
    model_path = out_dir / "model.safetensors"
    print(f"> saving model '{model_path}' to disk...")
    model.save(model_path, metadata={"training": training, "metrics": final_metrics})
    record = {**history.to_dict(), "config": training, "final": final_metrics, "name": out_dir.name}
    atomic_write(out_dir / "history.json", json.dumps(record, indent=2, default=str))
    atomic_write(out_dir / "history.csv", history_csv(history.history))
    if s.plots:
        from .plots import plot_history

        paths = plot_history(history.history, out_dir, show=s.show, best_epoch=history.best_epoch)
        detail(f"> learning curves: {', '.join(str(p) for p in paths)}")
    loss_name = "binary cross-entropy" if "bce" in final else "cross-entropy"
    print(f"trained on {job.backend} ({s.dtype}) in {history.epochs} epochs - validation {loss_name}: "
          f"{final.get('bce', final['loss']):.4f} - validation accuracy: {final['accuracy']:.4f}")
    return history


def history_csv(history: dict[str, list[float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    keys = list(history)
    writer.writerow(["epoch", *keys])
    for i in range(len(history["loss"])):
        writer.writerow([i + 1, *(repr(history[k][i]) for k in keys)])
    return buf.getvalue()


def run_settings(config: dict[str, Any]) -> dict[str, str]:
    """The settings that tell runs apart, as short text."""
    opt = config.get("optimizer") or {}
    name = opt.get("name", "?")
    if opt.get("nesterov"):
        name = f"nesterov {opt.get('momentum'):g}"
    elif opt.get("momentum"):
        name = f"momentum {opt['momentum']:g}"
    out = {"optimizer": name}
    if opt.get("learning_rate") is not None:
        out["lr"] = f"lr {opt['learning_rate']:g}"
    out["wd"] = f"wd {opt.get('weight_decay', 0):g}" + (" decoupled" if opt.get("decoupled") else "")
    for key, fmt in (("batch_size", "batch {}"), ("activation", "{}")):
        if config.get(key) is not None:
            out[key] = fmt.format(config[key])
    if config.get("layer"):
        out["layer"] = "-".join(map(str, config["layer"]))
    return out


def run_labels(names: Sequence[str], configs: Sequence[dict[str, Any]]) -> list[str]:
    """``name (settings)``, listing only the settings that differ between the runs."""
    settings = [run_settings(c) for c in configs]
    keys = [k for k in settings[0] if len(configs) == 1 or len({s.get(k) for s in settings}) > 1]
    return [f"{n} ({', '.join(s[k] for k in keys if k in s)})" if keys else n for n, s in zip(names, settings)]


def train_all(runs: list[tuple[str | None, TrainSettings]]) -> int:
    """Train one run, or several ([runs.NAME] tables) and draw them on one comparison PNG.

    Every run is checked (data, options, device, output) before the first one trains."""
    if len(runs) == 1:
        run(prepare(runs[0][1]))
        return 0
    first = runs[0][1]
    base = Path(first.out) if first.out else default_run_dir()
    prepared = [(str(name), prepare(s, base / str(name))) for name, s in runs]
    histories = []
    for name, job in prepared:
        print(f"== run '{name}'")
        histories.append(run(job).history)
    from .plots import plot_runs

    labels = run_labels([n for n, _ in prepared], [job.record() for _, job in prepared])
    out = plot_runs(list(zip(labels, histories)), base / "comparison.png", show=any(s.show for _, s in runs))
    print(f"> compared {len(runs)} runs in '{out}'")
    return 0
