"""The weight-averaging unit on its own: the update rule, training untouched, what it checkpoints."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from sgan_helpers.averaging import WeightAverage


def _model(name: str) -> keras.Model:
    x = keras.Input((3,), name="x")
    return keras.Model(x, keras.layers.Dense(2, name="dense")(x), name=name)


def test_update_rule_and_checkpointed_state():
    source, copy = _model("source"), _model("copy")
    average = WeightAverage(source, copy, decay=0.9)
    np.testing.assert_array_equal(copy.get_layer("dense").kernel.numpy(),
                                  source.get_layer("dense").kernel.numpy())  # starts at the weights
    expected = [v.numpy() for v in source.trainable_variables]
    for n in (1, 2, 3):
        for v in source.trainable_variables:
            v.assign(v + 1.0)  # "training" moves the weights
        before = [v.numpy() for v in source.trainable_variables]
        average.update()
        d = min(0.9, (1 + n) / (10 + n))
        expected = [d * e + (1 - d) * w for e, w in zip(expected, before, strict=True)]
        for v, b in zip(source.trainable_variables, before, strict=True):
            np.testing.assert_array_equal(v.numpy(), b)  # the average only reads
    for shadow, e in zip(average.averaged_variables, expected, strict=True):
        np.testing.assert_allclose(shadow.numpy(), e, rtol=1e-6)
    assert sorted(average.variables()) == ["dense/bias", "dense/kernel", "updates"]
    assert float(average.variables()["updates"].numpy()) == 3.0


def test_refuses_a_copy_of_another_architecture_and_a_bad_decay():
    other = keras.Model(inp := keras.Input((3,)), keras.layers.Dense(2, name="head")(inp))
    with pytest.raises(ValueError, match="is not a copy"):
        WeightAverage(_model("a"), other, decay=0.9)
    with pytest.raises(ValueError, match="between 0 and 1"):
        WeightAverage(_model("b"), _model("c"), decay=1.0)
