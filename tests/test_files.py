"""Atomic writes: durable renames, the umask left alone, clear errors, stale temp files found."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from sgan_helpers import files


def test_atomic_write_never_touches_the_umask(tmp_path, monkeypatch):
    """os.umask is process-wide (TensorFlow has threads): reading it by setting it is a race."""
    old = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda *_: pytest.fail("os.umask called at run time"))
        files.write_json(tmp_path / "a.json", {"x": 1})
        files.write_with(tmp_path / "b.bin", lambda p: p.write_bytes(b"1"))
    finally:
        monkeypatch.undo()
        os.umask(old)
    for name in ("a.json", "b.bin"):  # 0o666 less the umask, as a plain open() gives
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640


def test_the_folder_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        mode = os.fstat(fd).st_mode
        synced.append("folder" if stat.S_ISDIR(mode) else "file")
        real_fsync(fd)

    real_replace = os.replace

    def replace(src, dst):
        synced.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    files.write_json(tmp_path / "history.json", [1])
    assert synced == ["file", "rename", "folder"]


def test_write_errors_name_the_file_and_keep_the_old_one(tmp_path, monkeypatch):
    target = files.write_json(tmp_path / "history.json", {"epochs": [1]})

    def full_disk(path):
        path.write_text('{"ep')
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(files.WriteError, match="cannot write .*history.json: No space left") as err:
        files.write_with(target, full_disk)
    assert err.value.errno == errno.ENOSPC
    assert target.read_text() == '{\n  "epochs": [\n    1\n  ]\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]

    def denied(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(files, "_create_temp", denied)
    with pytest.raises(files.WriteError, match="cannot write in .*: Permission denied"):
        files.check_writable(tmp_path / "new")
    with pytest.raises(files.WriteError, match="Permission denied"):
        files.write_json(tmp_path / "other.json", {})


def test_a_file_where_a_folder_should_be(tmp_path):
    (tmp_path / "run").write_text("not a folder")
    with pytest.raises(files.WriteError, match="cannot write"):
        files.write_json(tmp_path / "run" / "config.json", {})
    with pytest.raises(files.WriteError, match="cannot write in"):
        files.check_writable(tmp_path / "run")


def test_stale_temp_files_are_found_and_removed(tmp_path):
    (tmp_path / "samples").mkdir()
    stale = [tmp_path / ".checkpoint.npz.1a2b3c4d.npz.tmp",   # a kill -9 mid-write (this version)
             tmp_path / ".checkpoint.npz.k3j_x9a2.npz.tmp",   # ... and the mkstemp names of the last one
             tmp_path / ".classifier.keras.0f0f0f0f.tmp.keras",
             tmp_path / "samples" / ".epoch_001.png.deadbeef.png.tmp"]
    kept = [tmp_path / "checkpoint.npz", tmp_path / "notes.tmp", tmp_path / ".hidden"]
    for p in stale + kept:
        p.write_bytes(b"x")
    assert files.stale_temps(tmp_path) == sorted(stale)
    assert sorted(files.remove_stale_temps(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in stale)
