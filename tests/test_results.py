"""The stored results (results/) are complete, consistent, and the figures the notebooks, the README and
the measured record (docs/results.md) state are the stored ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from sgan_helpers import sweep

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
FOLDERS = sorted(p.name for p in RESULTS.iterdir() if p.is_dir())
NOTEBOOKS = ["10_supervised_baseline.ipynb", "12_label_budget.ipynb", "13_fashion_mnist.ipynb",
             "14_latent_space_explorer.ipynb", "11_improved_techniques.ipynb"]
SHIPPED = ["mnist_100labels", "mnist_100labels_improved"]
PUBLISHED = {99.07, 95.9}  # Salimans et al. 2016 (93 errors in 10,000); the 2019 tutorial
BOUNDS = {0.0, 100.0}  # "between 0 % and 100 %", "fits its images 100 %": definitions, not results
THRESHOLDS = {95.0, 99.0}  # issue #12's targets ("95 % within five minutes"): levels, not results
EXPLORATIONS = ("sigmoid-exploration-20261127", "faithful-draw1-alone-20261127",
                "faithful-softplus-draw2-20261128")
"""benchmarks/results folders of short runs (each run's config.json and history.json) that notebooks read."""
IN_PROGRESS: dict[str, str] = {  # sweeps whose other draws are still to train (`make` resumes them)
    "ema9999-mnist-salimans": "make sweep-ema: draws 1 and 2",
    "label-draw2-mnist-salimans": "make sweep-label-draw2: seed 2, a rerun of epoch-batches' draw 2",
}


@pytest.fixture(scope="module", params=FOLDERS)
def records(request):
    return request.param, sweep.load_results(RESULTS / request.param)


def test_the_expected_results_are_stored():
    assert {"sweep-mnist-improved", "sweep-mnist-series", "sweep-fashion-improved", "sweep-mnist-salimans",
            "fast-mnist-salimans", "ablation-no-feature-matching", "ablation-no-noise",
            "ablation-sigmoid-output", "long-mnist-salimans", "paper-mnist-salimans",
            "ema9999-mnist-salimans", "epoch-batches-mnist-salimans",
            "label-draw2-mnist-salimans", "ablation-sigmoid-float32-output",
            "faithful-mnist-salimans"} <= set(FOLDERS)


def test_every_cell_has_three_draws_and_paired_images(records):
    folder, records = records
    summary = sweep.summarise(records)
    planned = records[0]["spec"]["draws"]
    assert summary and all(s.n == planned >= 3 or folder in IN_PROGRESS for s in summary.values())
    assert all(r["spec"] == records[0]["spec"] for r in records), "one sweep per folder"
    by_key = {(r["cell"]["method"], r["cell"]["n_labels"], r["cell"]["seed"]): r for r in records}
    for (method, n, seed), r in by_key.items():
        assert r["labelled_indices"] == "all" or len(r["labelled_indices"]) == n
        twin = by_key.get(("supervised" if method == "sgan" else "sgan", n, seed))
        if twin is not None:
            assert twin["labelled_indices"] == r["labelled_indices"]
            assert twin["labelled_sha256"] == r["labelled_sha256"]
        assert r["test_acc"] == r["curve"][-1][r["test_acc_key"]]  # the final weights, never the best
        assert r["curve"][-1]["step"] == r["cell"]["steps"] == r["config"]["steps"]
        assert r["command"].startswith("python -m sgan_helpers ") and r["sweep_command"]
        assert r["machine"]["cpu_count"] and r["train_seconds"] > 0
        # None only for a run stopped before the trainer recorded each session's time at its checkpoints
        assert (r["wall_seconds"] > 0 if r["wall_seconds"] is not None
                else any("wall_seconds" not in s for s in r["sessions"][:-1]))


def test_sweeps_in_progress_are_stored_and_unfinished():
    """IN_PROGRESS excuses only stored sweeps that still miss draws (a finished one must leave it)."""
    for folder in IN_PROGRESS:
        records = sweep.load_results(RESULTS / folder)
        assert len({r["cell"]["seed"] for r in records}) < records[0]["spec"]["draws"], \
            f"results/{folder} has all its draws: remove it from IN_PROGRESS"


def test_record_holds_each_block_verbatim():
    """Each folder's block in docs/results.md (what made it, on what machine, and its table) is what
    tools/results_tables.py prints from the stored records."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("results_tables", ROOT / "tools" / "results_tables.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    record = (ROOT / "docs" / "results.md").read_text()
    for folder in FOLDERS:
        assert tool.block(RESULTS / folder) in record, \
            f"docs/results.md's block for results/{folder} differs from `python tools/results_tables.py`"


def _stored_values() -> set[float]:
    values: set[float] = set()
    for folder in FOLDERS:
        records = sweep.load_results(RESULTS / folder)
        values |= {r["test_acc"] for r in records}
        for s in sweep.summarise(records).values():
            values |= {s.mean, s.std}
        summary = sweep.summarise(records)
        for (m, n), s in summary.items():
            other = summary.get(("supervised" if m == "sgan" else "sgan", n))
            if other is not None:
                values.add(abs(s.mean - other.mean))
    for name in SHIPPED:
        history = json.loads((ROOT / "pretrained" / name / "history.json").read_text())
        values |= {history["epochs"][-1]["ema_test_acc"]}
    for folder in EXPLORATIONS:  # short runs stored with their histories: every evaluation is a stored figure
        for path in (ROOT / "benchmarks" / "results" / folder).glob("*/history.json"):
            values |= {e["ema_test_acc"] for e in json.loads(path.read_text())["epochs"]}
    for path in (ROOT / "benchmarks" / "results").glob("notebooks-*/*-history.json"):  # classroom runs
        values |= {e[k] for e in json.loads(path.read_text())["epochs"] for k in ("test_acc", "ema_test_acc")}
    for path in (ROOT / "benchmarks" / "results").glob("main-job-*.json"):  # the main job's three seeds
        job = json.loads(path.read_text())
        values |= {r["test_acc"] for r in job["runs"]}
        values |= {job["summary"]["mean_test_acc"], job["summary"]["sd_test_acc"]}
    return values


def _main_job_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("main_job", ROOT / "benchmarks" / "main_job.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_main_job_is_measured_on_both_cpu_classes_and_in_the_record():
    """`make run`'s stored benchmarks: three seeds each, natively and capped at AVX2, made by the
    Makefile's current command; docs/results.md holds their table as the tool prints it."""
    tool = _main_job_tool()
    jobs = tool.stored()
    assert {j["machine"]["isa_cap"] for j in jobs} >= {None, "avx2"}
    import subprocess

    make_run = subprocess.run(["make", "-s", "-n", "-C", str(ROOT), "run"], capture_output=True, text=True,
                              check=True).stdout.strip().splitlines()[-1].replace(str(ROOT) + "/", "")
    for job in jobs:
        assert len(job["runs"]) == 3 and job["make_run"] == make_run.strip()
    assert tool.markdown_table(jobs) in (ROOT / "docs" / "results.md").read_text(), \
        "docs/results.md's main-job table differs from `python benchmarks/main_job.py --table`"


def _matches(number: str, values: set[float]) -> bool:
    decimals = len(number.split(".")[1]) if "." in number else 0
    x = float(number)
    if x in PUBLISHED or x in BOUNDS or x in THRESHOLDS:
        return True
    return any(abs(round(100 * v, decimals) - x) < 1e-9 for v in values)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_prose_figures_are_stored_figures(name):
    """Every percentage written in a notebook's text is a stored result (or a published one):
    figures that depend on the results are printed by code, never typed."""
    values = _stored_values()
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for number in re.findall(r"(\d+(?:\.\d+)?)\s?%", cell.source):
                assert _matches(number, values), f"{name}: {number} % is not a stored figure"


def test_record_results_section_figures_are_stored():
    record = (ROOT / "docs" / "results.md").read_text()
    section = record.split("\n## Does the GAN help?", 1)[1].split("\n## ", 1)[0]
    values = _stored_values()
    for number in re.findall(r"(\d+\.\d+)\s?%", section):
        assert _matches(number, values), f"docs/results.md: {number} % is not a stored figure"


def test_readme_figures_are_stored():
    """The README's key results quote stored figures (or published ones), never typed ones."""
    readme = (ROOT / "README.md").read_text()
    values = _stored_values()
    numbers = re.findall(r"([+-]?\d+\.\d+)\s?(?:%|points)", readme)
    assert len(numbers) >= 6
    for number in numbers:
        assert _matches(number.lstrip("+-"), values), f"README: {number} is not a stored figure"


def test_shipped_run_records_the_draw_its_seed_gives(mnist):
    """The shipped run's labelled indices (added after it was made) are the trainer's draw for its seed."""
    import numpy as np

    from sgan_helpers import data

    info = json.loads((ROOT / "pretrained" / "mnist_100labels" / "config.json").read_text())
    c = info["config"]
    (x, y), _ = mnist
    rng = np.random.default_rng([c["seed"], 0])
    index = data.select_supervised_indices(np.asarray(y), c["n_labels"], rng)
    assert info["labelled_indices"] == index.tolist()
    assert info["labelled_sha256"] == data.digest(x[index], np.asarray(y)[index])


def test_shipped_improved_model_is_draw_1_of_the_faithful_runs():
    """pretrained/mnist_100labels_improved is the run folder of draw 1 of results/faithful-mnist-salimans (the
    draw fixed before the runs ended; commit 9f11d70)."""
    run = ROOT / "pretrained" / "mnist_100labels_improved"
    info = json.loads((run / "config.json").read_text())
    history = json.loads((run / "history.json").read_text())
    record = json.loads((RESULTS / "faithful-mnist-salimans" / "sgan-mnist-100labels-seed1.json").read_text())
    assert info["config"] == record["config"] and info["sessions"] == record["sessions"]
    assert info["labelled_indices"] == record["labelled_indices"]
    assert history["epochs"][-1][record["test_acc_key"]] == record["test_acc"]
    assert [e["step"] for e in history["epochs"]] == [p["step"] for p in record["curve"]]


def test_shipped_improved_model_is_what_its_record_says(mnist):
    """pretrained/mnist_100labels_improved: evaluated here, independently of the trainer, on the official
    test set, its classifier gives the accuracy its history records; its record holds the command and the
    labelled images."""
    import numpy as np

    from sgan_helpers import data, evaluation

    run = ROOT / "pretrained" / "mnist_100labels_improved"
    info = json.loads((run / "config.json").read_text())
    assert info["sessions"][0]["command"].startswith("python -m sgan_helpers train --recipe salimans")
    assert info["config"]["architecture"] == "mlp" and len(info["labelled_indices"]) == 100
    (x, y), (x_test, y_test) = mnist
    index = np.array(info["labelled_indices"])
    assert info["labelled_sha256"] == data.digest(x[index], np.asarray(y)[index])
    classifier = evaluation.load_classifier(run / "classifier.keras")
    proba = evaluation.predict_proba(classifier, data.preprocess(x_test))
    assert proba.shape == (len(y_test), 10) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    accuracy = float(np.mean(proba.argmax(axis=1) == np.asarray(y_test)))
    history = json.loads((run / "history.json").read_text())
    assert abs(accuracy - history["epochs"][-1]["ema_test_acc"]) < 5e-4
