"""Reading the stored results: sweep records, their summaries and tables, stored sample images.

The experiments (``sgan_experiments``) write one JSON record per run into ``results/<sweep>/``; the
notebooks and ``docs/results.md`` read them with these functions, so a figure in a lesson is always
the stored one.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def load_sample_array(path: Path | str) -> np.ndarray:
    """The images a sweep stored (``sgan_experiments.sweep.store_sample_array``), back in the models'
    range: (n, 28, 28, 1) in [-1, 1]."""
    with np.load(path) as stored:
        pixels = stored["images"]
    return (pixels.astype(np.float32) / 127.5 - 1.0)[..., None]


def load_results(folder: Path | str) -> list[dict[str, Any]]:
    """Every cell record in ``folder`` (sorted by name); a clear error if there is none."""
    folder = Path(folder)
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no sweep results in {folder}: run the sweep first "
                                f"(docs/cli.md, `make sweep`).")
    out = []
    for p in paths:
        try:
            record = json.loads(p.read_text(encoding="utf-8"))
            record["test_acc"], record["cell"]["n_labels"]  # noqa: B018 (check the keys exist)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{p}: not a sweep result ({type(err).__name__}: {err}).") from err
        out.append(record)
    return out


@dataclass(frozen=True)
class Summary:
    """Test accuracy over the draws of one (method, budget)."""

    method: str
    n_labels: int
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        """Sample standard deviation (0 for a single draw)."""
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def n(self) -> int:
        return len(self.values)


def summarise(records: Iterable[dict[str, Any]]) -> dict[tuple[str, int], Summary]:
    """``{(method, n_labels): Summary}`` over the draws (seeds)."""
    groups: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for r in records:
        c = r["cell"]
        groups.setdefault((c["method"], c["n_labels"]), []).append((c["seed"], r["test_acc"]))
    return {k: Summary(k[0], k[1], tuple(v for _, v in sorted(vals))) for k, vals in sorted(groups.items())}


def pct(x: float) -> str:
    """An accuracy as the notebooks and docs/results.md print it: ``95.12``."""
    return f"{100 * x:.2f}"


def _mean_std(s: Summary) -> str:
    """``mean ± std`` in %; the mean alone for one draw (its spread is unknown, not zero)."""
    return f"{pct(s.mean)} ± {pct(s.std)}" if s.n > 1 else pct(s.mean)


def table_rows(summary: dict[tuple[str, int], Summary]) -> list[dict[str, Any]]:
    """One row per budget: SGAN and baseline mean +/- std (in %) and the gain in points."""
    budgets = sorted({n for _, n in summary})
    rows = []
    for n in budgets:
        sgan, base = summary.get(("sgan", n)), summary.get(("supervised", n))
        rows.append({
            "labels": n,
            "sgan": None if sgan is None else _mean_std(sgan),
            "baseline": None if base is None else _mean_std(base),
            "gain": None if sgan is None or base is None else f"{100 * (sgan.mean - base.mean):+.2f}",
            "draws": max(s.n for s in (sgan, base) if s is not None),
        })
    return rows


def markdown_table(summary: dict[tuple[str, int], Summary]) -> str:
    """The table the notebooks show and docs/results.md holds (test accuracy, %, mean ± std over draws)."""
    lines = ["| labels | SGAN | baseline (no GAN) | SGAN − baseline (points) | draws |",
             "|---:|---:|---:|---:|---:|"]
    for r in table_rows(summary):
        lines.append(f"| {r['labels']:,} | {r['sgan'] or '–'} | {r['baseline'] or '–'} | "
                     f"{r['gain'] or '–'} | {r['draws']} |")
    return "\n".join(lines)


def total_hours(records: Iterable[dict[str, Any]]) -> float:
    """Wall time of every stored run together, in hours; a run whose wall time was not recorded
    (``wall_seconds`` None: ``sgan_experiments.training.run_wall_seconds``) counts its training time."""
    return sum(r.get("wall_seconds") or r.get("train_seconds") or 0.0 for r in records) / 3600
