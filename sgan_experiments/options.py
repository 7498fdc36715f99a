"""A config field's rule and command-line form: :class:`Number` (the values a numeric field takes, with
the messages that refuse the others) and :class:`Option` (help, flag, choices, and who may set it).
:mod:`sgan_experiments.config` attaches one to every field of the training config."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Number:
    """The values a numeric field takes: whole or not, its bounds, an example for messages."""

    whole: bool = False
    at_least: float | None = None
    above: float | None = None
    below: float | None = None
    example: str = ""
    kind: str = ""  # "a number of minutes": how a parse error names what was expected

    def bound(self) -> str:
        if self.above is not None and self.below is not None:
            return f"between {self.above:g} and {self.below:g}" + (f" (e.g. {self.example})" if self.example
                                                                   else "")
        if self.above is not None:
            return f"more than {self.above:g}"
        if self.at_least is not None:
            return f"at least {self.at_least:g}" if self.at_least else "0 or more"
        return ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is refused (``None``: it is fine)."""
        if isinstance(value, bool) or not isinstance(value, int if self.whole else (int, float)):
            return "a whole number" if self.whole else "a number"
        low_ok = ((self.at_least is None or value >= self.at_least)
                  and (self.above is None or value > self.above))
        return None if low_ok and (self.below is None or value < self.below) else self.bound()

    def parse(self, text: str) -> int | float:
        """An argparse ``type``: the text as a number this rule takes."""
        try:
            value = int(text) if self.whole else float(text)
        except ValueError:
            what = "a whole number" if self.whole else (self.kind or "a number")
            such = f" such as {self.example}" if self.example and not self.whole else ""
            raise argparse.ArgumentTypeError(f"expected {what}{such}, got {text!r}") from None
        if self.problem(value):
            raise argparse.ArgumentTypeError(f"must be {self.bound()}, got {value:g}")
        return value


@dataclass(frozen=True)
class Option:
    """A field's rule and its command-line form. ``cli=False``: no option; ``settable``: a recipe
    field that ``--recipe`` sets and ``sweep --set`` may override; ``mlp_only``: why only the MLPs
    use it; ``sgan_only``: no option of ``baseline``; ``argparse``: extra ``add_argument`` keywords."""

    help: str
    rule: Number | None = None
    choices: tuple[str, ...] | None = None
    flag: str | None = None
    cli: bool = True
    settable: bool = False
    mlp_only: str | None = None
    sgan_only: bool = False
    argparse: dict[str, Any] = field(default_factory=dict)

    def option_name(self, name: str) -> str:
        return self.flag or "--" + name.replace("_", "-")


def option_field(default: Any, help: str, **option: Any) -> Any:
    """A dataclass field with its :class:`Option`."""
    return field(default=default, metadata={"option": Option(help, **option)})


WHOLE_1, WHOLE_0 = Number(whole=True, at_least=1), Number(whole=True, at_least=0)
