"""The discriminator models of the series, one builder per notebook.

All four share one convolutional feature extractor (the "body"):
3 x [Conv2D 128, 3x3, stride 2, same padding -> LeakyReLU 0.2] -> Flatten -> Dropout 0.4.
They differ only in the heads on top of it:

* :func:`standard_discriminator` (notebook 01): one sigmoid unit, real vs fake.
* :func:`shared_discriminators` (02): two models, sigmoid D and softmax C, sharing the body.
* :func:`multi_output_discriminator` (03): one model, two outputs (sigmoid, softmax over K+1).
* :func:`stacked_discriminators` (05): K class logits -> softmax C and D = Z/(Z+1).

Builders return *uncompiled* models: this project trains with explicit gradient
steps (see :mod:`sgan_helpers.sgan`), never by toggling ``trainable``.
"""

from __future__ import annotations

import keras
from keras import layers

from .activation import SumExpActivation

IMAGE_SHAPE = (28, 28, 1)
N_CLASSES = 10
LEARNING_RATE = 2e-4
BETA_1 = 0.5
ADAM_EPSILON = 1e-7
"""Adam's epsilon (Keras's default), added to the root of its second moment. Salimans et al.'s code adds
1e-8 *inside* the root, about 1e-4 outside it: gradients far below 1e-4 then take small steps, not
full ones."""
N_FILTERS = 128
LEAKY_SLOPE = 0.2
DROPOUT = 0.4


def make_optimizer(learning_rate: float = LEARNING_RATE, beta_1: float = BETA_1,
                   epsilon: float = ADAM_EPSILON):
    """Adam with the tutorial's settings (lr 2e-4, beta_1 0.5; epsilon Keras's 1e-7)."""
    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, epsilon=epsilon)


def feature_extractor(image):
    """The shared body: three strided convolutions, flatten, dropout (a Keras tensor)."""
    x = image
    for i in (1, 2, 3):
        x = layers.Conv2D(N_FILTERS, (3, 3), strides=(2, 2), padding="same", name=f"conv_{i}")(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"lrelu_{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    return layers.Dropout(DROPOUT, name="dropout")(x)


def standard_discriminator(in_shape: tuple[int, ...] = IMAGE_SHAPE) -> keras.Model:
    """A plain GAN discriminator: image -> P(real)."""
    image = keras.Input(shape=in_shape, name="image")
    features = feature_extractor(image)
    p_real = layers.Dense(1, activation="sigmoid", name="real_prob")(features)
    return keras.Model(image, p_real, name="discriminator")


def shared_discriminators(
    in_shape: tuple[int, ...] = IMAGE_SHAPE, n_classes: int = N_CLASSES
) -> tuple[keras.Model, keras.Model]:
    """Two models over one body: D (sigmoid real/fake) and C (softmax over classes)."""
    image = keras.Input(shape=in_shape, name="image")
    features = feature_extractor(image)
    p_real = layers.Dense(1, activation="sigmoid", name="real_prob")(features)
    p_class = layers.Dense(n_classes, activation="softmax", name="class_probs")(features)
    d_model = keras.Model(image, p_real, name="unsupervised_d")
    c_model = keras.Model(image, p_class, name="supervised_c")
    return d_model, c_model


def multi_output_discriminator(
    in_shape: tuple[int, ...] = IMAGE_SHAPE, n_classes: int = N_CLASSES
) -> keras.Model:
    """One model, two outputs: P(real) and a softmax over n_classes + 1 ("fake" is the last)."""
    image = keras.Input(shape=in_shape, name="image")
    features = feature_extractor(image)
    p_real = layers.Dense(1, activation="sigmoid", name="real_prob")(features)
    p_class = layers.Dense(n_classes + 1, activation="softmax", name="class_probs")(features)
    return keras.Model(image, [p_real, p_class], name="multi_output_d")


def stacked_discriminators(
    in_shape: tuple[int, ...] = IMAGE_SHAPE, n_classes: int = N_CLASSES
) -> tuple[keras.Model, keras.Model]:
    """Salimans et al.'s stacked heads: class logits feed both C (softmax) and D (Z/(Z+1)).

    Returns ``(d_model, c_model)``. The logits layer is named ``class_logits``; use
    :func:`logits_model` to get a model that outputs them (for stable losses).
    """
    image = keras.Input(shape=in_shape, name="image")
    features = feature_extractor(image)
    logits = layers.Dense(n_classes, name="class_logits")(features)
    p_class = layers.Activation("softmax", name="class_probs")(logits)
    p_real = SumExpActivation(name="real_prob")(logits)
    d_model = keras.Model(image, p_real, name="unsupervised_d")
    c_model = keras.Model(image, p_class, name="supervised_c")
    return d_model, c_model


def logits_model(c_model: keras.Model) -> keras.Model:
    """A model sharing ``c_model``'s layers that outputs the class logits (pre-softmax)."""
    return keras.Model(
        c_model.input, c_model.get_layer("class_logits").output, name="class_logits_model"
    )


def layer_signature(model: keras.Model) -> list[tuple]:
    """(layer type, name, output shape, parameters, config) per layer: two models with the
    same signature are the same architecture. Notebooks use it to prove that code shown
    inline builds exactly what this package builds."""
    rows = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k not in ("name", "dtype")}
        shape = getattr(layer, "output", None)
        shape = tuple(shape.shape) if shape is not None and hasattr(shape, "shape") else None
        rows.append((type(layer).__name__, layer.name, shape, layer.count_params(), config))
    return rows
