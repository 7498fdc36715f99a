"""What a training run is: :class:`TrainConfig`, every field written once with its rule and help.

Each field carries its own :class:`Option` (in ``field(metadata=...)``): the values it takes, the
one-line help, the command-line flag. :meth:`TrainConfig.__post_init__` checks values with those
rules, ``python -m sgan_experiments train`` builds its options from them (:func:`add_options`), and
``sweep --set`` may set the fields marked ``settable``. Adding a field is one line here.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sgan_helpers import data as data_mod
from sgan_helpers.discriminators import ADAM_EPSILON, BETA_1, LEARNING_RATE
from sgan_helpers.generator import LATENT_DIM
from sgan_helpers.improved import LATENTS, OUTPUTS

from . import speed
from .options import WHOLE_0, WHOLE_1, Number, Option
from .options import option_field as _f
from .recipes import RECIPES

AUTO = speed.AUTO
OPERATIONAL_FIELDS = ("jit_compile", "checkpoint_every", "eval_train", "log_every")
"""Config fields that say how a run is operated, not what it computes: ``--resume`` may change them
(the session's entry in ``config.json`` records the change). Every other field defines the run."""


RECIPE = {"settable": True}
SCHEDULES = ("tutorial", "combined")
GENERATOR_LOSSES = ("bce", "feature_matching")
ARCHITECTURES = ("tutorial", "mlp")
METHODS = ("sgan", "supervised")
SAMPLINGS = ("random", "epochs")
LR_SCHEDULES = ("constant", "linear")


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults = the 2019 tutorial's schedule."""

    dataset: str = _f("mnist", "the images (their .npz files: $SGAN_DATA_DIR, else Keras's download)",
                      choices=tuple(sorted(data_mod.DATASETS)))
    n_labels: int = _f(100, "labelled examples, the same number per class (default 100; the training-set "
                            "size = every label)", rule=Number(whole=True), flag="--labels",
                        argparse={"metavar": "N"})
    epochs: int = _f(20, "epochs of --steps-per-epoch steps (default 20)", rule=WHOLE_1)
    steps: int | None = _f(None, "total training steps (instead of --epochs)", rule=WHOLE_1)
    batch_size: int = _f(100, "images per step, split in two halves (tutorial 100, improved 200)",
                         rule=WHOLE_1, **RECIPE)
    steps_per_epoch: int | None = _f(None, "steps between evaluations and saved models (default: "
                                           "60000 / batch; a --minutes run: about 5 evaluations)",
                                  rule=WHOLE_1)
    latent_dim: int = _f(LATENT_DIM, "the generator's latent dimension", rule=WHOLE_1, cli=False)
    seed: int = _f(1, "random seed; it also picks which images are labelled (default 1)", rule=WHOLE_0)
    label_seed: int | None = _f(None, "pick the labelled images with this seed instead of --seed: one "
                                      "draw's labels trained with other seeds (labels or luck?)",
                                rule=WHOLE_0, settable=True, argparse={"metavar": "SEED"})
    learning_rate: float = _f(LEARNING_RATE, "Adam's step size (tutorial 2e-4)", rule=Number(above=0),
                              **RECIPE)
    beta_1: float = _f(BETA_1, "Adam's beta_1 (the tutorial's 0.5)", rule=Number(at_least=0, below=1),
                       cli=False)
    adam_epsilon: float = _f(ADAM_EPSILON, "Adam's epsilon (default Keras's 1e-7; Salimans et al.'s "
                                           "code: about 1e-4)",
                             rule=Number(above=0, below=1, example="1e-4", kind="a small number"),
                             argparse={"metavar": "EPS"}, **RECIPE)
    schedule: str = _f("tutorial", "tutorial: C, D-real, D-fake and G updates (the tutorial's); combined: "
                                   "one D update on the summed losses", choices=SCHEDULES, sgan_only=True,
                       **RECIPE)
    generator_loss: str = _f("bce", "bce: fool D (the tutorial's); feature_matching: match D's mean "
                                    "features of real images (Salimans et al. 2016)",
                             choices=GENERATOR_LOSSES, sgan_only=True, **RECIPE)
    architecture: str = _f("tutorial", "tutorial (the 2019 tutorial's CNNs) or mlp (Salimans et al.'s "
                                       "MLPs)", choices=ARCHITECTURES, **RECIPE)
    method: str = _f("sgan", "sgan, or supervised: the baseline, the same classifier trained on the "
                             "labelled images alone (the `baseline` command)", choices=METHODS, cli=False)
    unlabelled_weight: float = _f(1.0, "combined schedule: weight of the real/fake loss in D's update "
                                       "(tutorial 1, improved 0.5)", rule=Number(at_least=0),
                                  sgan_only=True, **RECIPE)
    lr_schedule: str = _f("constant", "constant, or linear: decay to 0 over the second half of the run",
                          choices=LR_SCHEDULES, **RECIPE)
    noise_scale: float = _f(1.0, "mlp only: multiply its Gaussian noise (0 = off; default 1)",
                            rule=Number(at_least=0), mlp_only=" (the tutorial's CNN has dropout, no noise "
                                                              "layers)", **RECIPE)
    generator_output: str = _f("softplus", "mlp only: the generator's output unit (default softplus; "
                                           "sigmoid is the paper's)", choices=OUTPUTS, mlp_only="", **RECIPE)
    latent: str = _f("normal", "mlp only: the generator's latent points: normal (default) or uniform in "
                               "[0, 1] (Salimans et al.'s code; the model still takes normal points and "
                               "maps them)", choices=LATENTS,
                     mlp_only=" (the tutorial's generator takes standard-normal points)", **RECIPE)
    float32_output: bool = _f(False, "mlp only: the generator's output layer computes in float32 when "
                                     "training runs in bfloat16 (a sigmoid output needs it; default off)",
                              mlp_only="", **RECIPE)
    init_noise: bool = _f(False, "mlp only: let the weight-normalisation initialisation see the training "
                                 "noise (salimans: on; improved: off)",
                          mlp_only=" (its weight-normalised layers)", **RECIPE)
    sampling: str = _f("random", "real images per batch: random (with replacement; the recipes') or epochs "
                                 "(passes through the images, each in a new order: Salimans et al.'s code)",
                       choices=SAMPLINGS, **RECIPE)
    jit_compile: bool | str = _f(AUTO, "compile the step with XLA. auto (default): on for AVX2-only CPUs "
                                       "and GPUs, off for AVX-512 CPUs, or what `calibrate` measured here",
                                 flag="--jit", argparse={"nargs": "?", "const": "on",
                                                         "choices": ("auto", "on", "off")})
    precision: str = _f(AUTO, "the recipe's (faithful: float32), else auto: mixed_bfloat16 where the CPU "
                              "or GPU has bfloat16 units, else float32 (see benchmarks/README.md)",
                        choices=(AUTO, *speed.PRECISIONS))
    minutes: float | None = _f(None, "train for about M minutes: the step count is chosen from the step "
                                     "rate measured on this machine over its first 30 seconds, and "
                                     "recorded in config.json",
                               rule=Number(above=0, example="8", kind="a number of minutes"),
                               argparse={"metavar": "M"})
    ema_decay: float | None = _f(None, "also keep a moving average of the classifier's weights (e.g. "
                                       "0.999) and save that one as classifier.keras; training itself is "
                                       "unchanged", rule=Number(above=0, below=1, example="0.999"),
                                 flag="--ema", argparse={"metavar": "DECAY"}, **RECIPE)
    eval_train: bool = _f(True, "skip the per-epoch accuracy on all 60,000 training labels (the "
                                "tutorial's figure)", flag="--no-train-eval",
                          argparse={"action": "store_const", "const": False})
    checkpoint_every: int = _f(100, "steps between checkpoints (default 100)", rule=WHOLE_1)
    log_every: int = _f(50, "steps between the logged loss means", rule=WHOLE_1, cli=False)

    def __post_init__(self) -> None:
        info = data_mod.dataset_info(self.dataset)  # raises for unknown names
        speed.check(self.precision, self.jit_compile)
        self.jit_compile = speed.jit_setting(self.jit_compile)  # "on"/"off" -> True/False
        defaults = OPTION_DEFAULTS
        for name, option in OPTIONS.items():
            value = getattr(self, name)
            if option.choices is not None and value not in option.choices:
                raise ValueError(f"{name} must be one of {option.choices}, got {value!r}.")
            unset = value is None and defaults[name] is None
            problem = option.rule is not None and not unset and option.rule.problem(value)
            if problem:
                raise ValueError(f"{name} must be {problem}, got {value!r}.")
            if option.mlp_only is not None and self.architecture != "mlp" and value != defaults[name]:
                raise ValueError(f"{name} applies to architecture='mlp' only{option.mlp_only}.")
        n_classes = info.n_classes
        if self.n_labels < 1 or self.n_labels % n_classes:
            raise ValueError(f"n_labels must be a positive multiple of the {n_classes} classes "
                             f"(so each class gets the same number), got {self.n_labels}.")
        for name in ("n_labels", "batch_size"):
            if getattr(self, name) > info.n_train:
                raise ValueError(f"{name} ({getattr(self, name)}) cannot exceed the {info.n_train:,} "
                                 f"training images of {info.name}.")
        if self.batch_size % 2:
            raise ValueError(f"batch_size must be even (it is split in halves), got {self.batch_size}.")
        if self.schedule == "tutorial" and self.method == "sgan" and self.unlabelled_weight != 1.0:
            raise ValueError("unlabelled_weight applies to schedule='combined' only (the tutorial's "
                             "four updates weigh each loss alike).")

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

    @property
    def sized_by_time(self) -> bool:
        """True until the step count of a ``minutes`` run has been chosen."""
        return self.minutes is not None and self.steps is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return cls(**{k: v for k, v in d.items() if k in OPTIONS})

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


OPTIONS: dict[str, Option] = {f.name: f.metadata["option"] for f in fields(TrainConfig)}
"""Every field's :class:`Option`, in the dataclass's order."""
SETTABLE = tuple(name for name, option in OPTIONS.items() if option.settable)
"""Fields a recipe or ``sweep --set`` may set, each a ``train`` option."""
OPTION_DEFAULTS = {name: f.default for name, f in zip(OPTIONS, fields(TrainConfig), strict=True)}
LENGTH = ("epochs", "steps", "minutes")
"""Fields of which a command gives at most one."""


def recipe_config(recipe: str = "tutorial", **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from a named recipe (:mod:`sgan_experiments.recipes`), fields overridden."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {tuple(RECIPES)}, got {recipe!r}.")
    return TrainConfig(**{**RECIPES[recipe].fields, **overrides})


def add_options(parser: argparse.ArgumentParser, sgan: bool = True) -> None:
    """One option per field with a command-line form, each ``None`` unless given (then the recipe's
    value, or the field's default, holds). ``sgan=False``: without the GAN-only fields (``baseline``)."""
    length = parser.add_mutually_exclusive_group()
    for name, option in OPTIONS.items():
        if not option.cli or (option.sgan_only and not sgan):
            continue
        kwargs: dict[str, Any] = {"help": option.help, "default": None, "dest": name}
        if option.rule is not None:
            kwargs["type"] = option.rule.parse
        if option.choices is not None:
            kwargs["choices"] = option.choices
        if isinstance(OPTION_DEFAULTS[name], bool) and not option.argparse:
            kwargs["action"] = argparse.BooleanOptionalAction
        kwargs |= option.argparse
        (length if name in LENGTH else parser).add_argument(option.option_name(name), **kwargs)


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields a parsed command line set (what :func:`add_options` added and was given)."""
    return {name: getattr(args, name) for name in OPTIONS if getattr(args, name, None) is not None}


def option_text(name: str, value: Any) -> str:
    """The ``train`` option that sets field ``name`` to ``value``: ``--noise-scale 0``, ``--init-noise``."""
    flag = OPTIONS[name].option_name(name)
    if isinstance(value, bool):
        return flag if value else "--no-" + flag[2:]
    return f"{flag} {value}"
