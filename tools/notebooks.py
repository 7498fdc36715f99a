"""Keep the notebooks' shared parts in step: badges, the setup cell, no stored outputs.

The repository URL lives in one place, ``pyproject.toml`` ([project.urls] Repository).
Run ``python tools/notebooks.py`` (or ``make sync-notebooks``) after changing it or
after editing a notebook; ``tests/test_notebooks_meta.py`` fails until you do.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import quote

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def repo_url() -> str:
    """The repository URL, from pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^Repository\s*=\s*"([^"]+)"', text, flags=re.MULTILINE)
    if not match:
        raise SystemExit("pyproject.toml has no [project.urls] Repository entry")
    return match.group(1).rstrip("/")


def pages_url(url: str | None = None) -> str:
    """Where the repository's GitHub Pages publish the site (``make site``)."""
    owner, name = (url or repo_url()).removeprefix("https://github.com/").split("/")[:2]
    return f"https://{owner}.github.io/{name}"


def badges(notebook_name: str, url: str | None = None) -> str:
    """Markdown for the Colab, Binder and read-online badges of one notebook."""
    url = url or repo_url()
    slug = url.removeprefix("https://github.com/")
    page = f"{pages_url(url)}/notebooks/{notebook_name.removesuffix('.ipynb')}.html"
    colab = f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{notebook_name}"
    lab_path = quote("notebooks/" + notebook_name, safe="")
    binder = f"https://mybinder.org/v2/gh/{slug}/main?labpath={lab_path}"
    colab_badge = "https://colab.research.google.com/assets/colab-badge.svg"
    read = "https://img.shields.io/badge/read-the%20executed%20notebook-blue"
    return (f"[![Open In Colab]({colab_badge})]({colab}) "
            f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder}) "
            f"[![Read online]({read})]({page})")


def setup_cell(url: str | None = None) -> str:
    """The first code cell of every notebook."""
    url = url or repo_url()
    folder = url.rsplit("/", 1)[-1]
    return f'''# Setup. On Colab: fetch the project and its helper package (Colab's own
# TensorFlow and Keras 3 stay as they are). Elsewhere: use the installed environment.
import os
import subprocess
import sys

if "google.colab" in sys.modules and not os.path.isdir("../sgan_helpers"):
    if not os.path.isdir("{folder}"):
        subprocess.run(["git", "clone", "--depth", "1", "{url}"],
                       check=True)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
    subprocess.run([*pip, "-e", "{folder}"], check=True)
    os.chdir("{folder}/notebooks")
    sys.path.insert(0, os.path.abspath(".."))

import sgan_helpers

versions = sgan_helpers.check_environment()'''


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def sync(path: Path) -> bool:
    """Rewrite badges and setup cell, drop outputs; return True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    title_cell = nb.cells[0]
    lines = title_cell.source.splitlines()
    kept = [ln for ln in lines if "colab-badge.svg" not in ln]
    kept.insert(1, badges(path.name))
    title_cell.source = "\n".join(kept)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    first_code.source = setup_cell()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    nb.metadata.pop("papermill", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    after = nbformat.writes(nb)
    if after != before:
        nbformat.write(nb, path)
        return True
    return False


if __name__ == "__main__":
    changed = [p.name for p in notebook_paths() if sync(p)]
    print("updated: " + ", ".join(changed) if changed else "all notebooks already in sync")
    sys.exit(0)
