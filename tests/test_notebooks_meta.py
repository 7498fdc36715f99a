"""Notebook hygiene and one-source-of-truth checks (fast: nothing is executed here).

nbval (``pytest --nbval-lax notebooks``) executes every notebook; these tests check
what execution cannot: stored outputs, shared headers, inline code == package code.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebooks as nbtools  # noqa: E402

PATHS = nbtools.notebook_paths()
IDS = [p.name for p in PATHS]


def _read(path):
    return nbformat.read(path, as_version=4)


def test_series_is_numbered_without_gaps():
    numbers = [int(p.name[:2]) for p in PATHS]
    assert numbers == list(range(1, len(PATHS) + 1)) and len(PATHS) >= 7


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_committed_without_outputs(path):
    nb = _read(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "run `make sync-notebooks`"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_header_badges_and_setup_cell(path):
    nb = _read(path)
    title = nb.cells[0].source
    assert re.match(rf"# {path.name[:2]} · \S", title), "title: '# NN · Title'"
    assert nbtools.badges(path.name) in title, "run `make sync-notebooks`"
    assert nbtools.repo_url() in nbtools.setup_cell()
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source == nbtools.setup_cell(), "run `make sync-notebooks`"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_teaching_structure(path):
    nb = _read(path)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "**What you will learn**" in markdown
    assert "**Cost:**" in nb.cells[0].source, "state the cost up front"
    assert "## Exercises" in markdown
    closing = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert closing.source.count("assert ") >= 3 and "All checks passed" in closing.source


@pytest.mark.parametrize("name", ["06_train_sgan.ipynb", "07_evaluate_classifier.ipynb"])
def test_long_notebooks_are_parameterised(name):
    nb = _read(nbtools.NOTEBOOKS / name)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"


INLINE = {  # notebook -> the package builder its inline cell re-implements
    "01_standard_discriminator.ipynb": "standard_discriminator",
    "02_shared_discriminators.ipynb": "shared_discriminators",
    "03_multi_output_discriminator.ipynb": "multi_output_discriminator",
    "05_stacked_discriminator.ipynb": "stacked_discriminators",
}


@pytest.mark.parametrize("name, builder", INLINE.items())
def test_inline_model_code_equals_package(name, builder, capsys):
    import keras
    import numpy as np
    from keras import layers

    from sgan_helpers import discriminators
    from sgan_helpers.activation import SumExpActivation

    cells = [c for c in _read(nbtools.NOTEBOOKS / name).cells
             if "inline-model" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "tag the cell that shows model code with 'inline-model'"
    namespace = {"keras": keras, "layers": layers, "np": np, "SumExpActivation": SumExpActivation,
                 "feature_extractor": discriminators.feature_extractor}
    exec(cells[0].source, namespace)  # noqa: S102 - our own notebook
    ours, theirs = namespace[builder](), getattr(discriminators, builder)()
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    for a, b in zip(ours, theirs, strict=True):
        assert discriminators.layer_signature(a) == discriminators.layer_signature(b)
    capsys.readouterr()


def test_no_hard_coded_shared_path():
    needle = ".." + "/shared"  # only CI may point there, through SGAN_DATA_DIR
    offenders = []
    for folder in ("sgan_helpers", "notebooks", "tests", "benchmarks", "tools"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".ipynb"} and needle in path.read_text():
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
