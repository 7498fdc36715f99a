"""Figures for the notebooks: image grids, training curves, confusion matrices, diagrams."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import files


def image_grid(images: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 10,
               size: float = 1.0, title: str | None = None):
    """Show images (N, 28, 28[, 1]) in [-1, 1] as a grid; returns the figure."""
    images = np.asarray(images).reshape(len(images), 28, 28)
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * (1.25 if titles else 1)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow((images[i] + 1) / 2, cmap="gray_r", vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def mosaic(images: np.ndarray, ncols: int = 10) -> np.ndarray:
    """Tile images (N, 28, 28[, 1]) in [-1, 1] into one 2-D array in [0, 1]."""
    images = (np.asarray(images, dtype=np.float32).reshape(len(images), 28, 28) + 1) / 2
    nrows = int(np.ceil(len(images) / ncols))
    canvas = np.ones((nrows * 28, ncols * 28), dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = img
    return canvas


def save_sample_grid(generator, latent: np.ndarray, path: Path | str) -> Path:
    """Generate images at fixed latent points; save them as one PNG mosaic (atomically)."""
    import matplotlib.image

    canvas = mosaic(np.asarray(generator(latent, training=False)))
    return files.write_with(
        path, lambda p: matplotlib.image.imsave(p, canvas, cmap="gray_r", vmin=0, vmax=1, format="png"))


def plot_history(history: dict, show_tutorial: bool = True):
    """Loss curves (per logged window) and classifier accuracy per epoch, side by side.

    A run that kept a weight average (``ema_decay``) shows both classifiers: the training
    weights faint, the averaged ones bold.

    With ``show_tutorial`` the 2019 tutorial's printed training accuracy is drawn for
    comparison, over the steps this run covers.
    """
    from .evaluation import TUTORIAL_REPORTED

    steps, epochs = history["steps"], history["epochs"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4))
    labels = {"c_loss": "C: labelled cross-entropy", "d_real": "D: real images",
              "d_fake": "D: generated images", "g_loss": "G: generator loss"}
    for key, label in labels.items():
        ax_loss.plot([r["step"] for r in steps], [r[key] for r in steps], label=label)
    ax_loss.set(xlabel="training step", ylabel="loss (mean over window)", title="Losses")
    ax_loss.legend()
    averaged = bool(epochs) and "ema_test_acc" in epochs[0]  # a run with --ema
    curves = (("test_acc", "test, 10,000 images", "C0"), ("train_acc", "train, all 60,000 labels", "C1"),
              ("labelled_acc", "the labelled subset", "C2"))
    for key, label, color in curves:
        if epochs and key in epochs[0]:
            suffix = ", training weights" if averaged else ""
            ax_acc.plot([r["step"] for r in epochs], [100 * r[key] for r in epochs], marker="o", color=color,
                        alpha=0.5 if averaged else 1.0, label=label + suffix)
        if averaged and f"ema_{key}" in epochs[0] and key != "labelled_acc":
            ax_acc.plot([r["step"] for r in epochs], [100 * r[f"ema_{key}"] for r in epochs], marker="s",
                        color=color, linewidth=2.5, label=label + ", averaged weights")
    last_step = epochs[-1]["step"] if epochs else 0
    per = TUTORIAL_REPORTED["steps_per_epoch"]
    tut = [(per * (i + 1), a) for i, a in enumerate(TUTORIAL_REPORTED["train_acc_per_epoch"])
           if per * (i + 1) <= last_step]
    if show_tutorial and tut:
        ax_acc.plot([t[0] for t in tut], [t[1] for t in tut], "k--", alpha=0.6,
                    label="2019 tutorial, train (Keras 2)")
    ax_acc.set(xlabel="training step", ylabel="accuracy (%)", title="Classifier accuracy")
    ax_acc.legend()
    fig.tight_layout()
    return fig


def plot_confusion(matrix: np.ndarray, class_names: Sequence[str], title: str = "Confusion matrix"):
    """A confusion matrix (rows: true class, columns: predicted) with counts."""
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(matrix, cmap="Blues")
    n = len(class_names)
    ax.set_xticks(range(n), class_names, rotation=45 if max(map(len, class_names)) > 2 else 0)
    ax.set_yticks(range(n), class_names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    threshold = matrix.max() / 2
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def graphviz_available() -> bool:
    """True when Graphviz's ``dot`` program is on PATH (needed by keras.utils.plot_model)."""
    return shutil.which("dot") is not None


def architecture_diagram(model, path: Path | str, **kwargs):
    """Draw ``model`` with ``keras.utils.plot_model``; without Graphviz, print why and fall back.

    Returns an ``IPython.display.Image`` to show, or ``None`` after printing the
    text summary when Graphviz is not installed (the notebook keeps running).
    """
    import keras

    if not graphviz_available():
        print("Graphviz's `dot` is not installed, so no diagram: here is the text summary instead.\n"
              "(Install it with `apt-get install graphviz`, `brew install graphviz` or "
              "`conda install graphviz` to see the picture.)")
        model.summary()
        return None
    options = dict(show_shapes=True, show_layer_names=True, dpi=64)
    options.update(kwargs)
    keras.utils.plot_model(model, to_file=str(path), **options)
    from IPython.display import Image

    return Image(filename=str(path))
