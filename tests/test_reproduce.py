"""A stored short run per recipe, remade from its recorded command by today's code: the same readings.

``results/short-tutorial`` (the tutorial's four updates, CNNs, float32) and ``results/short-faithful``
(Salimans et al.'s MLPs, combined update, weight average, batches in passes, float32) were trained by
the trainer before it ran the teaching package's ``train_step``. On the CPU model that made a record
every accuracy must come back bit for bit; another CPU model may round differently (oneDNN picks its
kernels per CPU, and XLA is chosen per CPU class), so there the readings must agree closely.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sgan_experiments import cli, experiments
from sgan_experiments.runs import machine
from sgan_helpers.results import load_results

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: CI runs every test

ROOT = Path(__file__).resolve().parents[1]
SHORT = [name for name in experiments.EXPERIMENTS if name.startswith("short-")]


@pytest.mark.parametrize("name", SHORT)
def test_a_stored_short_run_is_reproduced(name, tmp_path, monkeypatch):
    (stored,) = load_results(ROOT / "results" / name)
    monkeypatch.chdir(tmp_path)  # the entry's command writes results/NAME and runs/ here
    assert cli.main(experiments.EXPERIMENTS[name].argv) == 0
    (again,) = load_results(tmp_path / "results" / name)
    assert again["config"] == stored["config"] and again["labelled_sha256"] == stored["labelled_sha256"]
    here, there = machine(), stored["machine"]
    setting = [(r["speed"]["precision"], r["speed"]["jit_compile"]) for r in (again, stored)]
    same_cpu = (here["cpu"], here["cpu_flags"], setting[0]) == (there["cpu"], there["cpu_flags"], setting[1])
    for mine, theirs in zip(again["curve"], stored["curve"], strict=True):
        readings = {k: v for k, v in theirs.items()  # what each evaluation measured (mean_c_acc, the
                    if k.endswith("_acc") and not k.startswith("mean_")}  # training batches', is gone)
        assert readings and mine["step"] == theirs["step"]
        for key, value in readings.items():
            if same_cpu:
                assert mine[key] == value, (key, mine["step"])
            else:  # other rounding: a few images of the 10,000 may change their class
                assert mine[key] == pytest.approx(value, abs=0.01), (key, mine["step"])
