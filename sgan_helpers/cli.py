"""Command line: ``python -m sgan_helpers train|evaluate``.

Errors a user can cause (bad options, missing or corrupt data, a folder holding
another run or no run, an unwritable folder or a full disk, a checkpoint that does
not fit, a file that is not a model) end with one ``error:`` line and a non-zero
exit, never a traceback, and nothing already written is overwritten. After an
interruption the message says whether ``--resume`` or a fresh start works.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from .data import DATASETS, DatasetFileError, DatasetUnavailableError

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


def _decay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.999, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (e.g. 0.999), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sgan_helpers",
        description="Train and evaluate the semi-supervised GAN of the SGAN notebooks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,calibrate}")

    train = sub.add_parser(
        "train", help="train an SGAN (defaults: the 2019 tutorial's schedule)",
        description="Train an SGAN. Defaults reproduce the tutorial: 100 labels, batch 100, "
                    "20 epochs of 600 steps.")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive_int,
                        help="epochs of --steps-per-epoch steps (default 20)")
    length.add_argument("--steps", type=_positive_int, help="total training steps (instead of --epochs)")
    length.add_argument("--minutes", type=_minutes, metavar="M",
                        help="train for about M minutes: the step count is chosen from the step rate "
                             "measured on this machine after 25 steps, and recorded in config.json")
    train.add_argument("--labels", type=_int, default=100,
                       help="labelled examples, the same number per class (default 100)")
    train.add_argument("--seed", type=_int, default=1, help="random seed (default 1)")
    train.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    train.add_argument("--out", type=Path,
                       help="run folder (default: runs/<dataset>_<labels>labels_seed<seed>_<time>)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its last checkpoint")
    train.add_argument("--schedule", choices=["tutorial", "combined"], default="tutorial",
                       help="tutorial: C, D-real, D-fake and G updates (default); "
                            "combined: one D update on the summed losses")
    train.add_argument("--generator-loss", choices=["bce", "feature_matching"], default="bce",
                       help="bce: fool D (default, the tutorial's); feature_matching: match D's mean "
                            "features of real images (Salimans et al. 2016)")
    train.add_argument("--ema", type=_decay, metavar="DECAY",
                       help="also keep a moving average of the classifier's weights (e.g. 0.999) and "
                            "save that one as classifier.keras; training itself is unchanged")
    train.add_argument("--steps-per-epoch", type=_positive_int,
                       help="steps between evaluations and saved models (default: 60000 / batch = 600)")
    train.add_argument("--batch-size", type=_positive_int, default=100)
    train.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16"], default="auto",
                       help="auto (default): mixed_bfloat16 where the CPU or GPU has bfloat16 units, "
                            "else float32 (see README, Training speed)")
    train.add_argument("--jit", nargs="?", const="on", default="auto", choices=["auto", "on", "off"],
                       help="compile the step with XLA. auto (default): on for AVX2-only CPUs and GPUs, "
                            "off for AVX-512 CPUs, or what `calibrate` measured here")
    train.add_argument("--no-train-eval", action="store_true",
                       help="skip the per-epoch accuracy on all 60,000 training labels "
                            "(the tutorial's figure)")
    train.add_argument("--checkpoint-every", type=_positive_int, default=100,
                       help="steps between checkpoints (default 100)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = sub.add_parser("evaluate", help="print train and test accuracy of a saved classifier")
    evaluate.add_argument("model", type=Path, help="a classifier .keras file, e.g. runs/…/classifier.keras")
    evaluate.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")

    calibrate = sub.add_parser(
        "calibrate", help="time each precision/XLA setting on this machine; `auto` then uses the fastest",
        description="Time a few training steps in each setting (about 1-3 minutes) and store the "
                    "fastest in your cache folder ($SGAN_CACHE_DIR or ~/.cache/sgan_helpers); "
                    "--precision auto and --jit auto then use it on this machine.")
    calibrate.add_argument("--steps", type=_positive_int, default=12, help="timed steps per setting")
    return parser


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes such as 8, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value:g}")
    return value


def _train(args: argparse.Namespace, command: str) -> int:
    from .training import TrainConfig, run_training

    config = TrainConfig(
        dataset=args.dataset, n_labels=args.labels, seed=args.seed,
        epochs=args.epochs if args.epochs is not None else 20, steps=args.steps,
        steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
        schedule=args.schedule, generator_loss=args.generator_loss, precision=args.precision,
        jit_compile=args.jit, ema_decay=args.ema,
        minutes=args.minutes,
        eval_train=not args.no_train_eval,
        checkpoint_every=args.checkpoint_every,
    )
    out = args.out
    if out is None:
        if args.resume:
            raise ValueError("--resume needs --out: the folder of the run to continue.")
        out = Path("runs") / (f"{config.dataset}_{config.n_labels}labels_seed{config.seed}_"
                              f"{time.strftime('%Y%m%d-%H%M%S')}")
        args.out = out  # for the resume hint on Ctrl-C
    started = time.perf_counter()
    trainer = run_training(config, out, resume=args.resume, command=command,
                           progress=False if args.quiet else None)
    last = trainer.history["epochs"][-1]
    which = " (averaged weights)" if config.ema_decay is not None else ""
    print(f"Done in {time.perf_counter() - started:.0f} s. "
          f"Test accuracy{which} {100 * last[trainer.headline_acc_key]:.2f}% with {config.n_labels} labels "
          f"after {trainer.step} steps. "
          f"Classifier: {out / 'classifier.keras'}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from . import speed

    hw = speed.detect_hardware()
    print(f"{hw.cpu}: CPU class {hw.cpu_class}" + (f"; GPUs: {', '.join(hw.gpus)}" if hw.gpus else ""))
    print(f"the rule alone would choose: {speed.rule(hw).describe()}")
    print(f"timing {args.steps} steps in each of {len(speed.candidates(hw))} settings ...", flush=True)
    choice, rates = speed.calibrate(lambda p, j: speed.time_training_steps(p, j, steps=args.steps), hw=hw)
    for name, rate in rates.items():
        print(f"  {name:<22} {rate:.2f} steps/s")
    print(f"auto now chooses: {choice.describe()}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .data import load_dataset, preprocess
    from .evaluation import accuracy, load_classifier

    model = load_classifier(args.model, n_classes=DATASETS[args.dataset].n_classes)
    (x_train, y_train), (x_test, y_test) = load_dataset(args.dataset)
    print(f"Train Accuracy: {100 * accuracy(model, preprocess(x_train), y_train):.3f}%")
    print(f"Test Accuracy: {100 * accuracy(model, preprocess(x_test), y_test):.3f}%")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TF C++ chatter; errors still raise
    from .evaluation import ModelFileError
    from .training import RunFolderError, next_step_hint

    command = "python -m sgan_helpers " + shlex.join(argv)

    def hint(prefix: str = "") -> str:  # for train: does a fresh start or --resume work now?
        if args.command != "train":
            return ""
        return f" {prefix}{next_step_hint(getattr(args, 'out', None))}"

    try:
        if args.command == "train":
            return _train(args, command)
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
    except KeyboardInterrupt:
        print(f"\ninterrupted.{hint()}", file=sys.stderr)
        return EXIT_INTERRUPTED
