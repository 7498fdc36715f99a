"""The Keras-model SGAN of notebook 07: the trainer's step exactly, trained with fit and callbacks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import assert_same_state, tiny_config, trainer_state
from sgan_experiments.training import SGANTrainer
from sgan_helpers import data, discriminators, files, generator, sgan
from sgan_helpers.callbacks import AverageWeights, Evaluate, SampleGrids, history_record
from sgan_helpers.improved import FEATURES

VARIANTS = {  # the trainer's config -> the model class that must compute the same step
    "tutorial": ({}, sgan.SGAN),
    "tutorial-feature-matching": ({"generator_loss": "feature_matching"}, sgan.SGAN),
    "combined": ({"schedule": "combined"}, sgan.CombinedSGAN),
    "supervised": ({"method": "supervised"}, sgan.SupervisedBaseline),
    "improved-mlp": ({"recipe_fields": "improved", "batch_size": 20}, sgan.CombinedSGAN),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_train_step_computes_the_trainers_step_exactly(small_mnist, name):
    """Same weights, optimizer states, dropout seeds, batch and latent points: the same numbers,
    bit for bit."""
    from sgan_experiments.training import RECIPES

    fields, cls = VARIANTS[name]
    fields = dict(fields)
    recipe = RECIPES[fields.pop("recipe_fields")].fields if "recipe_fields" in fields else {}
    trainer = SGANTrainer(tiny_config(**{**recipe, **fields}), data=small_mnist)
    config = trainer.config
    step = {"tutorial": trainer._tutorial_step, "combined": trainer._combined_step}[config.schedule]
    step = trainer._supervised_step if config.method == "supervised" else step
    batch = trainer._draw_batch()
    before = trainer_state(trainer)
    step(*batch)  # eagerly, as train_step below
    expected = trainer_state(trainer)
    for key, v in trainer.checkpoint_variables().items():  # back to the state before the step
        v.assign(before[key])

    extra = {"unlabelled_weight": config.unlabelled_weight} if cls is sgan.CombinedSGAN else {}
    model = cls(trainer.c_model, trainer.generator, features=FEATURES if config.architecture == "mlp"
                else "dropout", **extra)
    model.compile(trainer.c_opt, trainer.d_opt, trainer.g_opt,
                  generator_loss=sgan.feature_matching if config.generator_loss == "feature_matching"
                  else sgan.fool_the_discriminator)
    x_lab, y_lab, x_real, z_fake, z_gen = batch
    latent = iter([z_fake, z_gen])
    model.latent_points = lambda n: next(latent)  # the trainer's latent points, in the order it drew them
    logs = model.train_step(((x_lab, y_lab), x_real))
    assert_same_state(trainer_state(trainer), expected)
    assert "c_loss" in logs and (cls is sgan.SupervisedBaseline or "g_loss" in logs)


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


def test_fit_with_callbacks_records_what_notebook_08_reads(small_mnist, tmp_path):
    model, average, grids, history = _tiny_fit(small_mnist)
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


def test_fit_is_reproducible_from_its_seed(small_mnist):
    first, second = _tiny_fit(small_mnist, epochs=1)[0], _tiny_fit(small_mnist, epochs=1)[0]
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
