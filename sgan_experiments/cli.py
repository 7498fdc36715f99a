"""Command line: ``python -m sgan_experiments train|baseline|sweep|evaluate|calibrate``.

Errors a user can cause (bad options, missing or corrupt data, a folder holding
another run or no run, an unwritable folder or a full disk, a checkpoint that does
not fit, a file that is not a model) end with one ``error:`` line and a non-zero
exit, never a traceback, and nothing already written is overwritten. After an
interruption the message says whether ``--resume`` or a fresh start works.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from sgan_helpers.data import DATASETS, DatasetFileError, DatasetUnavailableError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _between_0_and_1(example: str, what: str = "a number"):
    """An argparse type: a number strictly between 0 and 1 (errors name ``example``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} such as {example}, got {text!r}") from None
        if not 0.0 < value < 1.0:
            raise argparse.ArgumentTypeError(f"must be between 0 and 1 (e.g. {example}), got {value}")
        return value
    return parse


_decay = _between_0_and_1("0.999")
_adam_epsilon = _between_0_and_1("1e-4", "a small number")


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value:g}")
    return value


def _learning_rate(text: str) -> float:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _add_recipe_options(p: argparse.ArgumentParser) -> None:
    """The options that say what is trained; each overrides the --recipe's value."""
    from .training import ARCHITECTURES, LATENTS, LR_SCHEDULES, RECIPES, SAMPLINGS

    p.add_argument("--recipe", choices=sorted(RECIPES), default="tutorial",
                   help="tutorial (default): the 2019 tutorial's CNNs and schedule; series: the same "
                        "CNNs, combined D update, weight average (make run's); improved: Salimans "
                        "et al.'s MLPs with feature matching; salimans: improved, initialised as "
                        "their code does (see docs/cli.md). Options below override it")
    p.add_argument("--architecture", choices=ARCHITECTURES, help="tutorial (CNNs) or mlp")
    p.add_argument("--batch-size", type=_positive_int,
                   help="images per step, split in two halves (tutorial 100, improved 200)")
    p.add_argument("--learning-rate", type=_learning_rate, help="Adam's step size (tutorial 2e-4)")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help="constant, or linear: decay to 0 over the second half of the run")
    p.add_argument("--noise-scale", type=_non_negative,
                   help="mlp only: multiply its Gaussian noise (0 = off; default 1)")
    p.add_argument("--generator-output", choices=("softplus", "sigmoid"),
                   help="mlp only: the generator's output unit (default softplus; sigmoid is the paper's)")
    p.add_argument("--latent", choices=LATENTS,
                   help="mlp only: the generator's latent points: normal (default) or uniform in [0, 1] "
                        "(Salimans et al.'s code; the model still takes normal points and maps them)")
    p.add_argument("--adam-epsilon", type=_adam_epsilon, metavar="EPS",
                   help="Adam's epsilon (default Keras's 1e-7; Salimans et al.'s code: about 1e-4)")
    p.add_argument("--float32-output", action=argparse.BooleanOptionalAction, default=None,
                   help="mlp only: the generator's output layer computes in float32 when training runs in "
                        "bfloat16 (a sigmoid output needs it; default off)")
    p.add_argument("--sampling", choices=SAMPLINGS, default=None,
                   help="real images per batch: random (with replacement; the recipes') or epochs "
                        "(passes through the images, each in a new order: Salimans et al.'s code)")
    p.add_argument("--init-noise", action=argparse.BooleanOptionalAction, default=None,
                   help="mlp only: let the weight-normalisation initialisation see the training noise "
                        "(salimans: on; improved: off)")
    p.add_argument("--ema", type=_decay, metavar="DECAY",
                   help="also keep a moving average of the classifier's weights (e.g. 0.999) and "
                        "save that one as classifier.keras; training itself is unchanged")


def _add_run_options(p: argparse.ArgumentParser, what: str) -> None:
    """Options of one training run: length, labels, data, folder, speed."""
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive_int,
                        help="epochs of --steps-per-epoch steps (default 20)")
    length.add_argument("--steps", type=_positive_int, help="total training steps (instead of --epochs)")
    length.add_argument("--minutes", type=_minutes, metavar="M",
                        help="train for about M minutes: the step count is chosen from the step rate "
                             "measured on this machine over its first 10 seconds (and 25 steps), "
                             "and recorded in config.json")
    p.add_argument("--labels", type=_int, default=None,
                   help="labelled examples, the same number per class (default 100; "
                        "the training-set size = every label)")
    p.add_argument("--seed", type=_int, default=None,
                   help="random seed; it also picks which images are labelled (default 1)")
    p.add_argument("--label-seed", type=_int, default=None, metavar="SEED",
                   help="pick the labelled images with this seed instead of --seed: one draw's "
                        "labels trained with other seeds (labels or luck?)")
    p.add_argument("--dataset", choices=sorted(DATASETS), default=None, help="default mnist")
    p.add_argument("--out", type=Path,
                   help=f"run folder (default: runs/{what}<dataset>_<labels>labels_seed<seed>_<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint")
    p.add_argument("--steps-per-epoch", type=_positive_int,
                   help="steps between evaluations and saved models (default: 60000 / batch)")
    p.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16"],
                   help="the recipe's (faithful: float32), else auto: mixed_bfloat16 where the CPU or GPU "
                        "has bfloat16 units, else float32 (see benchmarks/README.md)")
    p.add_argument("--jit", nargs="?", const="on", default="auto", choices=["auto", "on", "off"],
                   help="compile the step with XLA. auto (default): on for AVX2-only CPUs and GPUs, "
                        "off for AVX-512 CPUs, or what `calibrate` measured here")
    p.add_argument("--no-train-eval", action="store_true",
                   help="skip the per-epoch accuracy on all 60,000 training labels "
                        "(the tutorial's figure)")
    p.add_argument("--checkpoint-every", type=_positive_int, default=100,
                   help="steps between checkpoints (default 100)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    from .sweep import DEFAULT_BUDGETS, DEFAULT_DRAWS, EVALUATIONS
    from .training import RECIPES

    parser = argparse.ArgumentParser(
        prog="python -m sgan_experiments",
        description="Train and evaluate the semi-supervised GAN of the SGAN notebooks.",
    )
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{train,baseline,sweep,evaluate,calibrate,run-experiment}")

    train = sub.add_parser(
        "train", help="train an SGAN (defaults: the 2019 tutorial's schedule)",
        description="Train an SGAN. Defaults reproduce the tutorial: 100 labels, batch 100, "
                    "20 epochs of 600 steps.")
    _add_run_options(train, "")
    _add_recipe_options(train)
    train.add_argument("--schedule", choices=["tutorial", "combined"],
                       help="tutorial: C, D-real, D-fake and G updates (the tutorial's); "
                            "combined: one D update on the summed losses")
    train.add_argument("--generator-loss", choices=["bce", "feature_matching"],
                       help="bce: fool D (the tutorial's); feature_matching: match D's mean "
                            "features of real images (Salimans et al. 2016)")
    train.add_argument("--unlabelled-weight", type=_non_negative,
                       help="weight of the real/fake loss in D's update (tutorial 1, improved 0.5)")

    baseline = sub.add_parser(
        "baseline", help="train the same classifier on the labelled images only (no GAN)",
        description="The supervised baseline: the recipe's classifier, trained on the labelled "
                    "images alone. --labels-from RUN uses exactly the labelled images of an SGAN run "
                    "(its dataset, labels, seed and architecture); the length is fixed in advance "
                    "(--steps; no test labels choose it).")
    baseline.add_argument("--labels-from", type=Path, metavar="RUN",
                          help="an SGAN run folder: train on its labelled images (from its config.json)")
    _add_run_options(baseline, "baseline_")
    _add_recipe_options(baseline)

    sweep = sub.add_parser(
        "sweep", help="SGAN vs baseline over label budgets x label draws (resumable)",
        description="Train the SGAN and its supervised baseline for each label budget and label draw "
                    "(seed), each into its own run folder under --runs, and store one compact JSON per "
                    "run in --out (command, config, labelled indices, machine, wall time, every "
                    "accuracy). Cells whose JSON exists are skipped; an interrupted cell resumes.")
    sweep.add_argument("--recipe", choices=sorted(RECIPES), default="improved",
                       help="improved (default), salimans, series (make run's) or tutorial")
    sweep.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    sweep.add_argument("--labels", type=_positive_int, nargs="+", default=list(DEFAULT_BUDGETS),
                       help=f"label budgets (default {' '.join(map(str, DEFAULT_BUDGETS))})")
    sweep.add_argument("--draws", type=_positive_int, default=DEFAULT_DRAWS,
                       help=f"label draws per budget, seeds 1..N (default {DEFAULT_DRAWS})")
    sweep.add_argument("--seeds", type=_positive_int, nargs="+",
                       help="train only these of the --draws label draws, e.g. --seeds 3: one draw of "
                            "a long sweep per session or machine (the records are the whole sweep's)")
    sweep.add_argument("--steps", type=_positive_int, required=True, help="SGAN steps per run")
    sweep.add_argument("--baseline-steps", type=_positive_int,
                       help="baseline steps per run (needed unless --methods sgan)")
    sweep.add_argument("--ceiling-steps", type=_positive_int,
                       help="also train the baseline on every training label, this many steps")
    sweep.add_argument("--methods", choices=("sgan", "supervised"), nargs="+",
                       default=["sgan", "supervised"])
    sweep.add_argument("--out", type=Path, required=True, help="folder of the result JSON files")
    sweep.add_argument("--runs", type=Path, default=Path("runs") / "sweeps",
                       help="where the run folders go (default runs/sweeps/<name of --out>)")
    sweep.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", type=_setting,
                       help="override one recipe field in every cell, e.g. --set noise_scale=0 "
                            "(an ablation); repeatable")
    sweep.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16"],
                       help="the recipe's (faithful: float32), else auto")
    sweep.add_argument("--evaluations", type=_positive_int, default=EVALUATIONS,
                       help=f"test evaluations per run, its learning curve (default {EVALUATIONS}); "
                            "each costs about a second")
    sweep.add_argument("--dry-run", action="store_true",
                       help="list the cells and what is done; train nothing")

    evaluate = sub.add_parser("evaluate", help="print train and test accuracy of a saved classifier")
    evaluate.add_argument("model", type=Path, help="a classifier .keras file, e.g. runs/…/classifier.keras")
    evaluate.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")

    calibrate = sub.add_parser(
        "calibrate", help="time each precision/XLA setting on this machine; `auto` then uses the fastest",
        description="Time a few training steps in each setting (about 1-3 minutes) and store the "
                    "fastest in your cache folder ($SGAN_CACHE_DIR or ~/.cache/sgan_helpers); "
                    "--precision auto and --jit auto then use it on this machine.")
    calibrate.add_argument("--steps", type=_positive_int, default=12, help="timed steps per setting")

    experiment = sub.add_parser(
        "run-experiment", help="run a stored experiment by name (--list: every name)",
        description="Run the command that made a stored experiment (sgan_experiments/experiments.py); "
                    "options after NAME are added to it, a later option winning (e.g. --seeds 2).")
    experiment.add_argument("name", nargs="?", help="an experiment or group name")
    experiment.add_argument("--list", action="store_true", help="every name and what it measures")
    return parser


def _setting(text: str) -> tuple[str, object]:
    """``FIELD=VALUE`` for ``sweep --set``: a TrainConfig field and a JSON value (or a bare word)."""
    import json

    from .sweep import SETTABLE

    field, sep, raw = text.partition("=")
    if not sep or field not in SETTABLE:
        raise argparse.ArgumentTypeError(
            f"expected FIELD=VALUE with FIELD one of {', '.join(SETTABLE)}, got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return field, value


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes such as 8, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value:g}")
    return value


# CLI option -> TrainConfig field, for the options that override a recipe
_RECIPE_FIELDS = {"architecture": "architecture", "batch_size": "batch_size",
                  "learning_rate": "learning_rate", "lr_schedule": "lr_schedule",
                  "noise_scale": "noise_scale", "generator_output": "generator_output",
                  "latent": "latent", "float32_output": "float32_output", "adam_epsilon": "adam_epsilon",
                  "ema": "ema_decay", "schedule": "schedule",
                  "generator_loss": "generator_loss", "unlabelled_weight": "unlabelled_weight",
                  "init_noise": "init_noise", "sampling": "sampling"}


def _labels_from(run: Path) -> dict:
    """Dataset, labels, seed and architecture of an SGAN run folder (its ``config.json``)."""
    import json

    path = run / "config.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        c = info["config"]
        return {"dataset": c["dataset"], "n_labels": int(c["n_labels"]), "seed": int(c["seed"]),
                "label_seed": c.get("label_seed"),
                "architecture": c.get("architecture", "tutorial"),
                "labelled_indices": info.get("labelled_indices")}
    except FileNotFoundError:
        raise ValueError(f"--labels-from {run}: no {path.name} there; give the folder of an SGAN run "
                         f"(it holds config.json).") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"--labels-from {run}: cannot read {path} ({type(err).__name__}: {err}).") from None


def train_config(args: argparse.Namespace, method: str):
    """The TrainConfig the options ask for: the recipe, then every option given."""
    from .training import recipe_config

    fields: dict = {"method": method}
    source = _labels_from(args.labels_from) if getattr(args, "labels_from", None) else None
    if source is not None:
        for name in ("dataset", "n_labels", "seed", "label_seed", "architecture"):
            fields[name] = source[name]
        given = {"dataset": args.dataset, "n_labels": args.labels, "seed": args.seed,
                 "label_seed": args.label_seed, "architecture": args.architecture}
        clash = {k: (v, fields[k]) for k, v in given.items() if v is not None and v != fields[k]}
        if clash:
            raise ValueError(f"--labels-from {args.labels_from} sets {', '.join(clash)} from that run; "
                             f"drop {', '.join('--' + k.replace('n_', '').replace('_', '-') for k in clash)} "
                             f"(asked vs run: {clash}).")
    else:
        fields |= {"dataset": args.dataset or "mnist",
                   "n_labels": 100 if args.labels is None else args.labels,
                   "seed": 1 if args.seed is None else args.seed, "label_seed": args.label_seed}
    for option, name in _RECIPE_FIELDS.items():
        value = getattr(args, option, None)
        if value is not None and name not in fields:
            fields[name] = value
    fields |= {"epochs": args.epochs if args.epochs is not None else 20, "steps": args.steps,
               "minutes": args.minutes, "steps_per_epoch": args.steps_per_epoch,
               "jit_compile": args.jit,
               "eval_train": not args.no_train_eval, "checkpoint_every": args.checkpoint_every}
    if args.precision is not None:  # else the recipe's, or auto
        fields["precision"] = args.precision
    return recipe_config(args.recipe, **fields), source


def _train(args: argparse.Namespace, command: str, method: str = "sgan") -> int:
    from .training import run_training

    config, source = train_config(args, method)
    out = args.out
    if out is None:
        if args.resume:
            raise ValueError("--resume needs --out: the folder of the run to continue.")
        prefix = "" if method == "sgan" else "baseline_"
        out = Path("runs") / (f"{prefix}{config.dataset}_{config.n_labels}labels_seed{config.seed}_"
                              f"{time.strftime('%Y%m%d-%H%M%S')}")
        args.out = out  # for the resume hint on Ctrl-C
    started = time.perf_counter()
    trainer = run_training(config, out, resume=args.resume, command=command,
                           progress=False if args.quiet else None,
                           expect_indices=None if source is None else source["labelled_indices"])
    last = trainer.history["epochs"][-1]
    which = " (averaged weights)" if config.ema_decay is not None else ""
    what = "" if method == "sgan" else "Baseline (no GAN): "
    print(f"Done in {time.perf_counter() - started:.0f} s. {what}"
          f"Test accuracy{which} {100 * last[trainer.headline_acc_key]:.2f}% with {config.n_labels} labels "
          f"after {trainer.step} steps. "
          f"Classifier: {out / 'classifier.keras'}")
    return 0


def sweep_spec(args: argparse.Namespace):
    """The :class:`~sgan_experiments.sweep.SweepSpec` that ``sweep``'s options ask for."""
    from .sweep import SweepSpec

    if "supervised" in args.methods and args.baseline_steps is None:
        raise ValueError("--baseline-steps is needed for the baselines (or pass --methods sgan).")
    return SweepSpec(recipe=args.recipe, dataset=args.dataset, budgets=tuple(args.labels),
                     draws=args.draws, steps=args.steps, baseline_steps=args.baseline_steps,
                     ceiling_steps=args.ceiling_steps, methods=tuple(args.methods),
                     precision=args.precision, overrides=dict(args.set), evaluations=args.evaluations)


def _sweep(args: argparse.Namespace, command: str) -> int:
    from .sweep import run_sweep

    spec = sweep_spec(args)
    run_sweep(spec, args.out, args.runs / args.out.name, command=command, dry_run=args.dry_run,
              seeds=args.seeds)
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from . import speed, training

    hw = speed.detect_hardware()
    print(f"{hw.cpu}: CPU class {hw.cpu_class}" + (f"; GPUs: {', '.join(hw.gpus)}" if hw.gpus else ""))
    print(f"the rule alone would choose: {speed.rule(hw).describe()}")
    print(f"timing {args.steps} steps in each of {len(speed.candidates(hw))} settings ...", flush=True)
    choice, rates = speed.calibrate(lambda p, j: training.time_training_steps(p, j, steps=args.steps), hw=hw)
    for name, rate in rates.items():
        print(f"  {name:<22} {rate:.2f} steps/s")
    print(f"auto now chooses: {choice.describe()}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from sgan_helpers.data import load_dataset, preprocess
    from sgan_helpers.evaluation import accuracy, load_classifier

    model = load_classifier(args.model, n_classes=DATASETS[args.dataset].n_classes)
    (x_train, y_train), (x_test, y_test) = load_dataset(args.dataset)
    print(f"Train Accuracy: {100 * accuracy(model, preprocess(x_train), y_train):.3f}%")
    print(f"Test Accuracy: {100 * accuracy(model, preprocess(x_test), y_test):.3f}%")
    return 0


def _run_experiment(args: list[str]) -> int:
    """``run-experiment NAME [options]``: each of the experiment's commands in turn, as if typed."""
    from .experiments import expand, listing

    if args == ["--list"]:
        print(listing())
        return 0
    try:
        commands = expand(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    for argv in commands:
        print("python -m sgan_experiments " + shlex.join(argv), flush=True)
        code = main(argv)
        if code:
            return code
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run-experiment"] and "-h" not in argv and "--help" not in argv:
        return _run_experiment(argv[1:])
    args = build_parser().parse_args(argv)
    from sgan_helpers.evaluation import ModelFileError

    from .training import RunFolderError, next_step_hint

    command = "python -m sgan_experiments " + shlex.join(argv)

    def hint(prefix: str = "") -> str:  # for train: does a fresh start or --resume work now?
        if args.command == "sweep" and not args.dry_run:
            return (f" {prefix}Run the same sweep command again: finished runs are kept, "
                    "the unfinished one resumes from its last checkpoint.")
        if args.command not in ("train", "baseline"):
            return ""
        return f" {prefix}{next_step_hint(getattr(args, 'out', None))}"

    try:
        if args.command == "train":
            return _train(args, command)
        if args.command == "baseline":
            return _train(args, command, method="supervised")
        if args.command == "sweep":
            return _sweep(args, command)
        if args.command == "calibrate":
            return _calibrate(args)
        return _evaluate(args)
    except (RunFolderError, DatasetUnavailableError, DatasetFileError, ModelFileError,
            ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as err:  # cannot write (permissions, disk full) or read a file
        print(f"error: {str(err).rstrip('.')}.{hint('Nothing already written was lost. ')}",
              file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (see sgan_experiments.stopping)
        print(f"\ninterrupted{f' ({err})' if str(err) else ''}.{hint()}", file=sys.stderr)
        return EXIT_INTERRUPTED
