"""The stored results (results/) are complete, consistent, and the figures the notebooks, the README and
the measured record (docs/results.md) state are the stored ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from conftest import load_script
from sgan_experiments import sweep

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
FOLDERS = sorted(p.name for p in RESULTS.iterdir() if p.is_dir() and not p.name.startswith("short-"))
"""The sweeps' folders (``short-*``: one short run each, that a change must reproduce: test_reproduce.py)."""
NOTEBOOKS = ["10_supervised_baseline.ipynb", "11_improved_techniques.ipynb", "12_label_budget.ipynb",
             "13_fashion_mnist.ipynb", "14_latent_space_explorer.ipynb", "15_reproducing_99_percent.ipynb"]
SHIPPED = ["mnist_100labels", "mnist_100labels_improved"]
PUBLISHED = {99.07, 95.9}  # Salimans et al. 2016 (93 errors in 10,000); the 2019 tutorial
BOUNDS = {0.0, 100.0}  # "between 0 % and 100 %", "fits its images 100 %": definitions, not results
THRESHOLDS = {95.0, 99.0}  # issue #12's targets ("95 % within five minutes"): levels, not results
EXPLORATIONS = ("sigmoid-exploration-20261127", "faithful-draw1-alone-20261127",
                "faithful-softplus-draw2-20261128")
"""benchmarks/results folders of short runs (each run's config.json and history.json) that notebooks read."""
IN_PROGRESS: dict[str, str] = {  # sweeps whose other draws are still to train (`make` resumes them)
    "ema9999-mnist-salimans": "draws 1 and 2 (make experiment NAME=ema9999-mnist-salimans resumes)",
    "label-draw2-mnist-salimans": "seed 2, a rerun of epoch-batches' draw 2",
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
    tool = load_script("tools/results_tables.py")
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
    return load_script("benchmarks/main_job.py")


def test_main_job_is_measured_on_both_cpu_classes_and_in_the_record():
    """`make run`'s stored benchmarks: three seeds each, natively and capped at AVX2, made by the
    Makefile's current command; docs/results.md holds their table as the tool prints it."""
    tool = _main_job_tool()
    jobs = tool.stored()
    assert {j["machine"]["isa_cap"] for j in jobs} >= {None, "avx2"}
    import subprocess

    make_run = subprocess.run(["make", "-s", "-n", "-C", str(ROOT), "run"], capture_output=True, text=True,
                              check=True).stdout.strip().splitlines()[-1].replace(str(ROOT) + "/", "")
    for job in jobs:  # `python -m sgan_helpers`: the command line's former name, the same command
        assert len(job["runs"]) == 3
        assert job["make_run"].replace("-m sgan_helpers ", "-m sgan_experiments ") == make_run.strip()
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


# ---------------------------------------------------------------------------------------------------
# The findings of notebooks 11 (what each technique is worth), 15 (reproducing Salimans et al.'s 99 %) and
# docs/results.md, checked on the stored records, so the prose that states them stays true.

PAPER_MEAN, PAPER_SD = 0.9907, 0.00065  # Salimans et al. 2016: 93 ± 6.5 errors in 10,000 (ten seeds)
ABLATIONS = {"no feature matching": "ablation-no-feature-matching", "no Gaussian noise": "ablation-no-noise",
             "sigmoid output": "ablation-sigmoid-output",
             "sigmoid, float32 layer": "ablation-sigmoid-float32-output",
             "init without noise": "sweep-mnist-improved"}
"""Notebook 11's ablations: the salimans recipe (results/sweep-mnist-salimans) with one thing changed."""
CHANGED = {"full recipe": [], "no feature matching": ["generator_loss"], "no Gaussian noise": ["noise_scale"],
           "sigmoid output": ["generator_output"], "init without noise": ["init_noise"],
           "sigmoid, float32 layer": ["float32_output", "generator_output"]}
EXPLORE = ROOT / "benchmarks" / "results" / "sigmoid-exploration-20261127"
DRAW1_ALONE = ROOT / "benchmarks" / "results" / "faithful-draw1-alone-20261127" / "seed1"
SOFTPLUS_DRAW2 = ROOT / "benchmarks" / "results" / "faithful-softplus-draw2-20261128" / "seed2"


def _runs(folder: str, method: str = "sgan", n_labels: int = 100) -> dict[int, dict]:
    """One stored sweep's runs of a method and budget, by draw (seed)."""
    return {r["cell"]["seed"]: r for r in sweep.load_results(RESULTS / folder)
            if r["cell"]["method"] == method and r["cell"]["n_labels"] == n_labels}


def _time_to(curve, key, level):
    """Training seconds at the first evaluation at or above ``level`` (None if never)."""
    return next((p["train_seconds"] for p in curve if p[key] >= level), None)


def _first_step(curve, key, level):
    return next((p["step"] for p in curve if p[key] >= level), None)


def _late_mean(r, start: int = 30_000) -> float:
    """The mean reading (averaged weights) from step 30,000 on."""
    return float(np.mean([p[r["test_acc_key"]] for p in r["curve"] if p["step"] >= start]))


def _changed_fields(a, b) -> list[str]:
    """The fields that define a run where two records' configs differ (defaults filled in)."""
    from sgan_experiments.config import TrainConfig

    ours, theirs = (TrainConfig.from_dict(x["config"]).run_dict() for x in (a, b))
    return sorted(k for k in ours if ours[k] != theirs[k])


def _setting(r):
    """Where and how a run computed: CPU model (or platform), cores, versions, precision, XLA."""
    m = r["machine"]
    return (m.get("cpu") or m["platform"], m["cpu_count"], m["tensorflow"], m["keras"],
            r["speed"]["precision"], r["speed"]["jit_compile"])


def _same_place(a, b) -> bool:
    ma, mb = a["machine"], b["machine"]
    same_cpu = ma["cpu"] == mb["cpu"] if "cpu" in ma and "cpu" in mb else ma["platform"] == mb["platform"]
    return same_cpu and _setting(a)[1:] == _setting(b)[1:]


def _run_folder(path: Path):
    """A stored run folder: its config.json and its history's evaluations."""
    return (json.loads((path / "config.json").read_text()),
            json.loads((path / "history.json").read_text())["epochs"])


def _variants():
    full = _runs("sweep-mnist-salimans")
    return {"full recipe": full} | {name: _runs(folder) for name, folder in ABLATIONS.items()}


def test_ablations_measure_what_notebook_11_says():
    """Each ablation changes one field (the float32 sigmoid two) on the full recipe's labelled images;
    the noise and the output unit are worth most, feature matching little to the classifier."""
    variants = _variants()
    full = variants["full recipe"]
    baseline = _runs("sweep-mnist-salimans", "supervised")
    diff = {}
    for name, runs in variants.items():
        assert sorted(runs) == sorted(full) == [1, 2, 3]
        changed = _changed_fields(runs[1], full[1])
        assert changed == CHANGED[name]
        for s, r in runs.items():  # twins: the same labelled images and the same length
            assert r["labelled_sha256"] == full[s]["labelled_sha256"]
            assert r["cell"]["steps"] == full[s]["cell"]["steps"]
        diff[name] = np.array([runs[s]["test_acc"] - full[s]["test_acc"] for s in sorted(runs)])
    names = [n for n in variants if n != "full recipe"]
    assert all(diff[n].mean() < 0 for n in names), "the full recipe's classifier is the best on average"
    assert (diff["no Gaussian noise"] < -0.10).all(), "without noise: over ten points lost in every draw"
    assert min(names, key=lambda n: diff[n].mean()) == "sigmoid output"
    assert (diff["sigmoid output"] < -0.05).all()
    sig32 = "sigmoid, float32 layer"
    back = np.array([variants[sig32][s]["test_acc"] - variants["sigmoid output"][s]["test_acc"]
                     for s in full])
    assert (back > 0.06).all(), "the sigmoid's layer in float32: over six points back in every draw"
    assert (diff[sig32] < -0.02).all(), "...and still over two points below the softplus output"
    sigmoid_mean = np.mean([r["test_acc"] for r in variants["sigmoid output"].values()])
    base_mean = np.mean([r["test_acc"] for r in baseline.values()])
    assert sigmoid_mean - base_mean < 0.03, "the sigmoid SGAN ends barely above the no-GAN baseline"
    assert (diff["init without noise"] < -0.01).all(), "the noisy init: over a point in every draw"
    assert abs(diff["no feature matching"].mean()) < 0.01, "feature matching: under a point on average"
    assert (diff["no feature matching"] < 0).any() and (diff["no feature matching"] > 0).any()


def test_weight_average_helps_early_not_at_the_end_of_a_decayed_run():
    variants = _variants()
    gain = {name: np.array([[p["ema_test_acc"] - p["test_acc"] for p in r["curve"]] for r in runs.values()])
            for name, runs in variants.items()}
    assert gain["full recipe"][:, 0].mean() > 0 and abs(gain["full recipe"][:, -1].mean()) < 0.005
    assert gain["no Gaussian noise"][:, 0].mean() > gain["full recipe"][:, 0].mean()


def test_bad_generator_pictures_read_as_notebook_11_says():
    """The judge (the series' shipped classifier) on each run's 100 stored generator images: the full
    recipe's are the most evenly spread; the sigmoid's collapsed; crisp images came with worse classifiers."""
    from sgan_helpers import evaluation

    judge = evaluation.load_classifier(ROOT / "pretrained" / "mnist_100labels" / "classifier.keras")
    folders = {"full recipe": "sweep-mnist-salimans"} | ABLATIONS
    quality = {}
    for name, runs in _variants().items():
        rows = []
        for _, r in sorted(runs.items()):
            images = sweep.load_sample_array(RESULTS / folders[name] / f"{r['name']}.npz")
            proba = evaluation.predict_proba(judge, images)
            top_share = np.bincount(proba.argmax(axis=1), minlength=10).max() / len(proba)
            rows.append((evaluation.classifier_score(proba), float(np.median(proba.max(axis=1))), top_share))
        quality[name] = np.array(rows)
    mean_q = {name: q.mean(axis=0) for name, q in quality.items()}
    sig32 = "sigmoid, float32 layer"
    others = [n for n in mean_q if n != sig32]
    assert max(others, key=lambda n: mean_q[n][0]) == "full recipe", "the top judge score (or a tie)"
    assert min(others, key=lambda n: mean_q[n][2]) == "full recipe", "the most even over the classes"
    assert (quality[sig32][:, 0] > 2).all(), "the sigmoid in float32 does not collapse"
    assert abs(mean_q[sig32][0] - mean_q["full recipe"][0]) < 0.1, "the judge scores the two alike"
    assert abs(mean_q[sig32][2] - mean_q["full recipe"][2]) < 0.02, "as evenly spread over the classes"
    assert mean_q["full recipe"][1] < min(mean_q["no feature matching"][1], mean_q["no Gaussian noise"][1])
    assert (quality["sigmoid output"][:, 0] < 1.25).all(), "the sigmoid generator collapsed"


def _grid_spread(png: Path) -> float:
    """How much a stored 10 x 10 sample grid's images differ (0: one image repeated)."""
    import matplotlib.image

    img = matplotlib.image.imread(png)[..., 0]
    tiles = img.reshape(10, 28, 10, 28).transpose(0, 2, 1, 3).reshape(100, -1)
    return float(tiles.std(axis=0).mean())


def test_sigmoid_exploration_runs():
    """bfloat16 collapses the sigmoid at once; float32 rises on the recipe's schedule but falls at a constant
    rate (so something else in their code keeps it alive: Adam's epsilon, tested by the faithful runs)."""
    accs = {p.name: [e["ema_test_acc"] for e in _run_folder(p)[1]] for p in EXPLORE.iterdir() if p.is_dir()}
    configs = {p.name: _run_folder(p)[0]["config"] for p in EXPLORE.iterdir() if p.is_dir()}
    assert accs["linear-lr-bf16-uniform-3000steps"][-1] < 0.81, "bfloat16, uniform latent points: collapsed"
    assert (np.diff(accs["linear-lr-float32-3000steps"]) > 0).all(), "float32, the recipe's schedule: rising"
    constant = [n for n in configs if n.startswith("constant")]
    assert len(constant) == 2 and all(configs[n]["lr_schedule"] == "constant" for n in constant)
    layer, f32 = accs["constant-lr-bf16-float32-layer"], accs["constant-lr-float32"]
    assert max(layer) - layer[-1] > 0.08 and max(f32) - f32[-1] > 0.05, "at a constant rate: they fall"
    spread = {(p.parent.parent.name, p.stem): _grid_spread(p) for p in EXPLORE.glob("*/samples/*.png")}
    one_texture = [("linear-lr-bf16-uniform-3000steps", "epoch_005"),
                   ("constant-lr-bf16-float32-layer", "epoch_013"),
                   ("constant-lr-float32", "epoch_002"), ("constant-lr-float32", "epoch_006")]
    many_digits = [("linear-lr-float32-3000steps", "epoch_005"),
                   ("constant-lr-bf16-float32-layer", "epoch_003"), ("constant-lr-float32", "epoch_001")]
    assert all(spread[k] < 0.02 for k in one_texture) and all(spread[k] > 0.1 for k in many_digits)


def test_fast_and_hour_long_runs():
    """95 % within five minutes of training in every draw, 98 % within ten in the hour-long runs; no 99 %."""
    fast, long = _runs("fast-mnist-salimans"), _runs("long-mnist-salimans")
    assert sorted(fast) == sorted(long) == [1, 2, 3]
    assert all(fast[s]["labelled_sha256"] == long[s]["labelled_sha256"] for s in fast)
    fast_final = np.array([fast[s]["test_acc"] for s in sorted(fast)])
    long_final = np.array([long[s]["test_acc"] for s in sorted(long)])
    assert (fast_final >= 0.95).all()
    assert all(0 < _time_to(r["curve"], r["test_acc_key"], 0.95) <= 300 for r in fast.values())
    for r in long.values():
        assert r["train_seconds"] <= 3600 and (r["wall_seconds"] is None or r["wall_seconds"] <= 3600)
        key = r["test_acc_key"]
        assert _time_to(r["curve"], key, 0.95) <= 300 and _time_to(r["curve"], key, 0.98) <= 600
        assert _time_to(r["curve"], key, 0.99) is None, "no hour-long draw reads 99 % at any evaluation"
        assert np.ptp([p[key] for p in r["curve"] if p["train_seconds"] >= 1200]) < 0.004
    assert (long_final > fast_final.max()).all() and long_final.mean() < 0.99
    half = long[1]["cell"]["steps"] // 2
    second_half = np.array([r["test_acc"] - next(p[r["test_acc_key"]] for p in r["curve"]
                                                 if p["step"] >= half) for r in long.values()])
    assert (np.abs(second_half) < 0.003).all() and second_half.min() < 0 < second_half.max()
    assert np.ptp(long_final) > 1.5 * np.abs(second_half).max(), "draws differ more than second halves move"
    assert abs(300 * 600 / long[1]["cell"]["steps"] - 2.6) < 0.05, "their 300 epochs: 2.6 times these runs"


def _paper_run(r, twin):
    curve, key = r["curve"], r["test_acc_key"]
    twin_at = {p["step"]: p for p in twin["curve"]}
    differ = [p["step"] for p in curve if p["step"] in twin_at
              and (p["test_acc"], p[key]) != (twin_at[p["step"]]["test_acc"], twin_at[p["step"]][key])]
    top = max(curve, key=lambda p: p[key])
    streak = longest = 0
    for p in curve:
        streak = streak + 1 if p[key] >= 0.99 else 0
        longest = max(longest, streak)
    late = [p[key] for p in curve if p["step"] >= 60_000]
    return {"final": r["test_acc"], "train_min": r["train_seconds"] / 60, "t99": _time_to(curve, key, 0.99),
            "at_99": sum(p[key] >= 0.99 for p in curve), "evaluations": len(curve), "best": top[key],
            "raw_best": max(p["test_acc"] for p in curve), "late": (min(late), max(late)),
            "best_step": top["step"],
            "twin_best": max(p[twin["test_acc_key"]] for p in twin["curve"]), "twin": twin["test_acc"],
            "at_twin_end": next(p for p in curve if p["step"] == twin["cell"]["steps"])[key],
            "longest_99": longest,
            "identical_until": max((s for s in twin_at if s < differ[0]), default=0),
            "half": twin["cell"]["steps"] // 2, "below_sd": (PAPER_MEAN - r["test_acc"]) / PAPER_SD,
            "below_images": round(1e4 * (PAPER_MEAN - r["test_acc"]))}


def test_300_epoch_runs():
    """Their length at their constant rate: draw 1 touches 99 % and ends a tenth above its hour-long run;
    draw 2 never reads 99 %; draw 3 (another CPU model) ends at 99.05 %; the mean stays below 99 %."""
    fast, long = _runs("fast-mnist-salimans"), _runs("long-mnist-salimans")
    paper = _runs("paper-mnist-salimans")
    assert sorted(paper) == [1, 2, 3]
    assert all(paper[s]["labelled_sha256"] == long[s]["labelled_sha256"] for s in paper)
    assert all(set(_changed_fields(paper[s], long[s])) == {"steps", "lr_schedule"} for s in paper)
    where = {_setting(r) for r in [*fast.values(), *long.values()]}
    assert len(where) == 1, "the fast and hour-long runs: one machine and setting"
    assert {s for s, r in paper.items() if _setting(r) not in where} == {3}, "draws 1 and 2 ran there"
    p1, p2, p3 = (_paper_run(paper[s], long[s]) for s in (1, 2, 3))
    assert p1["identical_until"] == p1["half"], "the same computation until the hour-long run's rate falls"
    assert p1["evaluations"] == 150 and 120 < p1["train_min"] < 150
    assert 3600 < p1["t99"] < 4200 and 1 < p1["at_99"] < 15 and p1["longest_99"] <= 2, "touched, not held"
    assert p1["best"] < 0.99005 and p1["final"] < 0.99 and p1["raw_best"] < 0.99
    assert 0.0015 < p1["late"][1] - p1["late"][0] < 0.0025, "from step 60,000 on: about two tenths"
    assert 0.0005 < p1["final"] - p1["twin"] < 0.0015 and p1["at_twin_end"] > p1["twin"]
    assert 0 < p1["final"] - p1["at_twin_end"] < 0.001, "the last 110,400 steps: under a tenth"
    assert p1["below_images"] == 8 and 1 < p1["below_sd"] < 1.5
    assert p2["identical_until"] == p2["half"] and 120 < p2["train_min"] < 150
    assert p2["t99"] is None and p2["best"] < 0.986
    assert p2["best_step"] < p2["half"] and p2["best"] == p2["twin_best"], "best before the split, unbeaten"
    assert p2["late"][1] < p2["best"] and 0.0015 < p2["late"][1] - p2["late"][0] < 0.0025
    assert -0.001 < p2["final"] - p2["twin"] < 0 and p2["below_images"] == 68 and 10 < p2["below_sd"] < 11
    assert p3["identical_until"] == 0, "another CPU model: a trajectory of its own from the first evaluation"
    assert p3["evaluations"] == 150 and 120 < p3["train_min"] < 160
    assert p3["t99"] is not None and p3["at_99"] == 40
    final = np.array([paper[s]["test_acc"] for s in (1, 2, 3)])
    assert np.ptp(final) > 4 * max(abs(p["final"] - p["twin"]) for p in (p1, p2)), "draws: over 4x the length"
    assert final.mean() < 0.99

    def order(runs):
        return sorted(runs, key=lambda s: -runs[s]["test_acc"])

    assert order(fast) != order(long), "6,000 steps do not tell which draw ends highest"


def test_longer_average_on_draw_3_is_one_run_read_two_ways():
    """Decay 0.9999 (their code) against 0.999: the same raw weights, a narrower band, not higher."""
    (e,), base = _runs("ema9999-mnist-salimans").values(), _runs("paper-mnist-salimans")[3]
    assert e["cell"]["seed"] == 3 and _changed_fields(e, base) == ["ema_decay", "steps"]
    assert _same_place(e, base)
    base_at = {p["step"]: p for p in base["curve"]}
    steps = np.array([p["step"] for p in e["curve"]])
    raw = np.array([p["test_acc"] for p in e["curve"]])
    long_avg = np.array([p["ema_test_acc"] for p in e["curve"]])
    short_avg = np.array([base_at[s]["ema_test_acc"] for s in steps])
    assert (raw == np.array([base_at[s]["test_acc"] for s in steps])).all(), "one run: the same raw readings"
    warmup_end = next(n for n in range(1, 100_000) if (1 + n) / (10 + n) >= 0.999)
    parted = steps[long_avg != short_avg][0]
    assert warmup_end < parted < warmup_end + 2_400, "the same through the warm-up, apart soon after"
    late = steps >= 30_000
    turns = int((np.diff(np.sign(long_avg - short_avg)[long_avg != short_avg]) != 0).sum())
    assert abs((long_avg[late] - short_avg[late]).mean()) < 0.0001 and turns >= 5, "no gain on average"
    assert np.ptp(long_avg[late]) < np.ptp(short_avg[late]) < np.ptp(raw[late]), "a narrower band"
    assert -0.001 < long_avg[-1] - short_avg[-1] < 0 and (long_avg < 0.99).all() and (short_avg < 0.99).all()
    assert e["train_seconds"] < 3600


def test_their_batches_on_draw_3_end_level():
    (e,) = _runs("ema9999-mnist-salimans").values()
    b = _runs("epoch-batches-mnist-salimans")[3]
    assert _changed_fields(b, e) == ["sampling"] and b["labelled_sha256"] == e["labelled_sha256"]
    assert _same_place(b, e)
    e_at = {p["step"]: p for p in e["curve"]}
    assert b["curve"][0]["test_acc"] != e_at[b["curve"][0]["step"]]["test_acc"], "other batches: apart"
    avg = np.array([p["ema_test_acc"] for p in b["curve"]])
    base = np.array([e_at[p["step"]]["ema_test_acc"] for p in b["curve"]])
    late = np.array([p["step"] >= 30_000 for p in b["curve"]])
    e_raw_late = np.array([p["test_acc"] for p in e["curve"] if p["step"] >= 30_000])
    assert abs(b["test_acc"] - e["test_acc"]) < 0.001 and abs((avg[late] - base[late]).mean()) < 0.0005
    assert abs(b["test_acc"] - e["test_acc"]) < np.abs(np.diff(e_raw_late)).mean(), "under the raw jitter"
    assert (avg > base).sum() > 10 and (avg < base).sum() > 10, "as often ahead as behind, roughly"
    assert (avg < 0.99).all() and b["train_seconds"] < 3600


def test_their_average_and_batches_on_three_draws():
    """No 99 %; level on average with the 300-epoch runs at the same step and the hour-long runs; the draw
    moves the result more than the configuration; the same work at step rates over 10 % apart."""
    long, paper = _runs("long-mnist-salimans"), _runs("paper-mnist-salimans")
    theirs = _runs("epoch-batches-mnist-salimans")
    assert sorted(theirs) == [1, 2, 3] and len({_setting(r)[0] for r in theirs.values()}) == 1
    table, late_d = [], {}
    for s, r in sorted(theirs.items()):
        assert r["labelled_sha256"] == long[s]["labelled_sha256"] == paper[s]["labelled_sha256"]
        key, end = r["test_acc_key"], r["cell"]["steps"]
        pp_at = {p["step"]: p for p in paper[s]["curve"]}
        table.append([long[s]["test_acc"], pp_at[end][key], r["test_acc"]])
        assert _time_to(r["curve"], key, 0.99) is None
        late_d[s] = np.array([p[key] - pp_at[p["step"]][key] for p in r["curve"] if p["step"] >= 30_000])
    table = np.array(table)  # draws x (hour-long, 300 epochs at the same step, theirs)
    gain, vs_300 = table[:, 2] - table[:, 0], table[:, 2] - table[:, 1]
    assert table[:, 2].mean() < 0.99 and abs(gain.mean()) < 0.0003 and abs(vs_300.mean()) < 0.0005
    assert (table[1] == table.min(axis=0)).all(), "draw 2 the weakest in every configuration"
    half = len(late_d[2]) // 2
    assert (late_d[2][:half] < 0).all() and (late_d[2][half:] > 0).all() and abs(late_d[2].mean()) < 0.0005
    r2 = theirs[2]
    assert r2["test_acc"] == max(p[r2["test_acc_key"]] for p in r2["curve"]), "draw 2 ends at its best"
    assert (late_d[1] < 0).all() and late_d[1].mean() < -0.001, "draw 1 lower at every evaluation"
    assert abs(late_d[3].mean()) < 0.0005 and (late_d[3] < 0).any() and (late_d[3] > 0).any()
    assert gain.max() > 0.001 and gain.min() < -0.001, "single draws moved both ways by over a tenth"
    assert np.ptp(table, axis=0).min() > np.ptp(table, axis=1).max(), "draws differ more than configurations"
    rates = [r["cell"]["steps"] / r["train_seconds"] for r in theirs.values()]
    assert max(rates) > 1.1 * min(rates)


def _labels_grid():
    from sgan_experiments.config import TrainConfig

    theirs = _runs("epoch-batches-mnist-salimans")
    label_runs = sweep.load_results(RESULTS / "label-draw2-mnist-salimans")
    grid = {}
    for r in [*theirs.values(), *label_runs]:
        grid.setdefault((TrainConfig.from_dict(r["config"]).labels_seed, r["cell"]["seed"]), r)
    return grid, theirs[2]


def test_labels_or_luck_reads_the_labelled_images():
    """Draw 2's labelled images under seeds 1 and 3 end with draw 2, not with draws 1 and 3, by the rule
    fixed before the runs (at step 69,600; and the same rule on the means from step 30,000 on)."""
    grid, draw2 = _labels_grid()
    new_seeds = [1, 3]
    assert all((2, s) in grid for s in new_seeds)
    assert all(_changed_fields(grid[2, s], grid[s, s]) == ["label_seed"] for s in new_seeds)
    assert all(grid[2, s]["labelled_sha256"] == draw2["labelled_sha256"] and _same_place(grid[2, s], draw2)
               for s in new_seeds)

    def reading(value):
        new = 100 * np.array([value(grid[2, s]) for s in new_seeds])
        own, others = 100 * value(draw2), 100 * np.array([value(grid[s, s]) for s in new_seeds])
        draws_apart, seeds_apart = np.ptp(np.append(others, own)), np.ptp(np.append(new, own))
        nearer_own = abs(new.mean() - own) < abs(new.mean() - others.mean())
        labels = nearer_own and seeds_apart < draws_apart / 2
        return labels, new, own, others, draws_apart, seeds_apart

    labels, new, own, others, draws_apart, seeds_apart = reading(lambda r: r["test_acc"])
    assert labels and reading(_late_mean)[0], "the rule, and the check, read: the labelled images"
    assert seeds_apart < 0.1 < 0.3 < draws_apart, "under a tenth of a point, against about a third"
    assert others[1] - new[1] > 0.25, "seed 3: draw 3's images over a quarter of a point above draw 2's"
    assert 0 < others[0] - new[0] < seeds_apart, "seed 1: draw 1's images about a twentieth above"
    assert new.mean() - own < others.mean() - new.mean()
    column = {s: {p["step"]: p["ema_test_acc"] for p in grid[2, s]["curve"]} for s in (1, 2, 3)}
    late_steps = [t for t in column[2] if t >= 30_000]
    assert sum(column[2][t] < min(column[1][t], column[3][t]) for t in late_steps) > len(late_steps) / 2
    assert all(max(v.values()) < 0.99 for v in column.values()), "no run of draw 2's images reads 99 %"


def test_faithful_draw_2_lifts_beyond_the_seeds_band():
    """Every known difference from their code but the length removed, draw 2 ends past 99 % within the
    hour, over four widths of its seeds' band above the band."""
    grid, draw2 = _labels_grid()
    f2 = _runs("faithful-mnist-salimans")[2]
    assert set(_changed_fields(f2, draw2)) == {"adam_epsilon", "generator_output", "latent", "precision"}
    assert f2["labelled_sha256"] == draw2["labelled_sha256"] and _setting(f2)[0] == _setting(draw2)[0]
    column = {s: {p["step"]: p["ema_test_acc"] for p in grid[2, s]["curve"]} for s in (1, 2, 3)}
    band = 100 * np.array([column[s][draw2["cell"]["steps"]] for s in (1, 2, 3)])
    assert 100 * f2["test_acc"] >= 99.0 and 100 * f2["test_acc"] > band.max() + 4 * np.ptp(band)
    key = f2["test_acc_key"]
    assert f2["train_seconds"] <= 3600 and _time_to(f2["curve"], key, 0.99) < 2700
    assert sum(p[key] >= 0.99 for p in f2["curve"]) > 20
    ahead = [p[key] > max(column[s][p["step"]] for s in column) for p in f2["curve"]]
    ahead_from = f2["curve"][len(ahead) - next(k for k, a in enumerate(reversed(ahead)) if not a)]["step"]
    assert ahead_from <= 8_400, "above all three seeds' runs at every evaluation from step 8,400 on"
    late_band = 100 * np.array([_late_mean(grid[2, s]) for s in (1, 2, 3)])
    assert late_band.max() + 2 * np.ptp(late_band) < 100 * _late_mean(f2) < 99.0


def test_faithful_three_draws_reach_99_percent_within_the_hour():
    """Every draw, and the mean, at or above 99 %; each above ours (epoch-batches) at every evaluation from
    step 30,000 on; once at 99 %, held; each run within an hour of training (draw 1's time from the same run
    trained alone, which reads the same at every evaluation)."""
    faithful, ours = _runs("faithful-mnist-salimans"), _runs("epoch-batches-mnist-salimans")
    assert sorted(faithful) == [1, 2, 3]
    final = np.array([faithful[s]["test_acc"] for s in (1, 2, 3)])
    ours_final = np.array([ours[s]["test_acc"] for s in (1, 2, 3)])
    at_99 = []
    for s, r in sorted(faithful.items()):
        o, key = ours[s], r["test_acc_key"]
        assert set(_changed_fields(r, o)) == {"adam_epsilon", "generator_output", "latent", "precision"}
        assert r["labelled_sha256"] == o["labelled_sha256"] and _setting(r)[0] == _setting(o)[0]
        o_at = {p["step"]: p[key] for p in o["curve"]}
        assert all(p[key] > o_at[p["step"]] for p in r["curve"] if p["step"] >= 30_000)
        first = _first_step(r["curve"], key, 0.99)
        assert first is not None and all(p[key] >= 0.99 for p in r["curve"] if p["step"] >= first), "held"
        at_99.append(sum(p[key] >= 0.99 for p in r["curve"]))
        assert _late_mean(r) < 0.99, "the mean from step 30,000 on includes the climb"
    assert at_99 == [15, 21, 5]
    assert (final >= 0.99).all() and final.mean() >= 0.99 and abs(final.mean() - PAPER_MEAN) < 0.0005
    assert all(f <= 0.9906 for f in final), "each just past 99 %: by 3 to 6 test images"
    assert ((final - ours_final)[:2] > 0.003).all() and 0 < (final - ours_final)[2] < 0.001
    assert np.argmax(ours_final) == 2 and np.ptp(final) < 0.0005 < 0.003 < np.ptp(ours_final)
    for s in (1, 3):
        r = faithful[s]
        assert r["test_acc"] == max(p[r["test_acc_key"]] for p in r["curve"]), "ends at its best: rising"
    assert all(faithful[s]["wall_seconds"] <= 3600 and faithful[s]["train_seconds"] <= 3600 for s in (2, 3))
    assert faithful[1]["train_seconds"] > 3600, "draw 1's own record is not a clean clock"
    alone, alone_curve = _run_folder(DRAW1_ALONE)
    fa1 = faithful[1]
    assert alone["config"] == fa1["config"] and alone["labelled_sha256"] == fa1["labelled_sha256"]
    assert alone["sessions"][0]["machine"]["cpu"] == fa1["machine"]["cpu"]
    key = fa1["test_acc_key"]
    assert [(a["step"], a[key], a["test_acc"]) for a in alone_curve] == \
        [(p["step"], p[key], p["test_acc"]) for p in fa1["curve"]], "the same computation"
    assert alone["train_seconds"] <= 3600


def test_softplus_draw_2_takes_the_sigmoid_back():
    """Draw 2 with our softplus output and every other difference removed ends between ours and the faithful
    run, nearer ours (the rule fixed before the run): the sigmoid does about two thirds of the lift."""
    info, curve = _run_folder(SOFTPLUS_DRAW2)
    fa2, ours2 = _runs("faithful-mnist-salimans")[2], _runs("epoch-batches-mnist-salimans")[2]
    key = fa2["test_acc_key"]
    softplus = {"config": info["config"], "test_acc_key": key, "curve": curve}
    assert info["labelled_sha256"] == fa2["labelled_sha256"]
    assert _changed_fields(softplus, fa2) == ["generator_output"]
    assert ours2["test_acc"] < curve[-1][key] < fa2["test_acc"]
    fa_at, ours_at = ({p["step"]: p[key] for p in r["curve"]} for r in (fa2, ours2))
    late = [p for p in curve if p["step"] >= 30_000]
    assert all(ours_at[p["step"]] < p[key] < fa_at[p["step"]] for p in late), "between the two at every one"
    sp, fa, o = _late_mean(softplus), _late_mean(fa2), _late_mean(ours2)
    assert abs(sp - o) < abs(sp - fa), "nearer ours: the sigmoid is needed for the lift"
    assert 0.25 < (sp - o) / (fa - o) < 0.45, "about a third of the lift without the sigmoid"
