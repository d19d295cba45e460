"""One ``xmlp train`` run from its settings: data, model, training, and the run folder (model
file, history, learning curves). ``prepare`` reads and checks everything and writes nothing;
``run`` trains and writes; ``train_all`` does several runs and compares them."""

from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import backends
from ..backends import comm as _comm
from ..errors import DataError, UnavailableError, UsageError
from ..io.files import atomic_write, default_run_dir, reserve_folder, staged_folder
from ..io.history import history_csv, run_labels
from ..models.scoring import shard_scores
from ..models.sequential import Sequential
from ..nn import losses
from ..nn.layers import Dense
from ..optim.optimizers import Optimizer
from ..training.callbacks import EarlyStopping, History, ProgressBar
from ..training.parallel import Partition
from . import recipe, row_checks, run_data
from .preflight import check_memory, check_run_folder
from .resume import resumed_model
from .run_data import Data, training_data
from .settings import TrainSettings


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


def build_model(s: TrainSettings, n_classes: int, backend: backends.Backend) -> Sequential:
    layers = recipe.hidden_layers(s)
    if s.task_name != "classification":  # one linear output per target, or one sigmoid per label
        loss: Any = {"name": "huber", "delta": s.huber_delta} if s.loss == "huber" else (s.loss or "mse")
        out = Dense(n_classes, "linear", kernel_initializer=s.weights_initializer) if s.regression else \
            Dense(n_classes, "sigmoid", kernel_initializer=s.weights_initializer)
        return Sequential([*layers, out], loss=loss if s.regression else "sigmoidCrossentropy", task=s.task_name,
                          backend=backend, dtype=s.dtype, ensemble=s.ensemble,
                          preprocess=None if s.preprocess == "none" else s.preprocess)
    layers.append(Dense(n_classes, "softmax", kernel_initializer=s.weights_initializer))
    loss = losses.get(s.loss or ("binaryCrossentropy" if n_classes == 2 else "categoricalCrossentropy"))
    try:
        loss.check_classes(n_classes)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    if "bce" in s.metrics and n_classes != 2:  # as --loss: before any training, not after it
        raise DataError(f"--metrics bce: expected two classes (binary cross-entropy scores the positive class); "
                        f"received {n_classes} (hint: leave bce out; the loss, cross-entropy, is always reported)")
    return Sequential(layers, loss=loss.name, backend=backend, dtype=s.dtype,
                      preprocess=None if s.preprocess == "none" else s.preprocess, ensemble=s.ensemble)


def prepare(s: TrainSettings, out_dir: Path | None = None, data: Data | None = None,
            n_classes: int | None = None) -> Job:
    """Everything a training run needs, checked: nothing is written here. ``out_dir`` None (and
    no --out): a new runs/<date-time> folder, reserved when the run starts. ``data`` and
    ``n_classes``: rows already read (a process's shard) and the classes of all shards."""
    backend = resolve_backend(s.device, s.backend)
    if not backend.supports(s.dtype):
        raise UnavailableError(f"expected a dtype {backend} supports; received {s.dtype} (hint: use --dtype float32)")
    out_dir = out_dir or (Path(s.out) if s.out else None)
    if out_dir is not None:
        check_run_folder(out_dir, s)
    data = data if data is not None else training_data(s)
    if s.distributed != "sharded" and s.task_name == "classification":  # (sharded: all shards' classes, later)
        row_checks.check_class_weight(s, run_data.class_names(data))
    n_classes = n_classes or run_data.n_classes(data)
    check_memory(s, data.x_train.shape[1], n_classes, run_data.rows_in_memory(data, s))
    model = (resumed_model(s, backend, data.x_train.shape[1], np.unique(data.y_train), data.feature_names)
             if s.resume else build_model(s, n_classes, backend))
    if not run_data.streamed(data) and not (s.distributed == "sharded"):
        recipe.check_batches(s, model.layers, len(data.y_train), len(data.y_valid))
    stopper = s.make_early_stopping()
    if s.resume and stopper is not None:
        carried = (model.metadata.get("training") or {}).get("early_stopping_state")
        if isinstance(carried, dict) and carried.get("monitor") == stopper.monitor:
            try:
                stopper.carry(carried)
            except ValueError as exc:
                raise DataError(f"{s.resume}: {exc}") from None
    return Job(s, backend, data, out_dir or Path("runs"), s.make_optimizer(), model, stopper)


def run(job: Job, folder: Path | None = None) -> History:
    """Train and write the run into ``folder`` (a staged folder that becomes ``job.out_dir``; None:
    ``job.out_dir`` itself, as a data-parallel job's rank 0 does). Under data parallelism every
    process trains; rank 0 alone scores the model, refits it and writes."""
    s, model, out_dir, d = job.settings, job.model, job.out_dir, job.data
    comm = job.partition.comm if job.partition is not None else _comm.Communicator()
    sharded = job.partition is not None and job.partition.sharded
    detail = (lambda *a: None) if s.quiet else print  # --quiet: only the summary lines
    if d.columns:
        detail(f"columns       : {d.columns}")
    detail(f"x_train shape : {d.x_train.shape}")
    detail(f"x_valid shape : {d.x_valid.shape}")
    if s.task_name != "classification" and not sharded:  # (a shard's targets are not the run's)
        detail(run_data.targets_line(d, s))
    elif not sharded:
        detail(f"classes       : {run_data.classes_line(d)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # an old file without state: prepare printed a note
        history = model.fit(
            d.x_train, d.y_train, validation_data=(d.x_valid, d.y_valid), epochs=s.epochs, batch_size=s.batch_size,
            optimizer=job.optimizer, seed=s.seed, metrics=s.metrics, early_stopping=job.stopper,
            callbacks=[] if s.quiet or comm.rank else [ProgressBar()], verbose=not s.quiet,
            feature_names=d.feature_names, input_noise=s.input_noise, partition=job.partition,
            warm_start=bool(s.resume), **run_data.fit_options(s), **run_data.weights(d), **recipe.fit_options(s))
    resumed = history.params["initial_epoch"]  # epochs run before a --resume
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
    if folder is None:
        folder = out_dir
        folder.mkdir(parents=True, exist_ok=True)
    training = {**job.record(), "seed": model.seed, "epochs_run": history.epochs,
                "stopped_epoch": history.stopped_epoch, "best_epoch": history.best_epoch, "initial_epoch": resumed}
    if job.stopper is not None:  # a --resume goes on counting patience where this run stopped
        training["early_stopping_state"] = job.stopper.state()
    final_metrics = {f"val_{k}": v for k, v in final.items() if k != "confusion"}
    rows = run_data.total_rows(d)
    if recipe.refits(s, rows) and sharded:
        print("> no refit in sharded mode (this process holds one shard): the saved model is the run's")
    elif recipe.refits(s, rows):
        model, training["refit"] = refit(job, history.kept_epochs, detail)
    elif s.refit is None:  # the record says what happened: no refit
        training["refit"] = False
        print(f"> no refit: {rows:,} rows (above {recipe.REFIT_MAX_ROWS:,}, 25 % more rows do not change the model "
               "measurably; --refit forces one): the saved model is the run's")
    detail(f"> saving model '{out_dir / 'model.safetensors'}' to disk...")
    model.save(folder / "model.safetensors", metadata={"training": training, "metrics": final_metrics})
    record = {**history.to_dict(), "config": training, "final": final_metrics, "name": out_dir.name}
    atomic_write(folder / "history.json", json.dumps(record, indent=2, default=str))
    atomic_write(folder / "history.csv", history_csv(history.history, first_epoch=resumed + 1))
    if s.plots:
        from .plots import plot_history

        paths = plot_history(history.history, folder, show=s.show, best_epoch=history.best_epoch,
                             first_epoch=resumed + 1)
        detail(f"> learning curves: {', '.join(str(out_dir / p.name) for p in paths)}")
    saved = (f" (the run on the training rows; the saved model '{out_dir / 'model.safetensors'}' was refit on "
             f"{training['refit']['rows']} rows, validation included)" if isinstance(training.get("refit"), dict)
             else f" (the saved model '{out_dir / 'model.safetensors'}')")
    print(f"trained on {job.backend} ({s.dtype}) in {history.epochs} epochs - {summary_scores(final)}{saved}")
    return history


def summary_scores(final: dict[str, Any]) -> str:
    """The validation scores of the summary line: the subject's BCE and accuracy, or a regression's."""
    if "hamming_loss" in final:
        return (f"validation hamming loss: {final['hamming_loss']:.4f} - validation subset accuracy: "
                f"{final['subset_accuracy']:.4f} - validation f1 (micro): {final['f1_micro']:.4f}")
    if "r2" in final:
        r2 = "n/a" if final["r2"] is None else f"{final['r2']:.4f}"
        return (f"validation rmse: {final['rmse']:.6g} - validation mae: {final['mae']:.6g} - "
                f"validation r2: {r2}")
    loss_name = "binary cross-entropy" if "bce" in final else "cross-entropy"
    return f"validation {loss_name}: {final.get('bce', final['loss']):.4f} - validation accuracy: {final['accuracy']:.4f}"


def refit(job: Job, epochs: int, say: Any = print) -> tuple[Sequential, dict[str, int]]:
    """The saved model of a --refit run: the same settings trained again from fresh weights on
    the training + validation rows, for as many epochs as the validation run kept."""
    s, d = job.settings, job.data
    x, y = run_data.all_rows(d)
    model = build_model(s, job.model.network.n_outputs if s.regression else len(job.model.classes), job.backend)
    model.fit(x, y, epochs=epochs, batch_size=s.batch_size, optimizer=s.make_optimizer(), seed=s.seed,
              metrics=(), feature_names=d.feature_names, input_noise=s.input_noise, **run_data.fit_options(s),
              **run_data.weights(d, refit=True), **recipe.fit_options(s))
    rows = len(y) if y is not None else x.n_rows
    say(f"> refit on {rows} rows (training + validation) for {epochs} epochs: the saved model; "
        "the curves and validation scores come from the run above")
    return model, {"rows": rows, "epochs": epochs}


def train_all(runs: list[tuple[str | None, TrainSettings]]) -> int:
    """Train one run, or several ([runs.NAME] tables) and draw them on one comparison PNG.

    Every run is checked (data, options, device, output) before the first one trains; the run
    folder is assembled beside its destination and appears only when complete."""
    first = runs[0][1]
    if first.out:
        check_run_folder(Path(first.out), first)
    jobs = [(name, prepare(s, Path("runs") if len(runs) > 1 else None)) for name, s in runs]
    final = Path(first.out) if first.out else reserve_folder(default_run_dir(fresh=False))
    try:
        with staged_folder(final, replace=first.force or not first.out) as folder:
            if len(runs) == 1:
                jobs[0][1].out_dir = final
                run(jobs[0][1], folder)
                return 0
            histories = []
            for name, job in jobs:
                print(f"== run '{name}'")
                job.out_dir = final / str(name)
                (folder / str(name)).mkdir()
                histories.append(run(job, folder / str(name)).history)
            from .plots import plot_runs

            labels = run_labels([str(n) for n, _ in jobs], [job.record() for _, job in jobs])
            plot_runs(list(zip(labels, histories)), folder / "comparison.png", show=any(s.show for _, s in runs))
            print(f"> compared {len(runs)} runs in '{final / 'comparison.png'}'")
            return 0
    except BaseException:
        if not first.out:  # the reserved, still empty, default folder
            with contextlib.suppress(OSError):
                final.rmdir()
        raise
