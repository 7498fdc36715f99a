"""Which processor this is, and the (precision, XLA) pair that runs the training step fastest on it.

Two switches change the speed of an SGAN step by up to 2x, and which setting wins depends on the
processor (measured: benchmarks/README.md):

* **precision**: ``mixed_bfloat16`` computes in bfloat16 and keeps float32 weights. It is faster on
  CPUs with bfloat16 units (AVX512_BF16 or AMX) and on GPUs from compute capability 8.0 on; elsewhere
  it is emulated and slower.
* **XLA** (``jit_compile``) compiles the whole step into one program. On a CPU with AVX2 but no
  AVX-512 it nearly doubles the tutorial CNN's step rate; on AVX-512 CPUs oneDNN's kernels are faster
  and XLA slows the step.

:func:`rule` turns the hardware into that choice (notebook 07 uses it); the experiment layer's
``sgan_experiments.speed`` adds a per-machine calibration on top.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PRECISIONS = ("float32", "mixed_bfloat16")

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
