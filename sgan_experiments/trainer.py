"""The resumable trainer: the teaching package's SGAN step, driven one step at a time.

:class:`SGANTrainer` builds the models of a :class:`~sgan_experiments.config.TrainConfig`, wraps them
in the package's :class:`~sgan_helpers.sgan.SGAN`, :class:`~sgan_helpers.sgan.CombinedSGAN` or
:class:`~sgan_helpers.sgan.SupervisedBaseline` and calls that model's ``train_step`` (compiled once,
optionally with XLA), the very step notebook 07 trains with ``fit``. What it adds is what a long run
needs and ``fit`` does not give: batches and latent points from one NumPy generator whose state is
checkpointed with every variable (:mod:`sgan_experiments.checkpoints`), so a resumed run ends bit for
bit where an uninterrupted one ends (on CPU; on a GPU with TensorFlow's op determinism, which the
trainer turns on when it sees one); mixed precision with float32 copies for evaluation and export;
the weight average; and the learning-rate schedule of a run whose length is measured late.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from sgan_helpers import data as data_mod
from sgan_helpers import sgan
from sgan_helpers.averaging import WeightAverage
from sgan_helpers.discriminators import logits_model, make_optimizer, stacked_discriminators
from sgan_helpers.evaluation import predict_proba
from sgan_helpers.generator import build_generator
from sgan_helpers.improved import FEATURES, data_dependent_init, mlp_discriminators, mlp_generator

from . import checkpoints, speed
from .config import ARCHITECTURES, TrainConfig
from .runs import RunFolderError
from .sampling import EpochBatches

GENERATOR_LOSSES = {"bce": sgan.fool_the_discriminator, "feature_matching": sgan.feature_matching}
"""The config's ``generator_loss`` -> the loss passed to the model's ``compile``."""
EVAL_BATCH = 1000
"""``evaluation.predict_proba``'s batch size, which ``python -m sgan_experiments evaluate`` uses."""


@dataclass
class StepMetrics:
    """Running sums of the per-step losses, averaged on demand."""

    sums: dict[str, float] = field(default_factory=dict)
    count: int = 0

    def add(self, metrics: dict[str, float]) -> None:
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.count += 1

    def means(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


class HoldThenLinear(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate for ``lr_schedule="linear"``: ``rate`` for the first half of the run,
    then linearly down to 0 at its last step. ``total_applies`` (a variable: a ``minutes`` run
    knows its length only after measuring its speed) counts optimizer updates, not steps."""

    def __init__(self, rate: float, total_applies) -> None:
        self.rate = float(rate)
        self.total_applies = total_applies

    def __call__(self, iteration):
        t = keras.ops.cast(iteration, "float32") / keras.ops.maximum(
            keras.ops.cast(self.total_applies, "float32"), 1.0)
        return self.rate * keras.ops.clip(2.0 * (1.0 - t), 0.0, 1.0)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "total_applies": float(keras.ops.convert_to_numpy(self.total_applies))}


def build_models(config: TrainConfig, n_classes: int) -> tuple[keras.Model, keras.Model, str]:
    """``(classifier, generator, features_layer_name)`` of the config's architecture."""
    if config.architecture == "mlp":
        classifier = mlp_discriminators(n_classes=n_classes, noise_scale=config.noise_scale)[1]
        return classifier, mlp_generator(config.latent_dim, config.generator_output, config.latent,
                                         config.float32_output), FEATURES
    if config.architecture == "tutorial":
        return stacked_discriminators(n_classes=n_classes)[1], build_generator(config.latent_dim), "dropout"
    raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {config.architecture!r}.")


def sgan_model(config: TrainConfig, classifier: keras.Model, generator: keras.Model,
               features: str) -> sgan.SGAN:
    """The package's model whose ``train_step`` is the config's step (before ``compile``)."""
    if config.method == "supervised":
        return sgan.SupervisedBaseline(classifier, generator, features, seed=config.seed)
    if config.schedule == "tutorial":
        return sgan.SGAN(classifier, generator, features, seed=config.seed)
    return sgan.CombinedSGAN(classifier, generator, features, seed=config.seed,
                             unlabelled_weight=config.unlabelled_weight)


class SGANTrainer:
    """The models, optimizers, data and RNG state of one run. ``data``: ``load_dataset``'s return
    value (tests pass small arrays); by default the config's dataset is loaded."""

    def __init__(self, config: TrainConfig, data: data_mod.Arrays | None = None) -> None:
        config, self.speed = config.resolve_speed()  # "auto" -> this machine's fastest setting
        self.config = config
        info = data_mod.dataset_info(config.dataset)
        self.n_classes = info.n_classes
        self.op_determinism = speed.enable_gpu_determinism()
        keras.utils.set_random_seed(config.seed)
        (x_train, y_train), (x_test, y_test) = data or data_mod.load_dataset(config.dataset)
        if len(x_train) != len(y_train):
            raise ValueError(f"the training set holds {len(x_train)} images but {len(y_train)} labels.")
        if config.batch_size > len(x_train):
            raise ValueError(f"batch_size ({config.batch_size}) cannot exceed the "
                             f"{len(x_train):,} training images.")
        if config.n_labels == len(y_train):  # every label (the baseline's ceiling), in file order
            self.sup_index = np.arange(len(y_train))
        else:  # checks the per-class counts
            self.sup_index = data_mod.select_supervised_indices(
                np.asarray(y_train), config.n_labels, np.random.default_rng([config.labels_seed, 0]),
                info.n_classes)
        self.sup_sha256 = data_mod.digest(x_train[self.sup_index], np.asarray(y_train)[self.sup_index])
        """SHA-256 of the labelled images (as loaded, uint8) and their labels; ``config.json`` stores it."""
        self.x_train, self.y_train = data_mod.preprocess(x_train), np.asarray(y_train)
        self.x_test, self.y_test = data_mod.preprocess(x_test), np.asarray(y_test)
        self.x_sup, self.y_sup = self.x_train[self.sup_index], self.y_train[self.sup_index]
        self.rng = np.random.default_rng([config.seed, 1])  # batches and latent points; checkpointed
        half = config.batch_size // 2
        self.passes = (None if config.sampling == "random" else  # "epochs": a function of the step
                       (EpochBatches(len(self.x_sup), half, (config.seed, 3)),
                        EpochBatches(len(self.x_train), half, (config.seed, 4))))
        self.grid_latent = data_mod.latent_points(100, config.latent_dim,
                                                  np.random.default_rng([config.seed, 2]))

        previous_policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(config.precision)
        try:
            self.c_model, self.generator, features = build_models(config, info.n_classes)
            self.model = sgan_model(config, self.c_model, self.generator, features)
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        self.logits, self.features = self.model.logits, self.model.features
        if config.architecture == "mlp":  # weight normalisation's data-dependent initialisation (D only)
            init_rng = np.random.default_rng([config.seed, 3])
            data_dependent_init(self.logits, self.x_train[init_rng.integers(0, len(self.x_train), 500)],
                                noise=config.init_noise)
        self.disc_vars = list(self.logits.trainable_variables)
        self.gen_vars = list(self.generator.trainable_variables)
        self.average: WeightAverage | None = None  # the classifier's weight average, if kept
        self.ema_c: keras.Model | None = None  # its float32 classifier (softmax), what is saved
        if config.ema_decay is not None:
            self.ema_c = build_models(config, info.n_classes)[0]
            self.average = WeightAverage(self.logits, logits_model(self.ema_c), config.ema_decay)
        # optimizer updates per training step, for the learning-rate schedule
        applies = {"c": 1, "d": 2 if config.schedule == "tutorial" and config.method == "sgan" else 1, "g": 1}
        self.planned_steps = keras.Variable(float(config.total_steps), trainable=False, name="planned_steps")

        def rate(kind: str):
            if config.lr_schedule == "constant":
                return config.learning_rate
            return HoldThenLinear(config.learning_rate, self.planned_steps * applies[kind])

        self.c_opt, self.d_opt, self.g_opt = (
            make_optimizer(learning_rate=rate(kind), beta_1=config.beta_1, epsilon=config.adam_epsilon)
            for kind in "cdg")
        self.c_opt.build(self.disc_vars)
        self.d_opt.build(self.disc_vars)
        self.g_opt.build(self.gen_vars)
        self.model.compile(self.c_opt, self.d_opt, self.g_opt, GENERATOR_LOSSES[config.generator_loss])
        self._latents: list = []
        self.model.latent_points = lambda n: self._latents.pop(0)  # drawn with the batch (see _draw_batch)
        self._float32_copies = None
        if config.precision != "float32":  # float32 twins of the models, for export and evaluation
            classifier, generator, _ = build_models(config, info.n_classes)
            self._float32_copies = {"classifier": classifier, "logits": logits_model(classifier),
                                    "generator": generator}

        self.step = 0
        self.history: dict[str, list[dict[str, Any]]] = {"epochs": [], "steps": []}
        self.train_seconds = 0.0
        self.window, self.epoch_metrics = StepMetrics(), StepMetrics()  # running means
        self._step_fn = tf.function(self._step, jit_compile=config.jit_compile)

    def set_planned_steps(self, steps: int) -> None:
        """Tell the learning-rate schedule the run's length (a ``minutes`` run learns it late)."""
        self.planned_steps.assign(float(steps))

    # ----------------------------------------------------------------- the step
    def _step(self, x_lab, y_lab, x_real, z_fake, z_gen):
        """The model's ``train_step`` on this batch and these latent points, then the weight average.
        Its loss trackers restart at every step, so each loss is this step's."""
        self._latents[:] = [z_fake, z_gen]  # read at trace time, in the order the step draws them
        for tracker in self.model.metrics:
            tracker.reset_state()
        logs = self.model.train_step(((x_lab, y_lab), x_real))
        if self.average is not None:
            self.average.update()
        return logs

    def _draw_batch(self):
        """Numpy-side sampling (cheap): indices and latent points from the run's RNG."""
        c, rng = self.config, self.rng
        half = c.batch_size // 2
        if self.passes is None:
            x_lab, y_lab = data_mod.real_batch(self.x_sup, self.y_sup, half, rng)
            x_real, _ = data_mod.real_batch(self.x_train, None, half, rng)
        else:
            labelled, unlabelled = (p.indices(self.step) for p in self.passes)
            x_lab, y_lab, x_real = self.x_sup[labelled], self.y_sup[labelled], self.x_train[unlabelled]
        z_fake = data_mod.latent_points(half, c.latent_dim, rng)
        z_gen = data_mod.latent_points(c.batch_size, c.latent_dim, rng)
        return x_lab, y_lab.astype(np.int64), x_real, z_fake, z_gen

    def train_step(self) -> dict[str, float]:
        """Run one training step; return its losses as floats."""
        out = self._step_fn(*self._draw_batch())
        self.step += 1
        return {k: float(v) for k, v in out.items()}

    # ------------------------------------------- what is saved, and evaluation
    def classifier(self, weights: str = "raw") -> tuple[keras.Model, keras.Model]:
        """(classifier, its logits model) in float32: the training weights or the averaged ones."""
        if weights == "ema":
            if self.average is None:
                raise ValueError("no averaged weights: this run has no ema_decay.")
            return self.ema_c, self.average.model
        if weights != "raw":
            raise ValueError(f"weights must be 'raw' or 'ema', got {weights!r}.")
        if self._float32_copies is None:
            return self.c_model, self.logits
        copies = self._float32_copies
        checkpoints.copy_weights(self.logits, copies["logits"])  # mixed precision keeps float32 variables
        return copies["classifier"], copies["logits"]

    def saved_classifier(self) -> keras.Model:
        """The float32 classifier that ``classifier.keras`` holds (there with its weight
        normalisation folded in: :func:`~sgan_experiments.export.standalone`): the averaged one if kept."""
        return self.classifier("ema" if self.average is not None else "raw")[0]

    def saved_generator(self) -> keras.Model:
        """The float32 generator that ``generator.keras`` holds (images come out as float32)."""
        if self._float32_copies is None:
            return self.generator
        checkpoints.copy_weights(self.generator, self._float32_copies["generator"])
        return self._float32_copies["generator"]

    @property
    def headline_acc_key(self) -> str:
        """History key of the saved classifier's test accuracy."""
        return "ema_test_acc" if self.average is not None else "test_acc"

    def accuracy(self, x: np.ndarray, y: np.ndarray, weights: str = "raw") -> float:
        """Accuracy of the float32 classifier, as ``python -m sgan_experiments evaluate`` computes it:
        the same batches, in chunks (no second copy of 60,000 images)."""
        model, chunk, y = self.classifier(weights)[0], 10 * EVAL_BATCH, np.asarray(y)
        hits = sum(int(np.count_nonzero(predict_proba(model, x[i:i + chunk], batch_size=EVAL_BATCH)
                                        .argmax(axis=-1) == y[i:i + chunk])) for i in range(0, len(x), chunk))
        return hits / len(x)

    def evaluate(self) -> dict[str, float]:
        """Accuracies of the float32 classifiers that would be saved now (``classifier.keras`` gives
        exactly these): labelled subset, test set, all training labels (``eval_train``); ``ema_``:
        the average's."""
        out = {}
        for weights, prefix in (("raw", ""), ("ema", "ema_")):
            if weights == "ema" and self.average is None:
                continue
            out[f"{prefix}labelled_acc"] = self.accuracy(self.x_sup, self.y_sup, weights)
            out[f"{prefix}test_acc"] = self.accuracy(self.x_test, self.y_test, weights)
            if self.config.eval_train:
                out[f"{prefix}train_acc"] = self.accuracy(self.x_train, self.y_train, weights)
        return out

    # ----------------------------------------------------------- checkpoints
    def checkpoint_variables(self) -> dict[str, Any]:
        """Every variable a checkpoint holds, keyed ``group/layer/variable`` (see :mod:`checkpoints`)."""
        groups = {"disc": checkpoints.model_variables(self.logits),  # includes Dropout's seed state
                  "gen": checkpoints.model_variables(self.generator),
                  "opt_c": checkpoints.optimizer_variables(self.c_opt),
                  "opt_d": checkpoints.optimizer_variables(self.d_opt),
                  "opt_g": checkpoints.optimizer_variables(self.g_opt)}
        if self.average is not None:
            groups["ema"] = self.average.variables()
        return {f"{group}/{key}": v for group, vs in groups.items() for key, v in vs.items()}

    def save_checkpoint(self, path: Path | str) -> None:
        """Write every variable, optimizer state, RNG state, step and history in one file."""
        meta = {"step": self.step, "rng": self.rng.bit_generator.state, "history": self.history,
                "train_seconds": self.train_seconds, "window": asdict(self.window),
                "epoch_metrics": asdict(self.epoch_metrics), "config": self.config.to_dict()}
        checkpoints.save(path, self.checkpoint_variables(), meta)

    def load_checkpoint(self, path: Path | str) -> None:
        """Restore what :meth:`save_checkpoint` wrote (the run-defining config must match)."""
        advice = "Start a new run in another --out folder (nothing here was changed)."
        try:
            arrays, meta = checkpoints.read(path)
            saved = TrainConfig.from_dict(meta["config"])
        except checkpoints.CheckpointError as err:
            raise RunFolderError(f"{err} {advice}") from err
        except (KeyError, TypeError, ValueError) as err:
            raise RunFolderError(
                f"{path}: cannot read the checkpoint ({type(err).__name__}: {err}). {advice}") from err
        diff = saved.differences(self.config)
        if diff:
            raise RunFolderError(f"{path}: the checkpoint was written with another config "
                                 f"(checkpoint vs asked: {diff}).")
        try:
            checkpoints.restore(self.checkpoint_variables(), arrays, where=str(path))
        except checkpoints.CheckpointError as err:
            raise RunFolderError(f"{err} {advice}") from err
        self.step, self.history, self.train_seconds = meta["step"], meta["history"], meta["train_seconds"]
        self.rng.bit_generator.state = meta["rng"]
        self.window, self.epoch_metrics = StepMetrics(**meta["window"]), StepMetrics(**meta["epoch_metrics"])
