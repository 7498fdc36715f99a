"""Training speed, side by side, in one run on one machine.

    python benchmarks/speed.py [--steps 30] [--isa avx2] [--only NAME ...] [--repeat 1]

Each variant runs in its own process (its peak memory and page faults are its own):

* the anchor: **the 2019 tutorial's loop on Keras 2** (``tf_keras``), run by
  ``.venv-keras2/bin/python benchmarks/keras2_tutorial.py`` (``make keras2-venv``
  builds that environment; without it the anchor is skipped and ratios are to the
  Keras 3 tutorial-style loop);
* the same loop on Keras 3 (compiled models + ``train_on_batch``, made correct);
* this project's trainer in each (precision, XLA) setting, the **default** (``auto``,
  resolved by :mod:`sgan_experiments.speed` for this machine), and the default with
  another memory allocator (jemalloc, tcmalloc) where one is installed.

Printed: steps/s, ratio to the anchor, share of the arithmetic limit (FLOPs per step
/ measured matmul peak), peak RSS and minor page faults per step. ``--isa avx2``
caps oneDNN (``ONEDNN_MAX_CPU_ISA``) and XLA (``--xla_cpu_max_isa``) at AVX2, to
imitate an AVX2-only CPU on an AVX-512 machine (check it against a real one before
trusting it; benchmarks/README.md says how well it did). Results go to benchmarks/results/*.json
with the command that made them.
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
KERAS2_PYTHON = ROOT / ".venv-keras2" / "bin" / "python"
ALLOCATORS = {"jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
              "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"}

ANCHOR = "Keras 2: the tutorial's code (tf_keras)"
KERAS3 = "Keras 3: tutorial-style train_on_batch"
DEFAULT = "trainer, default (auto)"
VARIANTS = {
    ANCHOR: {"kind": "keras2"},
    KERAS3: {"kind": "tutorial"},
    "Keras 3: tutorial-style, G.predict": {"kind": "tutorial", "use_predict": True},
    "trainer, float32": {"kind": "trainer", "precision": "float32", "jit_compile": False},
    "trainer, float32 + XLA": {"kind": "trainer", "precision": "float32", "jit_compile": True},
    "trainer, bfloat16": {"kind": "trainer", "precision": "mixed_bfloat16", "jit_compile": False,
                          "needs": "bf16"},
    "trainer, bfloat16 + XLA": {"kind": "trainer", "precision": "mixed_bfloat16", "jit_compile": True,
                                "needs": "bf16"},
    DEFAULT: {"kind": "trainer"},
    "trainer, default, combined D update": {"kind": "trainer", "schedule": "combined"},
    "trainer, default + jemalloc": {"kind": "trainer", "preload": "jemalloc"},
    "trainer, default + tcmalloc": {"kind": "trainer", "preload": "tcmalloc"},
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


def _child_matmul(with_bf16: bool) -> dict:
    import tensorflow as tf

    out = {}
    for dtype in ("float32", "bfloat16") if with_bf16 else ("float32",):
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

    chosen = None
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
        from sgan_experiments import speed
        from sgan_experiments.config import TrainConfig
        from sgan_experiments.trainer import SGANTrainer

        options = {k: v for k, v in spec.items() if k not in ("kind", "needs", "preload")}
        choice = speed.resolve(options.pop("precision", "auto"), options.pop("jit_compile", "auto"))
        chosen = choice.describe()
        trainer = SGANTrainer(TrainConfig(precision=choice.precision, jit_compile=choice.jit_compile,
                                          **options))
        step = trainer.train_step
    for _ in range(warmup):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"steps_per_s": steps / seconds, "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux: KiB
            "minor_faults_per_step": (usage.ru_minflt - faults) / steps, "chosen": chosen}


def _spawn(args: list[str], env: dict, python: str = sys.executable,
           script: Path = Path(__file__)) -> dict:
    proc = subprocess.run([python, str(script), *args], capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode:
        raise SystemExit(f"benchmark child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _run_variant(spec: dict, args, env: dict) -> dict:
    timing = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    if spec["kind"] == "keras2":
        return _spawn(timing, env, str(KERAS2_PYTHON), ROOT / "benchmarks" / "keras2_tutorial.py")
    child_env = dict(env)
    if spec.get("preload"):
        child_env["LD_PRELOAD"] = ALLOCATORS[spec["preload"]]
    return _spawn(["--child", json.dumps(spec), *timing], child_env)


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
    parser.add_argument("--steps", type=int, default=30, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (tracing)")
    parser.add_argument("--isa", choices=["avx2"], help="cap oneDNN and XLA at this instruction set")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the whole list this many times (interleaved); report the median")
    parser.add_argument("--history", type=Path, default=ROOT / "pretrained/mnist_100labels/history.json")
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "matmul":
        from sgan_experiments import speed  # detect_hardware honours the ISA cap in the environment

        print(json.dumps(_child_matmul(with_bf16=bool(speed.detect_hardware().flags & speed.BF16_FLAGS))))
        return
    if args.child:
        print(json.dumps(_child_variant(json.loads(args.child), args.steps, args.warmup)))
        return

    env = dict(os.environ)
    if args.isa:
        env.update(ONEDNN_MAX_CPU_ISA="AVX2",
                   XLA_FLAGS=(env.get("XLA_FLAGS", "") + " --xla_cpu_max_isa=AVX2").strip())
        os.environ.update(env)  # so this process resolves "auto" as the children will
    if not os.environ.get("SGAN_DATA_DIR"):
        print("note: SGAN_DATA_DIR is not set; MNIST comes from Keras's cache or download")
    from sgan_experiments import speed
    from sgan_helpers import data

    try:  # every variant needs MNIST: say so here, not as a download traceback from a child process
        data.load_dataset("mnist")
    except (data.DatasetUnavailableError, data.DatasetFileError) as err:
        raise SystemExit(f"benchmarks/speed.py: {err}") from None

    hw = speed.detect_hardware()
    default = speed.resolve()
    flops = flops_per_step()
    peak = _spawn(["--child", "matmul"], env)
    print(f"machine: {hw.cpu}, {os.cpu_count()} cores; CPU class {hw.cpu_class}"
          f"{' (capped with --isa ' + args.isa + ')' if args.isa else ''}")
    print(f"matmul peak {peak['float32']:.0f} GFLOPS float32"
          + (f", {peak['bfloat16']:.0f} bfloat16" if "bfloat16" in peak else ""))
    print(f"one step = {flops / 1e9:.1f} GFLOP -> float32 limit {peak['float32'] * 1e9 / flops:.2f} steps/s")
    print(f"default (auto): {default.describe()}\n")

    names = []
    for name, spec in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        if spec.get("needs") == "bf16" and "bfloat16" not in peak:
            print(f"  skipped {name}: this CPU has no bfloat16 units (it would be emulated, slower)")
        elif spec["kind"] == "keras2" and not KERAS2_PYTHON.exists():
            print(f"  skipped {name}: no {KERAS2_PYTHON.relative_to(ROOT)} (run `make keras2-venv`)")
        elif spec.get("preload") and not Path(ALLOCATORS[spec["preload"]]).exists():
            print(f"  skipped {name}: {ALLOCATORS[spec['preload']]} is not installed")
        else:
            names.append(name)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for round_ in range(args.repeat):
        for name in names if round_ % 2 == 0 else reversed(names):
            runs[name].append(_run_variant(VARIANTS[name], args, env))
            print(f"  measured {name}: {runs[name][-1]['steps_per_s']:.2f} steps/s", flush=True)
    results = {}
    for name, rs in runs.items():
        rs = sorted(rs, key=lambda r: r["steps_per_s"])
        results[name] = {**rs[len(rs) // 2], "all_steps_per_s": [r["steps_per_s"] for r in rs]}

    base_name = ANCHOR if ANCHOR in results else KERAS3
    base = results.get(base_name, {}).get("steps_per_s")
    print(f"\n{'variant':<40} {'steps/s':>8} {'vs Keras 2':>11} {'of limit':>9} {'peak RSS':>9} "
          f"{'faults/step':>12}")
    for name, r in results.items():
        bf16 = VARIANTS[name].get("precision") == "mixed_bfloat16" or (
            VARIANTS[name]["kind"] == "trainer" and "precision" not in VARIANTS[name]
            and default.precision == "mixed_bfloat16")
        limit = peak["bfloat16" if bf16 and "bfloat16" in peak else "float32"]
        r["share_of_limit"] = r["steps_per_s"] * flops / (limit * 1e9)
        r["vs_anchor"] = r["steps_per_s"] / base if base else None
        ratio = f"{r['vs_anchor']:.2f}x" if base else "-"
        print(f"{name:<40} {r['steps_per_s']:>8.2f} {ratio:>11} {r['share_of_limit']:>8.0%} "
              f"{r['peak_rss_mb']:>6.0f} MB {r.get('minor_faults_per_step', 0):>12.0f}")
    print(f"(ratios to: {base_name}; 'of limit' counts bfloat16 variants against the bfloat16 peak)")
    tta = time_to_accuracy(args.history)
    if tta and tta["step"]:
        print(f"\ntime to 95% test accuracy ({tta['accuracy']} of {tta['history']}, evaluated every "
              f"{tta['evaluated_every']} steps): step {tta['step']}, "
              f"{tta['train_seconds'] / 60:.1f} min of training (on the machine that trained it)")
    record = {"command": "python " + shlex.join(sys.argv),
              "machine": {"cpu": hw.cpu, "cpu_class": hw.cpu_class, "flags": sorted(hw.flags),
                          "isa_cap": args.isa, "cores": os.cpu_count(), "platform": platform.platform()},
              "date": time.strftime("%Y-%m-%d %H:%M"), "steps": args.steps, "warmup": args.warmup,
              "repeat": args.repeat, "gflop_per_step": flops / 1e9, "matmul_gflops": peak,
              "default": default.to_dict(), "baseline": base_name, "variants": results,
              "time_to_95": tta}
    stamp = time.strftime("%Y%m%d-%H%M") + (f"-{args.isa}" if args.isa else "")
    out = ROOT / "benchmarks" / "results" / f"speed-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nsaved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
