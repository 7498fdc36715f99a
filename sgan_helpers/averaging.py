"""Weight averaging: an exponential moving average (Polyak average) of a model's weights.

The average lives in a second, float32 copy of the model that is never trained. After
every training step :meth:`WeightAverage.update` moves each averaged weight a little
towards the current one:

    avg <- d * avg + (1 - d) * w,    d = min(decay, (1 + n) / (10 + n))

where ``n`` counts the updates so far: early on ``d`` is small, so the average forgets the
random initial weights quickly. Training itself is unchanged; the average only reads.
"""

from __future__ import annotations

from typing import Any

import keras


def model_variables(model) -> dict[str, Any]:
    """A Keras model's variables keyed ``<layer name>/<variable name>`` (stable across processes)."""
    out: dict[str, Any] = {}
    for layer in model.layers:
        for v in layer.variables:
            key = f"{layer.name}/{v.name}"
            if key in out and out[key] is not v:
                raise ValueError(f"two variables of {model.name!r} share the key {key!r}")
            out[key] = v
    return out


class WeightAverage:
    """Keeps ``average`` (a float32 model of ``source``'s architecture) at the average of ``source``."""

    def __init__(self, source: keras.Model, average: keras.Model, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be between 0 and 1 (e.g. 0.999), got {decay}.")
        self.decay = decay
        self.model = average
        src, avg = _trainable(source), _trainable(average)
        if set(src) != set(avg):
            raise ValueError(f"{average.name!r} is not a copy of {source.name!r}: "
                             f"weights {sorted(set(src) ^ set(avg))[:3]} differ.")
        key_of = {id(v): k for k, v in src.items()}
        self.pairs = [(avg[key_of[id(v)]], v) for v in source.trainable_variables]
        for shadow, v in self.pairs:  # the average starts at the current weights
            shadow.assign(keras.ops.cast(v, "float32"))
        fixed = {k: v for k, v in model_variables(source).items() if k not in src}
        for key, v in model_variables(average).items():  # and shares the fixed (non-trainable) ones
            if key not in avg and key in fixed and tuple(v.shape) == tuple(fixed[key].shape):
                v.assign(keras.ops.cast(fixed[key], v.dtype))
        self.updates = keras.Variable(0.0, trainable=False, dtype="float32", name="updates")

    def update(self) -> None:
        """One step of the average (in the trainer's compiled step, or by ``callbacks.AverageWeights``)."""
        self.updates.assign_add(1.0)
        n = self.updates
        decay = keras.ops.minimum(self.decay, (1.0 + n) / (10.0 + n))
        for shadow, v in self.pairs:
            shadow.assign(decay * shadow + (1.0 - decay) * keras.ops.cast(v, "float32"))

    @property
    def averaged_variables(self) -> list[Any]:
        """The averaged weights, in the same order as ``source.trainable_variables``."""
        return [shadow for shadow, _ in self.pairs]

    def variables(self) -> dict[str, Any]:
        """Everything to checkpoint: the update count and the averaged model's variables."""
        return {"updates": self.updates, **model_variables(self.model)}


def _trainable(model: keras.Model) -> dict[str, Any]:
    trainable = {id(v) for v in model.trainable_variables}
    return {k: v for k, v in model_variables(model).items() if id(v) in trainable}
