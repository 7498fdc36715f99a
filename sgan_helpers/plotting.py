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
        ax_acc.plot([t[0] for t in tut], [t[1] for t in tut], "k--", marker="x", alpha=0.6,
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


def plot_confusion_difference(difference: np.ndarray, class_names: Sequence[str], title: str):
    """Counts of one confusion matrix minus another's (red: more here, blue: fewer)."""
    fig, ax = plt.subplots(figsize=(7, 6))
    limit = max(1, int(np.abs(difference).max()))
    im = ax.imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
    n = len(class_names)
    ax.set_xticks(range(n), class_names, rotation=45 if max(map(len, class_names)) > 2 else 0)
    ax.set_yticks(range(n), class_names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    for i in range(n):
        for j in range(n):
            if difference[i, j]:
                ax.text(j, i, f"{difference[i, j]:+d}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def plot_per_class(accuracies: dict[str, np.ndarray], class_names: Sequence[str], title: str):
    """Per-class accuracy of several classifiers side by side (grouped bars)."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    n, k = len(class_names), len(accuracies)
    width = 0.8 / k
    for i, (name, acc) in enumerate(accuracies.items()):
        ax.bar(np.arange(n) + (i - (k - 1) / 2) * width, 100 * np.asarray(acc), width, label=name)
    ax.set_xticks(range(n), class_names, rotation=45 if max(map(len, class_names)) > 2 else 0)
    low = min(float(np.min(a)) for a in accuracies.values())
    ax.set(ylabel="test accuracy (%)", title=title, ylim=(max(0.0, 100 * low - 10), 100))
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_label_budget(summary: dict, title: str, ceiling=None):
    """Test accuracy against the number of labels (log axis), mean with min-max bars and every draw as a dot.

    ``summary``: :func:`sgan_helpers.results.summarise`'s output; ``ceiling``: a Summary drawn as a band.
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    styles = {"sgan": ("SGAN", "C0", "o"), "supervised": ("baseline (no GAN)", "C1", "s")}
    for method, (label, color, marker) in styles.items():
        rows = sorted((n, s) for (m, n), s in summary.items() if m == method
                      and (ceiling is None or n != ceiling.n_labels))
        if not rows:
            continue
        xs = np.array([n for n, _ in rows], dtype=float)
        means = np.array([100 * s.mean for _, s in rows])
        lo = means - np.array([100 * min(s.values) for _, s in rows])
        hi = np.array([100 * max(s.values) for _, s in rows]) - means
        ax.errorbar(xs, means, yerr=[lo, hi], color=color, marker=marker, capsize=4, label=label)
        for (n, s) in rows:
            ax.scatter([n] * s.n, [100 * v for v in s.values], color=color, s=10, alpha=0.5)
    if ceiling is not None:
        ax.axhspan(100 * min(ceiling.values), 100 * max(ceiling.values), color="grey", alpha=0.3,
                   label=f"baseline, all {ceiling.n_labels:,} labels")
    ax.set_xscale("log")
    budgets = sorted({n for (_, n) in summary if ceiling is None or n != ceiling.n_labels})
    ax.set_xticks(budgets, [f"{n:,}" for n in budgets])
    ax.set(xlabel="labelled images (log scale)", ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def graphviz_available() -> bool:
    """True when Graphviz's ``dot`` program is on PATH (needed by keras.utils.plot_model)."""
    return shutil.which("dot") is not None


def architecture_diagram(model, path: Path | str, fallback: str = "note", **kwargs):
    """Draw ``model`` with ``keras.utils.plot_model``; without Graphviz, say so and carry on.

    Returns an ``IPython.display.Image`` to show, or ``None`` when Graphviz's ``dot``
    is not installed. Then ``fallback`` decides what is printed instead:
    ``"note"`` (default) one line only, for a model whose ``summary()`` the notebook
    has already printed; ``"summary"`` the text summary, for a model not yet shown.
    Either way each model's summary appears once.
    """
    import keras

    if fallback not in ("note", "summary"):
        raise ValueError(f"fallback must be 'note' or 'summary', got {fallback!r}")
    if not graphviz_available():
        shown = "here is its text summary" if fallback == "summary" else "its text summary is above"
        print(f"(No diagram of {model.name!r}: Graphviz's `dot` is not installed; {shown}. "
              "`apt-get install graphviz`, `brew install graphviz` or `conda install graphviz` "
              "draws it.)")
        if fallback == "summary":
            model.summary()
        return None
    options = dict(show_shapes=True, show_layer_names=True, dpi=64)
    options.update(kwargs)
    keras.utils.plot_model(model, to_file=str(path), **options)
    from IPython.display import Image

    return Image(filename=str(path))


# one row per update of a tutorial-schedule step: what goes in, through which networks, which loss,
# which weights its gradient moves
SGAN_STEP_ROWS = (
    ("{half} labelled images\n(the 100-image subset)", False, "C loss\ncross-entropy on the labels",
     "discriminator"),
    ("{half} unlabelled real images\n(any of the 60,000)", False, "D loss, real\n$-\\log D(x)$",
     "discriminator"),
    ("{half} noise vectors $z$", True, "D loss, fake\n$-\\log(1 - D(G(z)))$", "discriminator"),
    ("{batch} noise vectors $z$", True, "G loss\n$-\\log D(G(z))$", "generator"),
)
WEIGHT_COLORS = {"discriminator": "#4C72B0", "generator": "#DD8452"}


def sgan_step_diagram(half_batch: int = 50, batch_size: int = 100):
    """A picture of one SGAN training step (the tutorial's schedule): four updates, one per row.

    Each row shows which images go in, which networks they pass through (G, then the
    shared discriminator body D/C), the loss, and the weights that loss's gradient moves
    (blue: discriminator, orange: generator). In the generator's row the gradient flows
    back *through* D, but only G's weights are updated. Returns the figure.
    """
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(12, 5.6))
    ax.set(xlim=(0, 12), ylim=(-0.9, 4.6))
    ax.axis("off")

    def box(x, y, w, text, color, alpha=0.18, weight="normal"):
        ax.add_patch(FancyBboxPatch((x, y - 0.32), w, 0.64, boxstyle="round,pad=0.04", linewidth=1.2,
                                    edgecolor=color, facecolor=color, alpha=alpha))
        ax.text(x + w / 2, y, text, ha="center", va="center", fontsize=8.5, fontweight=weight)

    def arrow(x0, x1, y, color="black", style="-|>", dashed=False):
        ax.annotate("", xy=(x1, y), xytext=(x0, y),
                    arrowprops=dict(arrowstyle=style, color=color, lw=1.4,
                                    linestyle="--" if dashed else "-"))

    d_color, g_color = WEIGHT_COLORS["discriminator"], WEIGHT_COLORS["generator"]
    for col, x in (("images in", 1.2), ("generator G", 3.85), ("discriminator D/C\n(shared body)", 5.75),
                   ("loss", 8.1), ("its gradient updates", 10.6)):
        ax.text(x, 4.45, col, ha="center", va="center", fontsize=9, fontweight="bold")
    for row, (source, through_g, loss, moves) in enumerate(SGAN_STEP_ROWS):
        y = 3.6 - row
        box(0.05, y, 2.3, source.format(half=half_batch, batch=batch_size), "gray")
        if through_g:
            arrow(2.4, 3.3, y)
            box(3.3, y, 1.1, "G", g_color, alpha=0.35, weight="bold")
            ax.text(4.75, y + 0.18, "fakes", ha="center", fontsize=7.5)
            arrow(4.45, 5.1, y)
        else:
            arrow(2.4, 5.1, y)
        box(5.1, y, 1.3, "D / C", d_color, alpha=0.35, weight="bold")
        arrow(6.45, 7.0, y)
        box(7.0, y, 2.2, loss, "gray")
        color = WEIGHT_COLORS[moves]
        arrow(9.25, 9.75, y, color=color, dashed=True)
        box(9.75, y, 1.7, f"{moves}\nweights", color, alpha=0.35, weight="bold")
        if through_g and moves == "generator":  # the gradient's way back: through D (held still) to G
            ax.annotate("", xy=(3.85, y - 0.36), xytext=(8.1, y - 0.36),
                        arrowprops=dict(arrowstyle="-|>", color=color, lw=1.4, linestyle="--",
                                        connectionstyle="arc3,rad=-0.18"))
            ax.text(6.0, y - 0.97, "gradient flows back through D (D's weights held still) into G",
                    ha="center", fontsize=7.5, color=color)
        elif through_g:
            ax.text(3.85, y - 0.45, "G only makes images here", ha="center", fontsize=7, style="italic")
    ax.text(6.0, -0.78, "solid: images flow forward    dashed: where each loss's gradient is applied "
            "(the G loss flows back through D, but only G's weights move)", ha="center", fontsize=8,
            style="italic")
    fig.tight_layout()
    return fig
