"""Two layers: ``sgan_helpers`` (what the lessons teach) and ``sgan_experiments`` (how the stored results
were made). The experiment layer imports the teaching package, never the reverse; lessons 01-12 import
only the teaching package; neither has an import cycle."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sgan_helpers", "sgan_experiments")
FORMER_CLI = ROOT / "sgan_helpers" / "__main__.py"  # `python -m sgan_helpers`: the stored commands' name


def modules() -> dict[str, Path]:
    """``{"sgan_helpers.data": path, ...}`` for every module of both packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            out[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return out


def imports(source: str, package: str | None, known: set[str]) -> set[str]:
    """The project modules ``source`` imports anywhere (function bodies included), resolved to names in
    ``known`` (``from sgan_helpers import data`` -> ``sgan_helpers.data``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package if node.level else node.module
            if node.level and node.module:
                base = f"{package}.{node.module}"
            if base is None:
                continue
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known
            found |= submodules or {base}  # a module of the package, else the module named
    return {name for name in found if name in known}


def notebook_code(path: Path) -> str:
    """The code cells of a notebook, shell (``!``) and magic (``%``) lines left out."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = [line for cell in cells if cell["cell_type"] == "code"
             for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("!", "%"))]
    return "\n".join(lines)


def test_the_parser_sees_every_kind_of_import():
    known = {"sgan_helpers", "sgan_helpers.data", "sgan_experiments", "sgan_experiments.training"}
    source = ("import sgan_helpers\nfrom sgan_helpers import data\n"
              "def f():\n    from .training import run_training\n")
    assert imports(source, "sgan_experiments", known) == {"sgan_helpers", "sgan_helpers.data",
                                                          "sgan_experiments.training"}


def test_the_teaching_package_never_imports_the_experiment_layer():
    known = set(modules())
    for name, path in modules().items():
        if name.startswith("sgan_helpers") and path != FORMER_CLI:
            used = imports(path.read_text(encoding="utf-8"), "sgan_helpers", known)
            assert not {m for m in used if m.startswith("sgan_experiments")}, (name, used)


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.name[:2])
def test_lessons_import_what_their_part_allows(notebook):
    used = imports(notebook_code(notebook), None, set(modules()))
    assert used, "every lesson uses the teaching package"
    if int(notebook.name[:2]) <= 12:  # the tutorial's SGAN and "does it help": the teaching package only
        assert all(m.startswith("sgan_helpers") for m in used), used


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (``a -> b -> a``), or None."""
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*trail[trail.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt, [*trail, nxt])):
                return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [node])):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle():
    known = set(modules())
    graph = {name: imports(path.read_text(encoding="utf-8"),
                           name if path.stem == "__init__" else name.rsplit(".", 1)[0], known) - {name}
             for name, path in modules().items() if path != FORMER_CLI}
    assert find_cycle(graph) is None, find_cycle(graph)
