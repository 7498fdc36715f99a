"""Atomic file writes: a temp file in the target folder, fsync, ``os.replace``, fsync the folder.

A crash at any moment leaves either the old file or the new one, never half of one. A
``kill -9`` can leave a temp file behind (named ``.<target>.<random>.tmp``, or
``….tmp.keras`` for models); :func:`remove_stale_temps` clears them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TEMP_PATTERN = re.compile(r"\..+\.tmp(\.keras)?")
"""Names of the temp files :func:`atomic_path` writes (the old ``mkstemp`` names match too)."""


class WriteError(OSError):
    """A file could not be written (no permission, disk full, ...); the old file, if any, is intact."""


def _create_temp(path: Path) -> int:
    """Create ``path`` exclusively, with mode 0o666 less the umask (as ``open`` does)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)


def _new_temp(target: Path, suffix: str) -> Path:
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}{suffix}"
        try:
            os.close(_create_temp(tmp))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot find a free temp name beside {target}")  # pragma: no cover


def fsync_folder(folder: Path | str) -> None:
    """Make a rename inside ``folder`` durable (no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: Path | str, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` atomically.

    An ``OSError`` on the way (no permission, disk full) becomes a :class:`WriteError`
    naming ``target``; the temp file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _new_temp(target, suffix or target.suffix + ".tmp")
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
        fsync_folder(target.parent)
    except OSError as err:
        if isinstance(err, WriteError):
            raise
        error = WriteError(f"cannot write {target}: {err.strerror or err}")
        error.errno = err.errno
        raise error from err
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_with(target: Path | str, writer: Callable[[Path], Any], suffix: str | None = None) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target, suffix=suffix) as tmp:
        writer(tmp)
    return Path(target)


def write_json(target: Path | str, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False) + "\n"
    return write_with(target, lambda p: p.write_text(text, encoding="utf-8"))


def save_model(model, target: Path | str) -> Path:
    """``model.save`` to a ``.keras`` file, atomically (Keras needs the .keras suffix)."""
    return write_with(target, model.save, suffix=".tmp.keras")


def check_writable(folder: Path | str) -> None:
    """Create ``folder`` if needed and prove a file can be created in it; else :class:`WriteError`."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = _new_temp(folder / ".write-check", ".tmp")
        probe.unlink()
    except OSError as err:
        error = WriteError(f"cannot write in {folder}: {err.strerror or err}")
        error.errno = err.errno
        raise error from err


def stale_temps(folder: Path | str) -> list[Path]:
    """Temp files of interrupted atomic writes under ``folder`` (recursively)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob(".*") if p.is_file() and TEMP_PATTERN.fullmatch(p.name))


def remove_stale_temps(folder: Path | str) -> list[Path]:
    """Delete what :func:`stale_temps` finds (left by a ``kill -9``); return what was removed."""
    removed = []
    for path in stale_temps(folder):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
