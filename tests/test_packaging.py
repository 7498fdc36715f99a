"""Install metadata and front pages agree with themselves: pyproject, environment.yml, README, docs, CI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_deps() -> list[str]:
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    return re.findall(r'"([^"]+)"', block)


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section, "Binder installs the package from environment.yml"
    listed = {str(Requirement(r)) for r in pip_section if r != "-e ."}
    wanted = {str(Requirement(r)) for r in _pyproject_deps()}
    assert listed == wanted


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and re.search(r"^make test\b", ci, re.M)
    assert "SGAN_DATA_DIR" in ci


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert path.name in readme, f"README's notebook table misses {path.name}"


def test_pretrained_model_is_small_and_documented():
    run = ROOT / "pretrained" / "mnist_100labels"
    names = {p.name for p in run.iterdir()}
    assert {"classifier.keras", "generator.keras", "history.json", "config.json"} <= names
    assert sum(p.stat().st_size for p in run.rglob("*") if p.is_file()
               and p.name != "checkpoint.npz") < 10_000_000
    info = json.loads((run / "config.json").read_text())
    assert [s["command"].split(" --out ")[0] for s in info["sessions"]] == [
        "python -m sgan_helpers train --epochs 12 --schedule combined --precision mixed_bfloat16 --ema 0.999"]
    assert info["sessions"][0]["end_step"] == info["total_steps"] == 7200
    final = json.loads((run / "history.json").read_text())["epochs"][-1]
    assert final["step"] == 7200 and final["ema_test_acc"] >= 0.95  # notebook 07 re-measures it
    readme = (ROOT / "README.md").read_text()
    record = (ROOT / "docs" / "results.md").read_text()
    figure = f"{100 * final['ema_test_acc']:.2f} %"
    assert figure in readme and figure in record and "make experiment NAME=pretrained" in record


PAGES = ["README.md", "CONTRIBUTING.md", "benchmarks/README.md", "docs/results.md", "docs/cli.md"]


def test_readme_is_a_front_door():
    """Short, starts with where to begin, and leaves the record to docs/."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    first_screen = "\n".join(readme.splitlines()[:30])
    assert "## Start here" in first_screen and "make run" in first_screen and "make test" in first_screen
    assert "A 90-minute class" in readme
    history = r"issue #\d|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b|[Bb]efore this change"
    assert not re.search(history, readme), "the README tells no history: no issues, commits or 'before'"


@pytest.mark.parametrize("page", PAGES)
def test_pages_link_to_files_that_exist(page):
    text = (ROOT / page).read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (ROOT / page).parent / target.split("#")[0]
        assert path.exists(), f"{page} links to {target}, which does not exist"


def test_notebooks_check_the_keras_floor_that_pyproject_states():
    from sgan_helpers.environment import MIN_KERAS

    floor = next(re.search(r">=(\d+)\.(\d+)", d).groups() for d in _pyproject_deps() if d.startswith("keras"))
    assert MIN_KERAS == tuple(map(int, floor)), "sgan_helpers.environment.MIN_KERAS is pyproject's floor"


def _stored_notebook_runs() -> dict[str, dict]:
    """Each notebook's latest classroom run stored by benchmarks/notebook_runtimes.py, natively."""
    latest: dict[str, dict] = {}
    for path in sorted((ROOT / "benchmarks" / "results").glob("notebooks-*.json")):
        record = json.loads(path.read_text())
        if record["machine"]["isa_cap"] is None:
            latest.update(record["notebooks"])
    return latest


def test_readme_runtimes_and_memory_are_the_stored_ones():
    """Each notebook row's runtime and peak memory is its latest stored classroom run, as
    benchmarks/notebook_runtimes.py writes them (`make benchmark-notebooks`)."""
    from conftest import load_script

    tool = load_script("benchmarks/notebook_runtimes.py")
    stored = _stored_notebook_runs()
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| \d\d \| \[`(\d\d_\w+\.ipynb)`\].*\| ([^|]+) \| (\d+\.\d\d) \|$", readme, re.M)
    assert {name for name, *_ in rows} == {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    for name, runtime, memory in rows:
        assert name in stored, f"{name}: no stored run; run `make benchmark-notebooks`"
        assert runtime.strip() == tool.duration(stored[name]["wall_seconds"]), f"{name}: runtime"
        assert memory == f"{stored[name]['peak_rss_mb'] / 1000:.2f}", f"{name}: peak memory in GB"
