"""The label-budget sweep: cells, resumability, stored records, summaries."""

from __future__ import annotations

import json

import pytest

from sgan_experiments import sweep
from sgan_experiments.sweep import Cell, SweepSpec, load_results, run_sweep, summarise


def _spec(**overrides) -> SweepSpec:
    options = dict(recipe="improved", dataset="mnist", budgets=(20, 50), draws=2, steps=4,
                   baseline_steps=3, precision="float32")
    options.update(overrides)
    return SweepSpec(**options)


def test_cells_cover_the_grid_draw_by_draw():
    cells = _spec(ceiling_steps=5).cells()
    assert [(c.method, c.n_labels, c.seed) for c in cells[:4]] == [
        ("sgan", 20, 1), ("supervised", 20, 1), ("sgan", 50, 1), ("supervised", 50, 1)]
    assert len(cells) == 2 * 2 * 2 + 2
    assert cells[-1] == Cell("supervised", 60_000, 2, 5)
    with pytest.raises(ValueError, match="baseline_steps"):
        _spec(baseline_steps=None).cells()


def test_cell_config_is_the_recipe_with_fixed_length():
    config = Cell("supervised", 50, 3, 10).config(_spec())
    assert (config.method, config.n_labels, config.seed, config.steps) == ("supervised", 50, 3, 10)
    assert config.architecture == "mlp" and config.eval_train is False
    assert config.steps_per_epoch == 2  # about EVALUATIONS points on the learning curve


def test_evaluations_set_the_learning_curve_points_and_old_records_keep_theirs():
    spec = _spec(evaluations=58)
    cell = Cell("sgan", 100, 1, 69_600)
    assert cell.config(spec).steps_per_epoch == 1_200  # 58 evaluations, the last at the end
    assert "--steps-per-epoch 1200 " in cell.command(spec, "runs/x")
    record = {"spec": {k: v for k, v in sweep.asdict(_spec()).items() if k != "evaluations"}}
    assert SweepSpec.from_record(record).evaluations == sweep.EVALUATIONS  # a record made before the option
    with pytest.raises(ValueError, match="evaluations must be at least 1"):
        _spec(evaluations=0)


@pytest.fixture()
def tiny_sweep(monkeypatch, small_mnist):
    # a batch of 20 keeps these runs to seconds; the recipe is otherwise untouched
    original = Cell.config

    def small(self, spec):
        from dataclasses import replace
        return replace(original(self, spec), batch_size=20, ema_decay=None)

    monkeypatch.setattr(Cell, "config", small)
    return small_mnist


@pytest.mark.slow
def test_sweep_runs_records_and_skips_done_cells(tmp_path, tiny_sweep, capsys):
    spec = _spec(budgets=(20,), draws=2)
    paths = run_sweep(spec, tmp_path / "results", tmp_path / "runs", command="make sweep", data=tiny_sweep)
    assert [p.name for p in paths] == [
        "sgan-mnist-20labels-seed1.json", "supervised-mnist-20labels-seed1.json",
        "sgan-mnist-20labels-seed2.json", "supervised-mnist-20labels-seed2.json"]
    records = load_results(tmp_path / "results")
    by_name = {r["name"]: r for r in records}
    a, b = by_name["sgan-mnist-20labels-seed1"], by_name["supervised-mnist-20labels-seed1"]
    assert a["labelled_indices"] == b["labelled_indices"] and len(a["labelled_indices"]) == 20
    assert a["labelled_sha256"] == b["labelled_sha256"]
    assert by_name["sgan-mnist-20labels-seed2"]["labelled_indices"] != a["labelled_indices"]
    for r in records:
        assert r["sweep_command"] == "make sweep" and r["command"].startswith("python -m sgan_experiments ")
        assert r["machine"]["cpu_count"] and r["wall_seconds"] > 0
        assert r["test_acc"] == r["curve"][-1][r["test_acc_key"]]
    # a second call trains nothing
    before = {p: p.stat().st_mtime_ns for p in paths}
    capsys.readouterr()
    run_sweep(spec, tmp_path / "results", tmp_path / "runs", data=tiny_sweep)
    assert "4 done" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in paths} == before


@pytest.mark.slow
def test_a_sweep_in_parts_by_seed_is_one_sweep(tmp_path, tiny_sweep, capsys):
    spec = _spec(budgets=(20,), draws=2, methods=("sgan",))
    results, runs = tmp_path / "results", tmp_path / "runs"
    run_sweep(spec, results, runs, command="part 2", data=tiny_sweep, seeds=[2])
    assert [p.name for p in results.glob("*.json")] == ["sgan-mnist-20labels-seed2.json"]
    assert "[1/1] sgan-mnist-20labels-seed2" in capsys.readouterr().out
    run_sweep(spec, results, runs, command="the rest", data=tiny_sweep)  # trains draw 1 only
    assert "1 done" in capsys.readouterr().out
    records = load_results(results)
    assert [r["cell"]["seed"] for r in records] == [1, 2]
    assert records[0]["spec"] == records[1]["spec"]  # one sweep
    assert SweepSpec.from_record(records[0]) == spec
    assert [r["sweep_command"] for r in records] == ["the rest", "part 2"]
    for bad in ([], [3], [0]):
        with pytest.raises(ValueError, match="seeds must be among this sweep's draws 1..2"):
            run_sweep(spec, results, runs, data=tiny_sweep, seeds=bad)


@pytest.mark.slow
def test_a_sweep_over_one_label_draw(tmp_path, tiny_sweep):
    """--set label_seed=2: every draw trains draw 2's labelled images; only the seed differs."""
    spec = _spec(budgets=(20,), draws=2, methods=("sgan",), overrides={"label_seed": 2})
    run_sweep(spec, tmp_path / "results", tmp_path / "runs", data=tiny_sweep)
    one, two = load_results(tmp_path / "results")
    assert one["labelled_sha256"] == two["labelled_sha256"] and one["cell"]["seed"] == 1
    assert "--label-seed 2 " in one["command"] and one["config"]["label_seed"] == 2
    assert one["curve"] != two["curve"], "other seeds, other runs"


@pytest.mark.slow
def test_an_interrupted_cell_resumes(tmp_path, tiny_sweep, monkeypatch):
    spec = _spec(budgets=(20,), draws=1, methods=("sgan",))
    from sgan_experiments import training

    calls = []
    real = training.run_training

    def fake(config, out, resume=False, **kw):
        calls.append(resume)
        if len(calls) == 1:  # the first attempt dies after training, before its result is stored
            real(config, out, resume=resume, **kw)
            (out / "history.json").unlink()
            raise KeyboardInterrupt
        return real(config, out, resume=resume, **kw)

    monkeypatch.setattr(training, "run_training", fake)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path / "res", tmp_path / "runs", data=tiny_sweep)
    assert not list((tmp_path / "res").glob("*.json")) if (tmp_path / "res").exists() else True
    run_sweep(spec, tmp_path / "res", tmp_path / "runs", data=tiny_sweep)
    assert calls == [False, True]
    assert len(load_results(tmp_path / "res")) == 1


def test_summaries_and_table():
    records = [{"cell": {"method": m, "n_labels": n, "seed": s}, "test_acc": acc}
               for m, n, s, acc in [("sgan", 100, 1, 0.9), ("sgan", 100, 2, 0.8), ("supervised", 100, 1, 0.7),
                                    ("supervised", 100, 2, 0.7), ("supervised", 60000, 1, 0.98)]]
    summary = summarise(records)
    s = summary[("sgan", 100)]
    assert s.mean == pytest.approx(0.85) and s.std == pytest.approx(0.0707107, rel=1e-5) and s.n == 2
    table = sweep.markdown_table(summary)
    assert "| 100 | 85.00 ± 7.07 | 70.00 ± 0.00 | +15.00 | 2 |" in table
    assert "| 60,000 | – | 98.00 | – | 1 |" in table  # one draw: no spread shown, none is known


def test_load_results_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sweep results"):
        load_results(tmp_path)
    (tmp_path / "x.json").write_text(json.dumps({"cell": {}}))
    with pytest.raises(ValueError, match="not a sweep result"):
        load_results(tmp_path)


def test_cell_command_renders_overrides_as_train_options():
    spec = _spec(overrides={"init_noise": True, "noise_scale": 0, "ema_decay": 0.99, "sampling": "epochs",
                            "latent": "uniform", "float32_output": True, "adam_epsilon": 1e-4})
    command = Cell("sgan", 20, 1, 4).command(spec, "runs/x")
    assert ("--init-noise --noise-scale 0 --ema 0.99 --sampling epochs --latent uniform --float32-output "
            "--adam-epsilon 0.0001 " in command)
    assert "--no-init-noise" in Cell("sgan", 20, 1, 4).command(_spec(overrides={"init_noise": False}), "x")
    from sgan_experiments.cli import build_parser  # the command parses
    args = build_parser().parse_args(command.split()[3:])
    assert args.sampling == "epochs" and args.ema_decay == 0.99 and args.latent == "uniform"
    assert args.float32_output is True and args.adam_epsilon == 1e-4


def test_sample_array_round_trip(tmp_path):
    from sgan_helpers.improved import mlp_generator

    run = tmp_path / "run"
    run.mkdir()
    mlp_generator().save(run / "generator.keras")
    target = sweep.store_sample_array(run, tmp_path / "a.npz")
    images = sweep.load_sample_array(target)
    assert images.shape == (sweep.SAMPLE_COUNT, 28, 28, 1) and images.min() >= -1 and images.max() <= 1
    assert sweep.store_sample_array(run, target) is None  # never overwritten
    assert sweep.store_sample_array(tmp_path / "no-run", tmp_path / "b.npz") is None  # nothing to store
