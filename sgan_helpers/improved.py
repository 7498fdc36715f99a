"""Salimans et al.'s (2016) MNIST models: small MLPs that learn far more per second than the CNNs.

* :func:`mlp_discriminators`: 784-1000-500-250-250-250-10, every Dense layer weight-normalised
  (:class:`WeightNormDense`), Gaussian noise on the input (sigma 0.3 on pixels in [0, 1]) and
  after every hidden layer (sigma 0.5), ReLU. The last hidden layer is named ``features``:
  the generator's feature-matching loss compares its mean on real and generated images.
  Same contract as :func:`sgan_helpers.discriminators.stacked_discriminators`: returns
  ``(d_model, c_model)`` over one body, with a ``class_logits`` layer.
* :func:`mlp_generator`: 100-500-500-784, batch norm + softplus, a weight-normalised softplus
  output (pixels >= 0, rescaled like the series' pixels: 0 -> -1, 1 -> 1). The paper's sigmoid
  output (``output="sigmoid"``) collapses to one image when it computes in bfloat16: there
  sigmoid(x) rounds to exactly 1 from x ~ 6 on and its gradient y (1 - y) to exactly 0, so bright
  pixels stop learning. ``float32_output=True`` computes that one layer in float32 (the
  mixed-precision guide's advice for an output layer) and the sigmoid generator draws varied digits
  (measured: docs/results.md, "What each technique is worth"); at a constant learning rate it also needs
  Salimans et al.'s Adam epsilon (1e-4; the experiments' ``faithful`` recipe). The unbounded softplus
  never rounds to a constant, as Sleepychord/ImprovedGAN-pytorch also found. Most pixels stay below 1;
  plots clip.
  ``latent="uniform"`` gives it the paper's latent points, uniform in [0, 1]: a first layer
  (:class:`UniformLatent`) maps the series' standard-normal points through the normal CDF,
  which makes them exactly uniform, so every sampler, explorer and grid keeps drawing normals.

Weight normalisation (Salimans & Kingma 2016) writes each unit's weight vector as
``w = g * v / ||v||``: the length ``g`` and the direction ``v`` are learned separately,
which keeps a 0.003 learning rate stable. :func:`data_dependent_init` sets ``g`` and the bias
from one batch so every layer starts with zero-mean, unit-variance pre-activations.

Every layer here serializes: the models save to ``.keras`` and load with ``safe_mode=True``
once ``sgan_helpers`` is imported.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .activation import SumExpActivation
from .discriminators import IMAGE_SHAPE, N_CLASSES

HIDDEN = (1000, 500, 250, 250, 250)
"""The discriminator's hidden widths (Salimans et al. 2016, MNIST)."""
GENERATOR_HIDDEN = (500, 500)
INPUT_NOISE = 0.3
"""Gaussian noise on the input pixels (in [0, 1], as in the paper) while training."""
HIDDEN_NOISE = 0.5
"""Gaussian noise after each hidden layer while training."""
LEARNING_RATE = 3e-3
FEATURES = "features"
"""Name of the layer whose mean the feature-matching generator loss compares."""


@keras.saving.register_keras_serializable(package="sgan_helpers")
class WeightNormDense(layers.Layer):
    """Dense layer with weight normalisation: ``y = (x @ v) * g / ||v|| + b`` (per output unit).

    ``v`` (``kernel``) gives the direction of each unit's weight vector and ``g`` (``scale``)
    its length. The norm is computed in float32 whatever the compute dtype. With
    ``train_scale=False`` the length stays where :func:`data_dependent_init` put it (as in
    Salimans et al.'s hidden layers): the features cannot grow without bound, which the
    feature-matching loss needs.
    """

    def __init__(self, units: int, activation: str | None = None, train_scale: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.train_scale = bool(train_scale)

    def build(self, input_shape) -> None:
        n_in = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(n_in, self.units),
            initializer=keras.initializers.RandomNormal(stddev=0.1))
        self.scale = self.add_weight(name="scale", shape=(self.units,), initializer="ones",
                                     trainable=self.train_scale)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def pre_activation(self, x):
        """``(x @ v) * g / ||v|| + b``, before the activation."""
        v = self.kernel
        norm = ops.sqrt(ops.sum(ops.square(ops.cast(v, "float32")), axis=0) + 1e-12)
        factor = ops.cast(ops.cast(self.scale, "float32") / norm, x.dtype)
        return ops.matmul(x, ops.cast(v, x.dtype)) * factor + ops.cast(self.bias, x.dtype)

    def call(self, x):
        return self.activation(self.pre_activation(x))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "train_scale": self.train_scale,
                "activation": keras.activations.serialize(self.activation)}


def mlp_discriminators(
    in_shape: tuple[int, ...] = IMAGE_SHAPE, n_classes: int = N_CLASSES, noise_scale: float = 1.0
) -> tuple[keras.Model, keras.Model]:
    """Salimans et al.'s MNIST discriminator as ``(d_model, c_model)`` (see the module docstring).

    ``noise_scale`` multiplies both noise levels (0 turns the noise off: the baseline's ablation).
    Noise acts only with ``training=True``; the saved classifier is deterministic.
    """
    image = keras.Input(shape=in_shape, name="image")
    x = layers.Flatten(name="flatten")(image)
    x = layers.Rescaling(0.5, offset=0.5, name="to_unit_range")(x)  # [-1, 1] -> [0, 1], as in the paper
    if noise_scale > 0:
        x = layers.GaussianNoise(INPUT_NOISE * noise_scale, name="input_noise")(x)
    for i, width in enumerate(HIDDEN, start=1):
        last = i == len(HIDDEN)
        x = WeightNormDense(width, activation="relu", train_scale=False,
                            name=FEATURES if last else f"dense_{i}")(x)
        if noise_scale > 0:
            x = layers.GaussianNoise(HIDDEN_NOISE * noise_scale, name=f"noise_{i}")(x)
    logits = WeightNormDense(n_classes, name="class_logits")(x)
    p_class = layers.Activation("softmax", name="class_probs")(logits)
    p_real = SumExpActivation(name="real_prob")(logits)
    return (keras.Model(image, p_real, name="mlp_unsupervised_d"),
            keras.Model(image, p_class, name="mlp_supervised_c"))


OUTPUTS = ("softplus", "sigmoid")
"""The generator's output unit: ``softplus`` (ours, the default) or ``sigmoid`` (the paper's)."""
LATENTS = ("normal", "uniform")
"""What the generator's first layer sees: ``normal`` (the series' standard-normal points, the
default) or ``uniform`` (in [0, 1], Salimans et al.'s code), made by :class:`UniformLatent`."""


@keras.saving.register_keras_serializable(package="sgan_helpers")
class UniformLatent(layers.Layer):
    """Standard-normal points -> uniform in [0, 1], coordinate by coordinate: ``Phi(z)``, the
    normal CDF, ``(1 + erf(z / sqrt 2)) / 2``. If ``z`` is standard normal, ``Phi(z)`` is exactly
    uniform (the probability integral transform). No weights; computed in float32."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, z):
        z = ops.cast(z, "float32")
        return 0.5 * (1.0 + ops.erf(z / np.sqrt(2.0).astype("float32")))

    def compute_output_shape(self, input_shape):
        return input_shape


def mlp_generator(latent_dim: int = 100, output: str = "softplus", latent: str = "normal",
                  float32_output: bool = False) -> keras.Model:
    """Salimans et al.'s MNIST generator: latent -> 2 x [Dense 500, batch norm, softplus] -> 784
    (a weight-normalised softplus, not the paper's sigmoid: see the module docstring).
    ``latent="uniform"``: a first :class:`UniformLatent` layer turns the standard-normal input
    into the paper's uniform points; the model still takes standard-normal points.
    ``float32_output``: the output layer computes in float32 whatever the dtype policy (the
    mixed-precision guide's advice for an output layer); the rest follows the policy."""
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}.")
    if latent not in LATENTS:
        raise ValueError(f"latent must be one of {LATENTS}, got {latent!r}.")
    z = keras.Input(shape=(latent_dim,), name="latent")
    x = UniformLatent(name="to_uniform")(z) if latent == "uniform" else z
    for i, width in enumerate(GENERATOR_HIDDEN, start=1):
        x = layers.Dense(width, use_bias=False, name=f"g_dense_{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, scale=False, name=f"g_bn_{i}")(x)
        x = layers.Activation("softplus", name=f"g_softplus_{i}")(x)
    x = WeightNormDense(int(np.prod(IMAGE_SHAPE)), activation=output, name="g_pixels",
                        **({"dtype": "float32"} if float32_output else {}))(x)
    x = layers.Rescaling(2.0, offset=-1.0, name="to_model_range")(x)  # 0 -> -1, 1 -> 1, as real pixels
    image = layers.Reshape(IMAGE_SHAPE, name="to_image")(x)
    return keras.Model(z, image, name="mlp_generator")


def data_dependent_init(model: keras.Model, x: np.ndarray, noise: bool = False) -> None:
    """Set each :class:`WeightNormDense`'s scale and bias so that, on the batch ``x``, its
    pre-activations have mean 0 and standard deviation 1 (Salimans & Kingma 2016).

    Layers are initialised in order, each after the ones below it. ``noise=False``: the batch
    passes without the Gaussian noise (inference). ``noise=True``: with it, as in Salimans et al.'s
    code; the noise then counts in each layer's spread, so the clean signal starts smaller
    relative to the noise that training adds (measured: docs/results.md, "The improved recipe").
    """
    for layer in model.layers:
        if not isinstance(layer, WeightNormDense):
            continue
        below = keras.Model(model.input, layer.input)
        h = below(x, training=noise)
        pre = np.asarray(ops.cast(layer.pre_activation(ops.cast(h, layer.compute_dtype)), "float32"))
        mean, std = pre.mean(axis=0), pre.std(axis=0) + 1e-6
        scale = np.asarray(layer.scale, dtype=np.float32)
        bias = np.asarray(layer.bias, dtype=np.float32)
        layer.scale.assign(scale / std)
        layer.bias.assign((bias - mean) / std)
