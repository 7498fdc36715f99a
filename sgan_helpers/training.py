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
weights beside the training weights. It does not change training at all; it gives a
second, smoother classifier that ``classifier.keras`` then holds. GAN training makes
the raw weights wander from epoch to epoch; their average wanders much less, and
choosing it needs no labels.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import keras
import numpy as np

from . import data as data_mod
from . import files
from .activation import real_fake_logit
from .discriminators import BETA_1, LEARNING_RATE, logits_model, make_optimizer, stacked_discriminators
from .generator import LATENT_DIM, build_generator

if keras.backend.backend() != "tensorflow":  # pragma: no cover - depends on the user's setup
    raise ImportError(
        "sgan_helpers.training needs Keras's TensorFlow backend; "
        f"KERAS_BACKEND is {keras.backend.backend()!r}. Unset it or set KERAS_BACKEND=tensorflow."
    )
import tensorflow as tf  # noqa: E402  (after the backend check, on purpose)

SCHEDULES = ("tutorial", "combined")
GENERATOR_LOSSES = ("bce", "feature_matching")
PRECISIONS = ("float32", "mixed_bfloat16")
CHECKPOINT = "checkpoint.npz"


class RunFolderError(RuntimeError):
    """The run folder cannot be used as asked (holds another run, or nothing to resume)."""


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults = the 2019 tutorial's schedule."""

    dataset: str = "mnist"
    n_labels: int = 100
    epochs: int = 20
    steps: int | None = None  # if set, overrides epochs
    batch_size: int = 100
    steps_per_epoch: int | None = None  # default: training-set size // batch_size (600)
    latent_dim: int = LATENT_DIM
    seed: int = 1
    learning_rate: float = LEARNING_RATE
    beta_1: float = BETA_1
    schedule: str = "tutorial"
    generator_loss: str = "bce"  # "feature_matching": Salimans et al. (2016), section 3.1
    jit_compile: bool = False
    precision: str = "float32"  # "mixed_bfloat16": faster on CPUs with AVX512-BF16/AMX
    ema_decay: float | None = None  # e.g. 0.999: also keep an averaged classifier (and save it)
    eval_train: bool = True  # the tutorial's 60,000-label accuracy: for comparison only
    checkpoint_every: int = 100
    log_every: int = 50

    def __post_init__(self) -> None:
        n_classes = data_mod.dataset_info(self.dataset).n_classes  # raises for unknown names
        if self.n_labels < 1 or self.n_labels % n_classes:
            raise ValueError(
                f"n_labels must be a positive multiple of the {n_classes} classes "
                f"(so each class gets the same number), got {self.n_labels}."
            )
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}.")
        if self.generator_loss not in GENERATOR_LOSSES:
            raise ValueError(
                f"generator_loss must be one of {GENERATOR_LOSSES}, got {self.generator_loss!r}.")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}.")
        for name in ("batch_size", "latent_dim", "checkpoint_every", "log_every", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.batch_size % 2:
            raise ValueError(f"batch_size must be even (it is split in halves), got {self.batch_size}.")
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
    def total_steps(self) -> int:
        return self.steps if self.steps is not None else self.epochs * self.epoch_steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _f32(x):
    return keras.ops.cast(x, "float32")  # losses in float32, whatever the compute dtype


def _d_logit(class_logits):
    """D's logit, logsumexp of the class logits, computed in float32."""
    return real_fake_logit(_f32(class_logits))


def _bce_real(logit):
    """-log sigmoid(logit): the loss for a "real" target, stable for any logit."""
    return keras.ops.mean(keras.ops.softplus(-_f32(logit)))


def _bce_fake(logit):
    """-log(1 - sigmoid(logit)): the loss for a "fake" target."""
    return keras.ops.mean(keras.ops.softplus(_f32(logit)))


def _class_loss(labels, logits):
    return keras.ops.mean(
        keras.losses.sparse_categorical_crossentropy(labels, _f32(logits), from_logits=True)
    )


def _accuracy(labels, logits):
    hits = keras.ops.cast(keras.ops.argmax(logits, axis=-1), "int32") == keras.ops.cast(labels, "int32")
    return keras.ops.mean(keras.ops.cast(hits, "float32"))


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


class SGANTrainer:
    """Holds the models, optimizers, data and RNG state of one SGAN run.

    ``data`` may be passed as ``load_dataset``'s return value (tests use small arrays);
    by default the dataset named in ``config`` is loaded.
    """

    def __init__(self, config: TrainConfig, data: data_mod.Arrays | None = None) -> None:
        self.config = config
        info = data_mod.dataset_info(config.dataset)
        keras.utils.set_random_seed(config.seed)
        (x_train, y_train), (x_test, y_test) = data or data_mod.load_dataset(config.dataset)
        self.x_train, self.y_train = data_mod.preprocess(x_train), np.asarray(y_train)
        self.x_test, self.y_test = data_mod.preprocess(x_test), np.asarray(y_test)
        label_rng = np.random.default_rng([config.seed, 0])
        self.x_sup, self.y_sup = data_mod.select_supervised(
            self.x_train, self.y_train, config.n_labels, label_rng, info.n_classes
        )
        self.rng = np.random.default_rng([config.seed, 1])  # batches; checkpointed
        self.grid_latent = data_mod.latent_points(
            100, config.latent_dim, np.random.default_rng([config.seed, 2])
        )

        previous_policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(config.precision)
        try:
            self.d_model, self.c_model = stacked_discriminators(n_classes=info.n_classes)
            self.logits = logits_model(self.c_model)
            # the 2,048 features under the logits, for the feature-matching generator loss
            self.features = keras.Model(self.logits.input, self.logits.get_layer("dropout").output)
            self.generator = build_generator(config.latent_dim)
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        self.disc_vars = list(self.logits.trainable_variables)
        self.ema_c = self.ema_logits = None
        if config.ema_decay is not None:
            self._build_ema()
        self.gen_vars = list(self.generator.trainable_variables)
        opt = dict(learning_rate=config.learning_rate, beta_1=config.beta_1)
        self.c_opt, self.d_opt, self.g_opt = (make_optimizer(**opt) for _ in range(3))
        self.c_opt.build(self.disc_vars)
        self.d_opt.build(self.disc_vars)
        self.g_opt.build(self.gen_vars)

        self.step = 0
        self.history: dict[str, list[dict[str, Any]]] = {"epochs": [], "steps": []}
        self.train_seconds = 0.0
        self.window, self.epoch_metrics = StepMetrics(), StepMetrics()  # running means
        step_fn = self._tutorial_step if config.schedule == "tutorial" else self._combined_step
        if config.ema_decay is not None:
            step_fn = self._with_ema(step_fn)
        self._step_fn = tf.function(step_fn, jit_compile=config.jit_compile)
        self._logits_fns = {
            name: tf.function(lambda x, m=model: m(x, training=False), jit_compile=config.jit_compile)
            for name, model in (("raw", self.logits), ("ema", self.ema_logits)) if model is not None
        }

    # ------------------------------------------------------------ averaging
    def _build_ema(self) -> None:
        """A float32 copy of the classifier whose weights follow the average of the trained ones."""
        _, self.ema_c = stacked_discriminators(n_classes=self.logits.output.shape[-1])
        self.ema_logits = logits_model(self.ema_c)
        self.ema_vars = list(self.ema_logits.trainable_variables)
        for shadow, v in zip(self.ema_vars, self.disc_vars, strict=True):
            shadow.assign(v)
        self.ema_updates = tf.Variable(0.0, trainable=False, name="ema_updates")

    def _with_ema(self, step_fn):
        def step(*batch):
            out = step_fn(*batch)
            self.ema_updates.assign_add(1.0)
            n = self.ema_updates
            # early on, average over the n steps so far, not over the random initial weights
            decay = keras.ops.minimum(self.config.ema_decay, (1.0 + n) / (10.0 + n))
            for shadow, v in zip(self.ema_vars, self.disc_vars, strict=True):
                shadow.assign(decay * shadow + (1.0 - decay) * keras.ops.cast(v, "float32"))
            return out
        return step

    # ----------------------------------------------------------------- the step
    def _apply(self, optimizer, loss_fn, variables):
        with tf.GradientTape() as tape:
            loss = loss_fn()
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    def _tutorial_step(self, x_lab, y_lab, x_real, z_fake, z_gen):
        logits, out = self.logits, {}

        def c_loss_fn():
            lab_logits = logits(x_lab, training=True)
            out["c_acc"] = _accuracy(y_lab, lab_logits)
            return _class_loss(y_lab, lab_logits)

        out["c_loss"] = self._apply(self.c_opt, c_loss_fn, self.disc_vars)
        out["d_real"] = self._apply(
            self.d_opt, lambda: _bce_real(_d_logit(logits(x_real, training=True))),
            self.disc_vars)
        x_fake = self.generator(z_fake, training=False)
        out["d_fake"] = self._apply(
            self.d_opt, lambda: _bce_fake(_d_logit(logits(x_fake, training=True))),
            self.disc_vars)
        out["g_loss"] = self._generator_update(z_gen, x_real)
        return out

    def _combined_step(self, x_lab, y_lab, x_real, z_fake, z_gen):
        x_fake = self.generator(z_fake, training=False)
        n_lab, n_real = keras.ops.shape(x_lab)[0], keras.ops.shape(x_real)[0]
        parts = {}

        def d_loss_fn():  # one larger pass over labelled + real + fake images
            all_logits = self.logits(keras.ops.concatenate([x_lab, x_real, x_fake]), training=True)
            lab_logits = all_logits[:n_lab]
            parts["c_acc"] = _accuracy(y_lab, lab_logits)
            parts["c_loss"] = _class_loss(y_lab, lab_logits)
            parts["d_real"] = _bce_real(_d_logit(all_logits[n_lab:n_lab + n_real]))
            parts["d_fake"] = _bce_fake(_d_logit(all_logits[n_lab + n_real:]))
            return parts["c_loss"] + parts["d_real"] + parts["d_fake"]

        self._apply(self.d_opt, d_loss_fn, self.disc_vars)
        parts["g_loss"] = self._generator_update(z_gen, x_real)
        return parts

    def _generator_update(self, z_gen, x_real):
        """G's update: fool D ("bce"), or match D's mean features on real images."""
        def loss_fn():
            fake = self.generator(z_gen, training=True)
            if self.config.generator_loss == "bce":  # a Python constant: fixed when traced
                return _bce_real(_d_logit(self.logits(fake, training=True)))
            real_mean = keras.ops.mean(_f32(self.features(x_real, training=True)), axis=0)
            fake_mean = keras.ops.mean(_f32(self.features(fake, training=True)), axis=0)
            return keras.ops.mean(keras.ops.square(real_mean - fake_mean))

        return self._apply(self.g_opt, loss_fn, self.gen_vars)

    def _draw_batch(self):
        """Numpy-side sampling (cheap): indices and latent points from the run's RNG."""
        c, rng = self.config, self.rng
        half = c.batch_size // 2
        x_lab, y_lab = data_mod.real_batch(self.x_sup, self.y_sup, half, rng)
        x_real, _ = data_mod.real_batch(self.x_train, None, half, rng)
        z_fake = data_mod.latent_points(half, c.latent_dim, rng)
        z_gen = data_mod.latent_points(c.batch_size, c.latent_dim, rng)
        return x_lab, y_lab.astype(np.int64), x_real, z_fake, z_gen

    def train_step(self) -> dict[str, float]:
        """Run one training step (all four updates); return its losses as floats."""
        out = self._step_fn(*self._draw_batch())
        self.step += 1
        return {k: float(v) for k, v in out.items()}

    # ------------------------------------------------------------ evaluation
    def predict_logits(self, x: np.ndarray, batch_size: int = 2000, weights: str = "raw") -> np.ndarray:
        """Class logits from the training weights (``"raw"``) or the averaged ones (``"ema"``)."""
        fn = self._logits_fns[weights]
        return np.concatenate(
            [np.asarray(fn(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
        )

    def accuracy(self, x: np.ndarray, y: np.ndarray, weights: str = "raw") -> float:
        return float(np.mean(self.predict_logits(x, weights=weights).argmax(axis=-1) == y))

    def evaluate(self) -> dict[str, float]:
        """Accuracies: labelled subset, test set and (optionally) all 60k training labels.

        With ``ema_decay`` set, the averaged classifier's get the prefix ``ema_``.
        """
        out = {}
        for weights, prefix in (("raw", ""), ("ema", "ema_")):
            if weights not in self._logits_fns:
                continue
            out[f"{prefix}labelled_acc"] = self.accuracy(self.x_sup, self.y_sup, weights)
            out[f"{prefix}test_acc"] = self.accuracy(self.x_test, self.y_test, weights)
            if self.config.eval_train:
                out[f"{prefix}train_acc"] = self.accuracy(self.x_train, self.y_train, weights)
        return out

    def _float32(self, model: keras.Model, build) -> keras.Model:
        """``model`` itself in float32 runs; else ``build()`` given its (float32) weights."""
        if self.config.precision == "float32":
            return model
        copy = build()
        copy.set_weights(model.get_weights())  # mixed precision keeps float32 variables
        return copy

    def saved_classifier(self) -> keras.Model:
        """The float32 classifier that ``classifier.keras`` holds: the averaged one if kept."""
        if self.ema_c is not None:
            return self.ema_c
        n_classes = self.logits.output.shape[-1]
        return self._float32(self.c_model, lambda: stacked_discriminators(n_classes=n_classes)[1])

    def saved_generator(self) -> keras.Model:
        """The float32 generator that ``generator.keras`` holds (images come out as float32)."""
        return self._float32(self.generator, lambda: build_generator(self.config.latent_dim))

    @property
    def headline_acc_key(self) -> str:
        """History key of the saved classifier's test accuracy."""
        return "ema_test_acc" if self.ema_c is not None else "test_acc"

    # ----------------------------------------------------------- checkpoints
    def _state_variables(self) -> dict[str, list]:
        return {
            "disc": list(self.logits.variables),  # includes Dropout's seed state
            "gen": list(self.generator.variables),
            "opt_c": list(self.c_opt.variables),
            "opt_d": list(self.d_opt.variables),
            "opt_g": list(self.g_opt.variables),
            **({"ema": [self.ema_updates, *self.ema_logits.variables]} if self.ema_c is not None else {}),
        }

    def save_checkpoint(self, path: Path | str) -> None:
        """Write every variable, optimizer state, RNG state, step and history in one file."""
        arrays = {f"{group}/{i}": v.numpy()
                  for group, vs in self._state_variables().items() for i, v in enumerate(vs)}
        meta = {"step": self.step, "rng": self.rng.bit_generator.state,
                "history": self.history, "train_seconds": self.train_seconds,
                "window": asdict(self.window), "epoch_metrics": asdict(self.epoch_metrics),
                "config": self.config.to_dict()}
        arrays["meta"] = np.array(json.dumps(meta))

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

        files.write_with(path, write)

    def load_checkpoint(self, path: Path | str) -> None:
        """Restore what :meth:`save_checkpoint` wrote (the config must match)."""
        try:
            with np.load(path, allow_pickle=False) as f:
                stored = {k: f[k] for k in f.files}
            meta = json.loads(str(stored.pop("meta")))
        except Exception as err:
            raise RunFolderError(
                f"{path}: cannot read the checkpoint ({err}). Delete it to start the run afresh."
            ) from err
        if TrainConfig.from_dict(meta["config"]) != self.config:
            raise RunFolderError(f"{path}: the checkpoint was written with another config.")
        for group, vs in self._state_variables().items():
            for i, v in enumerate(vs):
                v.assign(stored[f"{group}/{i}"])
        self.step = meta["step"]
        self.rng.bit_generator.state = meta["rng"]
        self.history = meta["history"]
        self.train_seconds = meta["train_seconds"]
        self.window = StepMetrics(**meta["window"])
        self.epoch_metrics = StepMetrics(**meta["epoch_metrics"])


def _machine() -> dict[str, Any]:
    import os

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
            "tensorflow": tf.__version__, "keras": keras.__version__}


def check_run_folder(config: TrainConfig, out: Path | str, resume: bool) -> None:
    """Raise :class:`RunFolderError` unless ``out`` can take this run (new, or resumable)."""
    out = Path(out)
    config_path = out / "config.json"
    if resume:
        if not config_path.is_file() or not (out / CHECKPOINT).is_file():
            raise RunFolderError(
                f"Nothing to resume in {out}: it holds no config.json and checkpoint.npz. "
                f"Start a new run without --resume."
            )
        saved = TrainConfig.from_dict(json.loads(config_path.read_text())["config"])
        if saved != config:
            diff = {k: (v, getattr(config, k)) for k, v in saved.to_dict().items()
                    if getattr(config, k) != v}
            raise RunFolderError(
                f"{out} holds a run with another config (saved vs asked: {diff}). "
                f"Resume with the same options, or pick a new --out."
            )
    elif out.exists() and any(out.iterdir()):
        raise RunFolderError(
            f"{out} is not empty (it may hold another run); nothing was overwritten. "
            f"Use --resume to continue that run, or choose a new --out folder."
        )


def run_training(
    config: TrainConfig,
    out_dir: Path | str,
    resume: bool = False,
    command: str | None = None,
    progress: bool | None = None,
    data: data_mod.Arrays | None = None,
) -> SGANTrainer:
    """Train into ``out_dir``, checkpointing as we go; ``resume=True`` continues a killed run.

    Writes (all atomically): ``config.json`` (config, and per session: command, machine,
    steps, wall time), ``history.json``, ``checkpoint.npz``,
    ``samples/epoch_NNN.png``, and at each epoch end ``classifier.keras`` and
    ``generator.keras``. ``progress=None`` shows a bar only on a terminal/notebook.
    """
    from tqdm.auto import tqdm

    from .plotting import save_sample_grid

    out = Path(out_dir)
    config_path, ckpt_path = out / "config.json", out / CHECKPOINT
    check_run_folder(config, out, resume)
    print(f"Run folder: {out}  ({config.total_steps} steps, schedule={config.schedule})", flush=True)

    trainer = SGANTrainer(config, data=data)
    if resume:
        trainer.load_checkpoint(ckpt_path)
        info = json.loads(config_path.read_text())
    else:
        info = {"config": config.to_dict(), "total_steps": config.total_steps, "sessions": []}
    session = {"command": command, "machine": _machine(),
               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "start_step": trainer.step}
    info["sessions"].append(session)
    files.write_json(config_path, info)
    session_start = time.perf_counter()

    total, per_epoch = config.total_steps, config.epoch_steps
    bar = tqdm(total=total, initial=trainer.step, unit="step", desc="SGAN", dynamic_ncols=True,
               disable=None if progress is None else not progress)
    tick = time.perf_counter()

    def clock() -> None:  # add the time since the last tick to the training time
        nonlocal tick
        now = time.perf_counter()
        trainer.train_seconds += now - tick
        tick = now

    while trainer.step < total:
        metrics = trainer.train_step()
        trainer.window.add(metrics)
        trainer.epoch_metrics.add(metrics)
        bar.update(1)
        step = trainer.step
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
            save_sample_grid(trainer.generator, trainer.grid_latent,
                             out / "samples" / f"epoch_{record['epoch']:03d}.png")
            files.save_model(trainer.saved_classifier(), out / "classifier.keras")
            files.save_model(trainer.saved_generator(), out / "generator.keras")
            files.write_json(out / "history.json", trainer.history)
            trainer.save_checkpoint(ckpt_path)
            shown = " ".join(f"{k}={v:.4f}" for k, v in record.items() if k.endswith("_acc"))
            bar.write(f"epoch {record['epoch']} (step {step}/{total}): {shown}")
            tick = time.perf_counter()  # evaluating and saving is not training time
        elif step % config.checkpoint_every == 0:
            clock()
            trainer.save_checkpoint(ckpt_path)
            tick = time.perf_counter()
    bar.close()
    session.update(finished=time.strftime("%Y-%m-%d %H:%M:%S"), end_step=trainer.step,
                   wall_seconds=round(time.perf_counter() - session_start, 1))
    info["train_seconds"] = round(trainer.train_seconds, 1)
    info["wall_seconds"] = round(sum(s.get("wall_seconds", 0.0) for s in info["sessions"]), 1)
    files.write_json(config_path, info)
    return trainer
