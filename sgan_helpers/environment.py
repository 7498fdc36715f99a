"""The notebooks' setup check: versions, where we run, where the data comes from."""

from __future__ import annotations

import os
import sys
from importlib import metadata

MIN_KERAS = (3, 0)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def where_am_i() -> str:
    """'colab', 'binder' or 'local'."""
    if "google.colab" in sys.modules:
        return "colab"
    if "BINDER_SERVICE_HOST" in os.environ or "BINDER_REQUEST" in os.environ:
        return "binder"
    return "local"


def check_environment(verbose: bool = True) -> dict[str, str | None]:
    """Print and return the versions that matter; fail early with advice if Keras is < 3."""
    import keras
    import numpy
    import tensorflow as tf

    from .data import DATA_DIR_ENV

    info = {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras backend": keras.backend.backend(),
        "numpy": numpy.__version__,
        "matplotlib": _version("matplotlib"),
        "sgan_helpers": _version("sgan-helpers"),
        "running on": where_am_i(),
        "data": os.environ.get(DATA_DIR_ENV) or "Keras download/cache (~/.keras/datasets)",
    }
    if verbose:
        for key, value in info.items():
            print(f"{key:>14}: {value}")
    major_minor = tuple(int(p) for p in keras.__version__.split(".")[:2])
    if major_minor < MIN_KERAS:
        raise RuntimeError(
            f"These notebooks need Keras 3 or newer; found Keras {keras.__version__}. "
            f"Install the project's environment (see README) or `pip install -U 'keras>=3'`."
        )
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"These notebooks use Keras's TensorFlow backend; KERAS_BACKEND is "
            f"{keras.backend.backend()!r}. Unset KERAS_BACKEND and restart the kernel."
        )
    return info
