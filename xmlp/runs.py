"""One ``xmlp train`` run from its settings: data, model, optimizer, training, and the run folder
(model file, history, learning curves). ``prepare`` checks everything and writes nothing;
``run`` trains and writes."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import backends

from . import optimizers
from .csvdata import read_table
from .data import split_indices
from .datasets import load_wdbc
from .errors import DataError, UnavailableError, UsageError
from .fileio import atomic_write, check_dir_writable
from .layers import Dense
from .model import Sequential
from .progress import ProgressBar
from .training import EarlyStopping


def resolve_backend(device: str | None, library: str | None) -> backends.Backend:
    try:
        if library is None:
            return backends.get_backend(device)
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


def check_two_classes(table_name: str, labels: np.ndarray) -> None:
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DataError(
            f"{table_name}: expected at least two classes in the training data; received only "
            f"{str(classes[0])!r} ({len(labels)} rows)"
        )


def training_data(s: dict[str, Any], dtype: str):
    """(x_train, y_train, x_valid, y_valid, feature names, description) from the settings."""
    if s["data"] and (s["train"] or s["valid"]):
        raise UsageError("expected either --data or --train/--valid; received both")
    if s["valid"] and not s["train"]:
        raise UsageError("expected --train with --valid; received --valid alone")
    if s["train"]:
        train = read_table(s["train"], labels="required", dtype=dtype)
        check_two_classes(train.path, train.labels)
        if s["valid"]:
            classes = sorted(set(train.labels.tolist()))
            valid = read_table(s["valid"], n_features=train.x.shape[1], labels="required", classes=classes, dtype=dtype)
            return train.x, train.labels, valid.x, valid.labels, train.feature_names, f"{train.path} + {valid.path}"
        x, y, names, what = train.x, train.labels, train.feature_names, train.path
    elif s["data"]:
        table = read_table(s["data"], labels="required", dtype=dtype)
        check_two_classes(table.path, table.labels)
        x, y, names, what = table.x, table.labels, table.feature_names, table.path
    else:
        x, y, names = load_wdbc()
        what = "embedded WDBC data"
    try:
        tr, va = split_indices(y, s["valid_size"], np.random.default_rng(s["seed"]))
    except ValueError as exc:
        raise UsageError(f"--valid-size: {exc}") from None
    if len(np.unique(y[tr])) < 2:
        raise DataError(f"{what}: expected at least two classes in the training part; received one")
    return x[tr], y[tr], x[va], y[va], names, f"{what}, split {len(tr)}/{len(va)} (seed {s['seed']})"


def build_model(s: dict[str, Any], n_classes: int, backend: backends.Backend) -> Sequential:
    layers = [Dense(u, s["activation"], kernel_initializer=s["weights_initializer"]) for u in s["layer"]]
    layers.append(Dense(n_classes, "softmax", kernel_initializer=s["weights_initializer"]))
    loss = s["loss"] or ("binaryCrossentropy" if n_classes == 2 else "categoricalCrossentropy")
    if loss == "binaryCrossentropy" and n_classes != 2:
        raise DataError(f"expected two classes for binaryCrossentropy; received {n_classes} (hint: --loss categoricalCrossentropy)")
    return Sequential(layers, loss=loss, backend=backend, dtype=s["dtype"])


def make_optimizer(s: dict[str, Any]) -> optimizers.Optimizer:
    kwargs: dict[str, Any] = {"learning_rate": s["learning_rate"]}
    name = s["optimizer"]
    for key in ("momentum", "beta1", "beta2", "rho"):
        if s[key] is not None:
            kwargs[key] = s[key]
    if s["weight_decay"] is not None:
        kwargs["weight_decay"] = s["weight_decay"]
    if s["decoupled_weight_decay"]:
        kwargs["decoupled"] = True
    try:
        return optimizers.get(name, **kwargs)
    except TypeError as exc:
        import inspect

        cls = {"sgd": optimizers.SGD, "momentum": optimizers.SGD, "nesterov": optimizers.SGD,
               "rmsprop": optimizers.RMSprop, "adam": optimizers.Adam, "adamw": optimizers.Adam}[name]
        takes = inspect.signature(cls.__init__).parameters
        bad = [k for k in ("momentum", "beta1", "beta2", "rho") if k in kwargs and k not in takes]
        ok = [k for k in ("momentum", "beta1", "beta2", "rho") if k in takes]
        raise UsageError(f"expected options that {name} takes; received {', '.join('--' + b for b in bad)} "
                         f"(hint: {name} takes {', '.join('--' + k for k in ok) or 'none of them'})") from exc
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def prepare(s: dict[str, Any]) -> dict[str, Any]:
    """Everything a training run needs, checked: nothing is written here."""
    backend = resolve_backend(s["device"], s["backend"])
    if not backend.supports(s["dtype"]):
        raise UnavailableError(f"expected a dtype {backend} supports; received {s['dtype']} (hint: use --dtype float32)")
    x_tr, y_tr, x_va, y_va, names, source = training_data(s, s["dtype"])
    out_dir = Path(s["out"]) if s["out"] else default_run_dir()
    check_dir_writable(out_dir)
    opt = make_optimizer(s)
    model = build_model(s, len(np.unique(y_tr)), backend)
    stopper = None
    if s["early_stopping"]:
        try:
            stopper = EarlyStopping(s["monitor"], s["patience"], s["min_delta"], s["restore_best_weights"])
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    metrics = list(dict.fromkeys(s["metrics"]))
    if stopper is not None and stopper.monitor not in ["val_loss"] + [f"val_{m}" for m in metrics]:
        raise UsageError(f"--monitor: expected val_loss or val_<one of --metrics {' '.join(metrics)}>; received {s['monitor']!r}")
    record = {**{k: v for k, v in s.items() if k not in ("quiet", "show", "plots", "debug")},
              "optimizer": opt.config(), "backend": backend.spec, "source": source}
    return dict(s=s, backend=backend, data=(x_tr, y_tr, x_va, y_va), names=names, out_dir=out_dir,
                opt=opt, model=model, stopper=stopper, metrics=metrics, record=record)


def run(job: dict[str, Any]) -> Any:
    s, model, out_dir = job["s"], job["model"], job["out_dir"]
    x_tr, y_tr, x_va, y_va = job["data"]
    detail = (lambda *a: None) if s["quiet"] else print  # --quiet: only the summary lines
    detail(f"x_train shape : {x_tr.shape}")
    detail(f"x_valid shape : {x_va.shape}")
    callbacks = [] if s["quiet"] else [ProgressBar()]
    try:
        history = model.fit(
            x_tr, y_tr, validation_data=(x_va, y_va), epochs=s["epochs"], batch_size=s["batch_size"],
            optimizer=job["opt"], seed=s["seed"], metrics=job["metrics"], early_stopping=job["stopper"],
            callbacks=callbacks, verbose=not s["quiet"], feature_names=job["names"],
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if history.stopped_epoch is not None:
        print(f"early stopping at epoch {history.stopped_epoch}: no {s['monitor']} improvement for "
              f"{s['patience']} epochs; keeping the weights of epoch {history.best_epoch}")
    if s["calibrate"]:
        t = model.calibrate(x_va, y_va)
        print(f"calibrated on the validation part: softmax temperature {t:.4g}")
    final = model.evaluate(x_va, y_va)
    model.info = {
        "training": {**job["record"], "seed": model.seed, "epochs_run": history.epochs,
                     "stopped_epoch": history.stopped_epoch, "best_epoch": history.best_epoch},
        "metrics": {f"val_{k}": v for k, v in final.items() if k != "confusion"},
    }
    model_path = out_dir / "model.safetensors"
    print(f"> saving model '{model_path}' to disk...")
    model.save(model_path)
    record = {**history.to_dict(), "config": model.info["training"], "final": model.info["metrics"],
              "name": out_dir.name}
    atomic_write(out_dir / "history.json", json.dumps(record, indent=2, default=str))
    atomic_write(out_dir / "history.csv", history_csv(history.history))
    if s["plots"]:
        paths = plot_history_files(history.history, out_dir, s["show"], history.best_epoch)
        detail(f"> learning curves: {', '.join(str(p) for p in paths)}")
    loss_name = "binary cross-entropy" if "bce" in final else "cross-entropy"
    print(f"trained on {job['backend']} ({s['dtype']}) in {history.epochs} epochs - validation {loss_name}: "
          f"{final.get('bce', final['loss']):.4f} - validation accuracy: {final['accuracy']:.4f}")
    return history


def plot_history_files(history, out_dir, show, best_epoch=None):
    from .plots import plot_history

    return plot_history(history, out_dir, show=show, best_epoch=best_epoch)


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


def train_all(runs: list[tuple[str | None, dict[str, Any]]]) -> int:
    """Train one run, or several ([runs.NAME] tables) and draw them on one comparison PNG.

    Every run is checked (data, options, device, output) before the first one trains."""
    if len(runs) == 1:
        run(prepare(runs[0][1]))
        return 0
    base = Path(runs[0][1]["out"]) if runs[0][1]["out"] else default_run_dir()
    prepared = [(name, prepare({**s, "out": str(base / name)})) for name, s in runs]
    histories = []
    for name, job in prepared:
        print(f"== run '{name}'")
        histories.append(run(job).history)
    from .plots import plot_runs

    labels = run_labels([n for n, _ in prepared], [job["record"] for _, job in prepared])
    out = plot_runs(list(zip(labels, histories)), base / "comparison.png", show=any(s["show"] for _, s in runs))
    print(f"> compared {len(runs)} runs in '{out}'")
    return 0
