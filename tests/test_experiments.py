"""The experiment registry (sgan_experiments/experiments.py) and the recipes: every stored result is what
its named entry computes, the shipped models are what theirs compute, and `run-experiment` runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sgan_experiments import cli, experiments
from sgan_experiments.config import TrainConfig, recipe_config
from sgan_experiments.recipes import RECIPES
from sgan_experiments.sweep import Cell
from sgan_helpers.results import load_results

ROOT = Path(__file__).resolve().parents[1]
STORED = sorted(p.name for p in (ROOT / "results").iterdir() if p.is_dir() and any(p.glob("*.json")))


def parsed(name: str):
    return cli.build_parser().parse_args(experiments.EXPERIMENTS[name].argv)


def test_every_stored_sweep_has_an_entry_of_its_name():
    assert STORED and set(STORED) <= set(experiments.EXPERIMENTS)
    for name in STORED:
        assert parsed(name).out == Path("results") / name


@pytest.mark.parametrize("name", STORED)
def test_each_entry_computes_its_stored_runs(name):
    """Every stored record's config is the one its entry's sweep gives that cell today (``auto`` precision
    matches what it resolved to), and the entry plans every stored cell."""
    spec = cli.sweep_spec(parsed(name))
    planned = {c.name(spec.dataset): c for c in spec.cells()}
    for record in load_results(ROOT / "results" / name):
        cell = Cell(**record["cell"])
        assert planned[record["name"]] == cell
        stored = TrainConfig.from_dict(record["config"])
        assert cell.config(spec).differences(stored) == {}, record["name"]


@pytest.mark.parametrize("entry, folder", [("pretrained", "mnist_100labels"),
                                           ("pretrained-improved", "mnist_100labels_improved")])
def test_shipped_models_are_their_entries(entry, folder):
    info = json.loads((ROOT / "pretrained" / folder / "config.json").read_text())
    config, _ = cli.train_config(parsed(entry), "sgan")
    stored = TrainConfig.from_dict(info["config"])
    assert config.differences(stored) == {} and config.precision == stored.precision


def test_faithful_recipe_is_the_faithful_sweeps_settings():
    """The recipe named for the shipped 99 % model holds exactly what its sweep's draws trained with."""
    record = load_results(ROOT / "results" / "faithful-mnist-salimans")[0]
    assert record["spec"]["recipe"] == "salimans"
    expected = {**RECIPES["salimans"].fields, **record["spec"]["overrides"], "precision": "float32"}
    assert dict(RECIPES["faithful"].fields) == expected


def test_recipes_are_frozen_and_valid():
    for recipe in RECIPES.values():
        recipe_config(recipe.name)
        with pytest.raises(TypeError):
            recipe.fields["batch_size"] = 2  # read-only
        assert recipe.about
    with pytest.raises(AttributeError):
        RECIPES["series"].name = "other"


def test_groups_expand_and_unknown_names_are_refused():
    runs = experiments.expand(["ablations", "--seeds", "2"])
    assert len(runs) == 4 and all(r[0] == "sweep" and r[-2:] == ["--seeds", "2"] for r in runs)
    assert all(n in experiments.EXPERIMENTS for names in experiments.GROUPS.values() for n in names)
    with pytest.raises(ValueError, match="no experiment named 'sweep'.*--list"):
        experiments.expand(["sweep"])
    with pytest.raises(ValueError, match="needs a NAME"):
        experiments.expand(["--seeds", "2"])


def test_run_experiment_lists_runs_and_explains(capsys, tmp_path):
    assert cli.main(["run-experiment", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in [*experiments.EXPERIMENTS, *experiments.GROUPS])
    assert cli.main(["run-experiment", "no-such-thing"]) == cli.EXIT_ERROR
    assert "no experiment named 'no-such-thing'" in capsys.readouterr().err
    out = tmp_path / "results"  # a dry run: the cells it would train, nothing trained
    assert cli.main(["run-experiment", "sweep-mnist-series", "--out", str(out), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("python -m sgan_experiments sweep --recipe series") and "6 cells" in printed
    assert not out.exists() or not any(out.iterdir())
