"""The semi-supervised GAN as a Keras model, trained with ``model.fit`` (notebook 07).

* :class:`SGAN`: the 2019 tutorial's step, four updates (C, D on real, D on fake, G);
* :class:`CombinedSGAN`: Salimans et al.'s (2016) step, the three discriminator updates as one;
* :class:`SupervisedBaseline`: the classifier's update alone, on the same batches (no GAN).

Each update steps **one explicit list of variables** with its own optimizer, so the generator's
update cannot move the discriminator and no ``trainable`` flag is involved (notebook 09). The
generator's loss is passed to :meth:`SGAN.compile`: :func:`fool_the_discriminator` (the tutorial's)
or :func:`feature_matching` (Salimans et al.'s). A batch is ``((x_labelled, y_labelled), x_unlabelled)``,
as :func:`sgan_batches` yields it; the latent points are drawn inside the step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from .discriminators import logits_model
from .losses import class_loss, fake_loss, feature_matching_loss, real_loss


def fool_the_discriminator(sgan: SGAN, x_real, x_fake):
    """The tutorial's generator loss, -log D(G(z)): make D call the generated images real."""
    return real_loss(sgan.logits(x_fake, training=True))


def feature_matching(sgan: SGAN, x_real, x_fake):
    """Salimans et al.'s generator loss: match D's mean features on real images."""
    return feature_matching_loss(sgan.features(x_real, training=True), sgan.features(x_fake, training=True))


class SGAN(keras.Model):
    """A classifier ``C`` (softmax over K classes) and a generator ``G`` trained as the tutorial's SGAN.

    ``features`` names the layer under C's logits (the generator's feature-matching target);
    ``seed`` fixes the latent points the step draws.
    """

    def __init__(self, classifier: keras.Model, generator: keras.Model, features: str = "dropout",
                 seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.classifier, self.generator = classifier, generator
        self.logits = logits_model(classifier)  # C without its softmax: D's logit is their logsumexp
        self.features = keras.Model(self.logits.input, self.logits.get_layer(features).output)
        self.latent_dim = generator.input_shape[-1]
        self.noise = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("c_loss", "d_real", "d_fake", "g_loss")}

    def compile(self, c_optimizer: keras.optimizers.Optimizer, d_optimizer: keras.optimizers.Optimizer,
                g_optimizer: keras.optimizers.Optimizer,
                generator_loss: Callable = fool_the_discriminator, **kwargs) -> None:
        """One optimizer per kind of update (:class:`CombinedSGAN` leaves ``c_optimizer`` unused: its one
        D update is ``d_optimizer``'s); G's loss is ``generator_loss(sgan, x_real, x_fake)``."""
        super().compile(**kwargs)
        self.c_optimizer, self.d_optimizer, self.g_optimizer = c_optimizer, d_optimizer, g_optimizer
        self.generator_loss = generator_loss

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())  # fit resets them at every epoch

    def latent_points(self, n):
        """``n`` standard-normal points of the generator's latent space."""
        return keras.random.normal((n, self.latent_dim), seed=self.noise)

    def update(self, optimizer: keras.optimizers.Optimizer, variables: list, loss_fn: Callable):
        """Step ``variables``, and only those, down the gradient of ``loss_fn()``; return the loss."""
        with tf.GradientTape() as tape:
            loss = loss_fn()
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    def report(self, **losses) -> dict:
        for name, value in losses.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        """The tutorial's step: C, D on real, D on fake, then G, each a separate update."""
        (x_lab, y_lab), x_real = data
        half = ops.shape(x_real)[0]
        d_vars, g_vars = self.logits.trainable_variables, self.generator.trainable_variables
        # 1. C learns the classes from the labelled images
        c_loss = self.update(self.c_optimizer, d_vars,
                             lambda: class_loss(y_lab, self.logits(x_lab, training=True)))
        # 2. D learns to call the unlabelled real images real: -log D(x)
        d_real = self.update(self.d_optimizer, d_vars, lambda: real_loss(self.logits(x_real, training=True)))
        # 3. ... and the generator's images fake: -log(1 - D(G(z)))
        x_fake = self.generator(self.latent_points(half), training=True)
        d_fake = self.update(self.d_optimizer, d_vars, lambda: fake_loss(self.logits(x_fake, training=True)))
        # 4. G learns from D's judgement of fresh images; only G's variables move
        z = self.latent_points(2 * half)
        g_loss = self.update(self.g_optimizer, g_vars,
                             lambda: self.generator_loss(self, x_real, self.generator(z, training=True)))
        return self.report(c_loss=c_loss, d_real=d_real, d_fake=d_fake, g_loss=g_loss)


class CombinedSGAN(SGAN):
    """Salimans et al.'s step: one D update on C's loss plus ``unlabelled_weight`` x the two
    real/fake losses, computed in one pass over the labelled, real and generated images; then G."""

    def __init__(self, classifier: keras.Model, generator: keras.Model, features: str = "dropout",
                 seed: int | None = None, unlabelled_weight: float = 1.0, **kwargs) -> None:
        super().__init__(classifier, generator, features, seed, **kwargs)
        self.unlabelled_weight = unlabelled_weight

    def train_step(self, data):
        (x_lab, y_lab), x_real = data
        half, n_lab = ops.shape(x_real)[0], ops.shape(x_lab)[0]
        d_vars, g_vars = self.logits.trainable_variables, self.generator.trainable_variables
        x_fake = self.generator(self.latent_points(half), training=True)
        parts = {}

        def d_loss():  # one pass over labelled + real + generated images
            logits = self.logits(ops.concatenate([x_lab, x_real, x_fake]), training=True)
            parts["c_loss"] = class_loss(y_lab, logits[:n_lab])
            parts["d_real"] = real_loss(logits[n_lab:n_lab + half])
            parts["d_fake"] = fake_loss(logits[n_lab + half:])
            return parts["c_loss"] + self.unlabelled_weight * (parts["d_real"] + parts["d_fake"])

        self.update(self.d_optimizer, d_vars, d_loss)
        z = self.latent_points(2 * half)
        g_loss = self.update(self.g_optimizer, g_vars,
                             lambda: self.generator_loss(self, x_real, self.generator(z, training=True)))
        return self.report(**parts, g_loss=g_loss)


class SupervisedBaseline(SGAN):
    """The baseline: C's update on the labelled images alone; the generator is never used."""

    def train_step(self, data):
        (x_lab, y_lab), _ = data
        c_loss = self.update(self.c_optimizer, self.logits.trainable_variables,
                             lambda: class_loss(y_lab, self.logits(x_lab, training=True)))
        self.trackers["c_loss"].update_state(c_loss)
        return {"c_loss": self.trackers["c_loss"].result()}


def sgan_batches(x_labelled: np.ndarray, y_labelled: np.ndarray, x_unlabelled: np.ndarray,
                 half_batch: int = 50, seed: int = 0) -> Iterator[tuple]:
    """Endless batches ``((x_lab, y_lab), x_real)``: ``half_batch`` labelled and ``half_batch`` unlabelled
    images, each drawn at random with replacement (the tutorial's sampling), reproducibly from ``seed``."""
    if len(x_labelled) != len(y_labelled):
        raise ValueError(f"{len(x_labelled)} labelled images but {len(y_labelled)} labels.")
    if min(len(x_labelled), len(x_unlabelled)) == 0 or half_batch < 1:
        raise ValueError("sgan_batches needs labelled and unlabelled images and half_batch >= 1.")
    rng = np.random.default_rng(seed)
    y_labelled = np.asarray(y_labelled, dtype="int64")
    while True:
        lab = rng.integers(0, len(x_labelled), half_batch)
        real = rng.integers(0, len(x_unlabelled), half_batch)
        yield (x_labelled[lab], y_labelled[lab]), x_unlabelled[real]
