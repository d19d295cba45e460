"""The one lookup rule for named choices."""

from __future__ import annotations

import pytest

from xmlp._registry import Registry
from xmlp.nn import activations, initializers, losses
from xmlp.optim import optimizers
from xmlp.training import metrics


def test_one_case_rule_for_every_registry():
    # Lower-case, without '_' or '-': the spellings of Keras, PyTorch and the 42 subject all match.
    assert activations.ACTIVATIONS.canonical("leaky_relu") == "leakyRelu"
    assert activations.ACTIVATIONS.canonical("LeakyReLU") == "leakyRelu"
    assert initializers.canonical("he_uniform") == initializers.canonical("HeUniform") == "heUniform"
    assert initializers.canonical("xavier-normal") == "glorotNormal"
    assert losses.canonical("binary_crossentropy") == "binaryCrossentropy"
    assert optimizers.OPTIMIZERS.canonical("AdamW") == "adamw"
    assert metrics.METRICS.canonical("F1") == "f1"


@pytest.mark.parametrize("registry, kind", [
    (activations.ACTIVATIONS, "an activation"), (initializers.INITIALIZERS, "an initializer"),
    (losses.LOSSES, "a loss"), (optimizers.OPTIMIZERS, "an optimizer"), (metrics.METRICS, "a metric"),
])
def test_one_error_message_listing_the_choices(registry, kind):
    with pytest.raises(ValueError) as err:
        registry.canonical("nope")
    assert str(err.value) == f"expected {kind} among {', '.join(registry.names)}; received 'nope'"
    # Non-strings (a number in a hand-edited model file) get the same message, not a TypeError.
    with pytest.raises(ValueError, match=f"expected {kind} among .*; received 5$"):
        registry.canonical(5)


def test_registration_order_duplicates_and_membership():
    reg = Registry[int]("a thing")
    reg.register("first", 1, aliases=("one",))
    reg.register("second", 2)
    assert reg.names == ["first", "second"] and list(reg) == ["first", "second"]
    assert reg.get("ONE") == 1 and "se_cond" in reg and 2 not in reg
    with pytest.raises(ValueError, match="expected a new a thing name; received 'First' twice"):
        reg.register("First", 3)
