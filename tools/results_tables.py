"""Print the README's result tables from the stored sweeps (results/), exactly as tests/test_results.py
expects them: ``python tools/results_tables.py``."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sgan_helpers import sweep  # noqa: E402

for folder in sorted((ROOT / "results").iterdir()):
    if not folder.is_dir():
        continue
    records = sweep.load_results(folder)
    machine = records[0]["machine"]
    # the first session chose the precision; a resumed one keeps it (its reason may say so)
    chosen = records[0]["sessions"][0].get("speed", records[0]["speed"])
    minutes = {}
    for r in records:
        if r["wall_seconds"] is not None:
            minutes.setdefault(r["cell"]["method"], []).append(r["wall_seconds"] / 60)
    unrecorded = [r["name"] for r in records if r["wall_seconds"] is None]
    note = (f" ({', '.join(unrecorded)}: training time, its wall time was not recorded)"
            if unrecorded else "")
    runs = f"{len(records)} run{'' if len(records) == 1 else 's'}"
    print(f"results/{folder.name}: {runs}, {sweep.total_hours(records):.2f} h in all{note} on "
          f"{machine['cpu_count']} cores ({chosen['reason']}), "
          f"precision {records[0]['speed']['precision']}; "
          + ", ".join(f"{m} {sum(v) / len(v):.1f} min per run on average" for m, v in minutes.items())
          + (" where recorded" if unrecorded else ""))
    print(f"made by: {records[0]['sweep_command']}\n")
    print(sweep.markdown_table(sweep.summarise(records)))
    print()
