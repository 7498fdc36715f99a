"""Build the series as a static site: every notebook as it ran, the README as its front page, and the record.

    python tools/site.py [--executed build/executed] [--out build/site]

The notebooks come executed: ``make test`` writes them to ``build/executed/`` as the test suite
ran them (training in quick mode), ``make notebooks`` to ``executed/`` with their classroom
parameters (what ``make site`` and the published site use). This script checks that each
executed copy is today's notebook, stages the pages in ``OUT/src`` and runs Sphinx with MyST-NB
(configuration: ``site/conf.py``) into ``OUT/html``. ``site/test_site.py`` then reads every page
in a headless browser.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebooks import notebook_paths, pages_url, repo_url  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["docs/results.md", "docs/cli.md", "benchmarks/README.md", "CONTRIBUTING.md"]
"""Markdown pages of the repository that the site shows beside the notebooks, at the same paths."""
TOC = """

```{toctree}
:hidden:
:caption: The notebooks
:glob:

notebooks/*
```

```{toctree}
:hidden:
:caption: The record

PAGES_HERE
```
""".replace("PAGES_HERE", "\n".join(page.removesuffix(".md") for page in PAGES))
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg")
LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def check_executed(folder: Path) -> list[Path]:
    """The executed copy of every notebook; exit with advice if one is missing or out of date."""
    found = []
    for path in notebook_paths():
        executed = folder / path.name
        if not executed.exists():
            raise SystemExit(f"{executed}: missing. Execute the notebooks first: `make test` writes "
                             f"them to build/executed/, `make notebooks` to executed/.")
        sources = [c.source for c in nbformat.read(path, as_version=4).cells]
        ran = [c.source for c in nbformat.read(executed, as_version=4).cells
               if "injected-parameters" not in c.metadata.get("tags", [])]  # papermill's own cell
        if ran != sources:
            raise SystemExit(f"{executed}: not the notebook in notebooks/ today (its cells differ). "
                             f"Execute it again.")
        found.append(executed)
    return found


def page_links(markdown: str, page: str = "README.md", src: Path | None = None) -> str:
    """A page's links as the site needs them: notebooks and record pages stay pages, images are
    copied beside them (into ``src``), other repository files go to GitHub."""
    here = Path(page).parent

    def fix(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"[a-z]+:|#", target):
            return match.group(0)
        path = os.path.normpath(here / target.split("#")[0])
        if path.startswith("notebooks/") and path.endswith(".ipynb") or path in PAGES:
            return match.group(0)
        if path.endswith(IMAGE_SUFFIXES) and src is not None:
            (src / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / path, src / path)
            return match.group(0)
        return f"{match.group(1)}{repo_url()}/blob/main/{path}{match.group(3)}"
    return LINK.sub(fix, markdown)


def stage(executed: list[Path], src: Path) -> None:
    """Write the site's sources: index.md from the README, the record's pages, the executed notebooks."""
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    (src / "index.md").write_text(page_links((ROOT / "README.md").read_text(), src=src) + TOC)
    for page in PAGES:
        (src / page).parent.mkdir(parents=True, exist_ok=True)
        (src / page).write_text(page_links((ROOT / page).read_text(), page, src))
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            tags = cell.metadata.get("tags", [])
            if "solution" in tags:  # folded in JupyterLab; on the site, behind a "show code" toggle
                cell.metadata["tags"] = [*tags, "hide-input"]
        nbformat.write(nb, src / "notebooks" / path.name)


def build(executed_dir: Path, out: Path) -> Path:
    """Stage and build the site; return the folder of its HTML pages."""
    from sphinx.cmd.build import build_main

    stage(check_executed(executed_dir), out / "src")
    html = out / "html"
    os.environ["SGAN_REPOSITORY_URL"] = repo_url()
    code = build_main(["-b", "html", "-q", "-W", "--keep-going", "-c", str(ROOT / "site"),
                       str(out / "src"), str(html)])
    if code:
        raise SystemExit(f"sphinx-build failed (exit {code}): see the warnings above.")
    print(f"Site built: {html / 'index.html'} (published at {pages_url()})")
    return html


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executed", type=Path, default=ROOT / "build" / "executed")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    args = parser.parse_args()
    build(args.executed, args.out)
