"""The main job as a new user meets it: `make run`, three seeds, wall time, peak memory and accuracy.

    python benchmarks/main_job.py [--seeds 1 2 3] [--isa avx2] [--out benchmarks/results/main-job-DATE.json]
    python benchmarks/main_job.py --table    # the stored runs as docs/results.md's table

Each seed runs the Makefile's own ``run`` target (``make run RUN_ARGS="--seed S --out DIR"``) in a child
process, one after the other so that none shares the CPU with another. Wall time is the whole command
(TensorFlow's import, the speed probe, training, the evaluations and the saved models); peak memory is
the largest resident set in the process tree. ``--isa avx2`` caps oneDNN and XLA at AVX2 on an AVX-512
machine, an imitation of an AVX2-only CPU (the stored file says so). Each run's ``config.json`` and
``history.json`` are kept beside the stored file.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LEVELS = (0.95, 0.98, 0.99)


def first_reaching(history: dict, level: float) -> float | None:
    """Minutes of training until the averaged classifier first reads ``level`` on the test set."""
    for row in history["epochs"]:
        if row.get("ema_test_acc", row["test_acc"]) >= level:
            return round(row["train_seconds"] / 60, 2)
    return None


def run_seed(seed: int, env: dict[str, str], keep: Path) -> dict:
    """``make run`` for one seed; what it cost and what it reached."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        command = ["make", "-s", "-C", str(ROOT), "run", f"RUN_ARGS=--seed {seed} --out {out}"]
        start = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        log = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)  # the rusage of the whole reaped tree
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"seed {seed} failed:\n{log[-3000:]}")
        keep.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "history.json"):
            shutil.copy(out / name, keep / name)
    history = json.loads((keep / "history.json").read_text())
    config = json.loads((keep / "config.json").read_text())
    last = history["epochs"][-1]
    return {"seed": seed, "wall_seconds": round(wall, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "steps": last["step"], "train_seconds": last["train_seconds"],
            "steps_per_s": round(last["step"] / last["train_seconds"], 2),
            "precision": config["config"]["precision"], "jit_compile": config["config"]["jit_compile"],
            "test_acc": last.get("ema_test_acc", last["test_acc"]),
            "minutes_to": {f"{level:.0%}": first_reaching(history, level) for level in LEVELS}}


def stored() -> list[dict]:
    """The stored main-job benchmarks, oldest first."""
    paths = sorted((ROOT / "benchmarks" / "results").glob("main-job-*.json"))
    return [json.loads(p.read_text()) for p in paths]


def _minutes(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s"


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def markdown_table(records: list[dict]) -> str:
    """One row per stored benchmark: its CPU class, the runs' cost and what they reached."""
    lines = ["| CPU class (2 cores) | `make run` | seeds | wall, at most | steps/s | steps | test accuracy "
             "(averaged weights) | first ≥ 95 % (of 5 evaluations) | peak memory |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        runs, m = r["runs"], r["machine"]
        cpu = m["cpu_class"] + (" capped at AVX2 (an imitation of an AVX2-only CPU)" if m["isa_cap"] else "")
        accs = ", ".join(_pct(x["test_acc"]) for x in runs)
        first = [x["minutes_to"]["95%"] for x in runs]
        reached = (f"after {min(first):.1f}–{max(first):.1f} min" if None not in first
                   else f"{sum(f is not None for f in first)} of {len(runs)} runs")
        rates = sorted(x["steps_per_s"] for x in runs)
        lines.append(
            f"| {cpu} | `{r['make_run'].split(' -m ', 1)[1]}` | {len(runs)} | "
            f"{_minutes(r['summary']['max_wall_seconds'])} | {rates[0]}–{rates[-1]} "
            f"({runs[0]['precision']}, XLA {'on' if runs[0]['jit_compile'] else 'off'}) | "
            f"{min(x['steps'] for x in runs):,}–{max(x['steps'] for x in runs):,} | {accs}: "
            f"**{_pct(r['summary']['mean_test_acc'])} ± {_pct(r['summary']['sd_test_acc'])}** | {reached} | "
            f"{r['summary']['max_peak_rss_mb']:,} MB |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path | None:
    from sgan_experiments import speed
    from sgan_helpers import files

    if "--table" in (argv if argv is not None else sys.argv[1:]):
        print(markdown_table(stored()))
        return None

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--isa", choices=["avx2"], help="cap oneDNN and XLA at this instruction set")
    stamp = time.strftime("%Y%m%d-%H%M")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/main-job-DATE[-avx2].json")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "benchmarks" / "results" / f"main-job-{stamp}{'-avx2' if args.isa else ''}.json"
    env = speed.capped_env(args.isa)
    cpu, flags = speed.cpu_flags()
    make_run = subprocess.run(["make", "-s", "-n", "-C", str(ROOT), "run"], capture_output=True, text=True,
                              check=True).stdout.strip().splitlines()[-1]
    record = {"command": shlex.join(["python", "benchmarks/main_job.py", *(argv or sys.argv[1:])]),
              "make_run": make_run.replace(str(ROOT) + "/", ""),
              "date": time.strftime("%Y-%m-%d"),
              "machine": {"cpu": cpu, "cpu_class": speed.Hardware(cpu, flags).cpu_class,
                          "isa_cap": args.isa, "cpu_count": os.cpu_count(), "python": sys.version.split()[0]},
              "runs": []}
    for seed in args.seeds:
        result = run_seed(seed, env, out.with_suffix("") / f"seed{seed}")
        record["runs"].append(result)
        print(f"seed {seed}: {result['test_acc']:.2%} test after {result['steps']} steps "
              f"({result['steps_per_s']} steps/s), {result['wall_seconds'] / 60:.1f} min wall, "
              f"{result['peak_rss_mb']} MB peak", flush=True)
    accs = [r["test_acc"] for r in record["runs"]]
    record["summary"] = {"mean_test_acc": round(statistics.mean(accs), 5),
                         "sd_test_acc": round(statistics.stdev(accs), 5) if len(accs) > 1 else 0.0,
                         "max_wall_seconds": max(r["wall_seconds"] for r in record["runs"]),
                         "max_peak_rss_mb": max(r["peak_rss_mb"] for r in record["runs"])}
    files.write_json(out, record)
    s = record["summary"]
    print(f"{record['machine']['cpu_class']}{' capped at AVX2' if args.isa else ''}: mean "
          f"{s['mean_test_acc']:.2%} (sd {s['sd_test_acc']:.2%}), "
          f"at most {s['max_wall_seconds'] / 60:.1f} min "
          f"and {s['max_peak_rss_mb']} MB; stored in {out}")
    return out


if __name__ == "__main__":
    main()
