"""The SGAN's losses, computed from the discriminator's class logits, in float32, stable for any logit.

D(x) = sigmoid(logsumexp(l)) (notebook 04), so with ``s = logsumexp(l)``:

    -log D(x)       = softplus(-s)    (a real image: "real" is the target)
    -log(1 - D(x))  = softplus(s)     (a generated image: "fake" is the target)

No probability is ever formed, so nothing overflows or takes ``log(0)``. Each loss casts to float32
first: the same value whatever dtype policy the models compute in.
"""

from __future__ import annotations

import keras
from keras import ops

from .activation import real_fake_logit


def as_float32(x):
    """``x`` cast to float32 (losses are summed in float32, whatever the compute dtype)."""
    return ops.cast(x, "float32")


def discriminator_logit(class_logits):
    """D's real/fake logit, logsumexp of the class logits, in float32."""
    return real_fake_logit(as_float32(class_logits))


def real_loss(class_logits):
    """Mean of -log D(x) over a batch the discriminator should call real."""
    return ops.mean(ops.softplus(-discriminator_logit(class_logits)))


def fake_loss(class_logits):
    """Mean of -log(1 - D(x)) over a batch the discriminator should call fake."""
    return ops.mean(ops.softplus(discriminator_logit(class_logits)))


def class_loss(labels, class_logits):
    """The classifier's loss: mean cross-entropy over the K classes, from logits."""
    return ops.mean(keras.losses.sparse_categorical_crossentropy(labels, as_float32(class_logits),
                                                                 from_logits=True))


def accuracy(labels, class_logits):
    """The fraction of a batch whose largest logit is its label."""
    hits = ops.cast(ops.argmax(class_logits, axis=-1), "int32") == ops.cast(labels, "int32")
    return ops.mean(ops.cast(hits, "float32"))


def feature_matching_loss(real_features, fake_features):
    """Salimans et al.'s (2016) generator loss: the squared distance between the mean features of a
    real batch and of a generated batch, averaged over the features (in float32).

    The generator is not asked to fool the discriminator, only to make images whose features are,
    on average, those of real images.
    """
    real_mean = ops.mean(as_float32(real_features), axis=0)
    fake_mean = ops.mean(as_float32(fake_features), axis=0)
    return ops.mean(ops.square(real_mean - fake_mean))
