"""The 2019 tutorial's way of training: compiled Keras models and ``train_on_batch``.

Kept for two lessons and one measurement:

* ``keras3_fix=False`` builds the models in the tutorial's order. Its
  ``d_model.trainable = False`` (set to build the composite GAN) also freezes
  every layer the classifier shares with D. Keras 2.2 collected the trainable
  weights in ``compile()``, so the tutorial worked there. Keras 3 reads them when
  a model's train function is built, at its first ``train_on_batch``, and keeps
  that list until the function is rebuilt: C and D (here: every weight of both)
  train nothing and the classifier stays at chance, while the composite's
  function captures G's weights, so the generator still trains, against a D
  that never learns (notebook 09 shows both, live).
* ``keras3_fix=True`` toggles ``trainable`` around each GAN update, so each
  model's first train call (when Keras 3 captures its list) sees the right
  flags. Correct, but fragile: this project's trainer takes gradients against
  explicit variable lists instead (:mod:`sgan_helpers.sgan`).
* ``benchmarks/speed.py`` times this loop against the fused trainer.
"""

from __future__ import annotations

import keras
import numpy as np

from . import data as data_mod
from .discriminators import make_optimizer, stacked_discriminators
from .generator import LATENT_DIM, build_generator


class TutorialStyleSGAN:
    """The tutorial's four compiled models and its per-step ``train_on_batch`` loop."""

    def __init__(self, x_train: np.ndarray, x_sup: np.ndarray, y_sup: np.ndarray,
                 rng: np.random.Generator, keras3_fix: bool = True,
                 latent_dim: int = LATENT_DIM, batch_size: int = 100,
                 use_predict: bool = False) -> None:
        """``use_predict=True`` makes fakes with ``generator.predict`` as the tutorial does
        (Keras 3 sets up a data pipeline on every call); by default ``predict_on_batch``."""
        self.x_train, self.x_sup, self.y_sup, self.rng = x_train, x_sup, y_sup, rng
        self.use_predict = use_predict
        self.keras3_fix, self.latent_dim, self.batch_size = keras3_fix, latent_dim, batch_size
        self.d_model, self.c_model = stacked_discriminators()
        self.c_model.compile(loss="sparse_categorical_crossentropy", optimizer=make_optimizer(),
                             metrics=["accuracy"])
        self.d_model.compile(loss="binary_crossentropy", optimizer=make_optimizer())
        self.g_model = build_generator(latent_dim)
        # the tutorial's define_gan: freeze D, stack G -> D, compile
        self.d_model.trainable = False
        z = keras.Input(shape=(latent_dim,))
        self.gan_model = keras.Model(z, self.d_model(self.g_model(z)), name="gan")
        self.gan_model.compile(loss="binary_crossentropy", optimizer=make_optimizer())
        if keras3_fix:
            self.d_model.trainable = True

    def step(self) -> dict[str, float]:
        """One step: C on labelled, D on real, D on fake, G through the frozen D."""
        half, rng = self.batch_size // 2, self.rng
        x_lab, y_lab = data_mod.real_batch(self.x_sup, self.y_sup, half, rng)
        c_loss, c_acc = self.c_model.train_on_batch(x_lab, y_lab)
        x_real, _ = data_mod.real_batch(self.x_train, None, half, rng)
        d_real = self.d_model.train_on_batch(x_real, np.ones((half, 1), np.float32))
        z = data_mod.latent_points(half, self.latent_dim, rng)
        if self.use_predict:
            x_fake = self.g_model.predict(z, verbose=0)
        else:
            x_fake = self.g_model.predict_on_batch(z)
        d_fake = self.d_model.train_on_batch(x_fake, np.zeros((half, 1), np.float32))
        z = data_mod.latent_points(self.batch_size, self.latent_dim, rng)
        if self.keras3_fix:
            self.d_model.trainable = False
        g_loss = self.gan_model.train_on_batch(z, np.ones((self.batch_size, 1), np.float32))
        if self.keras3_fix:
            self.d_model.trainable = True
        return {"c_loss": float(c_loss), "c_acc": float(c_acc), "d_real": float(d_real),
                "d_fake": float(d_fake), "g_loss": float(g_loss)}
