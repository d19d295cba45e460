"""Sequential: the estimator face of xmlp. It owns what lives on the host around a network —
standardisation, label encoding, the softmax temperature, the seeds — and offers
``fit/predict/predict_proba/evaluate/save``; the layers compute in its ``Network`` and the epoch
loop runs in a ``Trainer``."""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .. import backends
from .._types import Array, ArrayLike, Labels
from ..data.fingerprint import Fingerprint
from ..data.preprocessing import LabelEncoder, Standardizer, as_features
from ..data.targets import IndicatorEncoder, TargetScaler
from ..io.model_file import read_model_file, write_model_file
from ..nn import losses
from ..nn.layer import Layer
from ..nn.network import Network
from ..optim import optimizers, schedules
from ..training.callbacks import Callback, EarlyStopping, History
from ..training.parallel import Partition
from . import inputs, saving
from .calibration import fit_temperature
from .fit import check_positive_int, fit
from .state import TrainingState


class Sequential:
    """A multilayer perceptron: ``Sequential([Dense(24, "relu"), Dense(2, "softmax")])``.

    The model remembers its backend (``backend="cpu"``, ``"cuda"``, ``"torch"``, a Backend…),
    its dtype, the standardisation fitted on the training rows, the class labels and, after
    ``calibrate``, a softmax temperature. ``fit`` starts from fresh weights each time it is
    called (as scikit-learn's estimators do); ``fit(warm_start=True)`` and ``partial_fit``
    continue from the current weights, optimizer state and random streams (``training_state``,
    saved in the model file too), bitwise as if the training had never stopped. An array
    of the model's own backend stays on its device, and inference answers in kind (``inputs``).

    ``preprocess``: "standardize" (mean/std of the training rows), "yeo-johnson" (a per-column
    power transform fitted on the training rows, then standardisation) or None. ``ensemble``:
    the number of networks trained with different seeds whose outputs are averaged. A
    regression: a linear output ``Dense(n_outputs)`` and a regression ``loss`` ("mse", "mae",
    "huber", ``xmlp.Huber(delta)``; ``task="regression"`` alone: "mse"); ``y`` is numbers, (rows,)
    or (rows, outputs), standardised per output for the training (``target_scaling``; undone
    by ``predict``); the metrics (mse, rmse, mae, r2) are in the targets' units."""

    def __init__(
        self,
        layers: Iterable[Layer],
        *,
        loss: Any = None,
        backend: str | backends.Backend | None = None,
        dtype: str = "float32",
        preprocess: str | None = "standardize",
        ensemble: int = 1,
        task: str | None = None,
        target_scaling: bool = True,
    ):
        check_positive_int("ensemble", ensemble)
        self.backend = backends.get_backend(backend)
        # Member 0 is the network the layers build; the others are replicas of its topology.
        self.network = Network(list(layers), losses.for_task(task, loss), self.backend, dtype)
        self.members = [self.network] + [self.network.replica() for _ in range(ensemble - 1)]
        self.standardizer = Standardizer.for_method(preprocess)
        self.encoder: Any = (TargetScaler(scaling=target_scaling) if self.task == "regression" else
                             IndicatorEncoder() if self.task == "multilabel" else LabelEncoder())
        self.feature_names: list[str] | None = None
        self.positive_class: Any = None
        self.temperature = 1.0
        self.history: History | None = None
        self.seed: int | None = None
        #: The description a loaded model's file carried (``training``, ``metrics``, ``xmlp_version``).
        self.metadata: dict[str, Any] = {}
        #: What continuing the training needs: optimizers, random streams, epochs run (None before a fit).
        self.training_state: TrainingState | None = None
        #: The rows the weights were trained on (``data.fingerprint``; None: unknown, or never fitted).
        self.fingerprint: Fingerprint | None = None

    # ----------------------------------------------------------------- structure and weights
    layers = property(lambda self: self.network.layers)
    loss = property(lambda self: self.network.loss)
    xp = property(lambda self: self.network.xp)
    dtype = property(lambda self: self.network.dtype)
    dtype_name = property(lambda self: self.network.dtype_name)
    loss_name = property(lambda self: self.network.loss.name)
    #: "classification" or "regression": what the loss decides
    task = property(lambda self: self.network.loss.task)
    n_features = property(lambda self: self.network.n_features)
    built = property(lambda self: self.network.built)

    @property
    def classes(self) -> list[Any]:
        return list(self.encoder.classes or [])

    def build(self, n_features: int, rng: np.random.Generator) -> None:
        """Draw the initial weights (host generator ``rng``) for ``n_features`` inputs."""
        self.network.build(n_features, rng)

    def get_weights(self) -> list[dict[str, np.ndarray]]:
        """Parameters as host NumPy arrays: ``[{"weight": W, "bias": b}, …]``."""
        return self.network.get_weights()

    def set_weights(self, weights: Sequence[dict[str, Any]]) -> None:
        """Load host parameters (any float dtype) onto the device in the model's dtype."""
        self.network.set_weights(weights)

    def config(self) -> dict[str, Any]:
        return {**self.network.config(), "loss": self.loss_name, "dtype": self.dtype_name, "classes": self.classes}

    def summary(self) -> str:
        """A table of the layers, their output widths and parameter counts (as Keras prints)."""
        return self.network.summary()

    # ----------------------------------------------------------------- training
    def fit(
        self,
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
        chunk_rows: int | None = None,
        shuffle_buffer: int = 1 << 18,
        lr_schedule: schedules.Schedule | None = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
        sample_weight: Any = None,
        class_weight: Any = None,
    ) -> History:
        """Train from fresh weights (a second call starts over), or with ``warm_start`` continue
        for ``epochs`` more epochs; returns the per-epoch metrics (also ``history``).

        Each epoch draws one permutation on the host and sends it; batches are taken on the
        device; the host reads the epoch's losses and confusion counts once, at its end.
        ``optimizer``: a name or an ``Optimizer`` (default "sgd"); ``learning_rate`` defaults to the
        optimizer's own (SGD 0.01, Adam 0.001, …). ``metrics``: reported each epoch (default
        accuracy; a regression's r2).
        ``input_noise``: the std of Gaussian noise added to the (preprocessed) training inputs.
        An ensemble's first member trains with the callbacks (its history is returned); the
        others train silently for as many epochs as the first one kept. ``partition``: this
        process's share of a data-parallel fit (``xmlp.training.parallel.Partition``).

        ``warm_start``: continue from the current weights, the optimizer's state (momentum,
        Adam's moments and step count) and the permutation and noise streams — of this fit, or of
        a loaded model file — keeping the classes, preprocessing and seed; epochs are numbered on
        from those already run. ``optimizer``, ``learning_rate`` and ``seed`` may then only repeat
        what the model trained with. 5 epochs and a warm start of 5 give the weights of 10 epochs,
        bitwise. A model that was never fitted starts fresh.

        ``x`` may be a data source read in chunks (``xmlp.sources``; ``y`` None), whose rows are
        shuffled by chunk order and within a ``shuffle_buffer`` of rows. Rows that would not fit in
        the GPU's free memory (or with ``chunk_rows``) stay on the host and go in chunks.

        ``lr_schedule``: the learning rate of each epoch (``xmlp.StepDecay``, ``ExponentialDecay``,
        ``CosineDecay``, ``ReduceOnPlateau``), from the optimizer's; the history then has each
        epoch's ``lr``, and a warm start continues the schedule where it stood. ``clip_norm``: clip
        the gradient's global L2 norm (``torch.nn.utils.clip_grad_norm_``); ``clip_value``: clip each
        gradient value (``clip_grad_value_``); one or the other. ``Dropout`` layers draw their
        masks from the fit's seeded dropout stream (the same masks on every backend).
        ``sample_weight`` (per row) times ``class_weight`` ("balanced" or {label: w}): a batch's
        loss is sum w l / sum w (NumPy's average; Keras divides by the rows instead)."""
        options = {k: v for k, v in locals().items() if k not in ("self", "x", "y")}  # every keyword, as given
        return fit(self, x, y, **options)

    def partial_fit(
        self,
        x: ArrayLike,
        y: Labels,
        *,
        classes: Sequence[Any] | None = None,
        batch_size: int = 8,
        learning_rate: float | None = None,
        optimizer: str | optimizers.Optimizer | None = None,
        seed: int | None = None,
        metrics: Sequence[str] | None = None,
        callbacks: Sequence[Callback] = (),
        verbose: bool = False,
        feature_names: Sequence[str] | None = None,
        input_noise: float = 0.0,
        lr_schedule: schedules.Schedule | None = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> History:
        """One epoch over ``x, y`` (shuffled), keeping the weights, optimizer state and random
        streams between calls: ``fit(warm_start=True, epochs=1)``. The first call builds the
        network and fits the preprocessing and the classes — ``classes`` (all the labels the
        later calls may bring, as scikit-learn's ``partial_fit`` takes them), else those of ``y``
        — which later calls keep (and ``lr_schedule``, whose epoch is the calls so far). n calls on
        the same data equal ``fit(epochs=n)``, bitwise."""
        return fit(self, x, y, epochs=1, batch_size=batch_size, learning_rate=learning_rate,
                           optimizer=optimizer, seed=seed, metrics=metrics, callbacks=callbacks, verbose=verbose,
                           feature_names=feature_names, input_noise=input_noise, warm_start=True, classes=classes,
                           lr_schedule=lr_schedule, clip_norm=clip_norm, clip_value=clip_value)

    def _to_device(self, x: ArrayLike, y: Labels | None = None) -> Array:
        """Features (and labels) -> one device array [preprocessed X | one-hot Y] in the model's dtype."""
        targets = None if y is None else self.encoder.one_hot(y)
        return inputs.to_device(self.backend, x, self.n_features, self.standardizer, self.dtype_name, targets)

    # ----------------------------------------------------------------- inference
    def decision_function(self, x: ArrayLike, batch_size: int = 65536) -> Any:
        """Output-layer logits (before softmax and temperature), on the host (on the device for a device x)."""
        return self._infer(x, batch_size, probabilities=False)

    def predict_proba(self, x: ArrayLike, batch_size: int = 65536) -> Any:
        """Class probabilities (n, n_classes), on the host (on the device for a device x)."""
        self._classifier("predict_proba")
        return self._infer(x, batch_size, probabilities=True)

    def _infer(self, x: ArrayLike, batch_size: int, probabilities: bool, host: bool = False) -> Any:
        return inputs.infer(self, x, batch_size, probabilities, host)

    def predict(self, x: ArrayLike) -> Any:
        """Predicted class labels (the most probable class of each row); a regression's
        predictions in the targets' units, (rows,) for targets given 1-D, else (rows, outputs)."""
        proba = self._infer(x, 65536, probabilities=True, host=True)
        if self.task == "regression":
            return self.encoder.decode(proba)
        if self.task == "multilabel":  # each label whose probability passes 0.5
            return (proba > 0.5).astype(np.int64)
        return [self.classes[i] for i in proba.argmax(axis=1).tolist()]

    def _classifier(self, what: str) -> None:
        if self.task == "regression" or (self.task == "multilabel" and what == "calibrate"):
            raise ValueError(f"expected a classifier for {what}; received a {self.task} model (hint: predict)")

    def calibrate(self, x: ArrayLike, y: Labels) -> float:
        """Fit the softmax temperature T on held-out rows (never the test rows) by minimizing
        their cross-entropy; predictions become softmax(z / T). Returns T."""
        self._classifier("calibrate")
        if len(self.members) > 1:
            raise ValueError(f"expected a single network to calibrate; received an ensemble of {len(self.members)} "
                             "(its averaged probabilities are calibrated by the averaging)")
        self.temperature = fit_temperature(self._infer(x, 65536, False, host=True), self.encoder.indices(y))
        return self.temperature

    def evaluate(self, x: ArrayLike, y: Labels) -> dict[str, Any]:
        """loss, bce (two classes; of ``positive_class``), accuracy, precision, recall, f1, confusion
        (a regression: loss, mse, rmse, mae, r2 in the targets' units), and ``trained_rows``: how
        many of the rows the model was trained on (``training_overlap``; None when unknown):
        scores of such rows are not a test estimate."""
        from .scoring import evaluate_model

        return evaluate_model(self, self._infer(x, 65536, True, host=True), y) | {"trained_rows": self.training_overlap(x)}

    def training_overlap(self, x: ArrayLike) -> int | None:
        """How many rows of ``x`` are rows this model was trained on (the same feature values in
        the model's dtype) by the fingerprint its fit kept (None: unknown — never fitted, fitted on
        device arrays, or a file without one; beyond 10⁶ rows a Bloom filter's count, see
        ``fingerprint.false_positive_rate``)."""
        if self.fingerprint is None:
            return None
        host = self.backend.to_numpy(x) if self.backend.holds(x) else as_features(x, self.n_features)
        return self.fingerprint.overlap(host)

    # ----------------------------------------------------------------- the model file
    def save(self, path: str | os.PathLike[str], *, metadata: Mapping[str, Any] | None = None,
             include_optimizer: bool = True, include_fingerprint: bool = True) -> None:
        """Write the model file (safetensors + JSON description), atomically. ``metadata`` may
        carry JSON-able ``training`` settings and final ``metrics`` to store with the model;
        ``include_optimizer`` (as Keras's): the training state, so that a loaded model continues
        (``fit(warm_start=True)``, ``partial_fit``, ``xmlp train --resume``) as if never saved;
        ``include_fingerprint``: the training rows' fingerprint (8 bytes a row up to 10⁶ rows,
        8 MiB beyond; format 5), so that scoring training rows warns. Without it the file is in
        the format an older xmlp reads."""
        meta, tensors = self.to_file_data(metadata, include_optimizer, include_fingerprint)
        write_model_file(path, meta, tensors)

    def to_file_data(self, metadata: Mapping[str, Any] | None = None, include_optimizer: bool = True,
                     include_fingerprint: bool = True) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON description, host tensors) of the fitted model: what the model file holds."""
        return saving.file_data(self, metadata, include_optimizer, include_fingerprint)

    @classmethod
    def from_file_data(cls, meta: dict[str, Any], tensors: dict[str, np.ndarray], *,
                       backend: str | backends.Backend | None = None, source: str = "model") -> "Sequential":
        """Rebuild a model from validated file data (``io.model_file.read_model_file``)."""
        return saving.restore(cls, meta, tensors, backend=backend, source=source)


def load_model(path: str | os.PathLike[str], backend: str | backends.Backend | None = None) -> Sequential:
    """Rebuild a Sequential from a model file, on ``backend`` (any: the file is backend-neutral)."""
    meta, tensors = read_model_file(path)
    return Sequential.from_file_data(meta, tensors, backend=backend, source=str(path))

