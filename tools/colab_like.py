"""Run notebooks the way Colab does, in this Python (a venv holding Colab's TensorFlow/Keras pair).

    python tools/colab_like.py --stack "tensorflow-cpu==2.19.0 keras==3.10.0" 01_standard_discriminator ...

What Colab does, and what this does instead:
- the notebook is opened alone, from a folder with no project beside it: here a fresh
  ``content/`` folder holding only the notebook;
- ``google.colab`` is imported in the kernel: here a ``sitecustomize`` puts a stand-in module in
  ``sys.modules``, so the setup cell takes its Colab branch;
- the setup cell clones the repository: here a copy of this working tree is already in
  ``content/`` under the clone's name (no network), so the cell skips ``git clone``; it then runs
  ``pip install --no-deps -e`` and changes into the clone's notebooks folder, as on Colab.
Each notebook runs in quick mode (``SGAN_QUICK=1``) and must print "All checks passed."; the
pair must still be the one installed first (``--no-deps`` left it alone).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import nbformat
import papermill

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebooks import repo_url  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOT_COPIED = shutil.ignore_patterns(".git", ".venv*", "build", "executed", "runs", "sgan_runs",
                                    "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache")


def pinned(stack: str) -> dict[str, str]:
    """``{"tensorflow-cpu": "2.19.0", ...}`` from ``"tensorflow-cpu==2.19.0 ..."``."""
    pairs = [item.split("==") for item in stack.split()]
    if not pairs or any(len(p) != 2 for p in pairs):
        raise SystemExit(f"--stack must be NAME==VERSION items, got {stack!r}")
    return dict(pairs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the pins installed first, e.g. keras==3.10.0")
    parser.add_argument("notebooks", nargs="+", help="notebook names without .ipynb")
    args = parser.parse_args()
    stack = pinned(args.stack)
    for name, version in stack.items():
        if metadata.version(name) != version:
            raise SystemExit(f"this Python has {name} {metadata.version(name)}, not {version}")

    work = Path(tempfile.mkdtemp(prefix="colab-like-"))
    content, stub = work / "content", work / "stub"
    clone = content / repo_url().rsplit("/", 1)[-1]
    shutil.copytree(ROOT, clone, ignore=NOT_COPIED)
    stub.mkdir()
    (stub / "sitecustomize.py").write_text(
        "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n")
    env_before = dict(os.environ)
    os.environ.update(PYTHONPATH=str(stub), SGAN_QUICK="1")
    try:
        for name in args.notebooks:
            source = ROOT / "notebooks" / f"{name}.ipynb"
            shutil.copy(source, content / source.name)
            out = work / f"{name}.out.ipynb"
            print(f"{name}: running as on Colab in {content}", flush=True)
            papermill.execute_notebook(content / source.name, out, cwd=str(content),
                                       kernel_name="python3", progress_bar=False)
            text = "".join(o.get("text", "") for c in nbformat.read(out, as_version=4).cells
                           if c.cell_type == "code" for o in c.outputs)
            if "running on: colab" not in text or "All checks passed." not in text:
                raise SystemExit(f"{name}: the Colab path did not run through (see {out})")
            print(f"{name}: passed", flush=True)
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    for name, version in stack.items():
        found = subprocess.run([sys.executable, "-c", f"from importlib import metadata; "
                                f"print(metadata.version({name!r}))"],
                               capture_output=True, text=True).stdout.strip()
        if found != version:
            raise SystemExit(f"{name} {version} was replaced: the setup cell must not touch it")
    print(f"Colab-like run passed: {', '.join(args.notebooks)} on {args.stack}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
