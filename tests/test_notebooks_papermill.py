"""Parameterised runs: papermill injects explicit parameters into notebooks 07 and 08.

(nbval, which runs every notebook as committed, cannot inject parameters; notebook
07 reads SGAN_QUICK=1 there instead.) Here 07 trains a tiny run with the combined step
into a temp folder and 08 evaluates *that* run, so the two notebooks are tested as a chain.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: CI runs every test

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_train_then_evaluate_with_explicit_parameters(tmp_path, monkeypatch):
    monkeypatch.delenv("SGAN_QUICK", raising=False)  # the parameters below must rule
    pm.execute_notebook(  # in tmp_path: the run folder lands in tmp_path/sgan_runs/
        NOTEBOOKS / "07_train_sgan.ipynb", tmp_path / "07.ipynb", cwd=str(tmp_path),
        parameters={"STEPS": 25, "SEED": 3, "SCHEDULE": "combined"}, kernel_name="python3",
        progress_bar=False,
    )
    (run_dir,) = (tmp_path / "sgan_runs").iterdir()
    assert run_dir.name.startswith("07_combined_100labels_seed3_")
    history = json.loads((run_dir / "history.json").read_text())
    assert [r["step"] for r in history["epochs"]] == [5, 10, 15, 20, 25]
    text = _outputs(tmp_path / "07.ipynb")
    assert "All checks passed." in text and "CombinedSGAN:" in text

    pm.execute_notebook(
        NOTEBOOKS / "08_evaluate_classifier.ipynb", tmp_path / "08.ipynb", cwd=str(NOTEBOOKS),
        parameters={"MODEL_DIR": str(run_dir), "MIN_TEST_ACC": 0.2},
        kernel_name="python3", progress_bar=False,
    )
    text = _outputs(tmp_path / "08.ipynb")
    assert "All checks passed." in text
    saved = history["epochs"][-1]["ema_test_acc"]  # 07 saves the averaged classifier: 08 measures that
    assert f"test accuracy: {100 * saved:.2f}%" in text


def test_evaluate_the_improved_shipped_model(tmp_path, monkeypatch):
    """Notebook 08 evaluates either shipped model; the improved one's history agrees with it."""
    monkeypatch.delenv("SGAN_QUICK", raising=False)
    run_dir = NOTEBOOKS.parent / "pretrained" / "mnist_100labels_improved"
    pm.execute_notebook(
        NOTEBOOKS / "08_evaluate_classifier.ipynb", tmp_path / "08.ipynb", cwd=str(NOTEBOOKS),
        parameters={"MODEL_DIR": "../pretrained/mnist_100labels_improved"},
        kernel_name="python3", progress_bar=False,
    )
    text = _outputs(tmp_path / "08.ipynb")
    saved = json.loads((run_dir / "history.json").read_text())["epochs"][-1]["ema_test_acc"]
    assert "All checks passed." in text and f"test accuracy: {100 * saved:.2f}%" in text
    assert "--recipe salimans" in text  # the command that made it, printed from its config.json
