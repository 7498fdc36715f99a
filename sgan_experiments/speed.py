"""The speed choice for *this* machine: ``auto`` resolved, and a calibration that measures it.

:mod:`sgan_helpers.hardware` holds the rule (which precision and XLA setting win on which processor,
measured: benchmarks/README.md). ``resolve`` turns ``"auto"`` into a concrete choice: a stored
calibration for this machine and these library versions if there is one (``python -m sgan_experiments
calibrate`` times a few steps of each candidate and stores the winner in the user's cache folder, never
in the repository), otherwise the rule. Explicit values always win.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sgan_helpers.hardware import (  # noqa: F401  (this module's API: the rule and what it reads)
    BF16_FLAGS,
    PRECISIONS,
    Hardware,
    SpeedChoice,
    cpu_flags,
    detect_hardware,
    isa_cap,
    rule,
)


def capped_env(isa: str | None, env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: this process's) that caps oneDNN and XLA at ``isa`` (e.g. ``"avx2"``),
    for a child process or before TensorFlow loads; ``isa=None`` leaves it as it is."""
    env = dict(os.environ if env is None else env)
    if isa:
        env.update(ONEDNN_MAX_CPU_ISA=isa.upper(),
                   XLA_FLAGS=(env.get("XLA_FLAGS", "") + f" --xla_cpu_max_isa={isa.upper()}").strip())
    return env


def cache_key(hw: Hardware) -> str:
    """The calibration cache's key: CPU model, its relevant flags, GPUs and the library versions."""
    import sys

    import keras
    import tensorflow as tf

    return " | ".join([hw.cpu, ",".join(sorted(hw.flags)), ",".join(hw.gpus) or "no GPU",
                       f"tf {tf.__version__}", f"keras {keras.__version__}",
                       f"python {sys.version.split()[0]}"])


AUTO = "auto"
CACHE_ENV = "SGAN_CACHE_DIR"
"""Environment variable naming the folder for the calibration cache (default: the user's cache)."""

# ------------------------------------------------------------------ cache
def cache_path() -> Path:
    """``$SGAN_CACHE_DIR/speed.json``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, ``sgan_helpers/``."""
    folder = os.environ.get(CACHE_ENV)
    if folder:
        return Path(folder).expanduser() / "speed.json"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sgan_helpers" / "speed.json"


def read_cache(path: Path | None = None) -> dict[str, Any]:
    """All stored calibrations, keyed by :meth:`Hardware.key`; {} if none or unreadable."""
    path = path or cache_path()
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def cached_choice(hw: Hardware, path: Path | None = None) -> SpeedChoice | None:
    """The calibrated choice stored for this machine and these library versions, if any."""
    entry = read_cache(path).get(cache_key(hw))
    try:
        if entry["precision"] not in PRECISIONS:
            return None
        return SpeedChoice(entry["precision"], bool(entry["jit_compile"]), "calibration",
                           f"fastest of {len(entry['steps_per_s'])} candidates timed on "
                           f"{entry['date']} ({cache_path() if path is None else path})")
    except (KeyError, TypeError):
        return None


def store_choice(hw: Hardware, winner: tuple[str, bool], rates: dict[str, float],
                 path: Path | None = None) -> Path:
    """Add this machine's calibration to the cache file (atomically)."""
    from sgan_helpers import files

    path = path or cache_path()
    stored = read_cache(path)
    stored[cache_key(hw)] = {"precision": winner[0], "jit_compile": winner[1], "steps_per_s": rates,
                        "date": time.strftime("%Y-%m-%d %H:%M"), "cpu_class": hw.cpu_class}
    return files.write_json(path, stored)


# -------------------------------------------------------------- resolving
def jit_setting(jit: bool | str) -> bool | str:
    """``True``/``False``/``"auto"`` from what a user may write (also ``"on"``, ``"off"``)."""
    if isinstance(jit, bool) or jit == AUTO:
        return jit
    if isinstance(jit, str) and jit.lower() in ("on", "true", "1", "yes"):
        return True
    if isinstance(jit, str) and jit.lower() in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"jit_compile must be True, False or 'auto', got {jit!r}.")


def check(precision: str, jit: bool | str) -> None:
    """Raise ValueError for values :func:`resolve` cannot take."""
    if precision != AUTO and precision not in PRECISIONS:
        raise ValueError(f"precision must be 'auto' or one of {PRECISIONS}, got {precision!r}.")
    jit_setting(jit)


def resolve(precision: str = AUTO, jit: bool | str = AUTO, hardware: Hardware | None = None,
            cache: Path | None = None, architecture: str = "tutorial") -> SpeedChoice:
    """Turn ``"auto"`` into a concrete (precision, XLA) choice for this machine and architecture.

    Order: explicit values; a stored calibration for this machine; the rule. The calibration and
    the rule are the tutorial CNN's; for ``architecture="mlp"`` an automatic XLA choice then goes
    through :func:`mlp_choice`.
    """
    check(precision, jit)
    jit = jit_setting(jit)
    if precision != AUTO and jit != AUTO:
        return SpeedChoice(precision, bool(jit), "given", "set explicitly")
    hw = hardware or detect_hardware()
    best = cached_choice(hw, cache) or rule(hw)
    if architecture == "mlp":
        best = mlp_choice(best, hw)
    if precision == AUTO and jit == AUTO:
        return best
    return SpeedChoice(best.precision if precision == AUTO else precision,
                       best.jit_compile if jit == AUTO else bool(jit),
                       best.source, best.reason + " (one option set explicitly)")


def mlp_choice(choice: SpeedChoice, hardware: Hardware | None = None) -> SpeedChoice:
    """``auto`` for Salimans et al.'s MLPs: XLA off on a CPU, whatever the CNN's rule or calibration says.

    Measured for the MLP recipe (2-core AVX-512 EPYC, docs/results.md): float32 19.8 steps/s without XLA, 2.8
    with it; capped at AVX2, 18.5 vs 2.8. (The rule and ``calibrate`` time the tutorial's CNN, for which
    XLA pays on AVX2-only CPUs.) On a GPU the choice stands.
    """
    hw = hardware or detect_hardware()
    if hw.gpus or not choice.jit_compile:
        return choice
    return replace(choice, jit_compile=False,
                   reason=choice.reason + "; XLA off for the MLP models (measured 7x slower on CPUs)")


def label(precision: str, jit: bool) -> str:
    """A candidate's name, e.g. ``"float32 +XLA"``."""
    return precision + (" +XLA" if jit else "")


def candidates(hw: Hardware) -> list[tuple[str, bool]]:
    """What calibration times: float32 with and without XLA, bfloat16 too where it has units."""
    out = [("float32", False), ("float32", True)]
    if hw.flags & BF16_FLAGS or hw.gpu_bf16:
        out += [("mixed_bfloat16", False), ("mixed_bfloat16", True)]
    return out


def calibrate(time_steps: Callable[[str, bool], float], hw: Hardware | None = None,
              cache: Path | None = None,
              options: Iterable[tuple[str, bool]] | None = None) -> tuple[SpeedChoice, dict[str, float]]:
    """Time each candidate with ``time_steps(precision, jit) -> steps/s``; store and return the fastest."""
    hw = hw or detect_hardware()
    options = list(options or candidates(hw))
    rates = {label(p, j): time_steps(p, j) for p, j in options}
    winner = max(options, key=lambda o: rates[label(*o)])
    path = store_choice(hw, winner, rates, cache)
    choice = cached_choice(hw, path)
    assert choice is not None
    return choice, rates


def enable_gpu_determinism() -> bool:
    """Turn on TensorFlow's op determinism if a GPU is visible (process-wide); return whether on.

    On CPU, TensorFlow's kernels are deterministic already; on a GPU, some are not unless
    this is on, and a resumed run could drift from an uninterrupted one.
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        tf.config.experimental.enable_op_determinism()
        return True
    return False
