"""The 2019 tutorial's training order on Keras 3: does its classifier learn?

    python benchmarks/verbatim_tutorial.py [--steps 200] [--fixed]

Builds the tutorial's compiled models in its order (``d_model.trainable = False``
before the composite GAN), runs its train_on_batch loop, then prints test accuracy,
whether any classifier weight changed and how many generator weight tensors changed
(under Keras 3 the classifier learns nothing, the generator still trains).
``--fixed`` runs the Keras 3-correct loop.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from sgan_helpers import data  # noqa: E402
from sgan_helpers.tutorial_style import TutorialStyleSGAN  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--fixed", action="store_true", help="toggle trainable around the G update")
    args = parser.parse_args()
    keras.utils.set_random_seed(1)
    (x, y), (x_test, y_test) = data.load_mnist()
    x, x_test = data.preprocess(x), data.preprocess(x_test)
    x_sup, y_sup = data.select_supervised(x, y, 100, np.random.default_rng(0))
    sgan = TutorialStyleSGAN(x, x_sup, y_sup, np.random.default_rng(1), keras3_fix=args.fixed)
    before = [w.numpy() for w in sgan.c_model.weights]
    g_before = [w.numpy() for w in sgan.g_model.trainable_weights]
    for _ in range(args.steps):
        sgan.step()
    acc = float(np.mean(sgan.c_model.predict(x_test, verbose=0).argmax(1) == y_test))
    unchanged = all(np.array_equal(b, w.numpy()) for b, w in zip(before, sgan.c_model.weights, strict=True))
    g_changed = sum(not np.array_equal(b, w.numpy())
                    for b, w in zip(g_before, sgan.g_model.trainable_weights, strict=True))
    print(f"{'fixed' if args.fixed else 'verbatim'} order, {args.steps} steps: test accuracy "
          f"{100 * acc:.2f}%, classifier weights unchanged: {unchanged}, "
          f"generator tensors changed: {g_changed} of {len(g_before)}")


if __name__ == "__main__":
    main()
