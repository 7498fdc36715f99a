"""Interruption at any moment: --resume (or a fresh start) always works and ends bit for bit
where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import assert_same_state, tiny_config, trainer_state
from sgan_experiments import checkpoints
from sgan_experiments.recipes import RECIPES
from sgan_experiments.runs import RunFolderError, check_run_folder, run_wall_seconds
from sgan_experiments.trainer import SGANTrainer
from sgan_experiments.training import run_training
from sgan_helpers import files


def _strip(history: dict) -> dict:
    return {"steps": history["steps"],
            "epochs": [{k: v for k, v in r.items() if k != "train_seconds"} for r in history["epochs"]]}


@pytest.fixture(scope="module")
def straight(tmp_path_factory, small_mnist):
    """An uninterrupted tiny run (6 steps, epochs of 3, checkpoints every 2): state and history."""
    trainer = run_training(tiny_config(), tmp_path_factory.mktemp("straight"), progress=False,
                           data=small_mnist)
    return trainer_state(trainer), _strip(trainer.history)


def _dies_when(monkeypatch, step: int) -> None:
    real_step = SGANTrainer.train_step

    def train_step(self):
        if self.step == step:
            raise KeyboardInterrupt  # Ctrl-C after `step` steps
        return real_step(self)

    monkeypatch.setattr(SGANTrainer, "train_step", train_step)


@pytest.mark.parametrize("schedule", ["tutorial", "combined"])
@pytest.mark.parametrize("generator_loss", ["bce", "feature_matching"])
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_kill_between_checkpoints_resumes_bit_exact(tmp_path, small_mnist, schedule, generator_loss,
                                                    precision):
    """Checkpoint at step 2, killed at step 3: a fresh trainer repeats step 3 and ends where
    the uninterrupted one (which went on from step 2 in memory) ends."""
    config = tiny_config(steps=5, schedule=schedule, generator_loss=generator_loss, precision=precision)
    path = tmp_path / "checkpoint.npz"
    straight = SGANTrainer(config, data=small_mnist)
    for _ in range(2):
        straight.train_step()
    straight.save_checkpoint(path)
    losses = [straight.train_step() for _ in range(3)]  # steps 3 (lost to the kill), 4, 5

    resumed = SGANTrainer(config, data=small_mnist)
    resumed.load_checkpoint(path)
    assert resumed.step == 2
    assert [resumed.train_step() for _ in range(3)] == losses
    assert_same_state(trainer_state(straight), trainer_state(resumed))


@pytest.mark.parametrize("precision, sampling", [("float32", "random"), ("mixed_bfloat16", "random"),
                                                 ("float32", "epochs")])
def test_the_salimans_recipe_resumes_bit_exact(tmp_path, small_mnist, precision, sampling):
    """The hour-long runs' recipe (MLPs with Gaussian noise and weight normalisation initialised with the
    noise on, feature matching, the weight average, a learning rate that decays over the second half):
    checkpoint at step 2, killed later; the resumed trainer repeats steps 3-6 (into the decay) exactly,
    with either way of drawing the real images."""
    config = tiny_config(**{**RECIPES["salimans"].fields, "batch_size": 20, "steps": 6,
                            "precision": precision, "sampling": sampling})
    assert config.lr_schedule == "linear" and config.ema_decay and config.init_noise
    path = tmp_path / "checkpoint.npz"
    straight = SGANTrainer(config, data=small_mnist)
    for _ in range(2):
        straight.train_step()
    straight.save_checkpoint(path)
    losses = [straight.train_step() for _ in range(4)]

    resumed = SGANTrainer(config, data=small_mnist)
    resumed.load_checkpoint(path)
    assert [resumed.train_step() for _ in range(4)] == losses
    assert_same_state(trainer_state(straight), trainer_state(resumed))
    assert straight.evaluate() == resumed.evaluate()


def test_ctrl_c_between_checkpoints(tmp_path, small_mnist, monkeypatch, straight):
    out = tmp_path / "run"
    _dies_when(monkeypatch, 5)  # checkpoints at 0, 2, 3 (epoch), 4: step 5 is lost
    with pytest.raises(KeyboardInterrupt):
        run_training(tiny_config(), out, progress=False, data=small_mnist)
    monkeypatch.undo()
    resumed = run_training(tiny_config(), out, resume=True, progress=False, data=small_mnist)
    assert resumed.step == 6
    assert_same_state(straight[0], trainer_state(resumed))
    assert _strip(resumed.history) == straight[1]
    sessions = json.loads((out / "config.json").read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0, 4]


def test_ctrl_c_before_the_first_checkpoint(tmp_path, small_mnist, monkeypatch, straight):
    """Stopped at step 1 of 6 with checkpoints every 100: --resume works (from step 0), a fresh
    run is refused with a message naming --resume, and the end is bit for bit the same."""
    out = tmp_path / "run"
    config = tiny_config(checkpoint_every=100)
    _dies_when(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        run_training(config, out, progress=False, data=small_mnist)
    monkeypatch.undo()
    with pytest.raises(RunFolderError, match="--resume"):
        check_run_folder(config, out, resume=False)
    resumed = run_training(config, out, resume=True, progress=False, data=small_mnist)
    assert resumed.step == 6
    # checkpoint_every changes nothing computed: the same end as the straight run's
    assert_same_state(straight[0], trainer_state(resumed))
    assert _strip(resumed.history) == straight[1]


def test_killed_right_after_config_json(tmp_path, small_mnist, monkeypatch):
    """The one moment before the step-0 checkpoint exists: config.json alone still resumes."""
    out = tmp_path / "run"
    config = tiny_config(steps=2, steps_per_epoch=2)

    def dies(self, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(SGANTrainer, "save_checkpoint", dies)
    with pytest.raises(KeyboardInterrupt):
        run_training(config, out, progress=False, data=small_mnist)
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]
    with pytest.raises(RunFolderError, match="--resume"):
        check_run_folder(config, out, resume=False)
    assert run_training(config, out, resume=True, progress=False, data=small_mnist).step == 2


def test_interrupted_before_anything_was_written(tmp_path):
    """An empty folder, or one holding only a stale temp file: a fresh start works, --resume says so."""
    out = tmp_path / "run"
    out.mkdir()
    (out / ".config.json.1a2b3c4d.tmp").write_text("{")
    with pytest.raises(RunFolderError, match="without --resume"):
        check_run_folder(tiny_config(), out, resume=True)
    assert check_run_folder(tiny_config(), out, resume=False) is None


CHILD = """
import json, os, signal, sys
import numpy as np
from sgan_helpers import data
from sgan_experiments import checkpoints
from sgan_experiments.config import TrainConfig
from sgan_experiments.training import run_training

out, config = sys.argv[1], TrainConfig(**json.loads(sys.argv[2]))
(x, y), (xt, yt) = data.load_dataset("mnist")
small = ((x[:3000], y[:3000]), (xt[:1000], yt[:1000]))  # = conftest's small_mnist
real_savez = np.savez

def savez(f, **arrays):
    if json.loads(str(arrays[checkpoints.META]))["step"] == 4:  # mid-write of the step-4 checkpoint
        f.write(b"PK" + bytes(1_000_000))
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real_savez(f, **arrays)

checkpoints.np.savez = savez
run_training(config, out, progress=False, data=small)
"""


@pytest.mark.slow
def test_sigkill_mid_checkpoint_in_a_real_process(tmp_path, small_mnist, straight):
    """kill -9 while the step-4 checkpoint is half written: the temp file is cleaned on resume,
    and the run repeats step 4 to end bit for bit where the uninterrupted one ends."""
    out = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    child = subprocess.run([sys.executable, "-c", CHILD, str(out), json.dumps(tiny_config().to_dict())],
                           capture_output=True, text=True, env=env, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert [p.name.startswith(".checkpoint.npz.") for p in files.stale_temps(out)] == [True]
    resumed = run_training(tiny_config(), out, resume=True, progress=False, data=small_mnist)
    assert files.stale_temps(out) == []
    assert resumed.step == 6
    assert_same_state(straight[0], trainer_state(resumed))
    assert _strip(resumed.history) == straight[1]
    sessions = json.loads((out / "config.json").read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0, 3]


def _signal_at(monkeypatch, step: int, *signals: int) -> None:
    """Send ``signals`` to this process as step ``step`` begins (as ``kill`` or Ctrl-C would)."""
    real_step = SGANTrainer.train_step

    def train_step(self):
        if self.step == step:
            for sig in signals:
                os.kill(os.getpid(), sig)
        return real_step(self)

    monkeypatch.setattr(SGANTrainer, "train_step", train_step)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_step_checkpoints_it_and_resumes_bit_exact(tmp_path, small_mnist, straight,
                                                                          monkeypatch, sig):
    """kill (SIGTERM) or Ctrl-C during step 5 (checkpoints at 4 and 6): the step completes, is
    checkpointed, the session is noted as stopped with its time, and nothing is repeated."""
    out = tmp_path / "run"
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    _signal_at(monkeypatch, 4, sig)
    with pytest.raises(KeyboardInterrupt, match=f"{signal.Signals(sig).name}: stopped after step 5"):
        run_training(tiny_config(), out, progress=False, data=small_mnist)
    assert {s: signal.getsignal(s) for s in before} == before  # handlers restored
    assert checkpoints.read(out / "checkpoint.npz")[1]["step"] == 5
    info = json.loads((out / "config.json").read_text())
    (session,) = info["sessions"]
    assert session["stopped_by"] == signal.Signals(sig).name and session["end_step"] == 5
    assert session["wall_seconds"] > 0 and info["wall_seconds"] == session["wall_seconds"]
    assert "finished" not in session
    monkeypatch.undo()
    resumed = run_training(tiny_config(), out, resume=True, progress=False, data=small_mnist)
    assert_same_state(straight[0], trainer_state(resumed))
    assert _strip(resumed.history) == straight[1]
    info = json.loads((out / "config.json").read_text())
    assert [s["start_step"] for s in info["sessions"]] == [0, 5]
    assert info["wall_seconds"] == round(sum(s["wall_seconds"] for s in info["sessions"]), 1)


def test_a_second_ctrl_c_stops_at_once(tmp_path, small_mnist, monkeypatch):
    """Two Ctrl-C: no waiting for the step; the periodic checkpoint (step 4) is what remains."""
    out = tmp_path / "run"
    _signal_at(monkeypatch, 5, signal.SIGINT, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt) as caught:
        run_training(tiny_config(), out, progress=False, data=small_mnist)
    assert "stopped after" not in str(caught.value)
    assert checkpoints.read(out / "checkpoint.npz")[1]["step"] == 4
    (session,) = json.loads((out / "config.json").read_text())["sessions"]
    assert session["end_step"] == 4 and "stopped_by" not in session


def test_an_ignored_sigint_stays_ignored(tmp_path, small_mnist, monkeypatch):
    """A job started with `&` from a script ignores SIGINT; training must not start obeying it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _signal_at(monkeypatch, 2, signal.SIGINT)
        assert run_training(tiny_config(), tmp_path / "run", progress=False, data=small_mnist).step == 6
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("sessions, wall", [
    ([{"start_step": 0, "end_step": 6, "wall_seconds": 3.0}], 3.0),
    ([{"start_step": 0, "end_step": 4, "wall_seconds": 2.0},
      {"start_step": 4, "end_step": 6, "wall_seconds": 1.5}], 3.5),
    ([{"start_step": 0}, {"start_step": 0, "end_step": 6, "wall_seconds": 3.0}], 3.0),  # nothing trained
    ([{"start_step": 0}, {"start_step": 4, "end_step": 6, "wall_seconds": 1.0}], None),  # time lost
    ([{"start_step": 0}], None),  # an old run killed in its only session
])
def test_run_wall_seconds(sessions, wall):
    assert run_wall_seconds(sessions) == wall
