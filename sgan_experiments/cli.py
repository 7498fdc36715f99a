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


def _add_run_options(p: argparse.ArgumentParser, what: str, sgan: bool = True) -> None:
    """``--recipe``, one option per config field (:func:`sgan_experiments.config.add_options`), and
    the options of the run folder."""
    from .config import add_options
    from .recipes import RECIPES

    p.add_argument("--recipe", choices=sorted(RECIPES), default="tutorial",
                   help="tutorial (default): the 2019 tutorial's CNNs and schedule; series: the same "
                        "CNNs, combined D update, weight average; improved: Salimans et al.'s MLPs with "
                        "feature matching; salimans: improved, initialised as their code does (make "
                        "run's); faithful: the shipped 99 %% model's (see docs/cli.md). Options below "
                        "override it")
    add_options(p, sgan=sgan)
    p.add_argument("--out", type=Path,
                   help=f"run folder (default: runs/{what}<dataset>_<labels>labels_seed<seed>_<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    from .options import WHOLE_1
    from .recipes import RECIPES
    from .sweep import DEFAULT_BUDGETS, DEFAULT_DRAWS, EVALUATIONS

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

    baseline = sub.add_parser(
        "baseline", help="train the same classifier on the labelled images only (no GAN)",
        description="The supervised baseline: the recipe's classifier, trained on the labelled "
                    "images alone. --labels-from RUN uses exactly the labelled images of an SGAN run "
                    "(its dataset, labels, seed and architecture); the length is fixed in advance "
                    "(--steps; no test labels choose it).")
    baseline.add_argument("--labels-from", type=Path, metavar="RUN",
                          help="an SGAN run folder: train on its labelled images (from its config.json)")
    _add_run_options(baseline, "baseline_", sgan=False)

    sweep = sub.add_parser(
        "sweep", help="SGAN vs baseline over label budgets x label draws (resumable)",
        description="Train the SGAN and its supervised baseline for each label budget and label draw "
                    "(seed), each into its own run folder under --runs, and store one compact JSON per "
                    "run in --out (command, config, labelled indices, machine, wall time, every "
                    "accuracy). Cells whose JSON exists are skipped; an interrupted cell resumes.")
    sweep.add_argument("--recipe", choices=sorted(RECIPES), default="improved",
                       help="improved (default), salimans, series (make run's) or tutorial")
    sweep.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    sweep.add_argument("--labels", type=WHOLE_1.parse, nargs="+", default=list(DEFAULT_BUDGETS),
                       help=f"label budgets (default {' '.join(map(str, DEFAULT_BUDGETS))})")
    sweep.add_argument("--draws", type=WHOLE_1.parse, default=DEFAULT_DRAWS,
                       help=f"label draws per budget, seeds 1..N (default {DEFAULT_DRAWS})")
    sweep.add_argument("--seeds", type=WHOLE_1.parse, nargs="+",
                       help="train only these of the --draws label draws, e.g. --seeds 3: one draw of "
                            "a long sweep per session or machine (the records are the whole sweep's)")
    sweep.add_argument("--steps", type=WHOLE_1.parse, required=True, help="SGAN steps per run")
    sweep.add_argument("--baseline-steps", type=WHOLE_1.parse,
                       help="baseline steps per run (needed unless --methods sgan)")
    sweep.add_argument("--ceiling-steps", type=WHOLE_1.parse,
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
    sweep.add_argument("--evaluations", type=WHOLE_1.parse, default=EVALUATIONS,
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
    calibrate.add_argument("--steps", type=WHOLE_1.parse, default=12, help="timed steps per setting")

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
    from .config import OPTIONS, given_options, recipe_config

    fields: dict = {"method": method}
    source = _labels_from(args.labels_from) if getattr(args, "labels_from", None) else None
    if source is not None:
        for name in ("dataset", "n_labels", "seed", "label_seed", "architecture"):
            fields[name] = source[name]
        given = given_options(args)
        clash = {k: (given[k], fields[k]) for k in list(fields)[1:] if k in given and given[k] != fields[k]}
        if clash:
            raise ValueError(f"--labels-from {args.labels_from} sets {', '.join(clash)} from that run; "
                             f"drop {', '.join(OPTIONS[k].option_name(k) for k in clash)} "
                             f"(asked vs run: {clash}).")
    fields |= {k: v for k, v in given_options(args).items() if k not in fields}
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

    from .runs import RunFolderError, next_step_hint

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
