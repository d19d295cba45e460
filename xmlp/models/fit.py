"""The training of a ``Sequential``: one path from (x, y) and the fit's options to trained
members, for ``fit``, ``fit(warm_start=True)`` and ``partial_fit`` (one epoch, warm). A fresh
fit learns the labels, the preprocessing and the seeds and draws the weights; a warm one checks
the call against them and continues the optimizers and random streams of ``TrainingState``.
The epoch loop itself is ``Trainer``'s."""

from __future__ import annotations

import copy
import warnings
from typing import Any, Sequence

import numpy as np

from .._types import ArrayLike, Labels
from ..data.fingerprint import ROW_HASH, Fingerprint
from ..data.preprocessing import LabelEncoder, Standardizer
from ..data.targets import IndicatorEncoder
from ..optim import clipping, optimizers, schedules
from ..training import batched
from ..training import metrics as metrics_mod
from ..training.callbacks import Callback, EarlyStopping, EpochPrinter, History
from ..training.parallel import Partition
from ..training.trainer import Trainer
from . import fit_data, inputs
from .seeding import seed_streams
from .state import TrainingState


def fit(
    model: Any,
    x: ArrayLike,
    y: Labels,
    *,
    validation_data: tuple[ArrayLike, Labels] | None = None,
    epochs: int = 70,
    batch_size: int = 8,
    learning_rate: float | None = None,
    optimizer: str | optimizers.Optimizer | None = None,
    seed: int | None = None,
    metrics: Sequence[str] | None = None,
    early_stopping: EarlyStopping | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: bool = False,
    feature_names: Sequence[str] | None = None,
    input_noise: float = 0.0,
    partition: Partition | None = None,
    warm_start: bool = False,
    classes: Sequence[Any] | None = None,
    chunk_rows: int | None = None,
    shuffle_buffer: int = 1 << 18,
    lr_schedule: schedules.Schedule | None = None,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    sample_weight: Any = None,
    class_weight: Any = None,
) -> History:
    """Train ``model`` (a ``Sequential``): from fresh weights, or with ``warm_start`` from its
    weights, optimizer state and random streams (a model that was never fitted starts fresh);
    see ``Sequential.fit`` and ``Sequential.partial_fit`` (``classes``)."""
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    input_noise = optimizers.Option(0.0).check("input_noise", input_noise)
    metric_names = metrics_mod.check_names(metrics_mod.DEFAULT_METRICS[model.task] if metrics is None else metrics,
                                           model.task)
    clip_norm, clip_value = clipping.check(clip_norm, clip_value)
    if lr_schedule is not None and not isinstance(lr_schedule, schedules.Schedule):
        raise ValueError(f"expected lr_schedule to be a schedule (xmlp.StepDecay, ExponentialDecay, CosineDecay, "
                         f"ReduceOnPlateau) or None; received {lr_schedule!r}"[:300])
    warm_start = warm_start and model.built and model.encoder.fitted  # never fitted: fresh
    if partition is not None and partition.sharded and model.task == "regression" and partition.targets is None:
        raise ValueError("expected the targets' mean and std of all shards (Partition(targets=…)) for a sharded "
                         "regression; received none (each shard would scale its own targets)")
    if fit_data.is_source(x) and warm_start:
        raise ValueError(f"expected arrays to continue a training; received the data source {x.name} (hint: fit "
                         "from it without warm_start)")
    x_in = x if fit_data.is_source(x) else inputs.features(
        model.backend, x, model.n_features if warm_start else None)[0]
    continued = model.fingerprint if warm_start else None  # (new rows join its fingerprint: hashed as it was)
    rows_fp = None if fit_data.is_source(x_in) else _fingerprint(
        model, x_in, partition, continued.algorithm if continued is not None else ROW_HASH)  # before rows are reused
    callbacks = ([early_stopping] if early_stopping is not None else []) + list(callbacks)
    callbacks += [EpochPrinter()] if verbose else []
    if warm_start:
        state = _continued(model, y, x_in.shape[0], metric_names, optimizer, learning_rate, seed, classes)
        _check_schedule(state, lr_schedule)
    else:
        state = _fresh(model, x_in, y, metric_names, optimizer, learning_rate, seed, partition, classes, feature_names)
        state.schedules = [copy.deepcopy(lr_schedule) for _ in model.members]
    if fit_data.is_source(x_in):  # its first pass hashed the rows
        rows_fp = fit_data.first_pass(x_in, model.standardizer, model.seed, model.dtype_name, model.task).fingerprint
    model.fingerprint = rows_fp if continued is None or rows_fp is None else continued.union(rows_fp)
    weights = fit_data.row_weights(model, y, x_in, sample_weight, class_weight, partition)
    opt = state.optimizers[0]
    if state.schedules[0] is not None:
        schedules.check_span(state.schedules[0], state.epochs, epochs, opt.initial_learning_rate)
    params = {"epochs": epochs, "batch_size": batch_size, "optimizer": opt.config(), "metrics": metric_names,
              "validation": validation_data is not None, "seed": model.seed, "initial_epoch": state.epochs,
              "lr_schedule": state.schedule_config, "clip_norm": clip_norm, "clip_value": clip_value}
    validation_data = fit_data.validation_rows(validation_data)
    with model.backend.activate():
        data = fit_data.training_data(model, x_in, y, chunk_rows=chunk_rows, shuffle_buffer=shuffle_buffer,
                                      weights=weights, class_weight=class_weight)
        weighted = weights is not None or getattr(data, "weighted", False)  # (a source's chunks: weighed by its feed)
        val = None if validation_data is None else inputs.device_rows(
            model.backend, validation_data[0], model.n_features, model.standardizer, model.dtype_name,
            model.encoder.one_hot(validation_data[1]))
        first: History | None = None
        stack = batched.stack_for(model.members, data, partition or Partition(), weighted,
                                  state.schedules[0], state.optimizers)
        if stack is not None:  # every member in one step (the loop's results to rounding; see BatchedTrainer)
            first = batched.BatchedTrainer(
                stack, state.optimizers, metrics=metric_names, callbacks=callbacks, partition=partition,
                noise=float(input_noise), noise_rngs=state.noise, dropout_rngs=state.dropout,
                lr_schedule=state.schedules[0], clip_norm=clip_norm, clip_value=clip_value, weighted=weighted,
                target_scale=model.encoder.scale if model.task == "regression" else None,
            ).fit(model, data, val, epochs=epochs, batch_size=batch_size, shuffle_rng=state.shuffle, params=params,
                  initial_epoch=state.epochs)
        for k, net in enumerate(model.members if stack is None else ()):
            trainer = Trainer(net, state.optimizers[k], metrics=metric_names, callbacks=callbacks if k == 0 else (),
                              partition=partition, noise=float(input_noise), noise_rng=state.noise[k],
                              dropout_rng=state.dropout[k], lr_schedule=state.schedules[k], clip_norm=clip_norm,
                              clip_value=clip_value, weighted=weighted,
                              target_scale=model.encoder.scale if model.task == "regression" else None)
            history = trainer.fit(model, data, val, epochs=epochs if first is None else first.kept_epochs,
                                  batch_size=batch_size, shuffle_rng=state.shuffle[k], params=params,
                                  initial_epoch=state.epochs)
            first = first or history
    model.history = history if first is None else first
    state.epochs += model.history.epochs
    return model.history  # type: ignore[no-any-return]


def _fresh(model: Any, x_in: Any, y: Labels, metric_names: list[str], optimizer: Any, learning_rate: float | None,
           seed: int | None, partition: Partition | None, classes: Sequence[Any] | None,
           feature_names: Sequence[str] | None) -> TrainingState:
    """Labels, preprocessing, seeds and initial weights of a fit from scratch; its state."""
    opt = optimizers.get(optimizer if optimizer is not None else "sgd", learning_rate=learning_rate)
    if classes is not None:
        classes = _sorted_classes(classes)
    elif partition is not None:
        classes = partition.classes
    if fit_data.is_source(x_in):  # the first pass: rows checked, classes counted, preprocessing fitted
        model.seed, streams = seed_streams(seed, len(model.members))
        fit_data.learn_source(model, x_in, y, fit_labels, metric_names, classes)
        feature_names = feature_names if feature_names is not None else x_in.feature_names
    else:
        fit_labels(model, y, x_in.shape[0], metric_names, classes)
        if model.task == "regression" and partition is not None and partition.targets is not None:
            model.encoder.from_moments(*partition.targets, np.ndim(y) == 1)  # all shards' targets
        model.seed, streams = seed_streams(seed, len(model.members))
    if model.standardizer is not None and not fit_data.is_source(x_in):
        if partition is not None and partition.scaling is not None:
            model.standardizer = Standardizer(*partition.scaling)
        else:
            model.standardizer = inputs.fit_preprocessing(model.backend, x_in, model.standardizer)
    model.feature_names = list(feature_names) if feature_names is not None else None
    # Each member trains its own copy: an instance passed in is a template (two models given the
    # same one must not share slots), and the model's training state holds the trained copies.
    opts = [copy.copy(opt) for _ in model.members]
    with model.backend.activate():
        for net, member_opt, (init_rng, *_) in zip(model.members, opts, streams):
            net.build(x_in.n_features if fit_data.is_source(x_in) else x_in.shape[1], init_rng)
            member_opt.build(model.xp, net.layers)
    model.training_state = TrainingState(model.members, opts, [s[1] for s in streams], [s[2] for s in streams],
                                         0, model.seed, dropout=[s[3] for s in streams])
    return model.training_state  # type: ignore[no-any-return]


def _fingerprint(model: Any, x: Any, partition: Partition | None, algorithm: str = ROW_HASH) -> Fingerprint | None:
    """The fingerprint of the fit's rows: this process's, merged over the shards of a sharded
    data-parallel fit (each process hashes its own rows; the merged set is the same on all).
    None for rows already on the device: hashing them would copy them to the host, which a fit
    from device arrays never does (``training_overlap`` then says it does not know)."""
    if model.backend.holds(x):
        return None
    fp = Fingerprint.of(np.asarray(x), model.dtype_name, algorithm=algorithm)
    if partition is not None and partition.sharded and partition.size > 1:
        parts = partition.comm.allgather((fp.meta(), fp.tensors()))
        fp = Fingerprint(model.dtype_name, algorithm=algorithm)
        for meta, tensors in parts:
            fp = fp.union(Fingerprint.from_file(meta, tensors, "a process's fingerprint"))
    return fp


def _continued(model: Any, y: Labels, n_rows: int, metric_names: list[str], optimizer: Any,
               learning_rate: float | None, seed: int | None, classes: Sequence[Any] | None) -> TrainingState:
    """The state a warm start continues from, after checking that the call asks for nothing
    else: the same classes, optimizer and seed (labels outside the classes fail when encoded)."""
    if len(y) != n_rows:
        raise ValueError(f"expected {n_rows} labels (one per row); received {len(y)}")
    if classes is not None and _sorted_classes(classes) != model.classes:
        raise ValueError(f"expected classes={model.classes} (those of the first call); received {list(classes)}")
    if "bce" in metric_names and len(model.classes) != 2:
        raise ValueError(f"expected two classes for the bce metric; received {len(model.classes)}")
    state: TrainingState | None = model.training_state
    if state is None:  # a model file without it (older xmlp, or saved without include_optimizer)
        opt = optimizers.get(optimizer if optimizer is not None else "sgd", learning_rate=learning_rate)
        seed = seed if seed is not None else model.seed
        warnings.warn("continuing from weights without a saved optimizer state or random streams (a model "
                      "file from an older xmlp?): the optimizer and the shuffling start afresh, so the result "
                      "will differ from a training that never stopped", UserWarning, stacklevel=4)
        model.seed, streams = seed_streams(seed, len(model.members))
        opts = [copy.copy(opt) for _ in model.members]
        with model.backend.activate():
            for net, member_opt in zip(model.members, opts):
                member_opt.build(model.xp, net.layers)
        epochs = model.metadata.get("training", {}).get("epochs_run", 0)
        model.training_state = TrainingState(model.members, opts, [s[1] for s in streams], [s[2] for s in streams],
                                             epochs if isinstance(epochs, int) else 0, model.seed,
                                             dropout=[s[3] for s in streams])
        return model.training_state  # type: ignore[no-any-return]
    state.attach(model.members)
    if optimizer is not None or learning_rate is not None:
        asked = (optimizers.get(optimizer, learning_rate=learning_rate).config() if optimizer is not None
                 else {**state.optimizer_config, "learning_rate": learning_rate})
        if asked != state.optimizer_config:
            raise ValueError(f"expected the optimizer the model trained with to continue ({_describe(state.optimizer_config)}); "
                             f"received {_describe(asked)} (hint: leave optimizer and learning_rate out)")
    # A state without a seed (saved by hand, or by a fit with seed=None) continues its own streams:
    # there is no seed to check a call's against.
    if seed is not None and model.seed is not None and seed != model.seed:
        raise ValueError(f"expected seed None or {model.seed} (the fit's, whose streams continue); received {seed}")
    return state


def _check_schedule(state: TrainingState, asked: schedules.Schedule | None) -> None:
    """A warm start continues the schedule it trained with (None: that one, as it stands)."""
    if asked is not None and asked.config() != state.schedule_config:
        saved = state.schedule_config
        raise ValueError(f"expected the learning-rate schedule the model trained with to continue "
                         f"({_describe(saved) if saved else 'none'}); received {_describe(asked.config())} "
                         "(hint: leave lr_schedule out)")


def _describe(config: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())


def _sorted_classes(classes: Sequence[Any]) -> list[Any]:
    return [c.item() if hasattr(c, "item") else c for c in np.unique(np.asarray(classes))]


def fit_labels(model: Any, y: Labels | None, n_rows: int, metrics: Sequence[str],
               classes: Sequence[Any] | None = None) -> None:
    """Learn the classes of ``y`` (or take ``classes``: agreed across shards, or counted by a
    source's first pass, which checked its labels: ``y`` None) and check them; a regression's
    target scaling (a source's: already set from the first pass)."""
    if y is not None and len(y) != n_rows:
        raise ValueError(f"expected {n_rows} {'targets' if model.task == 'regression' else 'labels'} (one per row); "
                         f"received {len(y)}")
    if model.task == "multilabel":
        model.encoder = IndicatorEncoder(classes) if classes is not None else model.encoder.fit(y)
        if y is not None:
            model.encoder.one_hot(y)  # checked: a 0/1 matrix of the labels' width
        if len(model.classes) != model.network.n_outputs:
            raise ValueError(f"expected the output layer to have one unit per label ({len(model.classes)}); "
                             f"received {model.network.n_outputs} units")
        model.positive_class, model.temperature = None, 1.0
        return
    if model.task == "regression":
        if y is not None:
            model.encoder.fit(y)
        if model.encoder.n_outputs != model.network.n_outputs:
            raise ValueError(f"expected the output layer to have one unit per target ({model.encoder.n_outputs}); "
                             f"received {model.network.n_outputs} units")
        model.positive_class = None
        return
    model.encoder = LabelEncoder(classes) if classes is not None else model.encoder.fit(y)
    n = len(model.classes)
    if n < 2:
        raise ValueError(f"expected at least two classes in the training labels; received only {model.classes}")
    if n != model.network.n_outputs:
        raise ValueError(f"expected the output layer to have one unit per class ({n}: "
                         f"{', '.join(map(str, model.classes))}); received {model.network.n_outputs} units")
    model.loss.check_classes(n)
    if "bce" in metrics and n != 2:
        raise ValueError(f"expected two classes for the bce metric; received {n}")
    model.positive_class = model.classes[-1]
    model.temperature = 1.0


def check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected {name} to be an integer >= 1; received {value!r}")
