"""The fastest correct way to run the training step on *this* machine.

Two switches change the speed of an SGAN step by up to 2x, and which setting wins
depends on the processor (measured, see benchmarks/README.md):

* **precision** — ``mixed_bfloat16`` computes in bfloat16 and keeps float32 weights.
  It is 1.6x faster on CPUs with bfloat16 units (AVX512_BF16 or AMX) and on GPUs from
  compute capability 8.0 (Ampere) on; elsewhere it is emulated and *slower*. Results
  differ from float32 by more than rounding (bfloat16 keeps 8 bits of mantissa), but a
  run learns as well per step (docs/results.md: 84.0 % vs 85.3 % after 600 steps, one seed).
* **XLA** (``jit_compile``) — compiles the whole step into one program. On a CPU with
  AVX2 but no AVX-512 it nearly doubles the step rate; on AVX-512 CPUs TensorFlow's
  oneDNN kernels are faster and XLA *slows* the step (0.4-0.6x). Results change only by
  float rounding.

``resolve`` turns ``"auto"`` into a concrete choice: a stored calibration for this
machine and these library versions if there is one (``python -m sgan_helpers calibrate``
times a few steps of each candidate and stores the winner in the user's cache folder,
never in the repository), otherwise the rule above. Explicit values always win.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

AUTO = "auto"
PRECISIONS = ("float32", "mixed_bfloat16")
CACHE_ENV = "SGAN_CACHE_DIR"
"""Environment variable naming the folder for the calibration cache (default: the user's cache)."""

# CPU feature flags (Linux /proc/cpuinfo names) that decide the rule.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Hardware:
    """What the speed choice depends on."""

    cpu: str  # model name
    flags: frozenset[str]  # of interest: avx2, avx512f, avx512_bf16, amx_bf16
    gpus: tuple[str, ...] = ()  # names of visible GPUs
    gpu_bf16: bool = False  # every visible GPU has compute capability >= 8.0

    @property
    def cpu_class(self) -> str:
        """A short name for the CPU class the rule distinguishes."""
        if self.flags & BF16_FLAGS:
            return "AVX-512 with BF16" if "avx512f" in self.flags else "AMX-BF16"
        if "avx512f" in self.flags:
            return "AVX-512, no BF16"
        if "avx2" in self.flags:
            return "AVX2, no AVX-512"
        return "other (no AVX2 detected)"

    def key(self) -> str:
        """Cache key: CPU model, its relevant flags, GPUs and the library versions."""
        import keras
        import tensorflow as tf

        return " | ".join([self.cpu, ",".join(sorted(self.flags)), ",".join(self.gpus) or "no GPU",
                           f"tf {tf.__version__}", f"keras {keras.__version__}",
                           f"python {sys.version.split()[0]}"])


@dataclass(frozen=True)
class SpeedChoice:
    """A resolved (precision, XLA) pair and why it was chosen."""

    precision: str
    jit_compile: bool
    source: str  # "given", "rule" or "calibration"
    reason: str

    def describe(self) -> str:
        xla = "XLA on" if self.jit_compile else "XLA off"
        return f"precision={self.precision}, {xla} ({self.source}: {self.reason})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_RELEVANT = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | None = None) -> tuple[str, frozenset[str]]:
    """CPU model name and its relevant feature flags, from ``/proc/cpuinfo`` on Linux.

    Elsewhere (macOS, Windows) the flags are unknown and the set is empty.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return platform.processor() or platform.machine(), frozenset()
    model, flags = platform.machine(), set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == platform.machine():
            model = value.strip()
        elif key in ("flags", "Features"):
            flags.update(value.split())
    return model, frozenset(f for f in _RELEVANT if f in flags)


_ISA_ORDER = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI",
              "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16")


def isa_cap(flags: frozenset[str], cap: str | None = None) -> frozenset[str]:
    """Drop the flags that oneDNN's ``ONEDNN_MAX_CPU_ISA`` cap (read from the environment) forbids.

    With the cap at AVX2, an AVX-512 machine runs like an AVX2-only one, and ``auto``
    must choose for that class (bfloat16 would fail: oneDNN has no bf16 kernels there).
    """
    cap = (cap if cap is not None else os.environ.get("ONEDNN_MAX_CPU_ISA", "")).upper()
    if cap not in _ISA_ORDER:
        return flags
    level = _ISA_ORDER.index(cap)
    dropped = set()
    if level < _ISA_ORDER.index("AVX512_CORE"):
        dropped |= {"avx512f", "avx512_bf16", "amx_bf16"}
    if level < _ISA_ORDER.index("AVX2"):
        dropped.add("avx2")
    if level < _ISA_ORDER.index("AVX512_CORE_BF16"):
        dropped.add("avx512_bf16")
    if level < _ISA_ORDER.index("AVX512_CORE_AMX"):
        dropped.add("amx_bf16")
    return frozenset(flags - dropped)


def capped_env(isa: str | None, env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: this process's) that caps oneDNN and XLA at ``isa`` (e.g. ``"avx2"``),
    for a child process or before TensorFlow loads; ``isa=None`` leaves it as it is."""
    env = dict(os.environ if env is None else env)
    if isa:
        env.update(ONEDNN_MAX_CPU_ISA=isa.upper(),
                   XLA_FLAGS=(env.get("XLA_FLAGS", "") + f" --xla_cpu_max_isa={isa.upper()}").strip())
    return env


def _gpus() -> tuple[tuple[str, ...], bool]:
    import tensorflow as tf

    devices = tf.config.list_physical_devices("GPU")
    names, bf16 = [], bool(devices)
    for device in devices:
        details = tf.config.experimental.get_device_details(device)
        names.append(str(details.get("device_name", device.name)))
        bf16 = bf16 and tuple(details.get("compute_capability", (0, 0))) >= (8, 0)
    return tuple(names), bf16


def detect_hardware() -> Hardware:
    """Read the CPU model and flags, and the visible GPUs."""
    model, flags = cpu_flags()
    gpus, gpu_bf16 = _gpus()
    return Hardware(model, isa_cap(flags), gpus, gpu_bf16)


def rule(hw: Hardware) -> SpeedChoice:
    """The choice our measurements support, from the hardware alone."""
    if hw.gpus:
        precision = "mixed_bfloat16" if hw.gpu_bf16 else "float32"
        why = "GPU with bfloat16 units" if hw.gpu_bf16 else "GPU without bfloat16 units"
        return SpeedChoice(precision, True, "rule", f"{why}; XLA on GPU")
    precision = "mixed_bfloat16" if hw.flags & BF16_FLAGS else "float32"
    jit = "avx2" in hw.flags and "avx512f" not in hw.flags
    return SpeedChoice(precision, jit, "rule", f"CPU class {hw.cpu_class}")


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
    entry = read_cache(path).get(hw.key())
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
    from . import files

    path = path or cache_path()
    stored = read_cache(path)
    stored[hw.key()] = {"precision": winner[0], "jit_compile": winner[1], "steps_per_s": rates,
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


def time_training_steps(precision: str, jit: bool, steps: int = 12, warmup: int = 3,
                        data=None) -> float:
    """Steps/s of the real training step (tutorial schedule, batch 100) in one setting."""
    from . import data as data_mod
    from .training import SGANTrainer, TrainConfig

    if data is None:  # a slice is enough: the step's cost does not depend on the data size
        (x, y), (xt, yt) = data_mod.load_dataset("mnist")
        data = (x[:6000], y[:6000]), (xt[:100], yt[:100])
    trainer = SGANTrainer(TrainConfig(precision=precision, jit_compile=jit, eval_train=False), data=data)
    for _ in range(warmup):
        trainer.train_step()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return steps / (time.perf_counter() - start)
