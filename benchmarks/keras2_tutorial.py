"""The anchor: the 2019 tutorial's training loop on Keras 2, timed.

    make keras2-venv      # builds .venv-keras2: tensorflow-cpu + tf_keras (Keras 2), nothing of ours
    .venv-keras2/bin/python benchmarks/keras2_tutorial.py --steps 30

This is what a reader who runs the tutorial today gets on Keras 2 (``tf_keras``, the
Keras 2 that TensorFlow still ships): the same four compiled models built the same
way (a ``Lambda`` layer for D's activation, ``d_model.trainable = False`` before the
composite GAN is compiled — correct on Keras 2, which fixes trainability at
``compile``), and the same per-step calls: ``c_model.train_on_batch``, two
``d_model.train_on_batch``, fakes from ``generator.predict``, ``gan_model.train_on_batch``,
with NumPy's global ``randint``/``randn`` sampling. Written for this project (the
tutorial's code itself is not copied); ``benchmarks/speed.py`` runs it beside the
Keras 3 variants and prints the ratio. Prints one JSON line: steps/s and peak RSS.

One Keras 2 fact found on the way: ``tf_keras`` 2.21 *ignores* the tutorial's
``Adam(lr=0.0002)`` with a warning and trains at the default 0.001; this script passes
``learning_rate`` so the arithmetic is the tutorial's (the speed does not depend on it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tf.keras -> Keras 2 (tf_keras)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras import backend as K  # noqa: E402
from tf_keras import layers  # noqa: E402

LATENT = 100


def sum_exp_activation(x):
    """The tutorial's D output: Z / (Z + 1) with Z = sum(exp(logits)), via the Keras 2 backend."""
    z = K.sum(K.exp(x), axis=-1, keepdims=True)
    return z / (z + 1.0)


def adam():
    return keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5)


def discriminators(n_classes: int = 10):
    image = layers.Input(shape=(28, 28, 1))
    h = image
    for _ in range(3):
        h = layers.Conv2D(128, 3, strides=2, padding="same")(h)
        h = layers.LeakyReLU(alpha=0.2)(h)
    h = layers.Dropout(0.4)(layers.Flatten()(h))
    logits = layers.Dense(n_classes)(h)
    c_model = keras.Model(image, layers.Activation("softmax")(logits))
    c_model.compile(loss="sparse_categorical_crossentropy", optimizer=adam(), metrics=["accuracy"])
    d_model = keras.Model(image, layers.Lambda(sum_exp_activation)(logits))
    d_model.compile(loss="binary_crossentropy", optimizer=adam())
    return d_model, c_model


def generator():
    z = layers.Input(shape=(LATENT,))
    h = layers.LeakyReLU(alpha=0.2)(layers.Dense(128 * 7 * 7)(z))
    h = layers.Reshape((7, 7, 128))(h)
    for _ in range(2):
        h = layers.Conv2DTranspose(128, 4, strides=2, padding="same")(h)
        h = layers.LeakyReLU(alpha=0.2)(h)
    return keras.Model(z, layers.Conv2D(1, 7, activation="tanh", padding="same")(h))


def composite(g_model, d_model):
    d_model.trainable = False  # Keras 2: frozen for this model only, fixed at compile()
    gan = keras.Model(g_model.input, d_model(g_model.output))
    gan.compile(loss="binary_crossentropy", optimizer=adam())
    return gan


def load_images():
    folder = os.environ.get("SGAN_DATA_DIR")
    if folder and (Path(folder) / "mnist.npz").is_file():
        with np.load(Path(folder) / "mnist.npz") as f:
            x, y = f["x_train"], f["y_train"]
    else:
        (x, y), _ = keras.datasets.mnist.load_data()
    return (np.expand_dims(x, -1).astype("float32") - 127.5) / 127.5, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    args = parser.parse_args()
    np.random.seed(1)
    x, y = load_images()
    picks = np.concatenate([np.flatnonzero(y == c)[np.random.randint(0, (y == c).sum(), 10)]
                            for c in range(10)])
    x_sup, y_sup = x[picks], y[picks]
    d_model, c_model = discriminators()
    g_model = generator()
    gan = composite(g_model, d_model)
    half, batch = 50, 100

    def step():
        i = np.random.randint(0, len(x_sup), half)
        c_model.train_on_batch(x_sup[i], y_sup[i])
        d_model.train_on_batch(x[np.random.randint(0, len(x), half)], np.ones((half, 1)))
        fakes = g_model.predict(np.random.randn(half * LATENT).reshape(half, LATENT), verbose=0)
        d_model.train_on_batch(fakes, np.zeros((half, 1)))
        gan.train_on_batch(np.random.randn(batch * LATENT).reshape(batch, LATENT), np.ones((batch, 1)))

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - start
    print(json.dumps({"steps_per_s": args.steps / seconds, "keras": keras.__version__,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
