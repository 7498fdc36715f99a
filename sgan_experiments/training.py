"""The SGAN trainer: correct on Keras 3, one compiled step, checkpoint and resume.

Each training step of the tutorial's schedule makes four updates:

1. **C** (classifier): cross-entropy on ``half_batch`` labelled images -> discriminator weights.
2. **D on real**: "real" loss on ``half_batch`` unlabelled training images -> discriminator weights.
3. **D on fake**: "fake" loss on ``half_batch`` generated images -> discriminator weights.
4. **G**: "real" loss of D on ``batch_size`` generated images -> generator weights only.

Every gradient is taken against an explicit list of variables, so no update can
touch weights it should not, whatever ``layer.trainable`` says. Losses come from
logits: D's logit is ``logsumexp(class_logits)`` (see :mod:`sgan_helpers.activation`).

``schedule="combined"`` is the faster variant of Salimans et al. (2016): one
discriminator update on the sum of the three discriminator losses.

``ema_decay`` keeps an exponential moving average (Polyak average) of the classifier's
weights beside the training weights (:mod:`sgan_helpers.averaging`). It does not change
training at all; it gives a second, smoother classifier that ``classifier.keras`` then
holds. GAN training makes the raw weights wander from epoch to epoch; their average
wanders much less, and choosing it needs no labels.

Checkpoints (:mod:`sgan_experiments.checkpoints`) hold every variable by name, the optimizers,
the batch RNG, the step and the history: ``--resume`` ends bit for bit where an
uninterrupted run ends (on CPU; on a GPU with TensorFlow's op determinism, which the
trainer turns on when it sees one).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from sgan_helpers import data as data_mod
from sgan_helpers import files
from sgan_helpers.averaging import WeightAverage
from sgan_helpers.discriminators import (
    ADAM_EPSILON,
    BETA_1,
    LEARNING_RATE,
    logits_model,
    make_optimizer,
    stacked_discriminators,
)
from sgan_helpers.evaluation import predict_proba
from sgan_helpers.generator import LATENT_DIM, build_generator
from sgan_helpers.improved import (
    FEATURES,
    LATENTS,
    OUTPUTS,
    data_dependent_init,
    mlp_discriminators,
    mlp_generator,
)
from sgan_helpers.losses import accuracy, class_loss, fake_loss, feature_matching_loss, real_loss

from . import checkpoints, speed, stopping
from .export import standalone
from .recipes import RECIPES

if keras.backend.backend() != "tensorflow":  # pragma: no cover - depends on the user's setup
    raise ImportError(
        "sgan_experiments.training needs Keras's TensorFlow backend; "
        f"KERAS_BACKEND is {keras.backend.backend()!r}. Unset it or set KERAS_BACKEND=tensorflow."
    )
import tensorflow as tf  # noqa: E402  (after the backend check, on purpose)

SCHEDULES = ("tutorial", "combined")
GENERATOR_LOSSES = ("bce", "feature_matching")
ARCHITECTURES = ("tutorial", "mlp")
"""``tutorial``: the 2019 tutorial's CNNs; ``mlp``: Salimans et al.'s MLPs (:mod:`sgan_helpers.improved`)."""
METHODS = ("sgan", "supervised")
"""``supervised``: the baseline: the same classifier trained on the labelled images only (no GAN)."""
SAMPLINGS = ("random", "epochs")
"""How the real images of a batch are drawn. ``random``: independently, with replacement (the
tutorial's); ``epochs``: in passes through the images, each in a fresh random order (Salimans et
al.'s code: with 100 labels, every batch holds all 100 labelled images)."""
LR_SCHEDULES = ("constant", "linear")
"""``linear``: the learning rate holds for the first half of the run, then falls linearly to 0."""
AUTO = speed.AUTO
MLP_ONLY = {"generator_output": "", "latent": " (the tutorial's generator takes standard-normal points)",
            "float32_output": "", "init_noise": " (its weight-normalised layers)",
            "noise_scale": " (the tutorial's CNN has dropout, no noise layers)"}
"""Fields only the MLPs use, with why: set away from its default with the tutorial's CNNs, refused."""
EVALUATIONS = 5
"""A ``minutes`` run without ``steps_per_epoch`` evaluates about this often, on any machine."""
PROBE_STEPS = (5, 20)
PROBE_SECONDS = 30.0
"""A ``minutes`` run skips 5 steps (tracing, compiling), times the next 20 or more, until at least
30 seconds have passed (or a quarter of the run's time, if shorter: the learning rate holds for its
first half), then fixes its step count; it evaluates only after that. A fast model (the MLP: 20 steps
in about 1.3 s) would otherwise size a run on a second's jitter; on a shared 2-core AVX2 VM the MLP's
rate swung between 5 and 11 steps/s within a minute, and a 10-second probe sized 6-minute runs to 4."""
CHECKPOINT = "checkpoint.npz"
CONFIG = "config.json"
OPERATIONAL_FIELDS = ("jit_compile", "checkpoint_every", "eval_train", "log_every")
"""Config fields that say how a run is operated, not what it computes: ``--resume`` may change them
(the session's entry in ``config.json`` records the change). Every other field defines the run."""


def recipe_config(recipe: str = "tutorial", **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from a named recipe (:mod:`sgan_experiments.recipes`), fields overridden."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {tuple(RECIPES)}, got {recipe!r}.")
    return TrainConfig(**{**RECIPES[recipe].fields, **overrides})


class RunFolderError(RuntimeError):
    """The run folder cannot be used as asked (holds another run, nothing to resume, bad checkpoint)."""


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults = the 2019 tutorial's schedule."""

    dataset: str = "mnist"
    n_labels: int = 100
    epochs: int = 20
    steps: int | None = None  # if set, overrides epochs
    batch_size: int = 100
    steps_per_epoch: int | None = None  # default: training-set size // batch_size (600); for a
    # `minutes` run: about EVALUATIONS evaluations, whatever the machine's speed
    latent_dim: int = LATENT_DIM
    seed: int = 1
    label_seed: int | None = None  # which images are labelled (None: `seed`): one draw's labels, other seeds
    learning_rate: float = LEARNING_RATE
    beta_1: float = BETA_1
    adam_epsilon: float = ADAM_EPSILON  # Salimans et al.'s code: about 1e-4 (1e-8 inside the root)
    schedule: str = "tutorial"
    generator_loss: str = "bce"  # "feature_matching": Salimans et al. (2016), section 3.1
    architecture: str = "tutorial"  # "mlp": Salimans et al.'s MNIST MLPs (sgan_helpers.improved)
    method: str = "sgan"  # "supervised": the no-GAN baseline on the same labelled images
    unlabelled_weight: float = 1.0  # weight of the real/fake (unlabelled) loss in D's update
    lr_schedule: str = "constant"  # "linear": hold, then decay to 0 over the second half
    noise_scale: float = 1.0  # mlp only: multiplies its Gaussian noise levels (0 = no noise)
    generator_output: str = "softplus"  # mlp only: "sigmoid" is the paper's (it saturates here)
    latent: str = "normal"  # mlp only: "uniform": the generator sees uniform points in [0, 1] (their code)
    float32_output: bool = False  # mlp only: the generator's output layer in float32 under bfloat16
    init_noise: bool = False  # mlp only: the data-dependent init sees the training noise (their code)
    sampling: str = "random"  # "epochs": real images in passes, each in a new order (their code)
    # "auto": the fastest for this machine (sgan_experiments.speed); or True/False, "float32"/"mixed_bfloat16"
    jit_compile: bool | str = AUTO
    precision: str = AUTO
    minutes: float | None = None  # size the run by time: steps chosen from the measured step rate
    ema_decay: float | None = None  # e.g. 0.999: also keep an averaged classifier (and save it)
    eval_train: bool = True  # the tutorial's 60,000-label accuracy: for comparison only
    checkpoint_every: int = 100
    log_every: int = 50

    def __post_init__(self) -> None:
        info = data_mod.dataset_info(self.dataset)  # raises for unknown names
        n_classes = info.n_classes
        if isinstance(self.n_labels, bool) or self.n_labels < 1 or self.n_labels % n_classes:
            raise ValueError(
                f"n_labels must be a positive multiple of the {n_classes} classes "
                f"(so each class gets the same number), got {self.n_labels}."
            )
        if self.n_labels > info.n_train:
            raise ValueError(f"n_labels ({self.n_labels}) cannot exceed the {info.n_train:,} "
                             f"training images of {info.name}.")
        speed.check(self.precision, self.jit_compile)
        self.jit_compile = speed.jit_setting(self.jit_compile)  # "on"/"off" -> True/False
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}.")
        if self.generator_loss not in GENERATOR_LOSSES:
            raise ValueError(
                f"generator_loss must be one of {GENERATOR_LOSSES}, got {self.generator_loss!r}.")
        for name, allowed in (("schedule", SCHEDULES), ("architecture", ARCHITECTURES),
                              ("method", METHODS), ("lr_schedule", LR_SCHEDULES), ("sampling", SAMPLINGS),
                              ("generator_output", OUTPUTS), ("latent", LATENTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}.")
        if isinstance(self.adam_epsilon, bool) or not (isinstance(self.adam_epsilon, (int, float))
                                                        and 0 < self.adam_epsilon < 1):
            raise ValueError(f"adam_epsilon must be a number between 0 and 1 (e.g. 1e-4), "
                             f"got {self.adam_epsilon!r}.")
        for name in ("unlabelled_weight", "noise_scale"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}.")
        if self.architecture != "mlp":
            defaults = {f.name: f.default for f in fields(self)}
            for name, why in MLP_ONLY.items():
                if getattr(self, name) != defaults[name]:
                    raise ValueError(f"{name} applies to architecture='mlp' only{why}.")
        for name in ("batch_size", "latent_dim", "checkpoint_every", "log_every", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.batch_size % 2:
            raise ValueError(f"batch_size must be even (it is split in halves), got {self.batch_size}.")
        if self.batch_size > info.n_train:
            raise ValueError(f"batch_size ({self.batch_size}) cannot exceed the {info.n_train:,} "
                             f"training images of {info.name} (the tutorial's is 100).")
        if self.label_seed is not None and (isinstance(self.label_seed, bool) or not isinstance(
                self.label_seed, int) or self.label_seed < 0):
            raise ValueError(f"label_seed must be a whole number 0 or more (or None: the seed), "
                             f"got {self.label_seed!r}.")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}.")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be between 0 and 1 (e.g. 0.999), got {self.ema_decay}.")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be at least 1, got {self.steps_per_epoch}.")

    @property
    def epoch_steps(self) -> int:
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return data_mod.dataset_info(self.dataset).n_train // self.batch_size

    @property
    def labels_seed(self) -> int:
        """The seed that picks the labelled images: ``label_seed``, or ``seed`` if that is unset."""
        return self.seed if self.label_seed is None else self.label_seed

    @property
    def total_steps(self) -> int:
        return self.steps if self.steps is not None else self.epochs * self.epoch_steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def run_dict(self) -> dict[str, Any]:
        """The fields that define the run (what it computes): all but :data:`OPERATIONAL_FIELDS`."""
        return {k: v for k, v in asdict(self).items() if k not in OPERATIONAL_FIELDS}

    def differences(self, other: TrainConfig, operational: bool = False) -> dict[str, tuple[Any, Any]]:
        """``{field: (self's value, other's value)}`` over the run-defining or the operational fields.

        ``"auto"`` matches any value, and so does an unset ``steps`` of a run sized by
        ``minutes`` (the same minutes): both are resolved once, when the run starts.
        """
        names = OPERATIONAL_FIELDS if operational else tuple(self.run_dict())
        return {k: (getattr(self, k), getattr(other, k)) for k in names
                if not self._same(k, getattr(self, k), getattr(other, k), other)}

    def _same(self, name: str, mine: Any, theirs: Any, other: TrainConfig) -> bool:
        if mine == theirs or (name in ("precision", "jit_compile") and AUTO in (mine, theirs)):
            return True
        by_time = self.minutes is not None and self.minutes == other.minutes
        return name in ("steps", "steps_per_epoch") and by_time and None in (mine, theirs)

    @property
    def sized_by_time(self) -> bool:
        """True until the step count of a ``minutes`` run has been chosen."""
        return self.minutes is not None and self.steps is None

    def resolve_speed(self, resumed: bool = False) -> tuple[TrainConfig, speed.SpeedChoice]:
        """This config with ``"auto"`` replaced by this machine's fastest setting.

        ``resumed=True``: this is a saved run's config; its precision is kept (it defines the
        numbers) and the reason says so only if ``auto`` would now choose another one; XLA is
        operational and is chosen afresh.
        """
        kept = resumed and self.precision != AUTO
        choice = speed.resolve(AUTO if kept else self.precision, self.jit_compile,
                               architecture=self.architecture)
        if kept and choice.precision != self.precision:
            reason = f"{choice.reason}; precision {self.precision} kept from the run resumed"
            choice = speed.SpeedChoice(self.precision, choice.jit_compile, choice.source, reason)
        return replace(self, precision=choice.precision, jit_compile=choice.jit_compile), choice


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


def enable_gpu_determinism() -> bool:
    """Turn on TensorFlow's op determinism if a GPU is visible (process-wide); return whether on.

    On CPU, TensorFlow's kernels are deterministic already; on a GPU, some are not unless
    this is on, and a resumed run could drift from an uninterrupted one.
    """
    if tf.config.list_physical_devices("GPU"):
        tf.config.experimental.enable_op_determinism()
        return True
    return False


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


def build_models(architecture: str, n_classes: int, latent_dim: int, noise_scale: float = 1.0,
                 generator_output: str = "softplus", latent: str = "normal", float32_output: bool = False):
    """``(d_model, c_model, generator, features_layer_name)`` of an architecture (:data:`ARCHITECTURES`)."""
    if architecture == "mlp":
        d_model, c_model = mlp_discriminators(n_classes=n_classes, noise_scale=noise_scale)
        generator = mlp_generator(latent_dim, generator_output, latent, float32_output)
        return d_model, c_model, generator, FEATURES
    if architecture == "tutorial":
        d_model, c_model = stacked_discriminators(n_classes=n_classes)
        return d_model, c_model, build_generator(latent_dim), "dropout"
    raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}.")


def _check_sizes(config: TrainConfig, x_train: np.ndarray, y_train: np.ndarray) -> None:
    """Refuse sizes the data cannot serve, before anything large is allocated."""
    if len(x_train) != len(y_train):
        raise ValueError(f"the training set holds {len(x_train)} images but {len(y_train)} labels.")
    if config.batch_size > len(x_train):
        raise ValueError(f"batch_size ({config.batch_size}) cannot exceed the "
                         f"{len(x_train):,} training images.")


class SGANTrainer:
    """Holds the models, optimizers, data and RNG state of one SGAN run.

    ``data`` may be passed as ``load_dataset``'s return value (tests use small arrays);
    by default the dataset named in ``config`` is loaded.
    """

    def __init__(self, config: TrainConfig, data: data_mod.Arrays | None = None) -> None:
        config, self.speed = config.resolve_speed()  # "auto" -> this machine's fastest setting
        self.config = config
        info = data_mod.dataset_info(config.dataset)
        self.op_determinism = enable_gpu_determinism()
        keras.utils.set_random_seed(config.seed)
        (x_train, y_train), (x_test, y_test) = data or data_mod.load_dataset(config.dataset)
        _check_sizes(config, x_train, y_train)
        label_rng = np.random.default_rng([config.labels_seed, 0])
        if config.n_labels == len(y_train):  # every label (the baseline's ceiling), in file order
            self.sup_index = np.arange(len(y_train))
        else:
            self.sup_index = data_mod.select_supervised_indices(  # checks the per-class counts
                np.asarray(y_train), config.n_labels, label_rng, info.n_classes)
        """Indices (into the training set) of the labelled images; ``config.json`` stores them."""
        self.sup_sha256 = data_mod.digest(x_train[self.sup_index], np.asarray(y_train)[self.sup_index])
        """SHA-256 of the labelled images (as loaded, uint8) and their labels; ``config.json`` stores it."""
        self.x_train, self.y_train = data_mod.preprocess(x_train), np.asarray(y_train)
        self.x_test, self.y_test = data_mod.preprocess(x_test), np.asarray(y_test)
        self.x_sup, self.y_sup = self.x_train[self.sup_index], self.y_train[self.sup_index]
        self.rng = np.random.default_rng([config.seed, 1])  # batches; checkpointed
        half = config.batch_size // 2
        self.passes = (None if config.sampling == "random" else  # "epochs": a function of the step
                       (data_mod.EpochBatches(len(self.x_sup), half, (config.seed, 3)),
                        data_mod.EpochBatches(len(self.x_train), half, (config.seed, 4))))
        self.grid_latent = data_mod.latent_points(
            100, config.latent_dim, np.random.default_rng([config.seed, 2])
        )

        self.n_classes = info.n_classes
        previous_policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(config.precision)
        try:
            self.d_model, self.c_model, self.generator, features = self._build()
            self.logits = logits_model(self.c_model)
            # the layer under the logits, for the feature-matching generator loss
            self.features = keras.Model(self.logits.input, self.logits.get_layer(features).output)
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        if config.architecture == "mlp":  # weight normalisation's data-dependent initialisation (D only)
            init_rng = np.random.default_rng([config.seed, 3])
            data_dependent_init(self.logits, self.x_train[init_rng.integers(0, len(self.x_train), 500)],
                                noise=config.init_noise)
        self.disc_vars = list(self.logits.trainable_variables)
        self.average: WeightAverage | None = None  # the classifier's weight average, if kept
        self.ema_c: keras.Model | None = None  # its float32 classifier (softmax), what is saved
        if config.ema_decay is not None:
            self.ema_c = self._build()[1]
            self.average = WeightAverage(self.logits, logits_model(self.ema_c), config.ema_decay)
        self.gen_vars = list(self.generator.trainable_variables)
        # optimizer updates per training step, for the learning-rate schedule
        applies = {"c": 1, "d": 2 if config.schedule == "tutorial" else 1, "g": 1}
        if config.method == "supervised":
            applies = {"c": 1, "d": 1, "g": 1}
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
        self._float32_copies = self._build_float32_copies(info.n_classes)

        self.step = 0
        self.history: dict[str, list[dict[str, Any]]] = {"epochs": [], "steps": []}
        self.train_seconds = 0.0
        self.window, self.epoch_metrics = StepMetrics(), StepMetrics()  # running means
        step_fn = self._tutorial_step if config.schedule == "tutorial" else self._combined_step
        if config.method == "supervised":
            step_fn = self._supervised_step
        if self.average is not None:
            step_fn = self._with_ema(step_fn)
        self._step_fn = tf.function(step_fn, jit_compile=config.jit_compile)
        self._logits_fns: dict[str, Any] = {}

    def _build(self):
        """Fresh models of this run's architecture (in the current dtype policy)."""
        c = self.config
        return build_models(c.architecture, self.n_classes, c.latent_dim, c.noise_scale, c.generator_output,
                            c.latent, c.float32_output)

    def set_planned_steps(self, steps: int) -> None:
        """Tell the learning-rate schedule the run's length (a ``minutes`` run learns it late)."""
        self.planned_steps.assign(float(steps))

    # ------------------------------------------------------------ averaging
    @property
    def ema_logits(self) -> keras.Model | None:
        """The averaged classifier's logits model (``None`` without ``ema_decay``)."""
        return None if self.average is None else self.average.model

    @property
    def ema_vars(self) -> list:
        """The averaged weights, aligned with :attr:`disc_vars`."""
        return [] if self.average is None else self.average.averaged_variables

    def _with_ema(self, step_fn):
        """The step, then one update of the weight average (:meth:`WeightAverage.update`)."""
        def step(*batch):
            out = step_fn(*batch)
            self.average.update()
            return out
        return step

    # ----------------------------------------------------------------- the step
    def _apply(self, optimizer, loss_fn, variables) -> dict[str, Any]:
        """One update: ``loss_fn()`` returns ``(loss, parts)``; step ``variables`` only; return the parts."""
        with tf.GradientTape() as tape:
            loss, parts = loss_fn()
        optimizer.apply(tape.gradient(loss, variables), variables)
        return parts

    def _classifier_loss(self, x_lab, y_lab):
        lab_logits = self.logits(x_lab, training=True)
        loss = class_loss(y_lab, lab_logits)
        return loss, {"c_acc": accuracy(y_lab, lab_logits), "c_loss": loss}

    def _supervised_step(self, x_lab, y_lab, x_real, z_fake, z_gen):
        """The baseline: the classifier's update on labelled images alone (the rest is unused)."""
        return self._apply(self.c_opt, lambda: self._classifier_loss(x_lab, y_lab), self.disc_vars)

    def _tutorial_step(self, x_lab, y_lab, x_real, z_fake, z_gen):
        logits, disc = self.logits, self.disc_vars
        out = self._apply(self.c_opt, lambda: self._classifier_loss(x_lab, y_lab), disc)

        def d_real():
            loss = real_loss(logits(x_real, training=True))
            return self.config.unlabelled_weight * loss, {"d_real": loss}

        out |= self._apply(self.d_opt, d_real, disc)
        x_fake = self.generator(z_fake, training=True)

        def d_fake():
            loss = fake_loss(logits(x_fake, training=True))
            return self.config.unlabelled_weight * loss, {"d_fake": loss}

        out |= self._apply(self.d_opt, d_fake, disc)
        return out | self._generator_update(z_gen, x_real)

    def _combined_step(self, x_lab, y_lab, x_real, z_fake, z_gen):
        x_fake = self.generator(z_fake, training=True)
        n_lab, n_real = keras.ops.shape(x_lab)[0], keras.ops.shape(x_real)[0]

        def d_loss_fn():  # one larger pass over labelled + real + fake images
            all_logits = self.logits(keras.ops.concatenate([x_lab, x_real, x_fake]), training=True)
            lab_logits = all_logits[:n_lab]
            parts = {"c_acc": accuracy(y_lab, lab_logits), "c_loss": class_loss(y_lab, lab_logits),
                     "d_real": real_loss(all_logits[n_lab:n_lab + n_real]),
                     "d_fake": fake_loss(all_logits[n_lab + n_real:])}
            unlabelled = parts["d_real"] + parts["d_fake"]
            return parts["c_loss"] + self.config.unlabelled_weight * unlabelled, parts

        return self._apply(self.d_opt, d_loss_fn, self.disc_vars) | self._generator_update(z_gen, x_real)

    def _generator_update(self, z_gen, x_real):
        """G's update: fool D ("bce"), or match D's mean features on real images."""
        def loss_fn():
            fake = self.generator(z_gen, training=True)
            if self.config.generator_loss == "bce":  # a Python constant: fixed when traced
                loss = real_loss(self.logits(fake, training=True))
            else:
                loss = feature_matching_loss(self.features(x_real, training=True),
                                             self.features(fake, training=True))
            return loss, {"g_loss": loss}

        return self._apply(self.g_opt, loss_fn, self.gen_vars)

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
        """Run one training step (all four updates); return its losses as floats."""
        out = self._step_fn(*self._draw_batch())
        self.step += 1
        return {k: float(v) for k, v in out.items()}

    # ------------------------------------------- what is saved, and evaluation
    def _build_float32_copies(self, n_classes: int) -> dict[str, keras.Model] | None:
        """Float32 twins of the mixed-precision models, for export and evaluation (``None`` in float32)."""
        if self.config.precision == "float32":
            return None
        _, classifier, generator, _ = self._build()
        return {"classifier": classifier, "logits": logits_model(classifier), "generator": generator}

    def _classifier(self, weights: str = "raw") -> tuple[keras.Model, keras.Model]:
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
        return self._classifier("ema" if self.average is not None else "raw")[0]

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

    def predict_logits(self, x: np.ndarray, batch_size: int = 2000, weights: str = "raw") -> np.ndarray:
        """Class logits of the float32 classifier (as saved) with the training (``"raw"``) or
        averaged (``"ema"``) weights."""
        _, model = self._classifier(weights)
        if weights not in self._logits_fns:
            self._logits_fns[weights] = tf.function(lambda x, m=model: m(x, training=False))
        fn = self._logits_fns[weights]
        return np.concatenate(
            [np.asarray(fn(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
        )

    def accuracy(self, x: np.ndarray, y: np.ndarray, weights: str = "raw") -> float:
        """Accuracy of the float32 classifier, computed as ``python -m sgan_experiments evaluate`` does."""
        return _saved_model_accuracy(self._classifier(weights)[0], x, y)

    def evaluate(self) -> dict[str, float]:
        """Accuracies: labelled subset, test set and (optionally) all 60k training labels.

        Measured on the float32 classifiers that would be saved now, so the saved
        ``classifier.keras`` gives exactly these figures. With ``ema_decay`` set, the
        averaged classifier's get the prefix ``ema_``.
        """
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
        groups = {
            "disc": checkpoints.model_variables(self.logits),  # includes Dropout's seed state
            "gen": checkpoints.model_variables(self.generator),
            "opt_c": checkpoints.optimizer_variables(self.c_opt),
            "opt_d": checkpoints.optimizer_variables(self.d_opt),
            "opt_g": checkpoints.optimizer_variables(self.g_opt),
        }
        if self.average is not None:
            groups["ema"] = self.average.variables()
        return {f"{group}/{key}": v for group, vs in groups.items() for key, v in vs.items()}

    def save_checkpoint(self, path: Path | str) -> None:
        """Write every variable, optimizer state, RNG state, step and history in one file."""
        meta = {"step": self.step, "rng": self.rng.bit_generator.state,
                "history": self.history, "train_seconds": self.train_seconds,
                "window": asdict(self.window), "epoch_metrics": asdict(self.epoch_metrics),
                "config": self.config.to_dict()}
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
        self.step = meta["step"]
        self.rng.bit_generator.state = meta["rng"]
        self.history = meta["history"]
        self.train_seconds = meta["train_seconds"]
        self.window = StepMetrics(**meta["window"])
        self.epoch_metrics = StepMetrics(**meta["epoch_metrics"])


EVAL_BATCH = 1000
"""``evaluation.predict_proba``'s batch size, which ``python -m sgan_experiments evaluate`` uses."""


def _saved_model_accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    """``evaluation.accuracy``, in chunks of whole batches: the same batches, so the same figure,
    without a second copy of all 60,000 images in memory."""
    chunk, y = 10 * EVAL_BATCH, np.asarray(y)
    hits = sum(int(np.count_nonzero(
        predict_proba(model, x[i:i + chunk], batch_size=EVAL_BATCH).argmax(axis=-1) == y[i:i + chunk]))
        for i in range(0, len(x), chunk))
    return hits / len(x)


def _machine() -> dict[str, Any]:
    """Where a session ran. The CPU model matters beyond its class: oneDNN picks its kernels per CPU
    (AMX on recent Intel Xeons), so two models of one class may round differently and a run need not
    repeat exactly on another model (records made before ``cpu`` was added lack it)."""
    import os

    cpu, flags = speed.cpu_flags()
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu": cpu, "cpu_flags": sorted(flags),
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


# ----------------------------------------------------------------- run folders
def folder_state(out: Path | str) -> str:
    """What ``out`` holds: ``"missing"``, ``"file"``, ``"empty"`` (at most stale temp files),
    ``"run"`` (a ``config.json``) or ``"other"``."""
    out = Path(out)
    if not out.exists():
        return "missing"
    if not out.is_dir():
        return "file"
    if (out / CONFIG).is_file():
        return "run"
    temps = set(files.stale_temps(out))
    return "empty" if all(p in temps for p in out.rglob("*") if not p.is_dir()) else "other"


def next_step_hint(out: Path | str | None) -> str:
    """Which of a fresh start or ``--resume`` works on ``out`` now, in one sentence."""
    state = "missing" if out is None else folder_state(out)
    if state == "run":
        return f"Continue from the last checkpoint with the same options plus --resume --out {out}."
    if state in ("missing", "empty"):
        return "Nothing was saved yet: run the same command again (without --resume)."
    return "Choose a new --out folder."


def check_run_folder(config: TrainConfig, out: Path | str, resume: bool) -> dict[str, Any] | None:
    """Raise :class:`RunFolderError` unless ``out`` can take this run; return its ``config.json``
    when resuming (``None`` for a new run). Each message says whether a new run or ``--resume`` works."""
    out = Path(out)
    state = folder_state(out)
    if state == "file":
        raise RunFolderError(f"{out} is a file, not a folder; nothing was overwritten. "
                             f"Give --out a folder (new or empty).")
    if not resume:
        if state == "run":
            raise RunFolderError(
                f"{out} is not empty: it holds a run; nothing was overwritten. "
                f"Use --resume to continue that run, or choose a new --out folder.")
        if state == "other":
            raise RunFolderError(
                f"{out} is not empty and holds no run (no {CONFIG}); nothing was overwritten. "
                f"Choose a new --out folder (--resume works only on a run folder).")
        return None
    if state in ("missing", "empty"):
        raise RunFolderError(
            f"Nothing to resume in {out}: it {'does not exist' if state == 'missing' else 'is empty'}. "
            f"Start a new run without --resume.")
    if state == "other":
        raise RunFolderError(
            f"Nothing to resume in {out}: it holds no {CONFIG}, and it is not empty, so a new run "
            f"cannot use it either; nothing was overwritten. Choose a new --out folder.")
    config_path = out / CONFIG
    try:
        info = json.loads(config_path.read_text(encoding="utf-8"))
        saved = TrainConfig.from_dict(info["config"])
        if not isinstance(info.get("sessions"), list):
            raise KeyError("sessions")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RunFolderError(f"{config_path}: cannot read it ({type(err).__name__}: {err}); the run "
                             f"cannot be resumed. Start a new run in another --out folder.") from err
    diff = saved.differences(config)
    if diff:
        raise RunFolderError(
            f"{out} holds a run with another config (saved vs asked: {diff}). "
            f"Resume with the same options (only {', '.join(OPERATIONAL_FIELDS)} may change), "
            f"or pick a new --out.")
    if not (out / CHECKPOINT).is_file():
        temps = set(files.stale_temps(out))
        others = [p for p in out.rglob("*") if not p.is_dir() and p != out / CONFIG and p not in temps]
        if others:  # trained past step 0 once: restarting would overwrite its results
            raise RunFolderError(
                f"Cannot resume {out}: its {CHECKPOINT} is missing, and restarting from step 0 "
                f"would overwrite its results; nothing was overwritten. "
                f"Start a new run in another --out folder.")
    return info


def run_training(
    config: TrainConfig,
    out_dir: Path | str,
    resume: bool = False,
    command: str | None = None,
    progress: bool | None = None,
    data: data_mod.Arrays | None = None,
    expect_indices: list[int] | None = None,
) -> SGANTrainer:
    """Train into ``out_dir``, checkpointing as we go; ``resume=True`` continues an interrupted run.

    Writes (all atomically): ``config.json`` (config, the labelled images' indices and
    SHA-256, and per session: command, machine, steps, wall time, changed operational options),
    ``checkpoint.npz`` (at step 0, then every ``checkpoint_every`` steps and at each epoch
    end), ``history.json``, ``samples/epoch_NNN.png``, and at each epoch end
    ``classifier.keras`` and ``generator.keras``. From the moment ``config.json`` exists,
    ``resume=True`` works; before, a new run does. ``progress=None`` shows a bar only on a
    terminal/notebook. ``expect_indices``: the labelled images another run used (a baseline
    must train on exactly those); a different draw is refused before anything is written.
    """
    from tqdm.auto import tqdm

    from sgan_helpers.plotting import save_sample_grid

    out = Path(out_dir)
    config_path, ckpt_path = out / CONFIG, out / CHECKPOINT
    info = check_run_folder(config, out, resume)
    if info is None and out.is_dir():
        files.remove_stale_temps(out)  # an interrupted first write of config.json
    files.check_writable(out)  # fail now, not after loading data and building models
    if info is not None:  # resume: the run's own config, with this session's operational options
        asked = config
        config = replace(TrainConfig.from_dict(info["config"]),
                         **{k: getattr(asked, k) for k in OPERATIONAL_FIELDS})
    config, choice = config.resolve_speed(resumed=info is not None)
    length = (f"about {config.minutes:g} min of training, steps chosen from the measured speed"
              if config.sized_by_time else f"{config.total_steps} steps")
    print(f"Run folder: {out}  ({length}, schedule={config.schedule})", flush=True)
    print(f"Speed: {choice.describe()}", flush=True)

    trainer = SGANTrainer(config, data=data)
    trainer.speed = choice
    if expect_indices is not None and trainer.sup_index.tolist() != list(expect_indices):
        raise RunFolderError(
            "the labelled images differ from the run's (its config.json lists other indices for the "
            "same dataset, labels and seed: the dataset file changed?); nothing was written.")
    if info is not None:
        files.remove_stale_temps(out)  # left by a kill -9 in the middle of a write
        if ckpt_path.is_file():
            trainer.load_checkpoint(ckpt_path)
        stored = (info.get("labelled_indices"), info.get("labelled_sha256"))
        if stored != (None, None) and stored != (trainer.sup_index.tolist(), trainer.sup_sha256):
            raise RunFolderError(
                f"{config_path}: the run's labelled images are not the ones this dataset gives for "
                f"its seed: the dataset file changed. Resume with the original data, or start a new run.")
        changed = TrainConfig.from_dict(info["config"]).differences(config, operational=True)
        print(f"Resuming at step {trainer.step}"
              + (f"; changed: {', '.join(f'{k} {a} -> {b}' for k, (a, b) in changed.items())}"
                 if changed else ""), flush=True)
    else:
        info = {"config": config.to_dict(), "sessions": [],
                "total_steps": None if config.sized_by_time else config.total_steps}
        changed = {}
    session: dict[str, Any] = {
        "command": command, "machine": _machine(), "speed": choice.to_dict(),
        "op_determinism": trainer.op_determinism,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "start_step": trainer.step,
        "end_step": trainer.step, "wall_seconds": 0.0}
    if changed:
        session["changed_options"] = {k: {"run": a, "session": b} for k, (a, b) in changed.items()}
    info["sessions"].append(session)
    info["labelled_sha256"] = trainer.sup_sha256
    info["labelled_indices"] = trainer.sup_index.tolist()  # audit; a baseline can use the same images
    files.write_json(config_path, info)
    if not ckpt_path.is_file():
        trainer.save_checkpoint(ckpt_path)  # step 0: from now on --resume always works
    session_start = time.perf_counter()

    saved_step = trainer.step  # the step the checkpoint on disk holds

    def note_session(**extra: Any) -> None:
        """Note in config.json how far this session got and how long it took (``extra``: end fields)."""
        session.update(end_step=trainer.step, wall_seconds=round(time.perf_counter() - session_start, 1),
                       **extra)
        info["train_seconds"] = round(trainer.train_seconds, 1)
        info["wall_seconds"] = run_wall_seconds(info["sessions"])
        files.write_json(config_path, info)

    def checkpoint(**extra: Any) -> None:
        """Save the checkpoint (unless it already holds this step), then note the session, so a run
        killed later still counts the time up to here."""
        nonlocal saved_step
        if saved_step != trainer.step:
            trainer.save_checkpoint(ckpt_path)
            saved_step = trainer.step
        note_session(**extra)

    total = None if config.sized_by_time else config.total_steps
    per_epoch = config.epoch_steps
    if config.sized_by_time and config.steps_per_epoch is None:
        per_epoch = sys.maxsize  # no evaluation inside the probe: set once the step count is known
    bar = tqdm(total=total, initial=trainer.step, unit="step", dynamic_ncols=True,
               desc="SGAN" if config.method == "sgan" else "baseline",
               disable=None if progress is None else not progress)
    tick = time.perf_counter()
    probe: tuple[int, float] | None = None  # (step, time) where a minutes run starts timing
    first_step = trainer.step

    def clock() -> None:  # add the time since the last tick to the training time
        nonlocal tick
        now = time.perf_counter()
        trainer.train_seconds += now - tick
        tick = now

    with stopping.StopRequests() as stop:
        while total is None or trainer.step < total:
            metrics = trainer.train_step()
            trainer.window.add(metrics)
            trainer.epoch_metrics.add(metrics)
            bar.update(1)
            step = trainer.step
            if total is None and probe is None and step == first_step + PROBE_STEPS[0]:
                probe = (step, time.perf_counter())
            elif (total is None and probe is not None and step >= probe[0] + PROBE_STEPS[1]
                  and time.perf_counter() - probe[1] >= min(PROBE_SECONDS, config.minutes * 15)):
                rate = (step - probe[0]) / (time.perf_counter() - probe[1])
                total = max(step, int(config.minutes * 60 * rate) // 10 * 10)
                if config.steps_per_epoch is None:  # evaluate about EVALUATIONS times, not every 600 steps
                    config = replace(config, steps_per_epoch=max(step, -(-total // EVALUATIONS)))
                    per_epoch = config.epoch_steps
                config = replace(config, steps=total)
                trainer.config = config
                trainer.set_planned_steps(total)
                info["config"], info["total_steps"] = config.to_dict(), total
                info["steps_from_minutes"] = {"minutes": config.minutes, "steps_per_s": round(rate, 3),
                                              "measured_steps": [probe[0], step], "steps": total}
                files.write_json(config_path, info)
                bar.total = total
                bar.refresh()
                bar.write(f"{rate:.2f} steps/s measured: {total} steps fill about {config.minutes:g} min")
            if step % config.log_every == 0 or step == total:
                clock()
                trainer.history["steps"].append({"step": step, **trainer.window.means()})
                bar.set_postfix({k: f"{v:.3f}" for k, v in trainer.window.means().items()})
                trainer.window = StepMetrics()
            if step % per_epoch == 0 or step == total:
                clock()
                record = {"epoch": -(-step // per_epoch), "step": step,
                          **{f"mean_{k}": v for k, v in trainer.epoch_metrics.means().items()},
                          **trainer.evaluate(), "train_seconds": round(trainer.train_seconds, 2)}
                trainer.epoch_metrics = StepMetrics()
                trainer.history["epochs"].append(record)
                files.save_model(standalone(trainer.saved_classifier()), out / "classifier.keras")
                if config.method == "sgan":  # a supervised baseline trains no generator
                    save_sample_grid(trainer.saved_generator(), trainer.grid_latent,
                                     out / "samples" / f"epoch_{record['epoch']:03d}.png")
                    files.save_model(standalone(trainer.saved_generator()), out / "generator.keras")
                files.write_json(out / "history.json", trainer.history)
                checkpoint()
                shown = " ".join(f"{k}={v:.4f}" for k, v in record.items() if k.endswith("_acc"))
                bar.write(f"epoch {record['epoch']} (step {step}/{total}): {shown}")
                tick = time.perf_counter()  # evaluating and saving is not training time
            elif step % config.checkpoint_every == 0:
                clock()
                checkpoint()
                tick = time.perf_counter()
            if stop.requested:  # SIGTERM or Ctrl-C during the step: keep it, then stop
                clock()
                checkpoint(stopped_by=stop.requested)
                bar.close()
                raise KeyboardInterrupt(f"{stop.requested}: stopped after step {step}; checkpoint saved")
    bar.close()
    note_session(finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    return trainer


def run_wall_seconds(sessions: list[dict[str, Any]]) -> float | None:
    """A run's wall time: its sessions' sum, each up to its last checkpoint; ``None`` when a
    session that trained left no time (killed before this was recorded at each checkpoint)."""
    for i, session in enumerate(sessions):
        end = session.get("end_step", sessions[i + 1]["start_step"] if i + 1 < len(sessions) else None)
        if session.get("wall_seconds") is None and end != session["start_step"]:
            return None
    known = [s.get("wall_seconds") or 0.0 for s in sessions]
    return round(sum(known), 1)


def time_training_steps(precision: str, jit: bool, steps: int = 12, warmup: int = 3,
                        data=None) -> float:
    """Steps/s of the real training step (tutorial schedule, batch 100) in one setting
    (``speed.calibrate``'s timer)."""
    if data is None:  # a slice is enough: the step's cost does not depend on the data size
        (x, y), (xt, yt) = data_mod.load_dataset("mnist")
        data = (x[:6000], y[:6000]), (xt[:100], yt[:100])
    trainer = SGANTrainer(TrainConfig(precision=precision, jit_compile=jit, eval_train=False), data=data)
    for _ in range(warmup):
        trainer.train_step()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return steps / (time.perf_counter() - start)
