"""``MLPRegressor``: scikit-learn's face of an xmlp regression (see ``xmlp.sklearn``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backends
from .._types import ArrayLike
from ..models.sequential import Sequential
from ..nn.layers import Dense, hidden_stack
from ..optim.schedules import Schedule
from ._common import (
    BaseEstimator,
    RegressorMixin,
    _as_input,
    _check_sample_weight,
    _host,
    _seed,
    account,
    check_is_fitted,
    get_config,
    hidden_sizes,
    resolve_backend,
    resolved,
    train,
    validate_data,
)


class MLPRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]  # untyped bases
    """A multilayer perceptron regressor: hidden ``Dense`` layers, a linear output (one unit per
    target), a regression loss on targets standardised per output, trained by minibatch
    ``optimizer`` steps on standardised features; ``score`` is R² (uniform over outputs).

    Parameters as ``MLPClassifier``'s (``hidden_layer_sizes``, ``activation``, ``optimizer``,
    ``learning_rate``, ``weight_decay``, ``epochs``, ``batch_size``, ``preprocess``,
    ``input_noise``, ``ensemble``, ``early_stopping``/``validation_fraction``/``patience`` — a
    plain random validation part —, ``kernel_initializer``, ``random_state``, ``backend``,
    ``device``, ``dtype``, ``warm_start``, ``verbose``, ``dropout``, ``norm``, ``lr_schedule``,
    ``clip_norm``), and:

    - ``loss``: "mse" (the default; scikit-learn's MLPRegressor minimises half of it), "mae" or
      "huber" (``huber_delta``: its delta, in standardised target units);
    - ``target_scaling``: standardise each target with the training rows' mean and std (undone
      by ``predict``); False trains on the raw targets.

    The defaults — (64, 64) relu, Adam at its 0.001, ``weight_decay=0.1``, 100 epochs of
    batches of 32 — were chosen on scikit-learn's diabetes data (5-fold CV on two shuffles) and
    confirmed on a third (benchmarks/README.md, "Regression defaults").

    scikit-learn's own names (``max_iter``, ``learning_rate_init``, ``solver``, ``n_iter_no_change``,
    ``alpha``, ``activation="logistic"|"identity"``, ``learning_rate="constant"``) as ``MLPClassifier``'s.

    Fitted attributes: ``n_outputs_``, ``n_features_in_``, ``feature_names_in_``, ``loss_curve_``,
    ``validation_scores_`` (validation R² per epoch with early stopping, else None), ``n_iter_``,
    ``model_``. ``predict`` returns (n_samples,) for a 1-D ``y``, else (n_samples, n_outputs).
    """

    model_: Sequential
    n_outputs_: int
    loss_curve_: list[float]
    validation_scores_: list[float | None] | None
    n_iter_: int
    _structure: tuple[Any, ...]

    def __init__(self, hidden_layer_sizes: Any = (64, 64), activation: str = "relu", *, loss: str = "mse",
                 huber_delta: float = 1.0, target_scaling: bool = True, optimizer: str = "adam",
                 learning_rate: float | None = None, weight_decay: float = 0.1, epochs: int = 100,
                 batch_size: int = 32, preprocess: str | None = "standardize", input_noise: float = 0.0,
                 ensemble: int = 1, early_stopping: bool = False, validation_fraction: float = 0.1,
                 patience: int = 10, kernel_initializer: str = "heUniform", random_state: Any = None,
                 backend: str | None = None, device: str | None = None, dtype: str = "float32",
                 warm_start: bool = False, verbose: bool = False, dropout: float = 0.0, norm: str | None = None,
                 lr_schedule: Schedule | None = None, clip_norm: float | None = None,
                 max_iter: int | None = None, alpha: float | None = None, solver: str | None = None,
                 learning_rate_init: float | None = None, n_iter_no_change: int | None = None):
        self.hidden_layer_sizes, self.activation, self.loss = hidden_layer_sizes, activation, loss
        self.huber_delta, self.target_scaling, self.optimizer = huber_delta, target_scaling, optimizer
        self.learning_rate, self.weight_decay, self.epochs = learning_rate, weight_decay, epochs
        self.batch_size, self.preprocess, self.input_noise = batch_size, preprocess, input_noise
        self.ensemble, self.early_stopping, self.validation_fraction = ensemble, early_stopping, validation_fraction
        self.patience, self.kernel_initializer, self.random_state = patience, kernel_initializer, random_state
        self.backend, self.device, self.dtype = backend, device, dtype
        self.warm_start, self.verbose = warm_start, verbose
        self.dropout, self.norm, self.lr_schedule, self.clip_norm = dropout, norm, lr_schedule, clip_norm
        # scikit-learn's names of the same parameters (see _common.resolved)
        self.max_iter, self.alpha, self.solver = max_iter, alpha, solver
        self.learning_rate_init, self.n_iter_no_change = learning_rate_init, n_iter_no_change

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: Any = None) -> "MLPRegressor":
        """Train on features ``X`` and numeric targets ``y`` (n_samples,) or (n_samples, n_outputs):
        from fresh weights, or with ``warm_start`` for ``epochs`` more epochs; ``sample_weight``:
        each row's weight in its batch's loss (sum w l / sum w); returns ``self``."""
        warm = bool(self.warm_start) and hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=not warm, y_numeric=True, multi_output=True)
        weights = None if sample_weight is None else _host(_check_sample_weight(sample_weight, X))
        return self._train(X, _host(y).astype(np.float64), warm=warm, incremental=False, sample_weight=weights)

    def partial_fit(self, X: ArrayLike, y: ArrayLike) -> "MLPRegressor":
        """One epoch over ``X, y``, continuing from the fitted model. Returns ``self``."""
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, y_numeric=True, multi_output=True)
        return self._train(X, _host(y).astype(np.float64), warm=not first, incremental=True)

    def _train(self, X: Any, y: np.ndarray, *, warm: bool, incremental: bool,
               sample_weight: np.ndarray | None = None) -> "MLPRegressor":
        p, sizes = resolved(self), hidden_sizes(self)
        n_out = 1 if y.ndim == 1 else y.shape[1]
        structure = (sizes, p["activation"], self.loss, self.huber_delta, self.target_scaling, self.kernel_initializer,
                     self.preprocess, self.ensemble, self.dtype, self.backend, self.device, self.dropout, self.norm, n_out)
        if warm and structure != self._structure:
            raise ValueError(f"expected the parameters and targets that shaped the fitted model {self._structure} to "
                             f"continue it; received {structure} (hint: warm_start=False starts over)")
        if warm:
            model, seed = self.model_, self.model_.seed
        else:
            seed = _seed(self.random_state)
            layers = hidden_stack(sizes, p["activation"], norm=self.norm, dropout=self.dropout,
                                  kernel_initializer=self.kernel_initializer)
            loss: Any = {"name": "huber", "delta": self.huber_delta} if self.loss == "huber" else self.loss
            model = Sequential([*layers, Dense(n_out, "linear", kernel_initializer=self.kernel_initializer)],
                               loss=loss, task="regression", target_scaling=self.target_scaling,
                               backend=resolve_backend(self, X), dtype=self.dtype, preprocess=self.preprocess,
                               ensemble=self.ensemble)
        curves = train(self, model, _as_input(model.backend, X), y, seed, warm=warm, incremental=incremental,
                       stratify=False, score="r2", metrics=["r2"], sample_weight=sample_weight)
        if not warm:
            self.model_, self.n_outputs_, self._structure = model, n_out, structure
        account(self, *curves, warm)
        return self

    def predict(self, X: ArrayLike) -> Any:
        """Predictions in the targets' units: (n_samples,) for a 1-D ``y``, else (n_samples, n_outputs)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        model: Sequential = self.model_
        out = model.predict(_as_input(model.backend, X))
        if not isinstance(X, np.ndarray) and get_config()["array_api_dispatch"]:
            return backends.for_array(X).asarray(out)
        return out

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")
