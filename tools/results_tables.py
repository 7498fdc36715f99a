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
    minutes = {}
    for r in records:
        minutes.setdefault(r["cell"]["method"], []).append(r["wall_seconds"] / 60)
    print(f"results/{folder.name}: {len(records)} runs, {sweep.total_hours(records):.2f} h in all on "
          f"{machine['cpu_count']} cores ({records[0]['speed']['reason']}), "
          f"precision {records[0]['speed']['precision']}; "
          + ", ".join(f"{m} {sum(v) / len(v):.1f} min each" for m, v in minutes.items()))
    print(f"made by: {records[0]['sweep_command']}\n")
    print(sweep.markdown_table(sweep.summarise(records)))
    print()
