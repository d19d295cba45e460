"""``xmlp train --resume MODEL``: the saved model, loaded and checked against the run that is to
continue it. Everything that fixed its weights and its training state must be what the run
asks for — layers, features, classes, preprocessing, dtype, loss, ensemble, seed (it draws the
split of --data), optimizer, learning-rate schedule and clipping — else one ``MismatchError`` line (exit code 78) names the first
difference and the value to give. Nothing is written here."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from .. import backends
from ..errors import MismatchError, UsageError
from ..models.sequential import Sequential, load_model
from ..nn import activations, losses
from ..optim import schedules
from . import recipe
from .settings import TrainSettings


def model_path(resume: str) -> Path:
    """The model file of --resume: the file itself, or ``model.safetensors`` in a run folder."""
    path = Path(resume)
    return path / "model.safetensors" if path.is_dir() else path


def resumed_model(s: TrainSettings, backend: backends.Backend, n_features: int, classes: Iterable[Any],
                  feature_names: Sequence[str] | None) -> Sequential:
    """The model of ``s.resume`` on ``backend``, checked against the settings and the training
    data (``n_features`` columns named ``feature_names``, labels ``classes``)."""
    path = model_path(s.resume or "")
    model = load_model(path, backend=backend)
    training = model.metadata.get("training") or {}

    def check(what: str, theirs: Any, ours: Any, hint: str) -> None:
        if theirs != ours:
            raise MismatchError(f"{path}: expected {what} {_text(theirs)} (the model's); received {_text(ours)} "
                                f"(hint: {hint})")

    if isinstance(training.get("refit"), dict):  # the record of a refit that happened
        raise MismatchError(f"{path}: expected a model saved without --refit; received a refit model (its last epochs "
                            "trained on the validation rows too) (hint: train with --no-refit to resume the run later)")
    hidden, ours = model.layers[:-1], recipe.hidden_layers(s)
    if all(layer.kind == "Dense" for layer in hidden + ours) and s.layers is None:
        check("--layer", [layer.units for layer in hidden], list(s.layer), "give the --layer widths the model has")
        names = sorted({activations.ACTIVATIONS.canonical(layer.activation.name) for layer in hidden})
        check("--activation", names, [s.activation] if hidden else [], "give the model's --activation")
    check("the hidden layers", [_layer_text(layer) for layer in hidden], [_layer_text(layer) for layer in ours],
          "give the model's --layer, --activation, --dropout and --norm, or its [[layers]]")
    check("features per row", model.n_features, n_features, "resume on the data the model was trained on")
    if model.feature_names is not None and feature_names is not None:
        check("the features", list(model.feature_names), list(feature_names),
              "resume on the data the model was trained on")
    check("--task", model.task, s.task_name, "give the model's --task")
    if model.task == "classification":
        check("classes", [str(c) for c in model.classes], sorted({str(c) for c in classes}),
              "resume on the data the model was trained on")
    check("--target", training.get("target"), s.target, "give the model's --target")
    check("--id", training.get("id"), s.id, "give the model's --id")
    check("--sample-weight", training.get("sample_weight"), s.sample_weight, "give the model's --sample-weight")
    check("--dtype", model.dtype_name, s.dtype, "give the model's --dtype")
    method = model.standardizer.method if model.standardizer is not None else "none"
    check("--preprocess", method, s.preprocess, "give the model's --preprocess")
    check("--ensemble", len(model.members), s.ensemble, "give the model's --ensemble")
    default_loss = "mse" if s.regression else "sigmoidCrossentropy" if s.task == "multilabel" else \
        "binaryCrossentropy" if len(model.classes) == 2 else "categoricalCrossentropy"
    check("--loss", model.network.loss.config(),
          losses.get({"name": "huber", "delta": s.huber_delta} if s.loss == "huber" else s.loss or default_loss).config(),
          "give the model's --loss (and --huber-delta)")
    if model.seed is not None:  # (a model saved through the API may not know it)
        check("--seed", model.seed, s.seed, "give the model's --seed: it draws the split and the random streams")
    # How the rows were split: the same split or validation rows would leak into training.
    if "valid_size" in training and not (training.get("valid") or s.valid):
        check("--valid-size", training["valid_size"], s.valid_size, "give the model's --valid-size: it draws the split")
    if "streamed" in str(training.get("source", "")):
        raise MismatchError(f"{path}: expected a model trained on data read whole; received one trained on a streamed "
                            "file, whose split differs (hint: continuing a streamed training is not offered yet)")
    state = model.training_state
    saved = state.optimizer_config if state is not None else training.get("optimizer")
    if saved is not None:
        check("the optimizer", saved, s.make_optimizer().config(),
              "give the model's --optimizer, --learning-rate and the optimizer's options")
    if state is not None:
        saved_schedule = state.schedule_config or {}
        asked = recipe.make_schedule(s, epochs=saved_schedule.get("epochs"))
        check("--lr-schedule", _schedule_text(saved_schedule or None), _schedule_text(asked and asked.config()),
              "give the model's --lr-schedule and its options; a cosine schedule keeps its --epochs")
    for key in ("clip_norm", "clip_value"):
        if key in training:
            check(f"--{key.replace('_', '-')}", training[key], getattr(s, key), "give the model's clipping")
    if state is not None and state.schedules[0] is not None:  # the schedule must last the epochs asked for
        try:
            schedules.check_span(state.schedules[0], state.epochs, s.epochs, state.optimizers[0].initial_learning_rate)
        except ValueError as exc:
            raise UsageError(f"--epochs {s.epochs}: {exc}") from None
    if state is None:
        print(f"> note: '{path}' carries no optimizer state or random streams (saved by an older xmlp): its "
              "weights continue with a fresh optimizer and shuffling, so the result will differ from a run that "
              "never stopped")
    elif not s.quiet:
        print(f"> resuming '{path}' after epoch {state.epochs}: {s.epochs} more epoch{'s' if s.epochs > 1 else ''}")
    return model


def _layer_text(layer: Any) -> str:
    """A layer as the run's settings say it (the initializers only drew the first weights)."""
    config = {k: v for k, v in layer.config().items() if k not in ("kind", "kernel_initializer", "bias_initializer")}
    return f"{layer.kind}({', '.join(f'{k}={v}' for k, v in config.items())})"


def _schedule_text(config: Any) -> str:
    return "none" if not config else ", ".join(f"{k}={v}" for k, v in config.items())


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(map(str, value)) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
