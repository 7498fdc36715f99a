"""The recipes: named, frozen bundles of training-config fields, each defined once.

A recipe says *what* is trained (models, step, losses, optimiser, averaging, sampling); the length,
the label budget and the seed come from the command line or the experiment (``experiments.py``).
``python -m sgan_experiments train --recipe NAME`` starts from one; any option then overrides a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """A name, what it is, and the config fields it sets (read-only)."""

    name: str
    about: str
    fields: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def extend(self, name: str, about: str, **changes: Any) -> Recipe:
        """A new recipe: this one with ``changes``."""
        return Recipe(name, about, MappingProxyType({**self.fields, **changes}))


TUTORIAL = Recipe("tutorial", "the 2019 tutorial: its CNNs, four updates per step, binary cross-entropy "
                              "for the generator (the config's defaults)")
SERIES = TUTORIAL.extend(
    "series", "the tutorial's CNNs with Salimans et al.'s combined D update and a weight average "
              "(the shipped pretrained/mnist_100labels)",
    schedule="combined", ema_decay=0.999)
IMPROVED = TUTORIAL.extend(
    "improved", "Salimans et al.'s (2016) MNIST recipe: weight-normalised MLPs with Gaussian noise, feature "
                "matching, one combined D update on 100 labelled + 100 unlabelled + 100 generated images, "
                "Adam at 3e-3, unlabelled loss weighted 1/2, a weight average, the rate decaying over the "
                "second half",
    architecture="mlp", schedule="combined", generator_loss="feature_matching", batch_size=200,
    learning_rate=3e-3, unlabelled_weight=0.5, ema_decay=0.999, lr_schedule="linear")
SALIMANS = IMPROVED.extend(
    "salimans", "improved, with the weight-normalisation initialisation seeing the training noise as in "
                "their code (make run's recipe)",
    init_noise=True)
FAITHFUL = SALIMANS.extend(
    "faithful", "salimans with every other known difference from their MNIST code removed: constant rate, "
                "average decay 0.9999, batches in passes, sigmoid output, uniform latent points, Adam "
                "epsilon 1e-4, float32 (the shipped pretrained/mnist_100labels_improved, 99.06 %)",
    lr_schedule="constant", ema_decay=0.9999, sampling="epochs", generator_output="sigmoid",
    latent="uniform", adam_epsilon=1e-4, precision="float32")

RECIPES: dict[str, Recipe] = {r.name: r for r in (TUTORIAL, SERIES, IMPROVED, SALIMANS, FAITHFUL)}
"""Every recipe by name. The stored results name theirs; ``improved`` stays as it was made, so that
its runs stay reproducible under that name."""
