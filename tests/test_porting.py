"""docs/porting.md's table: each Keras 2 line behaves on the installed Keras 3 as the table says."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest


def test_adam_no_longer_takes_lr():
    with pytest.raises(ValueError, match="lr"):
        keras.optimizers.Adam(lr=0.0002, beta_1=0.5)
    assert float(keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5).learning_rate) == pytest.approx(2e-4)


def test_leaky_relu_alpha_warns_and_computes_the_same():
    probe = np.array([[-1.0, 2.0]], "float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = keras.layers.LeakyReLU(alpha=0.2)
    assert caught and np.array_equal(old(probe), keras.layers.LeakyReLU(negative_slope=0.2)(probe))


def test_vis_utils_and_backend_math_are_gone():
    with pytest.raises(ModuleNotFoundError):
        from keras.utils.vis_utils import plot_model  # noqa: F401
    assert callable(keras.utils.plot_model)
    assert not hasattr(keras.backend, "exp") and not hasattr(keras.backend, "sum")


def test_predict_on_batch_gives_predicts_images():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    z = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(z, verbose=0), model.predict_on_batch(z), rtol=1e-6)


def test_h5_files_still_save_and_load(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(tmp_path / "c_model.h5")
    loaded = keras.saving.load_model(tmp_path / "c_model.h5", compile=False)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True))
