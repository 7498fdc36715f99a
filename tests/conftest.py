"""Shared fixtures. Tests read MNIST from $SGAN_DATA_DIR (CI sets it) or Keras's cache."""

from __future__ import annotations

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
    from sgan_helpers.training import TrainConfig

    options = dict(steps=6, steps_per_epoch=3, checkpoint_every=2, log_every=2, eval_train=False)
    options.update(overrides)
    return TrainConfig(**options)


def snapshot(variables) -> list[np.ndarray]:
    return [v.numpy() for v in variables]


def n_changed(variables, before) -> int:
    return sum(not np.array_equal(v.numpy(), b) for v, b in zip(variables, before, strict=True))
