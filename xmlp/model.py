"""Sequential: a stack of layers trained with a fused output loss on one backend."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import backends

from . import losses, metrics as metrics_mod, optimizers
from .layers import Dense
from .preprocessing import (LabelEncoder, Standardizer, as_features, fit_temperature, model_input,
                            seed_streams, vstack)
from .training import Callback, EarlyStopping, EpochPrinter, History, check_finite


class Sequential:
    """A multilayer perceptron: ``Sequential([Dense(24, "relu"), Dense(2, "softmax")])``.

    The model remembers its backend (``backend="cpu"``, ``"cuda"``, ``"torch"``, a Backend…),
    its dtype, the standardisation fitted on the training rows, the class labels and, after
    ``calibrate``, a softmax temperature.
    """

    def __init__(
        self,
        layers: Iterable[Dense],
        *,
        loss: str = "categoricalCrossentropy",
        backend: str | backends.Backend | None = None,
        dtype: str = "float32",
        standardize: bool = True,
    ):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("expected at least one layer; received none")
        self.loss_name = losses.canonical(loss)
        self.loss = losses.get(loss)
        out = self.layers[-1].activation.name
        if out != self.loss.output_activation:
            raise ValueError(
                f"expected a '{self.loss.output_activation}' output layer for {self.loss_name}; "
                f"received '{out}' (hint: Dense(n_classes, activation='softmax'))"
            )
        self.backend = backends.get_backend(backend)
        self.dtype_name = dtype
        self.dtype = self.backend.dtype(dtype)
        self.xp = self.backend.xp
        self.standardizer = Standardizer() if standardize else None
        self.encoder = LabelEncoder()
        self.n_features: int | None = None
        self.feature_names: list[str] | None = None
        self.positive_class: Any = None
        self.temperature = 1.0
        self.history: History | None = None
        self.seed: int | None = None
        self.info: dict[str, Any] = {}

    # ----------------------------------------------------------------- structure and weights
    @property
    def built(self) -> bool:
        return self.n_features is not None and bool(self.layers[0].params)

    @property
    def classes(self) -> list[Any]:
        return list(self.encoder.classes or [])

    def build(self, n_features: int, rng: Any) -> None:
        """Draw every layer's initial parameters on the host and send them once."""
        host, n_in = [], n_features
        for layer in self.layers:
            host.append(layer.init_host(n_in, rng))
            n_in = layer.units
        self.n_features = n_features
        self.set_weights(host)

    def get_weights(self) -> list[dict[str, Any]]:
        """Parameters as host NumPy arrays: ``[{"weight": W, "bias": b}, …]``."""
        return [{k: self.backend.to_numpy(v) for k, v in layer.params.items()} for layer in self.layers]

    def set_weights(self, weights: Sequence[dict[str, Any]]) -> None:
        """Load host parameters (any float dtype) onto the device in the model's dtype."""
        if len(weights) != len(self.layers):
            raise ValueError(f"expected {len(self.layers)} layers of weights; received {len(weights)}")
        n_in = self.n_features
        for i, (layer, w) in enumerate(zip(self.layers, weights)):
            shape = tuple(w["weight"].shape)
            if n_in is not None and shape != (n_in, layer.units):
                raise ValueError(
                    f"expected layers.{i}.weight of shape {(n_in, layer.units)}; received {shape}"
                )
            with self.backend.activate():
                dev = {k: self.backend.asarray(w[k], self.dtype) for k in ("weight", "bias")}
            layer.set_params(self.xp, dev)
            n_in = layer.units
        if self.n_features is None:
            self.n_features = int(weights[0]["weight"].shape[0])

    def copy_params(self) -> list[dict[str, Any]]:
        """A device-side copy of every parameter (for restoring later; no host transfer)."""
        return [{k: self.xp.asarray(v, copy=True) for k, v in l.params.items()} for l in self.layers]

    def restore_params(self, saved: list[dict[str, Any]]) -> None:
        for layer, params in zip(self.layers, saved):
            layer.params.update(params)

    def config(self) -> dict[str, Any]:
        return {
            "layers": [layer.config() for layer in self.layers],
            "loss": self.loss_name,
            "dtype": self.dtype_name,
            "n_features": self.n_features,
            "classes": self.classes,
        }

    def summary(self) -> str:
        """A table of the layers, their output widths and parameter counts (as Keras prints)."""
        rows = [("layer", "activation", "output", "parameters")]
        n_in, total = self.n_features, 0
        for i, layer in enumerate(self.layers):
            count = (n_in * layer.units + layer.units) if n_in is not None else None
            total += count or 0
            rows.append((f"{i}: Dense", layer.activation.name, f"(None, {layer.units})",
                         f"{count:,}" if count is not None else "? (not built)"))
            n_in = layer.units
        widths = [max(len(r[k]) for r in rows) for k in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"total parameters: {total:,}" + ("" if self.n_features else " (input width unknown until fit)"))
        lines.append(f"backend: {self.backend}, dtype: {self.dtype_name}, loss: {self.loss_name}")
        return "\n".join(lines)

    def save(self, path: str) -> None:
        """Write the model file (safetensors + JSON metadata), atomically."""
        from .serialization import save_model

        save_model(self, path)

    # ----------------------------------------------------------------- compute
    def _logits(self, x: Any, training: bool = False) -> Any:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer.forward(x, training=training, raw=i == last)
        return x

    def _prepare(self, x: Any, targets: Any = None) -> Any:
        """Host features -> one device array in the model's dtype: standardized features, then
        the targets' columns if given. Built in row chunks: no float64 copy of the whole data."""
        host = model_input(x, self.n_features, self.standardizer, self.dtype_name, targets)
        return self.backend.asarray(host, self.dtype, copy=False)

    def fit(
        self,
        x: Any,
        y: Sequence[Any],
        *,
        validation_data: tuple[Any, Sequence[Any]] | None = None,
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
    ) -> History:
        """Train; returns (and keeps in ``self.history``) the per-epoch metrics.

        Each epoch draws one permutation on the host and sends it; batches are taken on the
        device; the host reads the epoch's losses and confusion counts once, at its end.
        ``learning_rate`` defaults to the optimizer's own (SGD 0.01, Adam 0.001, …).
        """
        _check_positive_int("epochs", epochs)
        _check_positive_int("batch_size", batch_size)
        metrics = list(metrics)
        unknown = [m for m in metrics if m not in metrics_mod.METRICS]
        if unknown:
            raise ValueError(f"expected metrics among {', '.join(metrics_mod.METRICS)}; received {unknown}")
        if isinstance(optimizer, optimizers.Optimizer) and learning_rate is not None:
            raise ValueError("expected learning_rate only with an optimizer name; received it beside an "
                             f"Optimizer instance (hint: {type(optimizer).__name__}(learning_rate=…))")
        opt = optimizers.get(optimizer, learning_rate=learning_rate)
        x_host = as_features(x, None)
        if len(y) != x_host.shape[0]:
            raise ValueError(f"expected {x_host.shape[0]} labels (one per row); received {len(y)}")
        self.encoder.fit(y)
        if len(self.classes) < 2:
            raise ValueError(f"expected at least two classes in the training labels; received only {self.classes}")
        if len(self.classes) != self.layers[-1].units:
            raise ValueError(
                f"expected the output layer to have one unit per class ({len(self.classes)}: "
                f"{', '.join(map(str, self.classes))}); received {self.layers[-1].units} units"
            )
        if "bce" in metrics and len(self.classes) != 2:
            raise ValueError(f"expected two classes for the bce metric; received {len(self.classes)}")
        self.positive_class = self.classes[-1]
        self.temperature = 1.0
        callbacks = list(callbacks) + ([EpochPrinter()] if verbose else [])
        if early_stopping is not None:
            callbacks.insert(0, early_stopping)
        params = {"epochs": epochs, "batch_size": batch_size, "optimizer": opt.config(),
                  "metrics": metrics, "validation": validation_data is not None}
        for cb in callbacks:  # misconfiguration (e.g. early stopping without validation) fails here
            cb.on_train_begin(self, params)

        self.seed, init_rng, shuffle_rng = seed_streams(seed)
        params["seed"] = self.seed
        self.n_features = None
        if self.standardizer is not None:
            self.standardizer.fit(x_host)
        self.feature_names = list(feature_names) if feature_names is not None else None
        be, xp = self.backend, self.xp
        history = self.history = History(params=params)
        with be.activate():
            self.build(x_host.shape[1], init_rng)
            opt.build(xp, self.layers)
            data = self._prepare(x_host, self.encoder.one_hot(y))
            val = None
            if validation_data is not None:
                xv, yv = validation_data
                val = self._prepare(xv, self.encoder.one_hot(yv))
            class_ids = xp.arange(len(self.classes), dtype=be.index_dtype, device=be.device)
            try:
                for epoch in range(1, epochs + 1):
                    logs = self._train_epoch(data, val, batch_size, opt, shuffle_rng, class_ids, metrics, callbacks)
                    history.append(logs)
                    check_finite(epoch, logs)
                    if any([bool(cb.on_epoch_end(epoch, logs)) for cb in callbacks]):
                        history.stopped_epoch = epoch
                        break
            finally:
                for cb in callbacks:
                    cb.on_train_end(history)
        return history

    def _train_epoch(self, data, val, batch_size, opt, shuffle_rng, class_ids, metrics, callbacks):
        """One epoch. ``data`` is the device array [X | one-hot Y]: one take per batch gives
        both, as views. Returns the epoch's logs, read from the device in one transfer."""
        be, xp, loss_fn = self.backend, self.xp, self.loss
        n, d = data.shape[0], self.n_features
        layers, last = self.layers, len(self.layers) - 1
        backward_order = [(layers[i], i > 0) for i in range(last, -1, -1)]
        want_cm = any(m != "bce" for m in metrics)
        want_bce = "bce" in metrics
        for cb in callbacks:
            cb.on_epoch_begin(0, -(-n // batch_size))
        batch_cbs = [cb for cb in callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
        idx = be.asarray(shuffle_rng.permutation(n), be.index_dtype)
        loss_sum = xp.zeros((), dtype=self.dtype, device=be.device)
        bce = None
        if want_cm:  # each batch's predicted classes, in the epoch's order; counted at its end
            predicted = xp.empty((n,), dtype=be.index_dtype, device=be.device)
        for b, start in enumerate(range(0, n, batch_size)):
            stop = min(start + batch_size, n)
            batch = xp.take(data, idx[start:stop], axis=0)
            yb = batch[:, d:]
            z = self._logits(batch[:, :d], training=True)
            loss, grad = loss_fn.forward_backward(xp, z, yb)
            for layer, input_grad in backward_order:
                grad = layer.backward(grad, input_grad=input_grad)
            opt.step(layers)
            loss_sum = loss_sum + loss
            if want_cm:
                predicted[start:stop] = xp.argmax(z, axis=1)
            if want_bce:
                bce = _add(bce, losses.clipped_nll_sum(xp, z, yb))
            for cb in batch_cbs:
                cb.on_batch_end(b)
        cm = None
        if want_cm:
            targets = xp.take(data[:, d:], idx, axis=0)
            cm = metrics_mod.confusion_of_predictions(xp, predicted, targets, class_ids)
        parts = [self._pack(xp, loss_sum / n, cm, None if bce is None else bce / n)]
        if val is not None:
            zv = self._logits(val[:, :d])
            yv = val[:, d:]
            nv = val.shape[0]
            parts.append(self._pack(
                xp, loss_fn.value(xp, zv, yv) / nv,
                metrics_mod.confusion(xp, zv, yv, class_ids) if want_cm else None,
                losses.clipped_nll_sum(xp, zv, yv) / nv if want_bce else None,
            ))
        # The one device->host read of the epoch.
        host = be.to_numpy(xp.concat(parts)).tolist()
        return _unpack(host, len(self.classes), metrics, val is not None)

    @staticmethod
    def _pack(xp, loss, cm, bce):
        parts = [xp.reshape(loss, (1,))]
        if bce is not None:
            parts.append(xp.reshape(bce, (1,)))
        if cm is not None:
            parts.append(xp.reshape(cm, (-1,)))
        return xp.concat(parts)

    # ----------------------------------------------------------------- inference
    def decision_function(self, x: Any, batch_size: int = 65536) -> Any:
        """Output-layer logits (before softmax and temperature) as a host NumPy array."""
        return self._infer(x, batch_size, probabilities=False)

    def predict_proba(self, x: Any, batch_size: int = 65536) -> Any:
        """Class probabilities as a host NumPy array of shape (n, n_classes)."""
        return self._infer(x, batch_size, probabilities=True)

    def _infer(self, x: Any, batch_size: int, probabilities: bool) -> Any:
        """Inference in row chunks of ``batch_size``: logits, or softmax(logits / temperature)."""
        if not self.built:
            raise RuntimeError("expected a trained model; received one that was never fitted")
        host = as_features(x, self.n_features)
        out = []
        with self.backend.activate():
            for start in range(0, max(host.shape[0], 1), batch_size):
                z = self._logits(self._prepare(host[start : start + batch_size]))
                if probabilities:
                    if self.temperature != 1.0:
                        z = z * (1.0 / self.temperature)
                    z = self.layers[-1].activation.forward(self.xp, z)
                out.append(self.backend.to_numpy(z))
        return vstack(out)

    def predict(self, x: Any) -> list[Any]:
        """Predicted class labels (the most probable class of each row)."""
        proba = self.predict_proba(x)
        return [self.classes[i] for i in proba.argmax(axis=1).tolist()]

    def calibrate(self, x: Any, y: Sequence[Any]) -> float:
        """Fit the softmax temperature T on held-out rows (never the test rows) by minimizing
        their cross-entropy; predictions become softmax(z / T). Returns T."""
        self.temperature = fit_temperature(self.decision_function(x), self.encoder.indices(y))
        return self.temperature

    def evaluate(self, x: Any, y: Sequence[Any]) -> dict[str, Any]:
        """loss, bce (two classes; of ``positive_class``), accuracy, precision, recall, f1, confusion."""
        from .evaluation import evaluate_probabilities

        pos = self.classes.index(self.positive_class) if self.positive_class in self.classes else None
        return evaluate_probabilities(self.predict_proba(x), self.encoder.indices(y), self.classes, pos)


def _add(total: Any, value: Any) -> Any:
    return value if total is None else total + value


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected {name} to be an integer >= 1; received {value!r}")


def _unpack(host: list[float], c: int, metrics: Sequence[str], has_val: bool) -> dict[str, float]:
    logs: dict[str, float] = {}
    want_cm = any(m != "bce" for m in metrics)
    for prefix in ["", "val_"] if has_val else [""]:
        logs[prefix + "loss"] = host.pop(0)
        values: dict[str, float] = {}
        if "bce" in metrics:
            values["bce"] = host.pop(0)
        if want_cm:
            flat, host = host[: c * c], host[c * c :]
            values |= metrics_mod.from_confusion([flat[r * c : (r + 1) * c] for r in range(c)])
        for m in metrics:
            logs[prefix + m] = values[m]
    return logs
