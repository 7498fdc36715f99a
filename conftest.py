"""Loaded by every pytest run in this repository, including a bare `pytest --nbval-lax`.

Notebooks executed under pytest (nbval) run in their quick mode: the training notebook
then trains a few steps instead of its classroom length. Set SGAN_QUICK=0 to run them
at full length under pytest; papermill runs (tests/test_notebooks_papermill.py, `make
notebooks`) pass their own parameters.

Each notebook whose every cell passed under nbval is also written, with the outputs its cells
made, to ``build/executed/``: the site's pages are built from those (``tools/site.py``), so
the series is executed once for both.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("SGAN_QUICK", "1")

EXECUTED = Path(__file__).resolve().parent / "build" / "executed"
_cells: dict[pytest.File, list[bool]] = {}


SLOW_NOTEBOOKS = ("07_train_sgan.ipynb", "08_evaluate_classifier.ipynb", "09_keras3_trainable_pitfall.ipynb",
                  "10_supervised_baseline.ipynb")
"""Notebooks whose cells train for more than about 20 s on 2 cores, even in quick mode: marked ``slow``."""


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in SLOW_NOTEBOOKS:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.when == "call" and type(item).__name__ == "IPyNbCell":
        item.cell.outputs = list(item.test_outputs or [])  # what this run printed and drew
        item.cell.execution_count = item.cell_num + 1
        _cells.setdefault(item.parent, []).append(report.passed)


def pytest_sessionfinish(session):
    import nbformat

    for notebook, passed in _cells.items():
        n_code = sum(c.cell_type == "code" for c in notebook.nb.cells)
        if len(passed) == n_code and all(passed):
            EXECUTED.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook.nb, EXECUTED / Path(str(notebook.fspath)).name)
