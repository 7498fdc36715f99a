"""Walk a trained generator's latent space: directions, interpolation, inversion, and what the
classifier and the discriminator say about each image (notebook 14's interactive explorer).

The widgets are plain ipywidgets; every computation lives in functions that run without a
browser, so the test suite drives the explorer headless (set a slider, read :attr:`Explorer.state`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .activation import stable_custom_activation
from .data import check_model_input
from .discriminators import logits_model
from .evaluation import load_classifier, load_model


@dataclass
class Scores:
    """What the models say about a batch of generated images."""

    images: np.ndarray  # (n, 28, 28, 1), as the generator made them
    proba: np.ndarray  # (n, classes): the classifier's softmax
    real: np.ndarray  # (n,): the discriminator's D(x) = Z / (Z + 1) from the same logits

    @property
    def predicted(self) -> np.ndarray:
        return self.proba.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return self.proba.max(axis=1)


class LatentModels:
    """A run folder's generator and classifier, plus the discriminator hidden in the classifier's logits."""

    def __init__(self, run_dir: Path | str, n_classes: int = 10) -> None:
        run_dir = Path(run_dir)
        self.generator = load_model(run_dir / "generator.keras")
        self.classifier = load_classifier(run_dir / "classifier.keras", n_classes)
        self.logits = logits_model(self.classifier)  # same weights: D(x) comes from these logits
        self.latent_dim = int(self.generator.input_shape[-1])

    def generate(self, z: np.ndarray) -> np.ndarray:
        """Images for latent points ``z`` (n, latent_dim), clipped to the models' [-1, 1] range."""
        images = np.asarray(self.generator(np.asarray(z, np.float32), training=False), np.float32)
        return np.clip(images, -1.0, 1.0)

    def scores(self, z: np.ndarray) -> Scores:
        images = self.generate(z)
        logits = np.asarray(self.logits(check_model_input(images), training=False), np.float64)
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
        return Scores(images, proba, stable_custom_activation(logits)[:, 0])

    def invert(self, image: np.ndarray, steps: int = 300, learning_rate: float = 0.05,
               restarts: int = 3, seed: int = 0) -> tuple[np.ndarray, float]:
        """A latent point whose image is close to ``image`` (28, 28, 1) in [-1, 1]; returns it and its
        mean squared pixel error. Gradient descent on z through the frozen generator, started from the
        ``restarts`` best of 512 random points (one start can get stuck on another digit); the best wins."""
        import tensorflow as tf

        target = tf.constant(check_model_input(np.asarray(image, np.float32)[None]))
        # start from the random points whose images are already closest (a cheap search), then refine
        candidates = np.random.default_rng(seed).standard_normal((512, self.latent_dim))
        made = self.generate(candidates.astype(np.float32))
        distance = np.mean((made - target.numpy()) ** 2, axis=(1, 2, 3))
        starts = candidates[np.argsort(distance)[:restarts]]
        best: tuple[np.ndarray, float] | None = None
        for start in starts:
            z = tf.Variable(start[None].astype(np.float32))
            optimizer = keras.optimizers.Adam(learning_rate)  # a fresh state for each start

            @tf.function
            def step(z=z, optimizer=optimizer):
                with tf.GradientTape() as tape:
                    made = tf.cast(self.generator(z, training=False), tf.float32)
                    loss = tf.reduce_mean(tf.square(made - target))
                    loss += 1e-3 * tf.reduce_mean(tf.square(z))  # stay where the generator was trained
                optimizer.apply([tape.gradient(loss, z)], [z])

            for _ in range(steps):
                step()
            error = float(np.mean((self.generate(z.numpy()) - target.numpy()) ** 2))
            if best is None or error < best[1]:
                best = (z.numpy()[0].copy(), error)
        return best


def directions(latent_dim: int, k: int, seed: int = 0) -> np.ndarray:
    """``k`` random orthonormal directions of the latent space, shape (k, latent_dim)."""
    if not 1 <= k <= latent_dim:
        raise ValueError(f"k must be between 1 and the latent size {latent_dim}, got {k}.")
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((latent_dim, k)))
    return q.T.astype(np.float32)


def slerp(z0: np.ndarray, z1: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Spherical interpolation: the path keeps a typical length for a Gaussian latent point
    (a straight line through the middle passes points much shorter than any the generator saw)."""
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    t = np.asarray(t, np.float64)[..., None]
    cos = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    return ((np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)).astype(np.float32)


def neighbours(z: np.ndarray, n: int, radius: float, seed: int = 0) -> np.ndarray:
    """``n`` latent points at distance ``radius`` around ``z`` (random directions)."""
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal((n, z.shape[-1]))
    steps *= radius / np.linalg.norm(steps, axis=1, keepdims=True)
    return (z[None] + steps).astype(np.float32)


def caption(scores: Scores, i: int, class_names: list[str]) -> str:
    return (f"{class_names[scores.predicted[i]]} {scores.confidence[i]:.2f} · "
            f"real {scores.real[i]:.2f}")


class Explorer:
    """Sliders over ``k`` latent directions and an interpolation between two points.

    The image shown is ``slerp(start, end, t) + sum_i a_i * direction_i``. :attr:`state` holds
    what is on screen (latent point, prediction, confidence, real/fake score) for headless use.
    """

    def __init__(self, models: LatentModels, class_names: list[str], k: int = 4, seed: int = 0) -> None:
        import ipywidgets as widgets

        self.models, self.class_names = models, class_names
        self.rng = np.random.default_rng(seed)
        self.dirs = directions(models.latent_dim, k, seed)
        self.start = self.rng.standard_normal(models.latent_dim).astype(np.float32)
        self.end = self.rng.standard_normal(models.latent_dim).astype(np.float32)
        self.sliders = [widgets.FloatSlider(0.0, min=-3.0, max=3.0, step=0.1,
                                            description=f"direction {i + 1}", continuous_update=False)
                        for i in range(k)]
        self.t = widgets.FloatSlider(0.0, min=0.0, max=1.0, step=0.05, description="start → end",
                                     continuous_update=False)
        self.new_end = widgets.Button(description="new end point")
        self.output = widgets.Output()
        self.state: dict[str, Any] = {}
        for s in [*self.sliders, self.t]:
            s.observe(lambda _: self.update(), names="value")
        self.new_end.on_click(lambda _: self.pick_end())
        self.widget = widgets.HBox([widgets.VBox([*self.sliders, self.t, self.new_end]), self.output])
        self.update()

    def latent(self) -> np.ndarray:
        z = slerp(self.start, self.end, self.t.value)
        return (z + sum(s.value * d for s, d in zip(self.sliders, self.dirs, strict=True))).astype(np.float32)

    def pick_end(self) -> None:
        self.end = self.rng.standard_normal(self.models.latent_dim).astype(np.float32)
        self.update()

    def update(self) -> None:
        import matplotlib.pyplot as plt

        z = self.latent()
        scores = self.models.scores(z[None])
        self.state = {"z": z, "image": scores.images[0], "predicted": int(scores.predicted[0]),
                      "confidence": float(scores.confidence[0]), "real": float(scores.real[0])}
        self.output.clear_output(wait=True)
        with self.output:
            fig, ax = plt.subplots(figsize=(2.6, 2.8))
            ax.imshow(scores.images[0, :, :, 0], cmap="gray_r", vmin=-1, vmax=1)
            ax.set_title(caption(scores, 0, self.class_names), fontsize=9)
            ax.axis("off")
            plt.show()
