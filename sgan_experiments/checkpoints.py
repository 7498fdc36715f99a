"""Checkpoint I/O: variables keyed by name, one atomic ``.npz``, checked before anything is restored.

A checkpoint is one ``.npz`` file: one array per variable, under a key such as
``disc/conv_1/kernel`` (group / layer / variable) or ``opt_d/conv_1_kernel_momentum``,
plus a JSON ``meta`` entry (step, RNG state, history, ...). Keys come from the names
this package gives its layers, never from positions or from Keras's auto-numbered
paths (``seed_generator_1``, ``adam_2``): a Keras version that orders variables
differently cannot swap two same-shaped kernels. :func:`restore` compares the key sets,
shapes and dtypes first and refuses a mismatch, naming the first difference; it
assigns nothing unless everything fits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sgan_helpers import files
from sgan_helpers.averaging import model_variables  # noqa: F401  (part of this module's API)

FORMAT = 2
"""Version 1 (before sgan_helpers 0.3) stored variables by position; it is refused."""
META = "__meta__"


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or does not fit the variables it should restore."""


def optimizer_variables(optimizer) -> dict[str, Any]:
    """An optimizer's variables keyed by name (``iteration``, ``conv_1_kernel_momentum``, ...)."""
    out: dict[str, Any] = {}
    for v in optimizer.variables:
        if v.name in out:
            raise ValueError(f"two variables of optimizer {optimizer.name!r} share the name {v.name!r}")
        out[v.name] = v
    return out


def copy_weights(source, target) -> None:
    """Assign ``source``'s variables to the same-named ones of ``target`` (same architecture)."""
    src, dst = model_variables(source), model_variables(target)
    _check(dst, {k: np.asarray(v) for k, v in src.items()}, f"model {source.name!r}")
    for key, v in dst.items():
        v.assign(src[key])


def save(path: Path | str, variables: Mapping[str, Any], meta: dict[str, Any]) -> None:
    """Write every variable's value and ``meta`` (JSON-able) to ``path``, atomically."""
    arrays = {key: np.asarray(v.numpy()) for key, v in variables.items()}
    arrays[META] = np.array(json.dumps({"format": FORMAT, **meta}))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    files.write_with(path, write)


def read(path: Path | str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and the meta of a checkpoint; :class:`CheckpointError` if it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as err:  # zipfile, zlib, numpy format and OS errors alike
        raise CheckpointError(f"{path}: cannot read the checkpoint ({type(err).__name__}: {err}).") from err
    if META not in arrays:
        raise CheckpointError(
            f"{path}: written by an older sgan_helpers that stored variables by position; "
            f"it cannot be restored safely."
        )
    try:
        meta = json.loads(str(arrays.pop(META)))
    except ValueError as err:
        raise CheckpointError(f"{path}: its meta data is not valid JSON ({err}).") from err
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format')!r}, expected {FORMAT}.")
    return arrays, meta


def _check(variables: Mapping[str, Any], arrays: Mapping[str, np.ndarray], where: str) -> None:
    missing = sorted(set(variables) - set(arrays))
    extra = sorted(set(arrays) - set(variables))
    if missing or extra:
        first = (f"it lacks {missing[0]!r}" if missing else f"it holds {extra[0]!r}, which the models lack")
        raise CheckpointError(
            f"{where} does not fit the models: {first} ({len(missing)} missing, {len(extra)} unknown)."
        )
    for key, v in variables.items():
        a = arrays[key]
        shape, dtype = tuple(v.shape), np.dtype(getattr(v.dtype, "name", v.dtype))
        if tuple(a.shape) != shape or a.dtype != dtype:
            raise CheckpointError(
                f"{where} does not fit the models: {key!r} is {a.dtype}{list(a.shape)} there, "
                f"{dtype}{list(shape)} in the models."
            )


def restore(
    variables: Mapping[str, Any], arrays: Mapping[str, np.ndarray], where: str = "checkpoint"
) -> None:
    """Assign ``arrays[key]`` to ``variables[key]`` once every key, shape and dtype matches."""
    _check(variables, arrays, where)
    for key, v in variables.items():
        v.assign(arrays[key])
