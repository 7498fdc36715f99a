"""The improved recipe: Salimans et al.'s MLPs, weight normalisation, recipes, the supervised baseline."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from conftest import dtype_policy, n_changed, snapshot, tiny_config
from sgan_experiments.config import TrainConfig, recipe_config
from sgan_experiments.recipes import RECIPES
from sgan_experiments.trainer import SGANTrainer
from sgan_experiments.training import run_training
from sgan_helpers import evaluation
from sgan_helpers.improved import (
    FEATURES,
    HIDDEN,
    UniformLatent,
    WeightNormDense,
    data_dependent_init,
    mlp_discriminators,
    mlp_generator,
)


def test_weight_norm_dense_is_g_times_direction():
    layer = WeightNormDense(3)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    layer.build((None, 5))
    layer.scale.assign([2.0, 0.5, 1.0])
    layer.bias.assign([0.1, 0.0, -0.1])
    v = np.asarray(layer.kernel)
    w = v / np.linalg.norm(v, axis=0) * np.array([2.0, 0.5, 1.0])
    np.testing.assert_allclose(np.asarray(layer(x)), x @ w + [0.1, 0.0, -0.1], rtol=1e-5, atol=1e-6)
    # scaling the direction changes nothing: only g sets the length
    layer.kernel.assign(10 * v)
    np.testing.assert_allclose(np.asarray(layer(x)), x @ w + [0.1, 0.0, -0.1], rtol=1e-5, atol=1e-5)


def test_mlp_shapes_names_and_parameter_counts():
    d, c = mlp_discriminators()
    assert d.output_shape == (None, 1) and c.output_shape == (None, 10)
    widths = [784, *HIDDEN, 10]
    # per Dense layer: kernel + scale + bias
    assert c.count_params() == sum(a * b + 2 * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    assert c.get_layer(FEATURES).units == HIDDEN[-1]
    # hidden lengths are fixed (set by the initialisation), the last layer's is learned
    assert not c.get_layer("dense_1").scale.trainable and c.get_layer("class_logits").scale.trainable
    g = mlp_generator()
    assert g.output_shape == (None, 28, 28, 1)
    images = np.asarray(g(np.zeros((3, 100), "float32"), training=False))
    assert images.min() >= -1.0  # softplus >= 0, mapped like pixels: 0 -> -1


def test_noise_only_while_training():
    _, c = mlp_discriminators()
    x = np.zeros((2, 28, 28, 1), "float32")
    assert not np.array_equal(np.asarray(c(x, training=True)), np.asarray(c(x, training=True)))
    np.testing.assert_array_equal(np.asarray(c(x)), np.asarray(c(x)))
    _, quiet = mlp_discriminators(noise_scale=0.0)
    assert not any(isinstance(layer, keras.layers.GaussianNoise) for layer in quiet.layers)


def test_data_dependent_init_standardises_every_layer(small_mnist):
    from sgan_helpers.data import preprocess

    _, c = mlp_discriminators()
    x = preprocess(small_mnist[0][0][:500])
    data_dependent_init(c, x)
    for layer in c.layers:
        if isinstance(layer, WeightNormDense):
            h = keras.Model(c.input, layer.input)(x, training=False)
            pre = np.asarray(layer.pre_activation(h))
            np.testing.assert_allclose(pre.mean(axis=0), 0.0, atol=1e-3)
            np.testing.assert_allclose(pre.std(axis=0), 1.0, atol=1e-2)


def test_init_with_noise_standardises_the_noisy_signal(small_mnist):
    """init noise=True (Salimans et al.'s code): the noise counts in each layer's spread, so the clean
    images' pre-activations come out smaller than with noise=False."""
    from sgan_helpers.data import preprocess

    x = preprocess(small_mnist[0][0][:500])
    spreads = {}
    for noise in (False, True):
        keras.utils.set_random_seed(0)
        _, c = mlp_discriminators()
        data_dependent_init(c, x, noise=noise)
        first = c.get_layer("dense_1")
        clean = np.asarray(first.pre_activation(keras.Model(c.input, first.input)(x, training=False)))
        noisy = np.asarray(first.pre_activation(keras.Model(c.input, first.input)(x, training=True)))
        spreads[noise] = (clean.std(axis=0).mean(), noisy.std(axis=0).mean())
    assert abs(spreads[False][0] - 1.0) < 0.01 and abs(spreads[True][1] - 1.0) < 0.05
    assert spreads[True][0] < 0.9 * spreads[False][0]


def test_salimans_recipe_is_improved_with_noisy_init(small_mnist):
    assert RECIPES["salimans"].fields == {**RECIPES["improved"].fields, "init_noise": True}
    assert recipe_config("improved").init_noise is False
    with pytest.raises(ValueError, match="init_noise applies to architecture='mlp' only"):
        TrainConfig(init_noise=True)
    runs = {}
    for init_noise in (False, True):
        trainer = SGANTrainer(_mlp(init_noise=init_noise), data=small_mnist)
        runs[init_noise] = np.asarray(trainer.logits.get_layer("dense_1").scale)
    assert not np.allclose(runs[False], runs[True])  # the flag reaches the initialisation


def test_feature_matching_loss_is_the_squared_distance_of_means():
    from sgan_helpers.losses import feature_matching_loss

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(8, 5)).astype("float32"), rng.normal(size=(6, 5)).astype("float32")
    expected = np.mean((a.mean(axis=0) - b.mean(axis=0)) ** 2)
    assert float(feature_matching_loss(a, b)) == pytest.approx(expected, rel=1e-5)
    assert float(feature_matching_loss(a, a[::-1])) == pytest.approx(0.0, abs=1e-7)  # order-free


def test_uniform_latent_is_exactly_uniform_and_monotone():
    """Phi(z) of standard-normal points is uniform in [0, 1]: its known values, quantiles and moments."""
    layer = UniformLatent()
    known = np.asarray(layer(np.array([[-1.959964, 0.0, 1.0, 1.959964]], "float32")))
    np.testing.assert_allclose(known, [[0.025, 0.5, 0.841345, 0.975]], atol=1e-5)
    z = np.random.default_rng(3).standard_normal((200_000, 1), dtype=np.float32)
    u = np.asarray(layer(z)).ravel()
    assert u.min() > 0.0 and u.max() < 1.0
    np.testing.assert_allclose(np.quantile(u, [0.1, 0.25, 0.5, 0.75, 0.9]), [0.1, 0.25, 0.5, 0.75, 0.9],
                               atol=0.005)
    assert abs(u.mean() - 0.5) < 0.003 and abs(u.std() - 12 ** -0.5) < 0.003  # uniform's 1/sqrt(12)
    order = np.argsort(z.ravel()[:1000])
    assert np.all(np.diff(u[:1000][order]) >= 0)  # monotone: interpolations keep their order
    with dtype_policy("mixed_bfloat16"):
        assert UniformLatent().compute_dtype == "float32"  # no bfloat16 rounding of the points


def test_uniform_latent_generator_and_config():
    """latent="uniform": the same generator behind a UniformLatent layer; refused where it cannot apply."""
    plain, uniform = mlp_generator(), mlp_generator(latent="uniform")
    assert isinstance(uniform.get_layer("to_uniform"), UniformLatent)
    assert [w.shape for w in plain.weights] == [w.shape for w in uniform.weights]  # nothing else changes
    with pytest.raises(ValueError, match="latent must be one of"):
        mlp_generator(latent="sphere")
    assert recipe_config("salimans").latent == "normal"
    with pytest.raises(ValueError, match="latent applies to architecture='mlp' only"):
        TrainConfig(latent="uniform")
    with pytest.raises(ValueError, match="latent must be one of"):
        recipe_config("salimans", latent="sphere")
    old = {k: v for k, v in recipe_config("salimans").to_dict().items() if k != "latent"}
    assert TrainConfig.from_dict(old).latent == "normal", "older configs: standard-normal points"


def _bright_pixel_gradient(float32_output: bool) -> np.ndarray:
    """Under bfloat16, the gradient of the sigmoid generator's summed pixels with respect to the
    output layer's bias, with every pre-activation pushed to about +8 (bright, saturated pixels)."""
    import tensorflow as tf

    with dtype_policy("mixed_bfloat16"):
        g = mlp_generator(output="sigmoid", float32_output=float32_output)
    pixels = g.get_layer("g_pixels")
    assert pixels.compute_dtype == ("float32" if float32_output else "bfloat16")
    assert g.get_layer("g_dense_1").compute_dtype == "bfloat16"  # the rest follows the policy
    pixels.bias.assign(np.full(pixels.bias.shape, 8.0, "float32"))
    pixels.scale.assign(np.full(pixels.scale.shape, 1e-3, "float32"))
    z = np.random.default_rng(0).standard_normal((4, 100)).astype("float32")
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(tf.cast(g(z, training=True), "float32"))
    return np.asarray(tape.gradient(total, pixels.bias))


def test_float32_output_keeps_a_saturated_sigmoid_learning():
    """In bfloat16 sigmoid(x) rounds to exactly 1 from x ~ 6 on, and its gradient y (1 - y) to exactly 0:
    bright pixels stop learning (the collapse of the sigmoid generator). The float32 output layer keeps
    their gradient (sigmoid'(8) ~ 3.4e-4 per pixel and image, times 2 for the [-1, 1] rescaling)."""
    assert np.all(_bright_pixel_gradient(float32_output=False) == 0.0)
    kept = _bright_pixel_gradient(float32_output=True)
    np.testing.assert_allclose(kept, 4 * 2 * 3.35e-4, rtol=0.05)  # 4 images
    assert recipe_config("salimans").float32_output is False
    with pytest.raises(ValueError, match="float32_output applies to architecture='mlp' only"):
        TrainConfig(float32_output=True)
    old = {k: v for k, v in recipe_config("salimans").to_dict().items() if k != "float32_output"}
    assert TrainConfig.from_dict(old).float32_output is False, "older configs: the policy's dtype"


def test_adam_epsilon_sets_how_far_a_tiny_gradient_moves_a_weight(small_mnist):
    """Adam divides by sqrt(v) + epsilon. For a steady gradient g, Keras's step t moves a weight by
    lr * g / (|g| + epsilon / sqrt(1 - beta_2^t)): once t is large, a gradient of 1e-6 moves it by about a
    full learning rate with Keras's 1e-7, by about a hundredth of one with 1e-4 (about Salimans et al.'s)."""
    from sgan_helpers.discriminators import ADAM_EPSILON, make_optimizer

    lr, g = 1e-3, 1e-6
    for eps in (ADAM_EPSILON, 1e-4):
        w = keras.Variable(np.zeros(3, "float32"))
        opt = make_optimizer(learning_rate=lr, beta_1=0.5, epsilon=eps)
        before = 0.0
        for t in range(1, 6):
            opt.apply([keras.ops.full((3,), g)], [w])
            moved, before = before - float(np.asarray(w)[0]), float(np.asarray(w)[0])
            assert moved == pytest.approx(lr * g / (g + eps / np.sqrt(1 - 0.999 ** t)), rel=0.01)
    late = {eps: lr * g / (g + eps / np.sqrt(1 - 0.999 ** 10_000)) for eps in (ADAM_EPSILON, 1e-4)}
    assert late[ADAM_EPSILON] > 0.9 * lr and late[1e-4] < 0.01 * lr
    trainer = SGANTrainer(_mlp(adam_epsilon=1e-4), data=small_mnist)
    assert all(float(o.epsilon) == 1e-4 for o in (trainer.c_opt, trainer.d_opt, trainer.g_opt))
    assert recipe_config("salimans").adam_epsilon == ADAM_EPSILON == 1e-7
    old = {k: v for k, v in recipe_config("salimans").to_dict().items() if k != "adam_epsilon"}
    assert TrainConfig.from_dict(old).adam_epsilon == 1e-7, "older configs: Keras's default"
    for bad in (0, 1, -1e-4, True, "1e-4"):
        with pytest.raises(ValueError, match="adam_epsilon must be (a number|between 0 and 1)"):
            TrainConfig(adam_epsilon=bad)


def test_uniform_latent_reaches_training(small_mnist):
    """The trainer builds the uniform generator and trains it; the first layer the fakes see is uniform."""
    trainer = SGANTrainer(_mlp(latent="uniform"), data=small_mnist)
    inner = keras.Model(trainer.generator.input, trainer.generator.get_layer("to_uniform").output)
    u = np.asarray(inner(trainer.grid_latent))
    assert u.min() > 0.0 and u.max() < 1.0
    g0 = snapshot(trainer.gen_vars)
    trainer.train_step()
    assert n_changed(trainer.gen_vars, g0) == len(trainer.gen_vars)


def test_mlp_models_save_and_load_safely(tmp_path):
    _, c = mlp_discriminators()
    g = mlp_generator()
    for model, name in ((c, "c.keras"), (g, "g.keras"), (mlp_generator(latent="uniform"), "gu.keras")):
        model.save(tmp_path / name)
        loaded = evaluation.load_model(tmp_path / name)  # safe_mode=True
        z = np.random.default_rng(1).standard_normal((2, *model.input_shape[1:])).astype("float32")
        np.testing.assert_allclose(np.asarray(loaded(z)), np.asarray(model(z)), rtol=1e-6, atol=1e-6)


def test_recipes_are_valid_configs_and_options_override():
    for name in RECIPES:
        recipe_config(name)
    c = recipe_config("improved", learning_rate=1e-3)
    assert c.architecture == "mlp" and c.generator_loss == "feature_matching" and c.learning_rate == 1e-3
    with pytest.raises(ValueError, match="recipe must be one of"):
        recipe_config("best")


@pytest.mark.parametrize("bad, match", [
    (dict(architecture="resnet"), "architecture must be one of"),
    (dict(method="ssl"), "method must be one of"),
    (dict(lr_schedule="cosine"), "lr_schedule must be one of"),
    (dict(sampling="shuffle"), "sampling must be one of"),
    (dict(unlabelled_weight=-1.0), "unlabelled_weight must be 0 or more"),
    (dict(noise_scale=0.5), "noise_scale applies to architecture='mlp' only"),
])
def test_bad_options_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**bad)


def _mlp(**overrides):
    return tiny_config(**{**RECIPES["improved"].fields, "batch_size": 20, "ema_decay": None, **overrides})


def test_mlp_sgan_updates_touch_only_their_weights(small_mnist):
    trainer = SGANTrainer(_mlp(), data=small_mnist)
    d0, g0 = snapshot(trainer.disc_vars), snapshot(trainer.gen_vars)
    trainer.train_step()
    assert n_changed(trainer.disc_vars, d0) == len(trainer.disc_vars)
    assert n_changed(trainer.gen_vars, g0) == len(trainer.gen_vars)


def test_supervised_baseline_never_touches_the_generator(small_mnist):
    trainer = SGANTrainer(_mlp(method="supervised"), data=small_mnist)
    d0, g0 = snapshot(trainer.disc_vars), snapshot(trainer.gen_vars)
    for _ in range(3):
        out = trainer.train_step()
    assert set(out) == {"c_loss"}
    assert n_changed(trainer.disc_vars, d0) == len(trainer.disc_vars) and n_changed(trainer.gen_vars, g0) == 0


def test_unlabelled_weight_zero_is_the_classifier_loss_alone(small_mnist):
    """With weight 0 the combined D update follows the labelled loss only: its first step equals
    the baseline's first step on the same batch."""
    def first_step(**overrides):
        trainer = SGANTrainer(_mlp(lr_schedule="constant", noise_scale=0.0, **overrides), data=small_mnist)
        trainer._step_fn(*batch)
        return [np.asarray(v) for v in trainer.disc_vars]

    batch = SGANTrainer(_mlp(), data=small_mnist)._draw_batch()
    alone = first_step(method="supervised")
    gap = lambda vs: max(float(np.max(np.abs(a - b))) for a, b in zip(vs, alone, strict=True))  # noqa: E731
    # float rounding differs (one larger forward pass), and Adam can amplify it where a gradient is ~0;
    # a real contribution of the unlabelled loss moves weights by about the learning rate (3e-3)
    assert gap(first_step(unlabelled_weight=0.0)) < 2e-4
    assert gap(first_step(unlabelled_weight=0.5)) > 1e-3


def test_epochs_sampling_feeds_every_labelled_image_once_per_batch(small_mnist):
    """Salimans et al.'s batches: with as many labelled images as a half batch, every batch holds each
    of them once; the unlabelled half goes through the training images without repeats."""
    trainer = SGANTrainer(_mlp(n_labels=10, batch_size=20, sampling="epochs"), data=small_mnist)
    as_rows = lambda a: sorted(map(bytes, a.reshape(len(a), -1)))  # noqa: E731  (images as hashable rows)
    seen = []
    for _ in range(3):
        x_lab, y_lab, x_real, _, _ = trainer._draw_batch()
        assert as_rows(x_lab) == as_rows(trainer.x_sup) and sorted(y_lab) == sorted(trainer.y_sup)
        seen += as_rows(x_real)
        trainer.step += 1
    assert len(set(seen)) == len(seen) == 30, "no unlabelled image twice within a pass"
    random = SGANTrainer(_mlp(n_labels=10, batch_size=20), data=small_mnist)._draw_batch()
    assert len(set(as_rows(random[0]))) < 10, "with replacement, a batch repeats some labelled images"


def test_linear_schedule_holds_then_reaches_zero(small_mnist):
    trainer = SGANTrainer(_mlp(steps=8, lr_schedule="linear"), data=small_mnist)
    rates = []
    for _ in range(8):
        rates.append(float(trainer.d_opt.learning_rate))
        trainer.train_step()
    rates.append(float(trainer.d_opt.learning_rate))
    lr = trainer.config.learning_rate
    assert rates[:5] == pytest.approx([lr] * 5) and rates[-1] == pytest.approx(0.0)
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_baseline_run_folder_has_no_generator_and_the_same_labels(tmp_path, small_mnist):
    sgan = run_training(_mlp(), tmp_path / "sgan", data=small_mnist, progress=False)
    base = run_training(_mlp(method="supervised"), tmp_path / "base", data=small_mnist, progress=False)
    assert not (tmp_path / "base" / "generator.keras").exists()
    assert (tmp_path / "sgan" / "generator.keras").exists()
    a, b = (json.loads((tmp_path / d / "config.json").read_text()) for d in ("sgan", "base"))
    assert a["labelled_indices"] == b["labelled_indices"] and a["labelled_sha256"] == b["labelled_sha256"]
    assert base.history["epochs"][-1]["test_acc"] == pytest.approx(
        evaluation.accuracy(evaluation.load_classifier(tmp_path / "base" / "classifier.keras"),
                            base.x_test, base.y_test))
    assert sgan.config.method == "sgan" and base.config.method == "supervised"


def test_every_label_means_the_whole_training_set(small_mnist):
    trainer = SGANTrainer(_mlp(method="supervised", n_labels=3000), data=small_mnist)
    np.testing.assert_array_equal(trainer.sup_index, np.arange(3000))


def test_plain_package_import_registers_weight_norm(tmp_path):
    """A fresh process that imports only ``sgan_helpers`` loads an MLP classifier with safe_mode=True."""
    import os
    import subprocess
    import sys

    _, c = mlp_discriminators()
    c.save(tmp_path / "c.keras")
    code = ("import keras, sgan_helpers; m = keras.saving.load_model(r'%s', safe_mode=True); "
            "print(type(m.get_layer('features')).__name__)" % (tmp_path / "c.keras"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("WeightNormDense")
