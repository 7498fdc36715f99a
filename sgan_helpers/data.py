"""Datasets, preprocessing, the labelled subset and seeded batch helpers.

Everything random here takes a ``numpy.random.Generator`` so that a run repeats
exactly from its seed (and can be checkpointed: a Generator's state is plain JSON).
"""

from __future__ import annotations

import hashlib
import os
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR_ENV = "SGAN_DATA_DIR"
"""Environment variable naming a folder with ``mnist.npz`` / ``fashion_mnist.npz``."""


@dataclass(frozen=True)
class DatasetInfo:
    """What we know about a dataset before loading it."""

    name: str
    class_names: tuple[str, ...]
    n_train: int = 60_000
    n_test: int = 10_000
    image_shape: tuple[int, int] = (28, 28)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", tuple(str(d) for d in range(10))),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
}

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DatasetUnavailableError(FileNotFoundError):
    """No local copy of the dataset and the download failed."""


class DatasetFileError(ValueError):
    """A dataset file exists but is corrupt, truncated or of the wrong layout."""


def dataset_info(name: str) -> DatasetInfo:
    """Look up a dataset by name, with a helpful error for unknown names."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"Unknown dataset {name!r}; choose one of: {known}.") from None


def _check_arrays(path: Path | str, arrays: dict[str, np.ndarray], info: DatasetInfo) -> Arrays:
    """Validate keys, shapes, dtypes and label values; raise DatasetFileError otherwise."""
    h, w = info.image_shape
    expected = {
        "x_train": (info.n_train, h, w),
        "y_train": (info.n_train,),
        "x_test": (info.n_test, h, w),
        "y_test": (info.n_test,),
    }
    missing = sorted(set(expected) - set(arrays))
    if missing:
        raise DatasetFileError(
            f"{path}: missing arrays {missing}; a {info.name} file holds "
            f"x_train, y_train, x_test, y_test (Keras's layout). Replace the file."
        )
    for key, shape in expected.items():
        a = arrays[key]
        if a.shape != shape or a.dtype != np.uint8:
            raise DatasetFileError(
                f"{path}: {key} has shape {a.shape} and dtype {a.dtype}, expected "
                f"{shape} uint8. The file is not Keras's {info.name}.npz; replace it."
            )
    for key in ("y_train", "y_test"):
        if arrays[key].max() >= info.n_classes:
            raise DatasetFileError(
                f"{path}: {key} holds label {int(arrays[key].max())}, but {info.name} "
                f"has {info.n_classes} classes. Replace the file."
            )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def read_npz(path: Path | str, name: str = "mnist") -> Arrays:
    """Read and validate a dataset ``.npz`` in Keras's layout."""
    info = dataset_info(name)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, KeyError, NotImplementedError, zipfile.BadZipFile,
            zlib.error) as err:  # zlib.error: a corrupt compressed member
        raise DatasetFileError(
            f"{path}: cannot read it as a NumPy .npz archive ({err}). The file is "
            f"corrupt or truncated; delete it and download it again."
        ) from err
    return _check_arrays(path, arrays, info)


def _keras_download(name: str) -> Arrays:
    import keras  # imported late: the local-file path needs only NumPy

    loader = getattr(keras.datasets, name)
    return loader.load_data()


def load_dataset(name: str = "mnist") -> Arrays:
    """Return ``(x_train, y_train), (x_test, y_test)`` as uint8, like Keras does.

    Lookup order: ``$SGAN_DATA_DIR/<name>.npz``, then Keras's cache and normal
    download. If the variable is set but its folder lacks the file, a ``warning:``
    line on stderr says so before falling back. Offline with no file: a
    :class:`DatasetUnavailableError` that says which file to provide.
    """
    info = dataset_info(name)
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        folder = Path(data_dir).expanduser()
        path = folder / f"{name}.npz"
        if path.is_file():
            return read_npz(path, name)
        what = "holds no" if folder.is_dir() else "is not a folder, so it holds no"
        print(f"warning: {DATA_DIR_ENV}={data_dir} {what} {name}.npz; "
              f"trying Keras's cache (~/.keras/datasets) and a download instead.",
              file=sys.stderr, flush=True)
    try:  # Keras looks in its own cache (~/.keras/datasets) before downloading
        return _keras_download(name)
    except Exception as err:  # Keras raises assorted socket/URL/HTTP errors offline
        where = (
            f"{DATA_DIR_ENV}={data_dir} does not hold {name}.npz"
            if data_dir
            else f"{DATA_DIR_ENV} is not set"
        )
        raise DatasetUnavailableError(
            f"Cannot load {info.name}: {where}, and downloading it failed "
            f"({type(err).__name__}: {err}). Either connect to the internet, or put "
            f"{name}.npz (keys x_train, y_train, x_test, y_test) in a folder and set "
            f"{DATA_DIR_ENV} to that folder, e.g. export {DATA_DIR_ENV}=/path/to/data"
        ) from err


def load_mnist() -> Arrays:
    """MNIST digits, as ``keras.datasets.mnist.load_data()`` returns them."""
    return load_dataset("mnist")


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) in 0..255 -> float32 (N, 28, 28, 1) in [-1, 1].

    The generator ends in ``tanh``, so real images are scaled to the same range.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(
            f"preprocess expects raw uint8 pixels (0..255) as load_dataset returns them, "
            f"got dtype {images.dtype}. Were these images already scaled?"
        )
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[1:] != (28, 28, 1):
        raise ValueError(
            f"preprocess expects images of shape (N, 28, 28) or (N, 28, 28, 1), "
            f"got {images.shape}."
        )
    return (images.astype(np.float32) - 127.5) / 127.5


def check_model_input(images: np.ndarray) -> np.ndarray:
    """Check images are what our models take: float (N, 28, 28, 1) in [-1, 1]."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (28, 28, 1):
        raise ValueError(
            f"Models take images of shape (N, 28, 28, 1), got {images.shape}. "
            f"Use sgan_helpers.data.preprocess on raw images."
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"Models take float images in [-1, 1], got dtype {images.dtype}. "
            f"Use sgan_helpers.data.preprocess on raw uint8 images."
        )
    lo, hi = float(images.min(initial=0.0)), float(images.max(initial=0.0))
    if lo < -1.0 - 1e-6 or hi > 1.0 + 1e-6:
        raise ValueError(
            f"Models take pixels in [-1, 1], got values in [{lo:.3g}, {hi:.3g}]. "
            f"Scale raw pixels with sgan_helpers.data.preprocess."
        )
    return images.astype(np.float32, copy=False)


def select_supervised_indices(
    y: np.ndarray,
    n_labels: int,
    rng: np.random.Generator,
    n_classes: int = 10,
) -> np.ndarray:
    """Indices of ``n_labels`` examples, the same number per class, drawn without replacement.

    In class order; :func:`select_supervised` returns the images and labels at these
    indices (same ``rng``, same draw). A run folder stores them, so a baseline can be
    trained on the very same images.
    """
    if isinstance(n_labels, bool) or not isinstance(n_labels, (int, np.integer)):
        raise ValueError(f"n_labels must be a whole number, got {n_labels!r}.")
    if n_labels <= 0:
        raise ValueError(f"n_labels must be positive, got {n_labels}.")
    if n_labels % n_classes:
        raise ValueError(
            f"n_labels={n_labels} cannot be split evenly over {n_classes} classes; "
            f"use a multiple of {n_classes} (e.g. {max(n_classes, n_labels // n_classes * n_classes)})."
        )
    per_class = n_labels // n_classes
    y = np.asarray(y)
    for c in range(n_classes):  # check every class before drawing any
        count = int(np.count_nonzero(y == c))
        if per_class > count:
            raise ValueError(
                f"n_labels={n_labels} asks for {per_class} examples of class {c}, "
                f"but the data holds only {count}."
            )
    picks = [rng.choice(np.flatnonzero(y == c), size=per_class, replace=False) for c in range(n_classes)]
    return np.concatenate(picks)


def select_supervised(
    x: np.ndarray,
    y: np.ndarray,
    n_labels: int,
    rng: np.random.Generator,
    n_classes: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``n_labels`` labelled examples, the same number per class, without replacement.

    (The 2019 tutorial drew with replacement, so its "100 labels" could repeat an
    image.) Returns images and labels in class order; their indices in ``x``:
    :func:`select_supervised_indices`.
    """
    index = select_supervised_indices(y, n_labels, rng, n_classes)
    return x[index], y[index]


def digest(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of images (as stored, e.g. uint8) and their labels: which examples exactly."""
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()
                          + np.asarray(labels).astype(np.int64).tobytes()).hexdigest()


def real_batch(
    x: np.ndarray, y: np.ndarray | None, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """A random batch of ``n`` real examples (drawn with replacement, as in the tutorial)."""
    index = rng.integers(0, len(x), size=n)
    return x[index], (None if y is None else y[index])


def latent_points(n: int, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points from the standard normal latent space, float32 (n, latent_dim)."""
    return rng.standard_normal((n, latent_dim), dtype=np.float32)
