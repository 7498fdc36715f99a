"""Print docs/cli.md's table of the options of ``train`` and ``baseline``, one row per config field, made
from the fields themselves (sgan_experiments/config.py): ``python tools/cli_options.py``.
tests/test_cli.py checks that the table in docs/cli.md is this one."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sgan_experiments.config import OPTION_DEFAULTS, OPTIONS  # noqa: E402


def values(name: str) -> str:
    option = OPTIONS[name]
    if option.choices or "choices" in option.argparse:
        return " \\| ".join(f"`{c}`" for c in (option.choices or option.argparse["choices"]))
    if isinstance(OPTION_DEFAULTS[name], bool):
        return "on / off"
    rule = option.rule
    if rule is None:
        return ""
    return ("whole number" if rule.whole else "number") + (f", {rule.bound()}" if rule.bound() else "")


def table() -> str:
    rows = ["| option | field | values | default | what it sets |", "|---|---|---|---|---|"]
    for name, option in OPTIONS.items():
        if not option.cli:
            continue
        flag = option.option_name(name)
        where = " (train only)" if option.sgan_only else ""
        default = OPTION_DEFAULTS[name]
        help_text = option.help.replace("|", "\\|")
        settable = " (settable)" if option.settable else ""
        rows.append(f"| `{flag}`{where} | `{name}`{settable} | {values(name)} | `{default}` | {help_text} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
