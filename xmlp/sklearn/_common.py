"""What the estimators share: scikit-learn's import (an environment without it is one clear
error with the install hint), and the conversions between scikit-learn's inputs and a model's."""

from __future__ import annotations

import copy
import numbers
from typing import Any

import numpy as np

from .. import backends

try:  # every scikit-learn name the estimators use, here: the first one missing is this one error
    from sklearn import get_config
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError as exc:
    raise ImportError(f"expected scikit-learn >= 1.6 for xmlp.sklearn; received an environment without it ({exc}) "
                      f"(hint: {backends.install_hint('sklearn', 'scikit-learn>=1.6')})") from exc

__all__ = ["_check_sample_weight", "BaseEstimator", "ClassifierMixin", "RegressorMixin", "check_classification_targets", "check_is_fitted",
           "check_random_state", "column_or_1d", "get_config", "type_of_target", "validate_data"]


def _host(a: Any) -> np.ndarray:
    """A host NumPy copy of an array of any supported library (labels, or data for NumPy)."""
    return a if isinstance(a, np.ndarray) else backends.for_array(a).to_numpy(a)


def _as_input(backend: backends.Backend, X: Any) -> Any:
    """``X`` as the model takes it: itself when ``backend`` holds it (on its device), else a host array."""
    return X if backend.holds(X) else _host(X)


def _rows(backend: backends.Backend, x: Any, rows: np.ndarray) -> Any:
    if isinstance(x, np.ndarray):
        return x[rows]
    return backend.xp.take(x, backend.asarray(rows, backend.index_dtype), axis=0)


def _seed(random_state: Any) -> int:
    """The seed of a scikit-learn ``random_state``: fresh OS entropy for None (kept in
    ``model_.seed``, so the fit can be replayed), the int itself, or one draw from a ``RandomState``."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


#: scikit-learn's MLP parameter names, and xmlp's they stand for (``resolved``)
SKLEARN_NAMES = {"max_iter": "epochs", "learning_rate_init": "learning_rate", "solver": "optimizer",
                 "n_iter_no_change": "patience", "alpha": "weight_decay"}
_ACTIVATIONS = {"logistic": "sigmoid", "identity": "linear"}


def resolved(est: Any) -> dict[str, Any]:
    """The training parameters of ``est`` in xmlp's terms, its scikit-learn-named parameters
    (``max_iter``, ``learning_rate_init``, ``solver``, ``n_iter_no_change``, ``alpha``, and
    ``activation="logistic"|"identity"``, ``learning_rate="constant"``) taking precedence where
    given. ``alpha`` is scikit-learn's L2 term, whose gradient is alpha * W / batch size: the
    weight decay alpha / batch_size."""
    out = {ours: getattr(est, ours) for ours in SKLEARN_NAMES.values()}
    for theirs, ours in SKLEARN_NAMES.items():
        value = getattr(est, theirs, None)
        if value is None:
            continue
        if theirs == "alpha":
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
                raise ValueError(f"expected alpha to be a number >= 0; received {value!r}")
            value = float(value) / est.batch_size
        if theirs == "solver" and value not in ("sgd", "adam"):
            raise ValueError(f"expected solver 'sgd' or 'adam' (xmlp trains by minibatch steps; optimizer= offers "
                             f"more); received {value!r}")
        out[ours] = value
    if isinstance(out["learning_rate"], str):  # scikit-learn's learning_rate is the schedule's name
        if out["learning_rate"] != "constant":
            raise ValueError(f"expected learning_rate a number, None or 'constant'; received {out['learning_rate']!r} "
                             "(hint: lr_schedule=xmlp.ExponentialDecay(...) or ReduceOnPlateau(...))")
        out["learning_rate"] = getattr(est, "learning_rate_init", None)
    out["activation"] = _ACTIVATIONS.get(est.activation, est.activation)
    return out


def hidden_sizes(est: Any) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple (scikit-learn takes an int for one layer)."""
    sizes = est.hidden_layer_sizes
    return (int(sizes),) if isinstance(sizes, numbers.Integral) else tuple(sizes)


def resolve_backend(est: Any, X: Any) -> Any:
    """The estimator's backend: the input's own under array-API dispatch (backend and device left
    at None), else ``backend``/``device`` (default ``XMLP_DEVICE``, else NumPy)."""
    if est.backend is None and est.device is None and get_config()["array_api_dispatch"]:
        return backends.for_array(X)
    return backends.get_backend(est.device, library=est.backend)


def train(est: Any, model: Any, x: Any, y: np.ndarray, seed: int | None, *, warm: bool, incremental: bool,
          stratify: bool, score: str, sample_weight: np.ndarray | None = None,
          **extra: Any) -> tuple[list[float], list[Any] | None, int]:
    """One ``fit`` (``epochs`` epochs, with early stopping's held-out part when asked) or one
    ``partial_fit`` epoch of ``model`` for the estimator ``est``; returns (the epochs' training
    losses, the validation ``score`` per epoch with early stopping else None, the epochs run).
    ``extra``: what the model's partial_fit or fit takes besides (``classes=``, ``metrics=``)."""
    from ..data.split import split_indices
    from ..optim import optimizers
    from ..training.callbacks import EarlyStopping

    p = resolved(est)
    validation, stopper = None, None
    if est.early_stopping and not incremental:  # the same split on a warm start: the same seed
        if len(y) < 2:
            raise ValueError(f"expected at least 2 samples for early_stopping (a training and a validation part); "
                             f"received {len(y)} sample")
        part, valid = split_indices(y if stratify else np.zeros(len(y)), est.validation_fraction,
                                    np.random.default_rng(seed), stratify=stratify)
        validation = (_rows(model.backend, x, valid), y[valid])
        x, y = _rows(model.backend, x, part), y[part]
        sample_weight = None if sample_weight is None else sample_weight[part]
        stopper = EarlyStopping("val_loss", patience=p["patience"])
    names = getattr(est, "feature_names_in_", None)
    opt = optimizers.get(p["optimizer"], learning_rate=p["learning_rate"], weight_decay=p["weight_decay"])
    schedule = None if est.lr_schedule is None else copy.deepcopy(est.lr_schedule)  # the parameter stays as set
    common: dict[str, Any] = dict(batch_size=est.batch_size, optimizer=opt, seed=seed, input_noise=est.input_noise,
                                  verbose=bool(est.verbose), lr_schedule=schedule, clip_norm=est.clip_norm,
                                  feature_names=None if names is None else [str(n) for n in names], **extra)
    if incremental:
        common.pop("validation_data", None)
        history = model.partial_fit(x, y, **common)
    else:
        common.pop("classes", None)
        history = model.fit(x, y, validation_data=validation, epochs=p["epochs"], early_stopping=stopper,
                            warm_start=warm, sample_weight=sample_weight,
                            class_weight=getattr(est, "class_weight", None), **common)
    scores = list(history.history[f"val_{score}"]) if stopper is not None else None
    return list(history.history["loss"]), scores, history.epochs


def account(est: Any, losses: list[float], scores: list[Any] | None, epochs: int, warm: bool) -> None:
    """The fitted curves: a warm start's accumulate, a fresh fit's start over."""
    if warm:
        est.loss_curve_ += losses
        est.validation_scores_ = (est.validation_scores_ or []) + scores if scores is not None else None
        est.n_iter_ += epochs
    else:
        est.loss_curve_, est.validation_scores_, est.n_iter_ = losses, scores, epochs
