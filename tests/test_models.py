"""Models: shapes, parameter counts, shared weights, the activation, saving with safe_mode."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from sgan_helpers import activation, discriminators, evaluation
from sgan_helpers.generator import build_generator

BODY = 1_280 + 147_584 + 147_584  # three convolutions
IMAGES = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")


def test_standard_discriminator():
    d = discriminators.standard_discriminator()
    assert d.output_shape == (None, 1)
    assert d.count_params() == BODY + 2_049 == 298_497
    p = np.asarray(d(IMAGES))
    assert np.all((p > 0) & (p < 1))


def test_shared_discriminators_share_the_body():
    d, c = discriminators.shared_discriminators()
    assert d.output_shape == (None, 1) and c.output_shape == (None, 10)
    assert d.count_params() == 298_497 and c.count_params() == BODY + 20_490
    assert d.get_layer("conv_2") is c.get_layer("conv_2")
    before = np.asarray(c(IMAGES))
    kernel = d.get_layer("conv_3").kernel
    kernel.assign(kernel * 2.0)
    assert not np.allclose(np.asarray(c(IMAGES)), before)


def test_multi_output_discriminator():
    m = discriminators.multi_output_discriminator()
    assert [tuple(s) for s in m.output_shape] == [(None, 1), (None, 11)]
    assert m.count_params() == 321_036
    _, p_class = m(IMAGES)
    assert np.allclose(np.asarray(p_class).sum(axis=1), 1.0, atol=1e-5)


def test_stacked_discriminators_share_everything():
    d, c = discriminators.stacked_discriminators()
    assert d.output_shape == (None, 1) and c.output_shape == (None, 10)
    assert d.count_params() == c.count_params() == 316_938
    assert all(a is b for a, b in zip(d.trainable_variables, c.trainable_variables, strict=True))
    logits = discriminators.logits_model(c)
    z = np.asarray(logits(IMAGES))
    assert np.allclose(np.asarray(d(IMAGES)), 1 / (1 + 1 / np.exp(z).sum(1, keepdims=True)), atol=1e-6)
    assert np.allclose(np.asarray(c(IMAGES)), np.asarray(tf.nn.softmax(z)), atol=1e-6)


def test_generator():
    g = build_generator()
    assert g.input_shape == (None, 100) and g.output_shape == (None, 28, 28, 1)
    assert g.count_params() == 633_472 + 262_272 * 2 + 6_273 == 1_164_289
    x = np.asarray(g(np.random.default_rng(0).standard_normal((3, 100)).astype("float32")))
    assert np.abs(x).max() <= 1.0


TUTORIAL_VALUES = {-10.0: 0.00013618124143106674, -1.0: 0.5246331135813284, 0.0: 0.75,
                   1.0: 0.890768227426964, 10.0: 0.9999848669190928}


@pytest.mark.parametrize("value, expected", TUTORIAL_VALUES.items())
def test_activation_reproduces_tutorial(value, expected):
    logits = np.full((1, 3), value)
    assert activation.naive_custom_activation(logits).item() == pytest.approx(expected, rel=1e-15)
    assert activation.stable_custom_activation(logits).item() == pytest.approx(expected, rel=1e-12)
    layer_value = float(activation.SumExpActivation()(logits.astype("float32"))[0, 0])
    assert layer_value == pytest.approx(expected, rel=1e-6)


def test_activation_stable_for_large_logits():
    big = np.full((2, 10), 100.0, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.all(np.isnan(activation.naive_custom_activation(big)))
    assert np.all(np.asarray(activation.SumExpActivation()(big)) == 1.0)
    tiny = np.full((2, 10), -500.0, np.float32)
    out = np.asarray(activation.SumExpActivation()(tiny))
    assert np.all(np.isfinite(out)) and np.all(out >= 0) and np.all(out < 1e-30)


def test_activation_gradient_matches_analytic_and_is_finite():
    logits = tf.Variable(np.array([[300.0, 2.0, -4.0], [0.3, -0.7, 1.1], [-90.0, -95.0, -99.0]],
                                  np.float32))
    layer = activation.SumExpActivation()
    with tf.GradientTape() as tape:
        d = layer(logits)
    grad = tape.gradient(d, logits).numpy()
    analytic = (d * (1 - d)).numpy() * tf.nn.softmax(logits).numpy()
    assert np.all(np.isfinite(grad)) and np.allclose(grad, analytic, atol=1e-7)


def test_activation_output_shape():
    inputs = keras.Input((10,))
    assert activation.SumExpActivation()(inputs).shape == (None, 1)


def test_keras_round_trip_safe_mode(tmp_path):
    d, c = discriminators.stacked_discriminators()
    for model, name in ((d, "d.keras"), (c, "c.keras")):
        model.save(tmp_path / name)
        loaded = keras.saving.load_model(tmp_path / name, safe_mode=True)
        assert np.allclose(np.asarray(loaded(IMAGES)), np.asarray(model(IMAGES)), atol=1e-6)
        assert "Lambda" not in {type(layer).__name__ for layer in loaded.layers}


def test_load_model_errors(tmp_path):
    with pytest.raises(evaluation.ModelFileError, match="no such file"):
        evaluation.load_model(tmp_path / "missing.keras")
    text = tmp_path / "notes.keras"
    text.write_text("not a model")
    with pytest.raises(evaluation.ModelFileError, match="not a Keras 3 model"):
        evaluation.load_model(text)
    h5 = tmp_path / "c_model_7200.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(evaluation.ModelFileError, match=r"\.h5 files are not supported"):
        evaluation.load_model(h5)
    import zipfile

    fake = tmp_path / "empty.keras"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(evaluation.ModelFileError, match="could not load"):
        evaluation.load_model(fake)


def test_load_classifier_rejects_generator(tmp_path):
    g = build_generator()
    g.save(tmp_path / "generator.keras")
    with pytest.raises(evaluation.ModelFileError, match="Is it the generator"):
        evaluation.load_classifier(tmp_path / "generator.keras")


def test_evaluation_helpers():
    labels = np.array([0, 1, 2, 2, 1])
    predicted = np.array([0, 2, 2, 2, 1])
    m = evaluation.confusion_matrix(labels, predicted, 3)
    assert m.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 2]]
    assert evaluation.per_class_accuracy(m).tolist() == [1.0, 0.5, 1.0]
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert evaluation.most_confident_mistakes(proba, np.array([0, 0, 1, 1]), k=5).tolist() == [1, 2]


def test_layer_signature_tells_architectures_apart():
    a = discriminators.layer_signature(discriminators.standard_discriminator())
    assert a == discriminators.layer_signature(discriminators.standard_discriminator())
    assert a == discriminators.layer_signature(discriminators.shared_discriminators()[0])  # same D
    assert a != discriminators.layer_signature(discriminators.stacked_discriminators()[0])


def test_importing_the_package_registers_the_activation(tmp_path):
    """A fresh process loads a model holding SumExpActivation after a plain ``import sgan_helpers``."""
    import os
    import subprocess
    import sys

    d, _ = discriminators.stacked_discriminators()
    d.save(tmp_path / "d.keras")
    script = ("import keras\n"
              "for safe in (True, False):  # from Keras 3.9 on, neither imports the layer's module\n"
              "    try:\n"
              f"        keras.saving.load_model({str(tmp_path / 'd.keras')!r}, safe_mode=safe)\n"
              "        print('loaded without the package')\n"
              "    except Exception:\n"
              "        print('refused without the package')\n"
              "import sgan_helpers\n"
              f"keras.saving.load_model({str(tmp_path / 'd.keras')!r}, safe_mode=True)\n"
              "print('loaded after import sgan_helpers')\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    expected = ["refused without the package"] * 2 + ["loaded after import sgan_helpers"]
    assert out.stdout.splitlines() == expected, out.stderr[-2000:]


def test_classifier_score_runs_from_one_to_the_number_of_classes():
    certain_even = np.eye(10)[np.arange(100) % 10]
    assert evaluation.classifier_score(certain_even) == pytest.approx(10.0, rel=1e-6)
    assert evaluation.classifier_score(np.full((50, 10), 0.1)) == pytest.approx(1.0)
    one_class = np.eye(10)[np.zeros(30, int)]  # sure of every image, but every image is a 0
    assert evaluation.classifier_score(one_class) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="shape"):
        evaluation.classifier_score(np.ones(10))
