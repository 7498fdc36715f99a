"""Keras callbacks for :mod:`sgan_helpers.sgan`'s models: the weight average, evaluation, sample grids.

They do what a training loop would do between steps, so that ``model.fit`` stays the whole loop::

    average = AverageWeights(0.999)
    history = sgan.fit(batches, epochs=5, steps_per_epoch=120,
                       callbacks=[average, Evaluate(x_test, y_test, x_lab, y_lab, average), SampleGrids(z)])
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .averaging import WeightAverage
from .discriminators import logits_model
from .evaluation import accuracy


class AverageWeights(keras.callbacks.Callback):
    """After every step, one update of a moving average of the classifier's weights
    (:class:`~sgan_helpers.averaging.WeightAverage`); :attr:`classifier` is the averaged classifier."""

    def __init__(self, decay: float = 0.999) -> None:
        super().__init__()
        self.decay = decay
        self.classifier: keras.Model | None = None
        self.average: WeightAverage | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.average is None:  # a second fit() goes on averaging
            self.classifier = keras.models.clone_model(self.model.classifier)
            self.average = WeightAverage(self.model.logits, logits_model(self.classifier), self.decay)
            self._update = tf.function(self.average.update)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._update()


class Evaluate(keras.callbacks.Callback):
    """At the end of every epoch: the classifier's accuracy on the test set and on the labelled
    images (and the averaged classifier's, given ``average``), added to the logs and printed."""

    def __init__(self, x_test: np.ndarray, y_test: np.ndarray, x_labelled: np.ndarray,
                 y_labelled: np.ndarray, average: AverageWeights | None = None, verbose: bool = True) -> None:
        super().__init__()
        self.test, self.labelled = (x_test, y_test), (x_labelled, y_labelled)
        self.average, self.verbose = average, verbose

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {} if logs is None else logs
        logs["step"] = (epoch + 1) * self.params["steps"]
        logs["test_acc"] = accuracy(self.model.classifier, *self.test)
        logs["labelled_acc"] = accuracy(self.model.classifier, *self.labelled)
        line = f"step {logs['step']:>5}: test {logs['test_acc']:.2%}"
        if self.average is not None:
            logs["ema_test_acc"] = accuracy(self.average.classifier, *self.test)
            line += f", averaged weights {logs['ema_test_acc']:.2%}"
        if self.verbose:
            print(line + f"; labelled images {logs['labelled_acc']:.0%}", flush=True)


class SampleGrids(keras.callbacks.Callback):
    """At the end of every epoch, the generator's images of the same latent points, kept in
    :attr:`grids` as ``(step, images)`` pairs."""

    def __init__(self, latent: np.ndarray) -> None:
        super().__init__()
        self.latent = latent
        self.grids: list[tuple[int, np.ndarray]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        images = self.model.generator.predict(self.latent, verbose=0)
        self.grids.append(((epoch + 1) * self.params["steps"], images))


def history_record(history: keras.callbacks.History) -> dict[str, list[dict[str, Any]]]:
    """``fit``'s history as the series' run folders store it (``history.json``; notebook 08 reads it):
    one row per epoch, its losses (epoch means) and accuracies."""
    h, per_epoch = history.history, history.params["steps"]
    rows = [{"epoch": i + 1, **{k: float(v[i]) for k, v in h.items()}} for i in range(len(history.epoch))]
    for row in rows:
        row["step"] = int(row.get("step", row["epoch"] * per_epoch))
    return {"epochs": rows, "steps": rows}
