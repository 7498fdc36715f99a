"""Time to 95 % (and 97 %, 99 %) test accuracy with 100 labels, recipes side by side, in one run.

    python benchmarks/time_to_accuracy.py [--minutes 5] [--recipes salimans series] [--seed 1]
                                          [--eval-every 300]

Each recipe trains for the same budget of *training* minutes (``--minutes``: the trainer measures its
step rate and fixes the step count, so the learning-rate schedule fits the budget), evaluating its averaged
classifier on the 10,000 test images every ``--eval-every`` steps (evaluation time is not counted).
Printed per recipe: steps, steps/s, the final accuracy, and the training time at the first evaluation at
or above each level ("–": not reached within the budget), plus the ratio of the two recipes' times to 95 %.
One label draw (``--seed``): a figure of this machine, not an error bar (the stored three-draw results are
in results/fast-mnist-salimans, ``make experiment NAME=fast-mnist-salimans``). Results go to
benchmarks/results/ with the command.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LEVELS = (0.95, 0.97, 0.99)


def run(recipe: str, minutes: float, seed: int, eval_every: int) -> dict:
    from sgan_experiments.config import recipe_config
    from sgan_experiments.training import run_training

    config = recipe_config(recipe, n_labels=100, seed=seed, minutes=minutes, steps_per_epoch=eval_every,
                           eval_train=False, checkpoint_every=10**6, ema_decay=0.999)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = run_training(config, Path(tmp) / "run", progress=False)
    epochs = trainer.history["epochs"]
    key = trainer.headline_acc_key
    times = {lv: next((e["train_seconds"] for e in epochs if e[key] >= lv), None) for lv in LEVELS}
    last = epochs[-1]
    return {"recipe": recipe, "steps": last["step"], "train_seconds": last["train_seconds"],
            "steps_per_second": last["step"] / last["train_seconds"], "final_acc": last[key],
            "seconds_to": {f"{lv:.2f}": t for lv, t in times.items()},
            "curve": [(e["step"], e["train_seconds"], e[key]) for e in epochs],
            "precision": trainer.config.precision, "jit_compile": trainer.config.jit_compile}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--recipes", nargs="+", default=["salimans", "series"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--eval-every", type=int, default=300)
    args = parser.parse_args()

    from sgan_experiments import speed

    hardware = speed.detect_hardware()
    print(f"CPU: {hardware.cpu} ({hardware.cpu_class}); {os.cpu_count()} cores")
    rows = []
    for recipe in args.recipes:
        started = time.time()
        row = run(recipe, args.minutes, args.seed, args.eval_every)
        row["wall_seconds"] = time.time() - started
        rows.append(row)
        reach = ", ".join(f"{100 * float(lv):.0f} %: " + (f"{t / 60:.1f} min" if t is not None else "–")
                          for lv, t in row["seconds_to"].items())
        print(f"{recipe:>10}: {row['steps']:,} steps ({row['steps_per_second']:.1f}/s, {row['precision']}, "
              f"XLA {row['jit_compile']}), final {100 * row['final_acc']:.2f} %; time to {reach}", flush=True)
    t95 = {r["recipe"]: r["seconds_to"]["0.95"] for r in rows}
    if len(rows) == 2:
        a, b = (r["recipe"] for r in rows)
        if t95[a] and t95[b]:
            print(f"time to 95 %: {a} is {t95[b] / t95[a]:.1f}x faster than {b}")
        else:
            shown = {k: "–" if t is None else f"{t / 60:.1f} min" for k, t in t95.items()}
            print(f"time to 95 %: {a} {shown[a]}, {b} {shown[b]} (–: not within {args.minutes:g} min)")
    out = ROOT / "benchmarks" / "results" / f"time-to-accuracy-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": "python " + shlex.join(sys.argv), "cpu": hardware.cpu,
                               "cpu_class": hardware.cpu_class, "cores": os.cpu_count(), "rows": rows},
                              indent=1))
    print(f"saved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
