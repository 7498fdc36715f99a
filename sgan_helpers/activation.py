"""The SGAN "custom activation": real/fake probability from the class logits.

Salimans et al. (2016) let the K class logits l_1..l_K double as a real/fake
score. With Z = sum_k exp(l_k),

    D(x) = Z / (Z + 1) = sigmoid(log Z) = sigmoid(logsumexp(l)).

The right-hand form never overflows: logsumexp subtracts the largest logit
before exponentiating. The left-hand form, as the 2019 tutorial wrote it,
overflows in float32 once a logit passes ~88 (exp(89) > 3.4e38) and returns NaN.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def naive_custom_activation(logits: np.ndarray) -> np.ndarray:
    """Z / (Z + 1) computed literally, as in the tutorial (overflows for big logits)."""
    logits = np.asarray(logits)
    z = np.sum(np.exp(logits), axis=-1, keepdims=True)
    return z / (z + 1.0)


def stable_custom_activation(logits: np.ndarray) -> np.ndarray:
    """The same function as sigmoid(logsumexp(logits)), stable for any logits (NumPy)."""
    logits = np.asarray(logits)
    m = np.max(logits, axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(logits - m), axis=-1, keepdims=True))
    e = np.exp(-np.abs(lse))  # <= 1, so the sigmoid below cannot overflow either
    return np.where(lse >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def real_fake_logit(class_logits):
    """The logit of D(x): logsumexp over the class axis (a Keras tensor op)."""
    return ops.logsumexp(class_logits, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="sgan_helpers")
class SumExpActivation(keras.layers.Layer):
    """Keras layer: D = Z/(Z+1) with Z = sum(exp(logits)), computed as sigmoid(logsumexp).

    A real layer (not a ``Lambda``), so models holding it save to ``.keras`` and
    load with ``safe_mode=True`` once ``sgan_helpers`` is imported.
    """

    def call(self, logits):
        return ops.sigmoid(real_fake_logit(logits))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)
