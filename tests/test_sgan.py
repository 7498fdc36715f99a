"""The Keras-model SGAN of notebook 07: the trainer's step, trained with fit and callbacks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import tiny_config
from sgan_experiments.recipes import RECIPES
from sgan_experiments.trainer import SGANTrainer
from sgan_helpers import data, discriminators, files, generator, sgan
from sgan_helpers.callbacks import AverageWeights, Evaluate, SampleGrids, history_record

VARIANTS = {  # the trainer's config -> the model class whose train_step it runs, and G's loss
    "tutorial": ({}, sgan.SGAN, sgan.fool_the_discriminator),
    "tutorial-feature-matching": ({"generator_loss": "feature_matching"}, sgan.SGAN, sgan.feature_matching),
    "combined": ({"schedule": "combined"}, sgan.CombinedSGAN, sgan.fool_the_discriminator),
    "supervised": ({"method": "supervised"}, sgan.SupervisedBaseline, sgan.fool_the_discriminator),
    "improved-mlp": ({**RECIPES["improved"].fields, "batch_size": 20}, sgan.CombinedSGAN,
                     sgan.feature_matching),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_the_trainer_runs_the_models_train_step(small_mnist, name):
    """The command line's trainer steps with the very ``train_step`` notebook 07 shows (test_reproduce.py
    checks that its numbers are the stored runs'); it feeds the latent points it drew with the batch."""
    fields, cls, generator_loss = VARIANTS[name]
    trainer = SGANTrainer(tiny_config(**fields), data=small_mnist)
    assert type(trainer.model) is cls and trainer.model.generator_loss is generator_loss
    assert trainer.model.logits is trainer.logits and trainer.model.generator is trainer.generator
    seen = []
    real_step = trainer.model.train_step
    trainer.model.train_step = lambda data: seen.append(data) or real_step(data)
    logs = trainer.train_step()
    assert len(seen) == 1 and trainer.step == 1  # traced once, through the model's step
    assert "c_loss" in logs
    assert cls is sgan.SupervisedBaseline or {"d_real", "d_fake", "g_loss"} <= set(logs)
    again = trainer.train_step()
    assert again != logs, "each step reports its own losses (the trackers restart at every step)"


def _tiny_fit(small_mnist, seed: int = 1, epochs: int = 2):
    (x_train, y_train), (x_test, y_test) = small_mnist
    x_train, x_test = data.preprocess(x_train), data.preprocess(x_test)
    keras.utils.set_random_seed(seed)
    model = sgan.SGAN(discriminators.stacked_discriminators()[1], generator.build_generator(), seed=seed)
    model.compile(*(discriminators.make_optimizer() for _ in range(3)))
    average = AverageWeights(0.99)
    grids = SampleGrids(np.random.default_rng(seed).standard_normal((4, generator.LATENT_DIM)))
    batches = sgan.sgan_batches(x_train[:20], y_train[:20], x_train, half_batch=10, seed=seed)
    history = model.fit(batches, epochs=epochs, steps_per_epoch=3, verbose=0, shuffle=False,
                        callbacks=[average, Evaluate(x_test[:200], y_test[:200], x_train[:20], y_train[:20],
                                                     average, verbose=False), grids])
    return model, average, grids, history


@pytest.fixture(scope="module")
def fitted(small_mnist):
    """One tiny fit shared by the tests below (each fit costs seconds of tracing)."""
    return _tiny_fit(small_mnist)


def test_fit_with_callbacks_records_what_notebook_08_reads(fitted, small_mnist, tmp_path):
    model, average, grids, history = fitted
    record = history_record(history)
    assert [r["step"] for r in record["epochs"]] == [3, 6]
    assert {"c_loss", "d_real", "d_fake", "g_loss", "test_acc", "ema_test_acc", "labelled_acc"} <= set(
        record["epochs"][0])
    assert [step for step, _ in grids.grids] == [3, 6] and grids.grids[0][1].shape == (4, 28, 28, 1)
    raw, averaged = model.classifier.get_weights(), average.classifier.get_weights()
    assert not all(np.array_equal(a, b) for a, b in zip(raw, averaged, strict=True))  # a real average
    path = files.save_model(average.classifier, tmp_path / "classifier.keras")
    loaded = keras.saving.load_model(path, safe_mode=True)
    probe = data.preprocess(small_mnist[1][0][:50])
    np.testing.assert_array_equal(loaded.predict(probe, verbose=0),
                                  average.classifier.predict(probe, verbose=0))


def test_fit_is_reproducible_from_its_seed(fitted, small_mnist):
    first, second = fitted[0], _tiny_fit(small_mnist)[0]
    for a, b in zip(first.classifier.get_weights() + first.generator.get_weights(),
                    second.classifier.get_weights() + second.generator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_sgan_batches_are_seeded_and_checked():
    x = np.arange(40, dtype="float32").reshape(10, 2, 2, 1)
    y = np.arange(10) % 2
    (xl, yl), xr = next(sgan.sgan_batches(x, y, x, half_batch=4, seed=3))
    (xl2, yl2), xr2 = next(sgan.sgan_batches(x, y, x, half_batch=4, seed=3))
    assert xl.shape == xr.shape == (4, 2, 2, 1) and yl.dtype == np.int64
    np.testing.assert_array_equal(xl, xl2)
    np.testing.assert_array_equal(xr, xr2)
    with pytest.raises(ValueError, match="10 labelled images but 9 labels"):
        next(sgan.sgan_batches(x, y[:9], x))
