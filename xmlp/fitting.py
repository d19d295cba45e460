"""The training of a ``Sequential``: one path from (x, y) and the fit's options to trained
members. ``Sequential.fit`` calls ``fit``; the host work (labels, preprocessing, seeds) is done
here, the epoch loop in ``Trainer``."""

from __future__ import annotations

from typing import Any, Sequence

from . import inputs, metrics as metrics_mod, optimizers
from ._types import ArrayLike, Labels
from .callbacks import Callback, EarlyStopping, EpochPrinter, History
from .parallel import Partition
from .preprocessing import LabelEncoder, Standardizer
from .seeding import seed_streams
from .trainer import Trainer


def fit(
    model: Any,
    x: ArrayLike,
    y: Labels,
    *,
    validation_data: tuple[ArrayLike, Labels] | None = None,
    epochs: int = 70,
    batch_size: int = 8,
    learning_rate: float | None = None,
    optimizer: str | optimizers.Optimizer = "sgd",
    seed: int | None = None,
    metrics: Sequence[str] = ("accuracy",),
    early_stopping: EarlyStopping | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: bool = False,
    feature_names: Sequence[str] | None = None,
    input_noise: float = 0.0,
    partition: Partition | None = None,
) -> History:
    """Train ``model`` (a ``Sequential``) from fresh weights; see ``Sequential.fit``."""
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    input_noise = optimizers.Option(0.0).check("input_noise", input_noise)
    metric_names = metrics_mod.check_names(metrics)
    opt = optimizers.get(optimizer, learning_rate=learning_rate)
    x_in, _ = inputs.features(model.backend, x, None)  # host, or the backend's own array on its device
    fit_labels(model, y, x_in.shape[0], metric_names, partition.classes if partition else None)
    callbacks = ([early_stopping] if early_stopping is not None else []) + list(callbacks)
    callbacks += [EpochPrinter()] if verbose else []
    model.seed, streams = seed_streams(seed, len(model.members))
    if model.standardizer is not None:
        if partition is not None and partition.scaling is not None:
            model.standardizer = Standardizer(*partition.scaling)
        else:
            model.standardizer = inputs.fit_preprocessing(model.backend, x_in, model.standardizer)
    model.feature_names = list(feature_names) if feature_names is not None else None
    params = {"epochs": epochs, "batch_size": batch_size, "optimizer": opt.config(), "metrics": metric_names,
              "validation": validation_data is not None, "seed": model.seed}
    with model.backend.activate():
        data = model._to_device(x_in, y)
        val = model._to_device(*validation_data) if validation_data is not None else None
        first: History | None = None
        for k, (net, (init_rng, shuffle_rng, noise_rng)) in enumerate(zip(model.members, streams)):
            net.build(x_in.shape[1], init_rng)
            opt.build(model.xp, net.layers)
            trainer = Trainer(net, opt, metrics=metric_names, callbacks=callbacks if k == 0 else (),
                              partition=partition, noise=float(input_noise), noise_rng=noise_rng)
            history = trainer.fit(model, data, val, epochs=epochs if first is None else first.kept_epochs,
                                  batch_size=batch_size, shuffle_rng=shuffle_rng, params=params)
            first = first or history
    model.history = history if first is None else first
    return model.history  # type: ignore[no-any-return]


def fit_labels(model: Any, y: Labels, n_rows: int, metrics: Sequence[str], classes: Sequence[Any] | None = None) -> None:
    """Learn the classes of ``y`` (or take ``classes``: agreed across shards) and check them."""
    if len(y) != n_rows:
        raise ValueError(f"expected {n_rows} labels (one per row); received {len(y)}")
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
