"""``MLPClassifier``: scikit-learn's face of an xmlp classifier (see ``xmlp.sklearn``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backends
from .._types import ArrayLike, Labels
from ..models.sequential import Sequential
from ..nn.layers import Dense, hidden_stack
from ..optim.schedules import Schedule
from ._common import (
    BaseEstimator,
    ClassifierMixin,
    _as_input,
    _check_sample_weight,
    _host,
    _seed,
    account,
    check_classification_targets,
    check_is_fitted,
    column_or_1d,
    get_config,
    hidden_sizes,
    resolve_backend,
    resolved,
    train,
    type_of_target,
    validate_data,
)


class MLPClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]  # untyped bases
    """A multilayer perceptron classifier: hidden ``Dense`` layers, a softmax output, softmax
    cross-entropy, trained by minibatch ``optimizer`` steps on standardized features.

    Parameters (what ``xmlp train`` calls them; scikit-learn's ``MLPClassifier`` names in brackets):

    - ``hidden_layer_sizes``: widths of the hidden layers (``--layer``);
    - ``activation``: hidden activation, any of ``xmlp train --help``'s (tanh, relu, sigmoid, …);
    - ``optimizer``: sgd, momentum, nesterov, rmsprop, adam or adamw (``solver``);
    - ``learning_rate``: None for the optimizer's own (``learning_rate_init``).
      The defaults ((256,) relu, Adam at 0.003, weight_decay 0.003, 200 epochs of batch 64) were
      chosen on scikit-learn's iris, breast_cancer, digits and wine (StratifiedKFold shuffles 1–2)
      and confirmed on shuffles 3–4 (benchmarks/bench_tasks.py, benchmarks/README.md);
    - ``weight_decay``: L2 added to the gradient, torch.optim's convention (``alpha``, up to a
      factor: scikit-learn's alpha penalises the summed squared weights over the batch size);
    - ``epochs`` (``max_iter``), ``batch_size``;
    - ``preprocess``: "standardize" (the default: a device input stays on its device throughout),
      "yeo-johnson" (a power transform per feature first; its λ search reads device input back
      to the host once) or None; ``input_noise``: std of the Gaussian noise added to the
      preprocessed training inputs; ``ensemble``: how many networks (own seeds) to average.
      ``hidden_layer_sizes=(24, 24), activation="tanh", optimizer="sgd", batch_size=8,
      preprocess="yeo-johnson", epochs=150, learning_rate=0.0314, weight_decay=0.007,
      input_noise=0.2`` is ``xmlp train``'s recipe (without its refit);
    - ``early_stopping``, ``validation_fraction``, ``patience`` (``n_iter_no_change``): hold out a
      stratified part of the rows, stop when its loss has not improved for ``patience`` epochs,
      and keep the best epoch's weights;
    - ``kernel_initializer``: heUniform, glorotUniform, …;
    - ``random_state``: None, an int or a ``RandomState`` (the seed of the weights and batches);
    - ``backend``, ``device``: as ``xmlp train --backend/--device`` (None: the input's library
      under array-API dispatch, else ``XMLP_DEVICE``, else NumPy); ``dtype``: float32 or float64;
    - ``warm_start``: a second ``fit`` continues the fitted model for ``epochs`` more epochs — its
      weights and, unlike scikit-learn's (which restarts its optimizer), the optimizer's state and
      the random streams, so 5 + 5 epochs are 10 — with the same classes and parameters;
    - ``verbose``: print one line per epoch;
    - ``dropout``: Dropout(rate) after each hidden layer (0: none); ``norm``: None, "batch"
      (BatchNorm) or "layer" (LayerNorm) between each hidden Dense layer and its activation;
      ``lr_schedule``: an ``xmlp`` schedule (``xmlp.CosineDecay(epochs, warmup=5)``, …; a copy is
      trained, the parameter stays as set), None for a constant rate; ``clip_norm``: clip the
      gradients' global L2 norm (None: no clipping).

    scikit-learn's own names are taken too, for a drop-in replacement of
    ``sklearn.neural_network.MLPClassifier``: ``max_iter`` (epochs), ``learning_rate_init``,
    ``solver`` ("sgd" or "adam"), ``n_iter_no_change`` (patience), ``alpha`` (its L2 term: weight
    decay alpha / batch_size, the same gradient), ``activation="logistic"|"identity"`` (sigmoid,
    linear) and ``learning_rate="constant"``; where given they win over xmlp's names.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``feature_names_in_`` (inputs with
    column names), ``loss_curve_`` (training loss per epoch), ``validation_scores_`` (validation
    accuracy per epoch with early stopping, else None), ``n_iter_`` (epochs run) and ``model_``
    (the ``xmlp.Sequential``; ``model_.save(path)`` writes a model file ``xmlp predict`` reads).

    ``partial_fit(X, y, classes=…)`` trains one epoch at a time (``classes`` on the first call,
    as scikit-learn's), keeping the weights, optimizer state and preprocessing of the first call;
    ``loss_curve_`` and ``n_iter_`` accumulate over ``partial_fit`` and warm-started fits.
    ``class_weight``: None, "balanced" or {label: weight}, times ``fit``'s ``sample_weight`` (a
    batch's loss is sum w l / sum w). An indicator matrix ``y`` (0/1, one column per label) trains
    a multi-label model: one sigmoid per label, ``classes_`` = 0 … labels-1, ``predict`` the 0/1
    matrix, ``score`` the subset accuracy.
    """

    # Fitted attributes (set by fit and partial_fit; absent before).
    model_: Sequential
    classes_: np.ndarray
    loss_curve_: list[float]
    validation_scores_: list[float] | None
    n_iter_: int
    _structure: tuple[Any, ...]
    _fit_input: str

    def __init__(self, hidden_layer_sizes: Any = (256,), activation: str = "relu", *, optimizer: str = "adam",
                 learning_rate: float | None = 0.003, weight_decay: float = 0.003, epochs: int = 200,
                 batch_size: int = 64, preprocess: str | None = "standardize", input_noise: float = 0.0,
                 ensemble: int = 1, early_stopping: bool = False, validation_fraction: float = 0.1,
                 patience: int = 10, kernel_initializer: str = "heUniform", random_state: Any = None,
                 backend: str | None = None, device: str | None = None, dtype: str = "float32",
                 warm_start: bool = False, verbose: bool = False, dropout: float = 0.0, norm: str | None = None,
                 lr_schedule: Schedule | None = None, clip_norm: float | None = None,
                 max_iter: int | None = None, alpha: float | None = None, solver: str | None = None,
                 learning_rate_init: float | None = None, n_iter_no_change: int | None = None,
                 class_weight: Any = None):
        self.hidden_layer_sizes, self.activation, self.optimizer = hidden_layer_sizes, activation, optimizer
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
        self.class_weight = class_weight

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.classifier_tags.multi_label = True
        return tags

    # ----------------------------------------------------------------- training
    def fit(self, X: ArrayLike, y: Labels, sample_weight: Any = None) -> "MLPClassifier":
        """Train on features ``X`` (n_samples, n_features) and labels ``y``: from fresh weights,
        or with ``warm_start`` (once fitted) for ``epochs`` more epochs from the fitted model;
        ``sample_weight``: each row's weight in its batch's loss (times ``class_weight``'s);
        returns ``self``."""
        warm = bool(self.warm_start) and hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=not warm, multi_output=True)
        check_classification_targets(y)
        y_host = _host(y)
        if y_host.ndim == 2 and y_host.shape[1] == 1:  # a column of labels: scikit-learn's warning, then 1-D
            y_host = column_or_1d(y_host, warn=True)
        if y_host.ndim == 2 and y_host.shape[1] > 1:  # an indicator matrix: one sigmoid per label
            if type_of_target(y_host) != "multilabel-indicator":
                raise ValueError(f"expected labels, or a multi-label 0/1 indicator matrix; received y of type "
                                 f"{type_of_target(y_host)!r}")
            classes = np.arange(y_host.shape[1])
            if warm and len(classes) != len(self.classes_):
                raise ValueError(f"expected y with the {len(self.classes_)} labels of the previous fit to warm-start; "
                                 f"received {len(classes)}")
            weights = None if sample_weight is None else _host(_check_sample_weight(sample_weight, X))
            return self._train(X, y_host, classes, warm=warm, incremental=False, sample_weight=weights)
        classes = np.unique(y_host)
        if len(classes) < 2:
            raise ValueError(f"expected at least two classes in y; received one class only ({classes[0]!r})")
        if warm and set(classes.tolist()) != set(self.classes_.tolist()):
            raise ValueError(f"expected y with the classes of the previous fit ({self.classes_.tolist()}) to warm-start; "
                             f"received {classes.tolist()} (hint: warm_start=False starts over)")
        weights = None if sample_weight is None else _host(_check_sample_weight(sample_weight, X))
        return self._train(X, y_host, classes, warm=warm, incremental=False, sample_weight=weights)

    def partial_fit(self, X: ArrayLike, y: Labels, classes: Any = None) -> "MLPClassifier":
        """One epoch over ``X, y``, continuing from the fitted model (its weights, optimizer
        state and random streams). ``classes``: every label the calls will bring (e.g.
        ``np.unique(y_all)``), required on the first call, as scikit-learn's; ``y`` need not hold
        them all. Early stopping does not apply (as scikit-learn's). Returns ``self``."""
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError("expected classes= on the first call to partial_fit (every label the calls will bring, "
                             "e.g. np.unique(y_all)); received None")
        X, y = validate_data(self, X, y, reset=first)
        check_classification_targets(y)
        wanted = None if classes is None else np.unique(_host(np.asarray(classes)))
        if wanted is not None and not first and not np.array_equal(wanted, self.classes_):
            raise ValueError(f"expected classes= as on the first call ({self.classes_.tolist()}); received {wanted.tolist()}")
        if wanted is not None and len(wanted) < 2:
            raise ValueError(f"expected at least two classes; received {wanted.tolist()}")
        return self._train(X, _host(y), self.classes_ if wanted is None else wanted, warm=not first, incremental=True)

    def _train(self, X: Any, y_host: np.ndarray, classes: np.ndarray, *, warm: bool, incremental: bool,
               sample_weight: np.ndarray | None = None) -> "MLPClassifier":
        """A new ``Sequential`` (not ``warm``) or the fitted one, trained ``epochs`` epochs or one (``incremental``)."""
        p, sizes = resolved(self), hidden_sizes(self)
        multilabel = y_host.ndim == 2
        structure = (sizes, p["activation"], self.kernel_initializer, self.preprocess, self.ensemble, self.dtype,
                     self.backend, self.device, self.dropout, self.norm, multilabel)
        if warm and structure != self._structure:
            raise ValueError(f"expected the parameters that shaped the fitted model {self._structure} to continue it; "
                             f"received {structure} (hint: warm_start=False, or a new estimator, starts over)")
        if warm:
            model, seed = self.model_, self.model_.seed
        else:
            seed = _seed(self.random_state)
            layers = hidden_stack(sizes, p["activation"], norm=self.norm, dropout=self.dropout,
                                  kernel_initializer=self.kernel_initializer)
            output = Dense(len(classes), "sigmoid" if multilabel else "softmax", kernel_initializer=self.kernel_initializer)
            model = Sequential([*layers, output], task="multilabel" if multilabel else None,
                               backend=resolve_backend(self, X), dtype=self.dtype, preprocess=self.preprocess,
                               ensemble=self.ensemble)
        curves = train(self, model, _as_input(model.backend, X), y_host, seed, warm=warm, incremental=incremental,
                       stratify=not multilabel, score="subset_accuracy" if multilabel else "accuracy",
                       classes=None if warm else classes.tolist(), sample_weight=sample_weight,
                       **({"metrics": ["subset_accuracy"]} if multilabel else {}))
        if not warm:
            self.model_, self.classes_, self._structure = model, classes, structure
            self._fit_input = backends.for_array(X).spec
        account(self, *curves, warm)
        return self

    # ----------------------------------------------------------------- inference
    def predict_proba(self, X: ArrayLike) -> Any:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``; in
        the input's namespace and on its device under array-API dispatch, else NumPy."""
        return self._proba(X, "predict_proba")

    def predict(self, X: ArrayLike) -> Any:
        """The most probable class of each row, as an array of labels (of ``classes_``); multi-label:
        the 0/1 indicator matrix of the labels whose probability passes 0.5."""
        proba = self._proba(X, "predict")
        if self.model_.task == "multilabel":
            out = _host(proba) > 0.5
            return out.astype(np.int64) if isinstance(proba, np.ndarray) else backends.for_array(proba).asarray(out)
        if isinstance(proba, np.ndarray):
            return self.classes_[np.argmax(proba, axis=1)]
        holder = backends.for_array(proba)
        indices = holder.xp.argmax(proba, axis=1)
        if self.classes_.dtype.kind not in "biuf":  # text labels live on the host
            return self.classes_[holder.to_numpy(indices)]
        return holder.xp.take(holder.asarray(self.classes_), indices, axis=0)

    def _proba(self, X: ArrayLike, method: str) -> Any:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        if get_config()["array_api_dispatch"] and backends.for_array(X).spec != self._fit_input:
            raise ValueError(
                f"Inputs passed to {type(self).__name__}.{method}() must use the same namespace and the same device "
                f"as those passed to fit(): expected {self._fit_input} arrays; received {backends.for_array(X).spec}")
        model: Sequential = self.model_
        proba = model.predict_proba(_as_input(model.backend, X))
        if isinstance(proba, np.ndarray) and not isinstance(X, np.ndarray) and get_config()["array_api_dispatch"]:
            return backends.for_array(X).asarray(proba)  # the model ran elsewhere: answer in X's library
        return proba

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

