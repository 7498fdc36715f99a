"""Loading a saved classifier and measuring it: accuracy, confusion, mistakes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np

from . import activation  # noqa: F401  (registers SumExpActivation for loading)
from .data import check_model_input

TUTORIAL_REPORTED = {
    "train_acc_per_epoch": [85.543, 91.487, 92.628, 94.017, 94.252, 93.828, 94.122, 93.597,
                            95.283, 95.287, 95.263, 95.432, 95.270, 95.212, 94.803, 94.640,
                            93.622, 91.870, 92.525, 92.180],
    "steps_per_epoch": 600,
    "chosen_epoch": 12,  # picked by accuracy on all 60,000 training labels
    "train_acc": 95.432,
    "test_acc": 95.920,
}
"""What the 2019 tutorial printed (Keras 2, one run, percentages)."""


class ModelFileError(ValueError):
    """A model file is missing, not a Keras 3 model, or not an image classifier."""


def load_model(path: Path | str) -> keras.Model:
    """Load a ``.keras`` file with ``safe_mode=True`` and clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file. Give the path of a .keras model "
                             f"(a run folder holds classifier.keras and generator.keras).")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path}: not a Keras 3 model file (.keras zip archive). Old .h5 files are not "
            f"supported; re-save the model with model.save('name.keras')."
        )
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:
        raise ModelFileError(f"{path}: Keras could not load it ({type(err).__name__}: {err}).") from err


def load_classifier(path: Path | str, n_classes: int = 10) -> keras.Model:
    """Load a classifier that maps (N, 28, 28, 1) in [-1, 1] to (N, n_classes) probabilities."""
    model = load_model(path)
    in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    if in_shape[1:] != (28, 28, 1) or out_shape[1:] != (n_classes,):
        raise ModelFileError(
            f"{path}: takes {in_shape} and returns {out_shape}; a classifier here takes "
            f"(None, 28, 28, 1) and returns (None, {n_classes}). Is it the generator?"
        )
    return model


def predict_proba(model: keras.Model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities for images already scaled to [-1, 1] (checked)."""
    images = check_model_input(images)
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0))


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``images`` whose most probable class is the label."""
    return float(np.mean(predict_proba(model, images).argmax(axis=-1) == np.asarray(labels)))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Counts: rows are true classes, columns predicted classes."""
    return np.bincount(np.asarray(labels) * n_classes + np.asarray(predicted),
                       minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix."""
    return np.diag(matrix) / matrix.sum(axis=1)


def most_confident_mistakes(proba: np.ndarray, labels: np.ndarray, k: int = 20) -> np.ndarray:
    """Indices of the ``k`` wrong predictions made with the highest probability."""
    predicted = proba.argmax(axis=-1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = proba[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence)[:k]]


def classifier_score(proba: np.ndarray) -> float:
    """How clearly and how evenly a judge classifier recognises a set of images: the exponential of
    the mean KL divergence between each image's class probabilities and their average (the
    Inception Score of Salimans et al. 2016, with an MNIST classifier as the judge).

    1 when every image gets the same probabilities; the number of classes when each image is
    one class for certain and the classes are equally common.
    """
    proba = np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0)
    if proba.ndim != 2:
        raise ValueError(f"expected class probabilities of shape (n, classes), got {proba.shape}.")
    marginal = proba.mean(axis=0, keepdims=True)
    kl = np.sum(proba * (np.log(proba) - np.log(marginal)), axis=1)
    return float(np.exp(kl.mean()))
