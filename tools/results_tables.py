"""Print the measured record's result blocks from the stored sweeps (results/): for each folder, the line
that says what made it and the table, exactly as tests/test_results.py expects them in docs/results.md:
``python tools/results_tables.py``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sgan_experiments import sweep  # noqa: E402

SEEDS = re.compile(r" --seeds( \d+)+")
"""The part of a sweep command that trains only some draws."""


def made_by(records: list[dict]) -> str:
    """The sweep's command in backticks; for a sweep trained in parts (``--seeds``), the whole sweep's
    command and the parts, draw by draw."""
    commands = {r["sweep_command"] for r in records}
    whole = {SEEDS.sub("", c) for c in commands}
    if len(commands) == 1 or len(whole) != 1:
        return "; ".join(f"`{c}`" for c in sorted(commands))
    parts = ", ".join(f"draw {r['cell']['seed']} with "
                      + (f"`{m.group(0).strip()}`" if (m := SEEDS.search(r["sweep_command"]))
                         else "no `--seeds`") for r in records)
    return f"`{whole.pop()}` (in parts: {parts})"


def header(name: str, records: list[dict]) -> str:
    """The record's line above a folder's table: runs, time, machine, precision, the command."""
    machine = records[0]["machine"]
    # the first session chose the precision; a resumed one keeps it (its reason may say so)
    chosen = records[0]["sessions"][0].get("speed", records[0]["speed"])
    minutes: dict[str, list[float]] = {}
    for r in records:
        if r["wall_seconds"] is not None:
            minutes.setdefault(r["cell"]["method"], []).append(r["wall_seconds"] / 60)
    unrecorded = [f"draw {r['cell']['seed']}" if r["cell"]["method"] == "sgan" else r["name"]
                  for r in records if r["wall_seconds"] is None]
    its = "its" if len(unrecorded) == 1 else "their"
    note = (f" ({', '.join(unrecorded)}: {its} training time; {its} wall time was not recorded)"
            if unrecorded else "")
    runs = f"{len(records)} run{'' if len(records) == 1 else 's'}"
    return (f"**`results/{name}`**: {runs}, {sweep.total_hours(records):.2f} h in all{note} on "
            f"{machine['cpu_count']} cores ({chosen['reason']}), "
            f"precision {records[0]['speed']['precision']}; "
            + ", ".join(f"{m} {sum(v) / len(v):.1f} min per run on average" for m, v in minutes.items())
            + (" where recorded" if unrecorded else "") + f". Made by {made_by(records)}.")


def block(folder: Path) -> str:
    """A folder's block in docs/results.md: its header line and its table."""
    records = sweep.load_results(folder)
    return f"{header(folder.name, records)}\n\n{sweep.markdown_table(sweep.summarise(records))}"


if __name__ == "__main__":
    for folder in sorted((ROOT / "results").iterdir()):
        if folder.is_dir():
            print(block(folder), end="\n\n")
