"""What each notebook costs at its classroom defaults: wall time and peak memory, one fresh kernel each.

    python benchmarks/notebook_runtimes.py [NOTEBOOK ...] [--isa avx2] [--out FILE.json]

Each notebook runs end to end with papermill in its own process (kernel start, TensorFlow import and
the worked solutions included), with the parameters a class gets (``SGAN_QUICK`` unset), one after the
other so that none shares the CPU with another. Peak memory is the largest resident set of the process
tree (the kernel included), as ``/usr/bin/time -v`` reports it. ``--isa avx2`` caps oneDNN and XLA at
AVX2 (an imitation of an AVX2-only CPU on an AVX-512 one). The stored file records the command, the
machine and its CPU class.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def duration(seconds: float) -> str:
    """Seconds as the README writes a runtime: ``9 s``, ``2 min 15 s``."""
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"


def run_one(path: Path, out_dir: Path, isa: str | None = None) -> dict[str, float]:
    """Run one notebook with papermill in a child process; its wall time and peak RSS."""
    from sgan_experiments import speed

    env = {k: v for k, v in speed.capped_env(isa).items() if k != "SGAN_QUICK"}
    command = [sys.executable, "-m", "papermill", "-k", "python3", "--cwd", str(path.parent),
               str(path), str(out_dir / path.name)]
    log = out_dir / f"{path.stem}.log"
    with log.open("w") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)  # the rusage of the whole reaped tree
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise SystemExit(f"{path.name} failed (exit {code}):\n{log.read_text()[-3000:]}")
    return {"wall_seconds": round(wall, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "printed": percentages(out_dir / path.name)}


def percentages(executed: Path, limit: int = 30) -> list[str]:
    """The lines an executed notebook printed that hold a percentage (what it measured), at most ``limit``."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    lines = [line.strip() for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
             if out.get("name") == "stdout" for line in out.get("text", "").splitlines() if "%" in line]
    return lines[:limit]


def main(argv: list[str] | None = None) -> Path:
    import keras
    import numpy as np
    import tensorflow as tf

    from sgan_experiments import speed
    from sgan_helpers import files

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        default=sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    parser.add_argument("--isa", choices=["avx2"], help="cap oneDNN and XLA at this instruction set")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/notebooks-DATE[-avx2].json")
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M") + (f"-{args.isa}" if args.isa else "")
    args.out = args.out or ROOT / "benchmarks" / "results" / f"notebooks-{stamp}.json"
    cpu, flags = speed.cpu_flags()
    record = {"command": shlex.join(["python", "benchmarks/notebook_runtimes.py", *sys.argv[1:]]),
              "date": time.strftime("%Y-%m-%d"),
              "machine": {"cpu": cpu, "cpu_class": speed.Hardware(cpu, flags).cpu_class,
                          "isa_cap": args.isa, "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
                          "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__},
              "notebooks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.notebooks:
            result = run_one(path.resolve(), Path(tmp), args.isa)
            record["notebooks"][path.name] = result
            print(f"{path.name:<42} {duration(result['wall_seconds']):>12} {result['peak_rss_mb']:>6} MB",
                  flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    files.write_json(args.out, record)
    print(f"{record['machine']['cpu_class']}, {record['machine']['cpu_count']} cores: stored in {args.out}")
    return args.out


if __name__ == "__main__":
    main()
