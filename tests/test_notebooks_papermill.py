"""Parameterised runs: papermill injects explicit parameters into notebooks 07 and 08.

(nbval, which runs every notebook as committed, cannot inject parameters; notebook
07 reads SGAN_QUICK=1 there instead.) Here 07 trains a tiny run into a temp folder
and 08 evaluates *that* run, so the two notebooks are tested as a chain.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_train_then_evaluate_with_explicit_parameters(tmp_path, monkeypatch):
    monkeypatch.delenv("SGAN_QUICK", raising=False)  # the parameters below must rule
    run_dir = tmp_path / "run"
    pm.execute_notebook(
        NOTEBOOKS / "07_train_sgan.ipynb", tmp_path / "07.ipynb", cwd=str(NOTEBOOKS),
        parameters={"STEPS": 24, "STEPS_PER_EPOCH": 12, "RUN_DIR": str(run_dir), "SEED": 3,
                    # explicit speed settings: the same numbers and no XLA compile on every CPU
                    "PRECISION": "float32", "JIT": False, "EVAL_TRAIN": False},
        kernel_name="python3", progress_bar=False,
    )
    history = json.loads((run_dir / "history.json").read_text())
    assert [r["step"] for r in history["epochs"]] == [12, 24]
    assert json.loads((run_dir / "config.json").read_text())["config"]["seed"] == 3
    assert "All checks passed." in _outputs(tmp_path / "07.ipynb")

    pm.execute_notebook(
        NOTEBOOKS / "08_evaluate_classifier.ipynb", tmp_path / "08.ipynb", cwd=str(NOTEBOOKS),
        parameters={"MODEL_DIR": str(run_dir), "MIN_TEST_ACC": 0.2},
        kernel_name="python3", progress_bar=False,
    )
    text = _outputs(tmp_path / "08.ipynb")
    assert "All checks passed." in text
    saved = history["epochs"][-1]["ema_test_acc"]  # 07 keeps averaged weights by default: 08 gets those
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
