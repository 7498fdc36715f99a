"""Every stored experiment by name, each the command line that makes it.

    python -m sgan_experiments run-experiment NAME [more options]   # or: make experiment NAME=...
    python -m sgan_experiments run-experiment --list

A sweep's name is its results folder (``results/NAME/``: one JSON record per run, with the command,
config and machine that made it; ``docs/results.md`` tells what each found). Options after the name
are appended, and a later option wins: ``--seeds 2`` trains one draw of a long sweep. Sweeps are
resumable: the same command goes on where it stopped. A group name runs several entries in turn.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    """A name, what it measures, and the command line's arguments that make it."""

    name: str
    about: str
    command: str  # after ``python -m sgan_experiments``

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)


_MNIST100 = "--dataset mnist --labels 100 --draws 3"
_HOUR = f"sweep --recipe salimans {_MNIST100} --steps 69600 --evaluations 58 --methods sgan"
_THEIRS = "--set lr_schedule=constant --set ema_decay=0.9999 --set sampling=epochs"

_ALL = (
    Experiment("sweep-mnist-improved", "notebook 12: SGAN vs baseline at 20-1,000 labels x 3 draws, and "
               "the baseline on every label (improved recipe)",
               "sweep --recipe improved --dataset mnist --labels 20 50 100 200 1000 --draws 3 --steps 3000 "
               "--baseline-steps 3000 --ceiling-steps 6000 --out results/sweep-mnist-improved"),
    Experiment("sweep-mnist-series", "notebook 10: the series recipe and its baseline, 100 labels x 3 draws",
               f"sweep --recipe series {_MNIST100} --steps 1200 --baseline-steps 1200 "
               "--out results/sweep-mnist-series"),
    Experiment("sweep-fashion-improved", "notebook 13: Fashion-MNIST, improved recipe, 100 labels x 3 draws, "
               "and the baseline on every label",
               "sweep --recipe improved --dataset fashion_mnist --labels 100 --draws 3 --steps 3000 "
               "--baseline-steps 3000 --ceiling-steps 6000 --out results/sweep-fashion-improved"),
    Experiment("sweep-mnist-salimans", "notebook 11: the salimans recipe and its baseline, 100 labels x 3 "
               "draws (the ablations' reference)",
               f"sweep --recipe salimans {_MNIST100} --steps 3000 --baseline-steps 3000 "
               "--out results/sweep-mnist-salimans"),
    *(Experiment(f"ablation-{name}", f"notebook 11: the salimans recipe {about}, SGAN only, paired with "
                 "sweep-mnist-salimans (same seeds, images, length)",
                 f"sweep --recipe salimans {_MNIST100} --steps 3000 --methods sgan {sets} "
                 f"--out results/ablation-{name}")
      for name, about, sets in (
          ("no-feature-matching", "with the tutorial's generator loss", "--set generator_loss=bce"),
          ("no-noise", "without Gaussian noise", "--set noise_scale=0"),
          ("sigmoid-output", "with the paper's sigmoid output", "--set generator_output=sigmoid"),
          ("sigmoid-float32-output", "with the paper's sigmoid output, that layer in float32",
           "--set generator_output=sigmoid --set float32_output=true"))),
    Experiment("fast-mnist-salimans", "95 % in minutes: the salimans recipe, 6,000 steps, 100 labels x 3 "
               "draws",
               f"sweep --recipe salimans {_MNIST100} --steps 6000 --methods sgan "
               "--out results/fast-mnist-salimans"),
    Experiment("long-mnist-salimans", "toward 99 %: the salimans recipe for 69,600 steps (116 epochs), "
               "3 draws",
               f"{_HOUR} --out results/long-mnist-salimans"),
    Experiment("paper-mnist-salimans", "Salimans et al.'s length and constant rate: 180,000 steps (300 "
               "epochs), 3 draws, about 7 hours",
               f"sweep --recipe salimans {_MNIST100} --steps 180000 --evaluations 150 --methods sgan "
               "--set lr_schedule=constant --out results/paper-mnist-salimans"),
    Experiment("ema9999-mnist-salimans", "their average's decay 0.9999 on paper-mnist-salimans' first "
               "69,600 steps",
               f"{_HOUR} --set lr_schedule=constant --set ema_decay=0.9999 "
               "--out results/ema9999-mnist-salimans"),
    Experiment("epoch-batches-mnist-salimans", "ema9999 with their code's batches (images in passes)",
               f"{_HOUR} {_THEIRS} --out results/epoch-batches-mnist-salimans"),
    Experiment("label-draw2-mnist-salimans", "labels or luck: epoch-batches' draw-2 labels under seeds 1-3",
               f"{_HOUR} {_THEIRS} --set label_seed=2 --out results/label-draw2-mnist-salimans"),
    Experiment("faithful-mnist-salimans", "every known difference from their code removed (the faithful "
               "recipe), 69,600 steps, 3 draws",
               f"sweep --recipe faithful {_MNIST100} --steps 69600 --evaluations 58 --methods sgan "
               "--out results/faithful-mnist-salimans"),
    Experiment("pretrained", "the shipped pretrained/mnist_100labels: the series recipe, 12 epochs, bfloat16 "
               "(where the CPU has no bfloat16 units, add --precision float32: slower, not bit-identical)",
               "train --recipe series --epochs 12 --precision mixed_bfloat16"),
    Experiment("pretrained-improved", "the shipped pretrained/mnist_100labels_improved: "
               "faithful-mnist-salimans' draw 1 trained alone (about an hour)",
               "train --recipe faithful --dataset mnist --labels 100 --seed 1 --steps 69600 "
               "--steps-per-epoch 1200 --no-train-eval --checkpoint-every 1000"),
    *(Experiment(f"short-{recipe}", f"a short run of the {recipe} recipe whose every reading a change "
                 "must reproduce (tests/test_reproduce.py)",
                 f"sweep --recipe {recipe} --dataset mnist --labels 100 --draws 1 --steps {steps} "
                 f"--evaluations 2 --methods sgan {extra}--out results/short-{recipe}")
      for recipe, steps, extra in (("tutorial", 20, "--precision float32 "), ("faithful", 40, ""))),
    Experiment("tutorial-20-epochs", "the tutorial's own recipe and length: 20 epochs of 600 steps",
               "train --recipe tutorial --epochs 20"),
)
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in _ALL}
GROUPS: dict[str, tuple[str, ...]] = {
    "ablations": tuple(n for n in EXPERIMENTS if n.startswith("ablation-")),
    "results": ("sweep-mnist-improved", "sweep-mnist-series", "sweep-fashion-improved",
                "sweep-mnist-salimans", *(n for n in EXPERIMENTS if n.startswith("ablation-")),
                "fast-mnist-salimans", "long-mnist-salimans"),
}
"""``results``: what ``make results`` remakes (about 6 hours on 2 cores); the longer sweeps run by name."""


def expand(args: list[str]) -> list[list[str]]:
    """``[NAME, *options]`` -> the command lines to run, in order; a clear error for an unknown name."""
    if not args or args[0].startswith("-"):
        raise ValueError("run-experiment needs a NAME first; --list shows them.")
    name, extra = args[0], args[1:]
    names = GROUPS.get(name, (name,))
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"no experiment named {name!r}; the names: "
                         f"{', '.join([*EXPERIMENTS, *GROUPS])} (--list says what each is).")
    return [[*EXPERIMENTS[n].argv, *extra] for n in names]


def listing() -> str:
    """One line per experiment and group: its name and what it measures."""
    width = max(map(len, [*EXPERIMENTS, *GROUPS]))
    lines = [f"{e.name:<{width}}  {e.about}" for e in EXPERIMENTS.values()]
    lines += [f"{g:<{width}}  all of: {', '.join(names)}" for g, names in GROUPS.items()]
    return "\n".join(lines)
