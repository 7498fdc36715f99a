"""Training speed, side by side, in one run on one machine.

    python benchmarks/speed.py [--steps 60] [--warmup 5] [--history pretrained/mnist_100labels/history.json]

Each variant runs in its own process (so its peak memory is its own): the 2019
tutorial-style loop (compiled Keras models + ``train_on_batch``, made correct on
Keras 3) and this project's trainer in several settings. Printed: steps/s, the
ratio to the tutorial-style loop, the share of the machine's arithmetic limit
(FLOPs per step / measured matmul peak), peak RSS, and the time the shipped run
took to reach 95 % test accuracy. Results also go to benchmarks/results/*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]

BASELINE = "tutorial-style train_on_batch"
VARIANTS = {
    BASELINE: {"kind": "tutorial"},
    "tutorial-style, G.predict": {"kind": "tutorial", "use_predict": True},
    "trainer (default: float32)": {"kind": "trainer"},
    "trainer + XLA jit_compile": {"kind": "trainer", "jit_compile": True},
    "trainer, combined D update": {"kind": "trainer", "schedule": "combined"},
    "trainer, mixed_bfloat16": {"kind": "trainer", "precision": "mixed_bfloat16"},
    "trainer, combined, bfloat16": {"kind": "trainer", "schedule": "combined",
                                    "precision": "mixed_bfloat16"},
}


def conv_flops(h_out: int, w_out: int, c_in: int, c_out: int, k: int) -> int:
    return 2 * h_out * w_out * c_in * c_out * k * k


def flops_per_step(batch: int = 100) -> float:
    """Multiply-adds x 2 of one tutorial-schedule step (backward pass = 2x forward)."""
    d = (conv_flops(14, 14, 1, 128, 3) + conv_flops(7, 7, 128, 128, 3)
         + conv_flops(4, 4, 128, 128, 3) + 2 * 2048 * 10)                  # per image
    g = (2 * 100 * 6272 + conv_flops(7, 7, 128, 128, 4)                   # transposed conv:
         + conv_flops(14, 14, 128, 128, 4) + conv_flops(28, 28, 128, 1, 7))  # per input pixel
    half = batch // 2
    return (3 * d * half            # C update: forward + backward
            + 3 * d * half          # D on real
            + g * half + 3 * d * half   # D on fake: generate, then forward + backward
            + 3 * (g + d) * batch)  # G update through D


def _child_matmul() -> dict:
    import tensorflow as tf

    out = {}
    for dtype in ("float32", "bfloat16"):
        a = tf.cast(tf.random.normal((2048, 2048)), dtype)
        f = tf.function(lambda x: tf.matmul(x, x))
        f(a).numpy()
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(10):
                r = f(a)
            r.numpy()
            best = max(best, 10 * 2 * 2048 ** 3 / (time.perf_counter() - start) / 1e9)
        out[dtype] = best
    return out


def _child_variant(spec: dict, steps: int, warmup: int) -> dict:
    import numpy as np

    from sgan_helpers import data

    if spec["kind"] == "tutorial":
        import keras

        from sgan_helpers.tutorial_style import TutorialStyleSGAN

        keras.utils.set_random_seed(1)
        (x, y), _ = data.load_dataset("mnist")
        x = data.preprocess(x)
        x_sup, y_sup = data.select_supervised(x, y, 100, np.random.default_rng(0))
        runner = TutorialStyleSGAN(x, x_sup, y_sup, np.random.default_rng(1),
                                   use_predict=spec.get("use_predict", False))
        step = runner.step
    else:
        from sgan_helpers.training import SGANTrainer, TrainConfig

        options = {k: v for k, v in spec.items() if k != "kind"}
        trainer = SGANTrainer(TrainConfig(**options))
        step = trainer.train_step
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"steps_per_s": steps / seconds, "peak_rss_mb": peak_rss_mb}


def _spawn(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          cwd=ROOT, env=os.environ)
    if proc.returncode:
        raise SystemExit(f"benchmark child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_to_accuracy(history_path: Path, target: float = 0.95) -> dict | None:
    """First evaluation at which the saved classifier (averaged weights if kept) reached ``target``."""
    if not history_path.is_file():
        return None
    epochs = json.loads(history_path.read_text())["epochs"]
    key = "ema_test_acc" if epochs and "ema_test_acc" in epochs[0] else "test_acc"
    hit = next((r for r in epochs if r[key] >= target), None)
    shown = history_path.resolve()
    shown = shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown
    return {"history": str(shown), "target": target, "accuracy": key,
            "step": hit and hit["step"], "train_seconds": hit and hit["train_seconds"],
            "evaluated_every": epochs[0]["step"] if epochs else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (tracing)")
    parser.add_argument("--history", type=Path, default=ROOT / "pretrained/mnist_100labels/history.json")
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "matmul":
        print(json.dumps(_child_matmul()))
        return
    if args.child:
        print(json.dumps(_child_variant(json.loads(args.child), args.steps, args.warmup)))
        return

    if not os.environ.get("SGAN_DATA_DIR"):
        print("note: SGAN_DATA_DIR is not set; MNIST comes from Keras's cache or download")
    flops = flops_per_step()
    peak = _spawn(["--child", "matmul"])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"matmul peak {peak['float32']:.0f} GFLOPS float32, {peak['bfloat16']:.0f} bfloat16")
    limit = peak["float32"] * 1e9 / flops
    print(f"one step = {flops / 1e9:.1f} GFLOP -> float32 limit {limit:.2f} steps/s\n")
    results = {}
    names = [n for n in VARIANTS if not args.only or n in args.only]
    for name in names:
        results[name] = _spawn(["--child", json.dumps(VARIANTS[name]), "--steps", str(args.steps),
                                "--warmup", str(args.warmup)])
        print(f"  measured {name}: {results[name]['steps_per_s']:.2f} steps/s", flush=True)
    base = results.get(BASELINE, {}).get("steps_per_s")
    print(f"\n{'variant':<34} {'steps/s':>8} {'vs tutorial':>12} {'of limit':>9} {'peak RSS':>10}")
    for name, r in results.items():
        limit_dtype = "bfloat16" if "bfloat16" in name else "float32"
        share = r["steps_per_s"] * flops / (peak[limit_dtype] * 1e9)
        ratio = f"{r['steps_per_s'] / base:.2f}x" if base else "-"
        print(f"{name:<34} {r['steps_per_s']:>8.2f} {ratio:>12} {share:>8.0%} "
              f"{r['peak_rss_mb']:>7.0f} MB")
    tta = time_to_accuracy(args.history)
    if tta and tta["step"]:
        print(f"\ntime to 95% test accuracy ({tta['accuracy']} of {tta['history']}, evaluated every "
              f"{tta['evaluated_every']} steps): step {tta['step']}, "
              f"{tta['train_seconds'] / 60:.1f} min of training")
    elif tta:
        print("\nthe run in --history never reached 95% test accuracy")
    record = {"command": "python " + shlex.join(sys.argv), "machine": {
        "processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "platform": platform.platform()}, "date": time.strftime("%Y-%m-%d %H:%M"),
        "steps": args.steps, "warmup": args.warmup, "gflop_per_step": flops / 1e9,
        "matmul_gflops": peak, "variants": results, "time_to_95": tta}
    out = ROOT / "benchmarks" / "results" / f"speed-{time.strftime('%Y%m%d-%H%M')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nsaved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
