"""Models that stand alone: what ``classifier.keras`` and ``generator.keras`` hold.

A weight-normalised layer (:class:`~sgan_helpers.improved.WeightNormDense`) is only a way to
*train* a dense layer: at inference it computes ``x @ (g * v / ||v||) + b``, an ordinary
``keras.layers.Dense`` with that kernel. :func:`standalone` makes that copy, so a saved MLP
classifier loads with plain ``keras.saving.load_model(path, safe_mode=True)`` in a process that
never imports this package, and predicts what the trained model predicts (to float rounding).

One layer cannot be folded away: :class:`~sgan_helpers.improved.UniformLatent`, the first layer
of a generator trained on uniform latent points (the normal CDF has no built-in Keras layer).
Such a generator loads after ``import sgan_helpers``, which registers it.
"""

from __future__ import annotations

import keras
import numpy as np

from sgan_helpers.improved import WeightNormDense


def folded_kernel(layer: WeightNormDense) -> np.ndarray:
    """The plain kernel ``g * v / ||v||`` (per output unit, in float32) of a weight-normalised layer."""
    v = np.asarray(layer.kernel, dtype=np.float32)
    g = np.asarray(layer.scale, dtype=np.float32)
    norm = np.sqrt(np.sum(np.square(v), axis=0) + np.float32(1e-12))
    return v * (g / norm)


def _plain_twin(layer: keras.layers.Layer) -> keras.layers.Layer:
    if isinstance(layer, WeightNormDense):
        return keras.layers.Dense(layer.units, activation=layer.activation, name=layer.name,
                                  dtype=layer.dtype_policy)
    return layer.__class__.from_config(layer.get_config())


def standalone(model: keras.Model) -> keras.Model:
    """``model`` with every weight-normalised layer folded into a plain ``Dense`` layer.

    Every other layer is copied with its weights. A model without such layers is returned as it is.
    """
    if not any(isinstance(layer, WeightNormDense) for layer in model.layers):
        return model
    twin = keras.models.clone_model(model, clone_function=_plain_twin)
    for layer in model.layers:
        copy = twin.get_layer(layer.name)
        if isinstance(layer, WeightNormDense):
            copy.set_weights([folded_kernel(layer), np.asarray(layer.bias, dtype=np.float32)])
        elif layer.weights:
            copy.set_weights(layer.get_weights())
    return twin
