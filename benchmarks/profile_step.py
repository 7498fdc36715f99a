"""Where one training step spends its time: TensorFlow's profiler, op by op.

    make profile                      # installs xprof (the profiler's converter) into .venv
    python benchmarks/profile_step.py [--precision float32] [--jit off] [--steps 5] [--isa avx2]

Traces ``--steps`` steps of the trainer (after warm-up) with ``tf.profiler``, converts the
trace with xprof's ``framework_op_stats`` tool and prints the self-time per op type and
per layer group (generator: dense, transposed convolutions, the final 7x7 ``to_image``
convolution; discriminator convolutions; the rest), next to each group's share of the
step's FLOPs. With XLA on, TensorFlow runs one fused cluster and the op table says
little: profile with ``--jit off`` to see the ops. Results go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from speed import conv_flops  # noqa: E402

# FLOPs per step of each group, counted as in speed.flops_per_step (backward = 2x forward).
_G_UP = conv_flops(7, 7, 128, 128, 4) + conv_flops(14, 14, 128, 128, 4)
_G_OUT = conv_flops(28, 28, 128, 1, 7)
_G_DENSE = 2 * 100 * 6272
_D = conv_flops(14, 14, 1, 128, 3) + conv_flops(7, 7, 128, 128, 3) + conv_flops(4, 4, 128, 128, 3)
# generator forward for 50 D-fake images + forward/backward for 100 G-update images = 350 passes
_GEN_PASSES = 50 + 3 * 100
# discriminator: 3 x (50 + 50 + 50) for C/D updates + 3 x 100 through D in the G update
_DISC_PASSES = 3 * 150 + 3 * 100
FLOPS = {"generator: transposed convolutions": _G_UP * _GEN_PASSES,
         "generator: 7x7 to_image convolution": _G_OUT * _GEN_PASSES,
         "generator: dense": _G_DENSE * _GEN_PASSES,
         "discriminator: convolutions": _D * _DISC_PASSES}


def group(op_name: str) -> str:
    if "to_image" in op_name:
        return "generator: 7x7 to_image convolution"
    if "upsample" in op_name:
        return "generator: transposed convolutions"
    if "generator" in op_name and ("dense" in op_name or "MatMul" in op_name):
        return "generator: dense"
    if "conv_" in op_name:
        return "discriminator: convolutions"
    return "everything else (activations, dropout, optimizer, losses, copies)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", default="float32", choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--jit", default="off", choices=["on", "off"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--isa", choices=["avx2"], help="cap oneDNN and XLA at this instruction set")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    if args.isa:  # must be set before TensorFlow loads
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_max_isa=AVX2").strip()
    import tensorflow as tf
    from xprof.convert import raw_to_tool_data

    from sgan_experiments import speed
    from sgan_experiments.config import TrainConfig
    from sgan_experiments.trainer import SGANTrainer
    from sgan_helpers import data

    (x, y), (xt, yt) = data.load_dataset("mnist")
    trainer = SGANTrainer(TrainConfig(precision=args.precision, jit_compile=args.jit == "on",
                                      eval_train=False),
                          data=((x[:6000], y[:6000]), (xt[:100], yt[:100])))
    for _ in range(3):
        trainer.train_step()
    logdir = tempfile.mkdtemp(prefix="sgan-profile-")
    start = time.perf_counter()
    tf.profiler.experimental.start(logdir)
    for _ in range(args.steps):
        trainer.train_step()
    tf.profiler.experimental.stop()
    wall_ms = (time.perf_counter() - start) / args.steps * 1000
    paths = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    table = json.loads(raw_to_tool_data.xspace_to_tool_data(paths, "framework_op_stats", {})[0])[0]
    cols = [c["id"] for c in table["cols"]]
    rows = [dict(zip(cols, [c.get("v") if c else None for c in r["c"]], strict=True))
            for r in table["rows"]]
    rows = [r for r in rows if r["type"] != "IDLE" and r["host_or_device"] == "Host"]
    total = sum(r["total_self_time"] for r in rows)
    by_type, by_group = collections.Counter(), collections.Counter()
    for r in rows:
        by_type[r["type"]] += r["total_self_time"]
        by_group[group(r["operation"])] += r["total_self_time"]
    all_flops = sum(FLOPS.values())
    hw = speed.detect_hardware()
    print(f"{hw.cpu}, CPU class {hw.cpu_class}; precision={args.precision}, XLA {args.jit}; "
          f"{wall_ms:.0f} ms per step (wall, while tracing), {total / args.steps / 1000:.0f} ms of op "
          f"self-time per step (summed over threads)\n")
    print(f"{'layer group':<66} {'time':>6} {'FLOPs':>6}")
    for name, t in by_group.most_common():
        print(f"{name:<66} {t / total:>6.0%} {FLOPS.get(name, 0) / all_flops:>6.0%}")
    print(f"\n{'op type':<40} {'time':>6} {'ms/step':>8}")
    for name, t in by_type.most_common(args.top):
        print(f"{name:<40} {t / total:>6.0%} {t / args.steps / 1000:>8.1f}")
    record = {"command": "python " + shlex.join(sys.argv), "cpu": hw.cpu, "cpu_class": hw.cpu_class,
              "isa_cap": args.isa, "precision": args.precision, "jit": args.jit,
              "date": time.strftime("%Y-%m-%d %H:%M"), "wall_ms_per_step": wall_ms,
              "by_group": {k: v / total for k, v in by_group.items()},
              "flops_share": {k: v / all_flops for k, v in FLOPS.items()},
              "by_op_type_ms_per_step": {k: v / args.steps / 1000 for k, v in by_type.most_common()}}
    stamp = time.strftime("%Y%m%d-%H%M") + (f"-{args.isa}" if args.isa else "")
    out = ROOT / "benchmarks" / "results" / f"profile-{stamp}-{args.precision}-xla{args.jit}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nsaved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
