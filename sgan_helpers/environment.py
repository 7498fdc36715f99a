"""The notebooks' setup check: versions, where we run, where the data comes from."""

from __future__ import annotations

import os
import sys
from importlib import metadata

MIN_KERAS = (3, 9)  # pyproject's floor: loading imports no module outside Keras a file names
QUIET_TF_LOGS = "3"
"""``TF_CPP_MIN_LOG_LEVEL`` for our command line and child processes: TensorFlow's C++ logs off."""


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


def started_as_command() -> bool:
    """True in a process started as ``python -m sgan_experiments`` (or ``sgan_helpers``) or as ``sgan``."""
    argv = list(getattr(sys, "orig_argv", ()))
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1] in ("sgan_experiments", "sgan_helpers")
    return len(argv) > 1 and os.path.basename(argv[1]) == "sgan"


def quiet_tensorflow_import() -> None:
    """Import TensorFlow without its C++ log lines, unless the user set ``TF_CPP_MIN_LOG_LEVEL``.

    The level hides what TensorFlow logs once it runs; the lines it writes while its libraries
    load come before it reads the level, so file descriptor 2 points to the null device during
    the import. Python's own errors are raised after it is restored, and shown as usual.
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = QUIET_TF_LOGS
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def child_env() -> dict[str, str]:
    """The environment for a child Python process started from a notebook.

    The GPU is hidden (``CUDA_VISIBLE_DEVICES=""``): the notebook's kernel already holds its
    memory, and a second TensorFlow would fight it for the device. TensorFlow's C++ log lines
    are off, so the child prints only its own output.
    """
    return {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": QUIET_TF_LOGS}


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
        floor = ".".join(map(str, MIN_KERAS))
        raise RuntimeError(
            f"These notebooks need Keras {floor} or newer; found Keras {keras.__version__}. "
            f"Install the project's environment (README.md, Start here) or `pip install -U 'keras>={floor}'`."
        )
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"These notebooks use Keras's TensorFlow backend; KERAS_BACKEND is "
            f"{keras.backend.backend()!r}. Unset KERAS_BACKEND and restart the kernel."
        )
    return info
