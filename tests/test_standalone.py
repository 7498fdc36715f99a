"""Shipped models stand alone: plain Keras loads them, in a process that never imports this project."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sgan_helpers import data
from sgan_helpers.environment import child_env

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["mnist_100labels", "mnist_100labels_improved"]

# Loads a classifier and a generator with plain Keras and safe_mode=True; prints one JSON line.
PLAIN_LOAD = textwrap.dedent("""
    import json, sys
    import keras, numpy as np
    run, images = sys.argv[1], np.load(sys.argv[2])
    classifier = keras.saving.load_model(run + "/classifier.keras", safe_mode=True)
    predicted = classifier.predict(images, batch_size=1000, verbose=0).argmax(axis=1)
    try:
        keras.saving.load_model(run + "/generator.keras", safe_mode=True)
        generator = "loads"
    except Exception as err:
        generator = str(err)
    out = {"predicted": predicted.tolist(), "generator": generator,
           "imported_project": "sgan_helpers" in sys.modules}
    import sgan_helpers  # what the README says a generator with custom layers needs
    keras.saving.load_model(run + "/generator.keras", safe_mode=True)
    print(json.dumps(out))
""")


def test_weight_norm_folds_into_plain_dense_layers():
    import keras

    from sgan_experiments.export import standalone
    from sgan_helpers.improved import WeightNormDense, data_dependent_init, mlp_discriminators, mlp_generator

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    _, classifier = mlp_discriminators()
    data_dependent_init(classifier, x)
    generator = mlp_generator(latent="uniform")
    z = rng.standard_normal((64, 100)).astype("float32")
    for model, inputs in ((classifier, x), (generator, z)):
        plain = standalone(model)
        assert not any(isinstance(layer, WeightNormDense) for layer in plain.layers)
        assert [layer.name for layer in plain.layers] == [layer.name for layer in model.layers]
        np.testing.assert_allclose(np.asarray(plain(inputs)), np.asarray(model(inputs)), atol=2e-5)
    cnn = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert standalone(cnn) is cnn  # nothing to fold


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_load_with_plain_keras(name, mnist, tmp_path):
    """Each shipped classifier loads in a clean process with plain Keras (safe_mode=True) and scores
    exactly the test accuracy its history records; the generators load too, the improved one's after
    ``import sgan_helpers`` (its first layer maps normal to uniform points), as the README says."""
    run = ROOT / "pretrained" / name
    _, (x_test, y_test) = mnist
    np.save(tmp_path / "test.npy", data.preprocess(x_test))
    env = child_env()
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-c", PLAIN_LOAD, str(run), str(tmp_path / "test.npy")],
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["imported_project"] is False
    history = json.loads((run / "history.json").read_text())["epochs"][-1]
    saved = history["ema_test_acc" if "ema_test_acc" in history else "test_acc"]
    hits = int(np.sum(np.asarray(out["predicted"]) == np.asarray(y_test)))
    assert hits == round(saved * len(y_test))
    custom = json.loads((run / "config.json").read_text())["config"].get("latent") == "uniform"
    if custom:
        assert "UniformLatent" in out["generator"]
        assert "run `import sgan_helpers` before loading it" in (ROOT / "README.md").read_text()
    else:
        assert out["generator"] == "loads"


def test_shipped_models_are_written_by_the_oldest_allowed_keras():
    """Keras reads files from older releases, not newer ones, so every shipped model is saved by the
    Keras release that ``pyproject.toml`` names as its floor (``make portable-models`` does that)."""
    floor = re.search(r'"keras>=([\d.]+)', (ROOT / "pyproject.toml").read_text()).group(1)
    for path in sorted((ROOT / "pretrained").glob("*/*.keras")):
        with zipfile.ZipFile(path) as archive:
            written = json.loads(archive.read("metadata.json"))["keras_version"]
        assert written.split(".")[:2] == floor.split(".")[:2], (
            f"{path.relative_to(ROOT)} was saved by Keras {written}; run `make portable-models`")


@pytest.mark.slow
def test_command_line_prints_only_its_own_lines(tmp_path):
    """No TensorFlow C++ log line reaches the terminal unless TF_CPP_MIN_LOG_LEVEL asks for them."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "sgan_helpers", "evaluate", str(tmp_path / "missing.keras")]
    quiet = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert quiet.returncode == 1
    assert quiet.stderr.strip().splitlines() == [next(ln for ln in quiet.stderr.splitlines()
                                                      if ln.startswith("error:"))]
    loud = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert loud.returncode == 1 and len(loud.stderr.strip().splitlines()) > 1
