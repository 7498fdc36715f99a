"""Run folders: what a folder holds, whether a new run or ``--resume`` may use it, the session record.

A run folder holds ``config.json`` (the config, the labelled images, one entry per session: command,
machine, speed, steps, wall time), ``checkpoint.npz``, ``history.json``, the saved models and sample
grids (:func:`sgan_experiments.training.run_training` writes them). Every refusal here says whether a
fresh start or ``--resume`` works, and nothing in the folder is changed by it.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

from sgan_helpers import files

from . import speed
from .config import OPERATIONAL_FIELDS, TrainConfig


class RunFolderError(RuntimeError):
    """The run folder cannot be used as asked (holds another run, nothing to resume, bad checkpoint)."""


CHECKPOINT = "checkpoint.npz"
CONFIG = "config.json"


def machine() -> dict[str, Any]:
    """Where a session ran. The CPU model matters beyond its class: oneDNN picks its kernels per CPU
    (AMX on recent Intel Xeons), so two models of one class may round differently and a run need not
    repeat exactly on another model (records made before ``cpu`` was added lack it)."""
    import os

    import keras
    import tensorflow as tf

    cpu, flags = speed.cpu_flags()
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu": cpu, "cpu_flags": sorted(flags),
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def folder_state(out: Path | str) -> str:
    """What ``out`` holds: ``"missing"``, ``"file"``, ``"empty"`` (at most stale temp files),
    ``"run"`` (a ``config.json``) or ``"other"``."""
    out = Path(out)
    if not out.exists():
        return "missing"
    if not out.is_dir():
        return "file"
    if (out / CONFIG).is_file():
        return "run"
    temps = set(files.stale_temps(out))
    return "empty" if all(p in temps for p in out.rglob("*") if not p.is_dir()) else "other"


def next_step_hint(out: Path | str | None) -> str:
    """Which of a fresh start or ``--resume`` works on ``out`` now, in one sentence."""
    state = "missing" if out is None else folder_state(out)
    if state == "run":
        return f"Continue from the last checkpoint with the same options plus --resume --out {out}."
    if state in ("missing", "empty"):
        return "Nothing was saved yet: run the same command again (without --resume)."
    return "Choose a new --out folder."


def check_run_folder(config: TrainConfig, out: Path | str, resume: bool) -> dict[str, Any] | None:
    """Raise :class:`RunFolderError` unless ``out`` can take this run; return its ``config.json``
    when resuming (``None`` for a new run). Each message says whether a new run or ``--resume`` works."""
    out = Path(out)
    state = folder_state(out)
    if state == "file":
        raise RunFolderError(f"{out} is a file, not a folder; nothing was overwritten. "
                             f"Give --out a folder (new or empty).")
    if not resume:
        if state == "run":
            raise RunFolderError(
                f"{out} is not empty: it holds a run; nothing was overwritten. "
                f"Use --resume to continue that run, or choose a new --out folder.")
        if state == "other":
            raise RunFolderError(
                f"{out} is not empty and holds no run (no {CONFIG}); nothing was overwritten. "
                f"Choose a new --out folder (--resume works only on a run folder).")
        return None
    if state in ("missing", "empty"):
        raise RunFolderError(
            f"Nothing to resume in {out}: it {'does not exist' if state == 'missing' else 'is empty'}. "
            f"Start a new run without --resume.")
    if state == "other":
        raise RunFolderError(
            f"Nothing to resume in {out}: it holds no {CONFIG}, and it is not empty, so a new run "
            f"cannot use it either; nothing was overwritten. Choose a new --out folder.")
    config_path = out / CONFIG
    try:
        info = json.loads(config_path.read_text(encoding="utf-8"))
        saved = TrainConfig.from_dict(info["config"])
        if not isinstance(info.get("sessions"), list):
            raise KeyError("sessions")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RunFolderError(f"{config_path}: cannot read it ({type(err).__name__}: {err}); the run "
                             f"cannot be resumed. Start a new run in another --out folder.") from err
    diff = saved.differences(config)
    if diff:
        raise RunFolderError(
            f"{out} holds a run with another config (saved vs asked: {diff}). "
            f"Resume with the same options (only {', '.join(OPERATIONAL_FIELDS)} may change), "
            f"or pick a new --out.")
    if not (out / CHECKPOINT).is_file():
        temps = set(files.stale_temps(out))
        others = [p for p in out.rglob("*") if not p.is_dir() and p != out / CONFIG and p not in temps]
        if others:  # trained past step 0 once: restarting would overwrite its results
            raise RunFolderError(
                f"Cannot resume {out}: its {CHECKPOINT} is missing, and restarting from step 0 "
                f"would overwrite its results; nothing was overwritten. "
                f"Start a new run in another --out folder.")
    return info


def run_wall_seconds(sessions: list[dict[str, Any]]) -> float | None:
    """A run's wall time: its sessions' sum, each up to its last checkpoint; ``None`` when a
    session that trained left no time (killed before this was recorded at each checkpoint)."""
    for i, session in enumerate(sessions):
        end = session.get("end_step", sessions[i + 1]["start_step"] if i + 1 < len(sessions) else None)
        if session.get("wall_seconds") is None and end != session["start_step"]:
            return None
    known = [s.get("wall_seconds") or 0.0 for s in sessions]
    return round(sum(known), 1)
