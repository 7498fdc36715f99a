"""Choosing precision and XLA per machine: the rule, the cache, the ISA cap (nothing is timed)."""

from __future__ import annotations

import json

import pytest

from sgan_experiments import speed
from sgan_experiments.speed import Hardware

AVX2 = Hardware("AMD EPYC (AVX2)", frozenset({"avx2"}))
AVX512 = Hardware("Intel Xeon (AVX-512)", frozenset({"avx2", "avx512f"}))
AVX512_BF16 = Hardware("AMD EPYC (Zen 4)", frozenset({"avx2", "avx512f", "avx512_bf16"}))
AMX = Hardware("Intel Xeon (Sapphire Rapids)", frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16"}))
OLD = Hardware("old x86", frozenset())
GPU_AMPERE = Hardware("any", frozenset({"avx2"}), gpus=("NVIDIA A100",), gpu_bf16=True)
GPU_TURING = Hardware("any", frozenset({"avx2"}), gpus=("Tesla T4",), gpu_bf16=False)


@pytest.mark.parametrize("hw, precision, jit", [
    (AVX2, "float32", True),             # XLA ~2x there (issue #8's AVX2 measurements)
    (AVX512, "float32", False),          # oneDNN beats XLA on AVX-512
    (AVX512_BF16, "mixed_bfloat16", False),
    (AMX, "mixed_bfloat16", False),
    (OLD, "float32", False),
    (GPU_AMPERE, "mixed_bfloat16", True),
    (GPU_TURING, "float32", True),
])
def test_rule_per_hardware_class(hw, precision, jit):
    choice = speed.rule(hw)
    assert (choice.precision, choice.jit_compile, choice.source) == (precision, jit, "rule")


def test_cpu_flags_parse_proc_cpuinfo():
    text = ("processor\t: 0\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fpu sse avx avx2 fma\n\n"
            "processor\t: 1\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fpu sse avx avx2 fma\n")
    model, flags = speed.cpu_flags(text)
    assert model == "AMD EPYC 7B12" and flags == {"avx2"}
    model, flags = speed.cpu_flags("model name: X\nflags: avx2 avx512f avx512_bf16 avx512bw\n")
    assert flags == {"avx2", "avx512f", "avx512_bf16"}


@pytest.mark.parametrize("cap, expected", [
    ("AVX2", {"avx2"}),
    ("avx512_core", {"avx2", "avx512f"}),
    ("AVX512_CORE_BF16", {"avx2", "avx512f", "avx512_bf16"}),
    ("", {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}),
    ("ALL", {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}),
])
def test_isa_cap_makes_the_machine_look_like_the_capped_class(cap, expected):
    assert speed.isa_cap(AMX.flags, cap) == expected


def test_explicit_values_win_without_looking_at_the_machine():
    choice = speed.resolve("float32", False, hardware=AMX)
    assert (choice.precision, choice.jit_compile, choice.source) == ("float32", False, "given")
    choice = speed.resolve("float32", "auto", hardware=AVX2)  # one explicit, one from the rule
    assert (choice.precision, choice.jit_compile) == ("float32", True)
    choice = speed.resolve("auto", "off", hardware=AVX512_BF16)
    assert (choice.precision, choice.jit_compile) == ("mixed_bfloat16", False)


@pytest.mark.parametrize("precision, jit", [("float16", "auto"), ("auto", "sometimes"), ("auto", 2)])
def test_bad_values_are_refused(precision, jit):
    with pytest.raises(ValueError, match="must be"):
        speed.resolve(precision, jit, hardware=AVX2)


def test_calibration_is_cached_per_machine_and_read_back(tmp_path):
    cache = tmp_path / "speed.json"
    timed = []

    def fake_timer(precision, jit):  # a stand-in for time_training_steps: XLA "wins" here
        timed.append((precision, jit))
        return {("float32", False): 1.0, ("float32", True): 1.5,
                ("mixed_bfloat16", False): 1.2, ("mixed_bfloat16", True): 0.9}[(precision, jit)]

    assert speed.resolve(hardware=AVX512_BF16, cache=cache).source == "rule"  # nothing cached yet
    choice, rates = speed.calibrate(fake_timer, hw=AVX512_BF16, cache=cache)
    assert timed == speed.candidates(AVX512_BF16) and len(timed) == 4
    assert (choice.precision, choice.jit_compile, choice.source) == ("float32", True, "calibration")
    assert rates["float32 +XLA"] == 1.5

    later = speed.resolve(hardware=AVX512_BF16, cache=cache)  # the cache now overrides the rule
    assert (later.precision, later.jit_compile, later.source) == ("float32", True, "calibration")
    # another machine (or other library versions) does not see this entry
    assert speed.resolve(hardware=AVX512, cache=cache).source == "rule"
    stored = json.loads(cache.read_text())
    assert list(stored) == [speed.cache_key(AVX512_BF16)] and "tf " in speed.cache_key(AVX512_BF16)


def test_calibration_without_bf16_units_does_not_time_bfloat16(tmp_path):
    timed = []
    speed.calibrate(lambda p, j: timed.append((p, j)) or 1.0, hw=AVX2, cache=tmp_path / "s.json")
    assert {p for p, _ in timed} == {"float32"}


def test_a_broken_cache_file_falls_back_to_the_rule(tmp_path):
    cache = tmp_path / "speed.json"
    cache.write_text("{not json")
    assert speed.resolve(hardware=AVX2, cache=cache).source == "rule"
    cache.write_text(json.dumps({speed.cache_key(AVX2): {"precision": "float8"}}))
    assert speed.resolve(hardware=AVX2, cache=cache).source == "rule"


def test_cache_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(speed.CACHE_ENV, str(tmp_path / "mine"))
    assert speed.cache_path() == tmp_path / "mine" / "speed.json"
    monkeypatch.delenv(speed.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert speed.cache_path() == tmp_path / "xdg" / "sgan_helpers" / "speed.json"


def test_auto_keeps_xla_off_for_the_mlp_on_cpus(monkeypatch):
    """XLA pays for the CNN on AVX2-only CPUs but slows the MLP recipe about 7x on both classes."""
    from sgan_experiments.config import recipe_config

    choice = speed.rule(AVX2)
    assert choice.jit_compile is True
    assert speed.mlp_choice(choice, AVX2).jit_compile is False
    gpu = Hardware("x", frozenset({"avx2"}), gpus=("GPU",), gpu_bf16=True)
    assert speed.mlp_choice(speed.rule(gpu), gpu).jit_compile is True  # a GPU keeps its choice
    monkeypatch.setattr(speed, "detect_hardware", lambda: AVX2)
    monkeypatch.setattr(speed, "cached_choice", lambda hw, cache=None: None)
    mlp, _ = recipe_config("salimans").resolve_speed()
    cnn, _ = recipe_config("series").resolve_speed()
    assert (mlp.precision, mlp.jit_compile) == ("float32", False) and cnn.jit_compile is True
    explicit, _ = recipe_config("salimans", jit_compile=True).resolve_speed()
    assert explicit.jit_compile is True  # an explicit choice is kept


def test_a_resumed_run_keeps_its_precision_and_says_why(monkeypatch):
    """On resume the saved precision is not "set explicitly" by the user: the reason says it was kept."""
    from sgan_experiments.config import recipe_config

    monkeypatch.setattr(speed, "detect_hardware", lambda: AVX2)  # auto would choose float32 here
    monkeypatch.setattr(speed, "cached_choice", lambda hw, cache=None: None)
    saved = recipe_config("salimans", precision="mixed_bfloat16")
    same, choice = recipe_config("salimans", precision="float32").resolve_speed(resumed=True)
    assert same.precision == "float32" and "explicitly" not in choice.reason and "kept" not in choice.reason
    kept, choice = saved.resolve_speed(resumed=True)
    assert kept.precision == "mixed_bfloat16" and kept.jit_compile is False
    assert "explicitly" not in choice.reason and "mixed_bfloat16 kept from the run resumed" in choice.reason
    given, choice = saved.resolve_speed()  # a fresh run with the precision given on the command line
    assert given.precision == "mixed_bfloat16" and "explicitly" in choice.reason


def test_the_speed_benchmark_stops_with_a_clear_message_when_mnist_is_unusable(tmp_path):
    """``make benchmark`` checks the data first, instead of a traceback from one of its child processes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from conftest import write_corrupt_compressed_npz

    write_corrupt_compressed_npz(tmp_path / "mnist.npz")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"
    done = subprocess.run([sys.executable, str(script), "--steps", "1", "--warmup", "0"], capture_output=True,
                          text=True, env={**os.environ, "SGAN_DATA_DIR": str(tmp_path)}, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "benchmarks/speed.py:" in done.stderr and "mnist.npz" in done.stderr
