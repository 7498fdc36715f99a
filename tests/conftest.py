"""Shared fixtures. Tests read MNIST from $SGAN_DATA_DIR (CI sets it) or Keras's cache."""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def mnist():
    from sgan_helpers.data import DatasetUnavailableError, load_dataset

    try:
        return load_dataset("mnist")
    except DatasetUnavailableError as err:
        if os.environ.get("CI"):
            raise  # CI must never skip these silently
        pytest.skip(f"MNIST not available offline: {err}")


@pytest.fixture(scope="session")
def small_mnist(mnist):
    """A small, class-balanced slice for fast training tests (3,000 train, 1,000 test)."""
    (x_train, y_train), (x_test, y_test) = mnist
    return (x_train[:3000], y_train[:3000]), (x_test[:1000], y_test[:1000])


def tiny_config(**overrides):
    from sgan_experiments.config import TrainConfig

    # float32 without XLA unless a test asks: the same numbers and no compile time on every machine
    # ("auto" would pick bfloat16 or XLA by CPU class; tests/test_speed.py covers that choice).
    # A batch of 20 instead of 100: what these tests check (which weights move, bit-exact resume,
    # files) does not depend on the batch size, and each step costs a fifth.
    options = dict(steps=6, steps_per_epoch=3, checkpoint_every=2, log_every=2, eval_train=False,
                   precision="float32", jit_compile=False, batch_size=20)
    options.update(overrides)
    return TrainConfig(**options)


def write_corrupt_compressed_npz(path) -> None:
    """A dataset-layout ``.npz`` whose compressed ``x_train`` member is not a valid deflate stream
    (reading it raises ``zlib.error`` inside NumPy)."""
    import zipfile

    np.savez_compressed(path, x_train=np.zeros((60_000, 28, 28), np.uint8),
                        y_train=np.zeros(60_000, np.uint8), x_test=np.zeros((10_000, 28, 28), np.uint8),
                        y_test=np.zeros(10_000, np.uint8))
    with zipfile.ZipFile(path) as z:
        offset = z.getinfo("x_train.npy").header_offset
    raw = bytearray(path.read_bytes())
    name_len, extra_len = (int.from_bytes(raw[offset + i:offset + i + 2], "little") for i in (26, 28))
    start = offset + 30 + name_len + extra_len
    raw[start:start + 4] = b"\xff" * 4  # a deflate block of the reserved type 11
    path.write_bytes(bytes(raw))


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras's global dtype policy set to ``name`` inside the block, restored after it."""
    import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def trainer_state(trainer) -> dict[str, np.ndarray]:
    """Everything a trainer's checkpoint holds (weights, optimizer states, the weight average), as arrays."""
    return {k: v.numpy() for k, v in trainer.checkpoint_variables().items()}


def assert_same_state(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def snapshot(variables) -> list[np.ndarray]:
    return [v.numpy() for v in variables]


def n_changed(variables, before) -> int:
    return sum(not np.array_equal(v.numpy(), b) for v, b in zip(variables, before, strict=True))


def load_script(relative_path: str):
    """A tool script of this repository (benchmarks/, tools/) imported as a module, by its path."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
