"""Does the GAN help? SGAN vs the supervised baseline over label budgets and label draws.

A sweep is a grid of *cells*: (method, label budget, draw). Draw ``k`` is seed ``k``: the seed
picks the labelled images (the same for the SGAN and its baseline) and every other random
choice. Each cell trains into its own run folder, then stores one compact JSON file in the
results folder: the command, the config, the labelled images' indices and SHA-256, the machine,
the wall time and every accuracy the run measured. A cell whose JSON exists is done; an
interrupted cell resumes from its run folder's checkpoint. The notebooks read only the JSON files.

No label beyond the budget chooses anything: every cell trains a fixed number of steps, decided
before the sweep, and reports its final weights' test accuracy (never the best one seen).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sgan_helpers.results import (  # noqa: F401  (read back what this module writes)
    Summary,
    load_results,
    load_sample_array,
    markdown_table,
    pct,
    summarise,
    table_rows,
    total_hours,
)

from .config import SETTABLE, option_text

DEFAULT_BUDGETS = (20, 50, 100, 200, 1000)
DEFAULT_DRAWS = 3
EVALUATIONS = 5
"""Each cell evaluates this many times by default (its learning curve); the last one is its result."""
FORMAT = 1
PUBLISHED = {
    "odena2016": "Odena (2016): the SGAN's classifier did as well as or better than the same CNN "
                 "trained alone on MNIST with 25, 50, 100 and 1,000 labels.",
    "salimans2016": "Salimans et al. (2016), feature matching, 100 labels: 93 +/- 6.5 test errors "
                    "in 10,000 (99.07 %), after 300 epochs.",
}


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep trains: one recipe, one dataset, budgets x draws x methods, fixed lengths."""

    recipe: str = "improved"
    dataset: str = "mnist"
    budgets: tuple[int, ...] = DEFAULT_BUDGETS
    draws: int = DEFAULT_DRAWS
    steps: int = 3000
    baseline_steps: int | None = 3000
    ceiling_steps: int | None = None
    methods: tuple[str, ...] = ("sgan", "supervised")
    precision: str | None = None  # None: the recipe's (faithful: float32), else auto
    overrides: dict[str, Any] = field(default_factory=dict)  # e.g. {"noise_scale": 0}: an ablation
    evaluations: int = EVALUATIONS  # test evaluations per cell: its learning curve's points

    def __post_init__(self) -> None:
        if self.evaluations < 1:
            raise ValueError(f"evaluations must be at least 1, got {self.evaluations}.")
        unknown = set(self.overrides) - set(SETTABLE)
        if unknown:
            raise ValueError(f"cannot override {sorted(unknown)}; settable: {', '.join(SETTABLE)}.")

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SweepSpec:
        """The spec stored in a result record (JSON lists back to tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in record["spec"].items()})

    def cells(self) -> list[Cell]:
        """Every cell, draw by draw (so a partial sweep already has whole draws)."""
        from sgan_helpers.data import dataset_info

        out = []
        for seed in range(1, self.draws + 1):
            for budget in self.budgets:
                for method in self.methods:
                    steps = self.steps if method == "sgan" else self.baseline_steps
                    if steps is None:
                        raise ValueError("baseline_steps is needed when methods include 'supervised'.")
                    out.append(Cell(method, budget, seed, steps))
        if self.ceiling_steps is not None:  # the baseline on every label: the ceiling
            n_train = dataset_info(self.dataset).n_train
            out += [Cell("supervised", n_train, seed, self.ceiling_steps)
                    for seed in range(1, self.draws + 1)]
        return out


@dataclass(frozen=True)
class Cell:
    """One training run of a sweep."""

    method: str
    n_labels: int
    seed: int
    steps: int

    def name(self, dataset: str) -> str:
        return f"{self.method}-{dataset}-{self.n_labels}labels-seed{self.seed}"

    def eval_every(self, spec: SweepSpec) -> int:
        """Steps between test evaluations: about ``spec.evaluations`` of them, the last at the end."""
        return max(1, -(-self.steps // spec.evaluations))

    def config(self, spec: SweepSpec):
        """The run's :class:`~sgan_experiments.config.TrainConfig`."""
        from .config import recipe_config

        precision = {} if spec.precision is None else {"precision": spec.precision}
        return recipe_config(spec.recipe, **spec.overrides, dataset=spec.dataset, n_labels=self.n_labels,
                             seed=self.seed, method=self.method, steps=self.steps,
                             steps_per_epoch=self.eval_every(spec),
                             eval_train=False, checkpoint_every=1000, **precision)

    def command(self, spec: SweepSpec, out: Path | str) -> str:
        """The single CLI command that trains this cell on its own."""
        verb = "train" if self.method == "sgan" else "baseline"
        options = "".join(option_text(k, v) + " " for k, v in spec.overrides.items())
        precision = "" if spec.precision is None else f"--precision {spec.precision} "
        return (f"python -m sgan_experiments {verb} --recipe {spec.recipe} {options}--dataset {spec.dataset} "
                f"--labels {self.n_labels} --seed {self.seed} --steps {self.steps} "
                f"--steps-per-epoch {self.eval_every(spec)} --no-train-eval "
                f"--checkpoint-every 1000 {precision}--out {out}")


def cell_record(run_dir: Path | str, spec: SweepSpec, cell: Cell, sweep_command: str | None,
                history: dict[str, Any] | None = None) -> dict[str, Any]:
    """The compact result of a finished run folder (what the notebooks read); ``history``
    defaults to the folder's ``history.json``."""
    run_dir = Path(run_dir)
    info = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    if history is None:
        history = json.loads((run_dir / "history.json").read_text(encoding="utf-8"))
    config = info["config"]
    key = "ema_test_acc" if config.get("ema_decay") is not None else "test_acc"
    epochs = history["epochs"]
    if not epochs or epochs[-1]["step"] != cell.steps:
        raise ValueError(f"{run_dir} has not finished ({cell.steps} steps).")
    from sgan_helpers.data import dataset_info

    from .runs import run_wall_seconds

    every_label = cell.n_labels == dataset_info(spec.dataset).n_train
    return {
        "format": FORMAT,
        "cell": asdict(cell), "spec": asdict(spec), "name": cell.name(spec.dataset),
        "sweep_command": sweep_command, "command": cell.command(spec, run_dir),
        "config": config,
        "labelled_indices": "all" if every_label else info.get("labelled_indices"),
        "labelled_sha256": info.get("labelled_sha256"),
        "sessions": info["sessions"], "machine": info["sessions"][-1].get("machine"),
        "speed": info["sessions"][-1].get("speed"),
        "wall_seconds": run_wall_seconds(info["sessions"]), "train_seconds": info.get("train_seconds"),
        "test_acc_key": key, "test_acc": epochs[-1][key],
        "curve": [{k: v for k, v in e.items() if k == "step" or k.endswith("_acc") or k == "train_seconds"}
                  for e in epochs],
    }


def run_sweep(spec: SweepSpec, out: Path | str, runs: Path | str, command: str | None = None,
              dry_run: bool = False, data=None, seeds: Iterable[int] | None = None) -> list[Path]:
    """Train every cell not done yet; return the result files (done ones included).

    ``seeds``: only the cells of these label draws (one draw of a long sweep per session or
    machine). Their records are the ones the whole sweep would write, so the parts make one sweep.
    """
    from sgan_helpers import files

    from .runs import folder_state
    from .training import run_training

    out, runs = Path(out), Path(runs)
    cells = spec.cells()
    if seeds is not None:
        seeds = set(seeds)
        if not seeds or not seeds <= set(range(1, spec.draws + 1)):
            raise ValueError(f"seeds must be among this sweep's draws 1..{spec.draws}, got {sorted(seeds)}.")
        cells = [c for c in cells if c.seed in seeds]
    done = [c for c in cells if (out / f"{c.name(spec.dataset)}.json").is_file()]
    print(f"Sweep: {len(cells)} cells ({spec.recipe} recipe, {spec.dataset}); {len(done)} done; "
          f"results in {out}/, run folders in {runs}/", flush=True)
    paths = []
    for i, cell in enumerate(cells, start=1):
        name = cell.name(spec.dataset)
        path = out / f"{name}.json"
        paths.append(path)
        if path.is_file():
            store_samples(runs / name, out / f"{name}.png")  # backfill (results made before 0.3)
            store_sample_array(runs / name, out / f"{name}.npz")  # backfill (results made before 0.4)
            continue
        run_dir = runs / name
        resume = folder_state(run_dir) == "run"
        print(f"[{i}/{len(cells)}] {name}: {cell.steps} steps" + (" (resuming)" if resume else ""),
              flush=True)
        if dry_run:
            continue
        started = time.perf_counter()
        trainer = run_training(cell.config(spec), run_dir, resume=resume,
                               command=cell.command(spec, run_dir), progress=False, data=data)
        record = cell_record(run_dir, spec, cell, command, trainer.history)
        store_samples(run_dir, out / f"{name}.png")
        store_sample_array(run_dir, out / f"{name}.npz")
        files.write_json(path, record)  # last: a cell is done when its JSON exists
        print(f"    test accuracy {100 * record['test_acc']:.2f}% "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    return paths


def store_samples(run_dir: Path, target: Path) -> Path | None:
    """Copy an SGAN run's last sample grid (its generator's images at the end) beside its record."""
    from sgan_helpers import files

    grids = sorted((run_dir / "samples").glob("epoch_*.png")) if run_dir.is_dir() else []
    if not grids or target.is_file():
        return None
    data = grids[-1].read_bytes()
    files.write_with(target, lambda tmp: tmp.write_bytes(data), suffix=".png")
    return target


SAMPLE_COUNT = 100
SAMPLE_SEED = 0


def store_sample_array(run_dir: Path, target: Path, n: int = SAMPLE_COUNT) -> Path | None:
    """Store ``n`` images of an SGAN run's final generator beside its record, as uint8 pixels
    (``images``: (n, 28, 28), 0-255; the generator's [-1, 1] output, clipped) at latent points
    drawn with seed :data:`SAMPLE_SEED`: enough to judge the generator without its model file."""
    from sgan_helpers import files
    from sgan_helpers.data import latent_points
    from sgan_helpers.evaluation import load_model

    model_path = run_dir / "generator.keras"
    if not model_path.is_file() or target.is_file():
        return None
    generator = load_model(model_path)
    z = latent_points(n, generator.input_shape[-1], np.random.default_rng(SAMPLE_SEED))
    images = np.asarray(generator(z, training=False), dtype=np.float32)[..., 0]
    pixels = np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    files.write_with(target, lambda tmp: np.savez_compressed(tmp, images=pixels), suffix=".npz")
    return target


def rerun(record: dict[str, Any], out: Path | str, steps: int | None = None) -> dict[str, Any]:
    """Retrain one stored run into ``out`` (``steps``: a shorter run; None: the stored length).

    Returns its final test accuracy (the same key as the record's), its step count, and whether it
    trained on the record's labelled images.
    """
    from dataclasses import replace

    from .training import run_training

    cell = Cell(**record["cell"])
    config = cell.config(SweepSpec.from_record(record))
    if steps:
        config = replace(config, steps=steps, steps_per_epoch=steps)
    trainer = run_training(config, out, progress=False)
    stored = record["labelled_indices"]
    same_images = (trainer.sup_index.tolist() == stored if stored != "all"
                   else len(trainer.sup_index) == cell.n_labels)
    return {"test_acc": trainer.history["epochs"][-1][record["test_acc_key"]], "steps": trainer.step,
            "same_images": same_images}
