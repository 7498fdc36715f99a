"""The generator: a latent point -> a 28x28 image in [-1, 1] (taught in notebook 06)."""

from __future__ import annotations

import keras
from keras import layers

LATENT_DIM = 100


def build_generator(latent_dim: int = LATENT_DIM) -> keras.Model:
    """Dense 128*7*7 -> reshape -> 2 x Conv2DTranspose 128 (4x4, stride 2) -> Conv2D 1 (7x7, tanh).

    Every hidden layer is followed by LeakyReLU(0.2); the image doubles in size
    at each transposed convolution: 7x7 -> 14x14 -> 28x28.
    """
    z = keras.Input(shape=(latent_dim,), name="latent")
    x = layers.Dense(128 * 7 * 7, name="project")(z)
    x = layers.LeakyReLU(negative_slope=0.2, name="g_lrelu_0")(x)
    x = layers.Reshape((7, 7, 128), name="reshape")(x)
    for i in (1, 2):
        x = layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same",
                                   name=f"upsample_{i}")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"g_lrelu_{i}")(x)
    image = layers.Conv2D(1, (7, 7), activation="tanh", padding="same", name="to_image")(x)
    return keras.Model(z, image, name="generator")
