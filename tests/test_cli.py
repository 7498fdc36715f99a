"""``python -m sgan_helpers``: clear errors, non-zero exits, nothing overwritten, evaluate."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import write_corrupt_compressed_npz
from sgan_experiments import checkpoints
from sgan_experiments.cli import main
from sgan_experiments.trainer import SGANTrainer
from sgan_helpers import data, evaluation, files


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def small_data(monkeypatch, small_mnist):
    """The CLI trains on conftest's small slice (3,000 images): fast, and the same code path."""
    monkeypatch.setattr(data, "load_dataset", lambda name="mnist": small_mnist)
    return small_mnist


TINY = ["--steps", "4", "--steps-per-epoch", "4", "--no-train-eval", "--quiet", "--jit", "off"]
"""A tiny run; XLA off, as in conftest.tiny_config: no compile time on AVX2-only CPUs, where `auto`
turns it on (tests/test_training.py compiles the step with XLA once, on every machine)."""


@pytest.mark.parametrize("argv, match", [
    (["train", "--steps", "0"], "must be at least 1"),
    (["train", "--epochs", "two"], "expected a whole number"),
    (["train", "--epochs", "2", "--steps", "5"], "not allowed with argument"),
    (["train", "--dataset", "cifar10"], "invalid choice"),
    (["train", "--schedule", "fast"], "invalid choice"),
    (["train", "--ema", "1.5"], "must be between 0 and 1"),
    (["train", "--ema", "slow"], "expected a number such as 0.999"),
    (["train", "--minutes", "0"], "must be more than 0"),
    (["train", "--minutes", "ten"], "expected a number of minutes"),
    (["train", "--minutes", "5", "--steps", "10"], "not allowed with argument"),
    (["train", "--jit", "maybe"], "invalid choice"),
    (["train", "--precision", "float16"], "invalid choice"),
    (["calibrate", "--steps", "0"], "must be at least 1"),
    (["evaluate"], "required: model"),
    (["fly"], "invalid choice"),
])
def test_bad_arguments_exit_2(argv, match, capsys):
    code, _, err = _run(argv, capsys)
    assert code == 2 and match in err


@pytest.mark.parametrize("argv, match", [
    (["train", "--labels", "15", "--steps", "2"], "multiple of the 10 classes"),
    (["train", "--labels", "-10", "--steps", "2"], "multiple of the 10 classes"),
    (["train", "--resume", "--steps", "2"], "--resume needs --out"),
    (["train", "--batch-size", "70000"], "batch_size (70000) cannot exceed the 60,000 training images"),
    (["train", "--labels", "60010", "--steps", "2"], "cannot exceed the 60,000 training images"),
])
def test_bad_values_exit_1(argv, match, capsys, tmp_path):
    code, _, err = _run(argv + ["--out", str(tmp_path / "x")] if "--resume" not in argv else argv,
                        capsys)
    assert code == 1 and match in _one_error_line(err)
    assert not (tmp_path / "x").exists()  # refused before anything was written or allocated


def test_occupied_out_folder_is_left_alone(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "classifier.keras").write_bytes(b"an earlier model")
    code, _, err = _run(["train", "--steps", "2", "--out", str(out)], capsys)
    assert code == 1 and "not empty" in _one_error_line(err) and "new --out" in err
    code, _, err = _run(["train", "--steps", "2", "--out", str(out), "--resume"], capsys)
    assert code == 1 and "Nothing to resume" in _one_error_line(err) and "new --out" in err
    assert (out / "classifier.keras").read_bytes() == b"an earlier model"
    code, _, err = _run(["train", "--steps", "2", "--out", str(tmp_path / "none"), "--resume"], capsys)
    assert code == 1 and "Nothing to resume" in err and "without --resume" in _one_error_line(err)


def test_bad_out_folders(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for argv in (["--out", str(a_file)], ["--out", str(a_file), "--resume"]):
        code, _, err = _run(["train", "--steps", "2", *argv], capsys)
        assert code == 1 and "is a file, not a folder" in _one_error_line(err)
    code, _, err = _run(["train", "--steps", "2", "--out", str(a_file / "run")], capsys)
    assert code == 1 and "cannot write in" in _one_error_line(err)
    assert a_file.read_text() == "mine"

    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: simulate the refusal a read-only folder gives
        def denied(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        monkeypatch.setattr(files, "_create_temp", denied)
    else:
        locked.chmod(0o555)
    try:
        code, _, err = _run(["train", "--steps", "2", "--out", str(locked / "run")], capsys)
    finally:
        locked.chmod(0o755)
    assert code == 1 and "Permission denied" in _one_error_line(err)


def test_bad_data_files(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv(data.DATA_DIR_ENV, str(folder))
    monkeypatch.setattr(data, "_keras_download", lambda name: (_ for _ in ()).throw(OSError("offline")))
    code, _, err = _run(["train", "--steps", "2", "--out", str(tmp_path / "a")], capsys)
    assert code == 1 and err.startswith(f"warning: {data.DATA_DIR_ENV}={folder} holds no mnist.npz")
    assert "downloading it failed" in _one_error_line(err)

    write_corrupt_compressed_npz(folder / "mnist.npz")  # a bad deflate stream: zlib.error inside
    code, _, err = _run(["train", "--steps", "2", "--out", str(tmp_path / "b")], capsys)
    assert code == 1 and "corrupt or truncated" in _one_error_line(err)


@pytest.mark.slow
def test_every_interruption_leaves_a_way_forward(tmp_path, capsys, monkeypatch, small_data):
    """Ctrl-C before the first periodic checkpoint, a full disk, a changed operational option,
    a checkpoint that does not fit: each ends in one clear line saying what works next."""
    out = tmp_path / "run"
    argv = ["train", *TINY, "--out", str(out)]
    real_step = SGANTrainer.train_step

    def ctrl_c_at_step_1(self):
        if self.step == 1:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(SGANTrainer, "train_step", ctrl_c_at_step_1)
    code, _, err = _run([*argv, "--checkpoint-every", "100"], capsys)
    assert code == 130 and f"--resume --out {out}" in err
    monkeypatch.setattr(SGANTrainer, "train_step", real_step)
    code, _, err = _run([*argv, "--checkpoint-every", "100"], capsys)  # a fresh start is refused ...
    assert code == 1 and "holds a run" in _one_error_line(err) and "--resume" in err

    real_savez = np.savez

    def full_disk_at_step_2(f, **arrays):
        if json.loads(str(arrays[checkpoints.META]))["step"] == 2:
            f.write(b"PK")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_savez(f, **arrays)

    monkeypatch.setattr(checkpoints.np, "savez", full_disk_at_step_2)
    code, _, err = _run([*argv, "--resume", "--checkpoint-every", "1"], capsys)  # ... --resume works
    line = _one_error_line(err)
    assert code == 1 and "checkpoint.npz: No space left on device" in line and "--resume" in line
    assert checkpoints.read(out / "checkpoint.npz")[1]["step"] == 1 and not files.stale_temps(out)
    monkeypatch.setattr(checkpoints.np, "savez", real_savez)
    code, stdout, _ = _run([*argv, "--resume", "--checkpoint-every", "1"], capsys)
    assert code == 0 and "after 4 steps" in stdout
    sessions = json.loads((out / "config.json").read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0, 0, 1]  # step-0 checkpoint, then step 1
    assert sessions[1]["changed_options"] == sessions[2]["changed_options"] == {
        "checkpoint_every": {"run": 100, "session": 1}}

    arrays = dict(np.load(out / "checkpoint.npz"))
    arrays["disc/conv_9/kernel"] = arrays.pop("disc/conv_3/kernel")
    np.savez(out / "checkpoint.npz", **arrays)
    code, _, err = _run([*argv, "--resume", "--checkpoint-every", "100"], capsys)
    assert code == 1 and "lacks 'disc/conv_3/kernel'" in _one_error_line(err)


def test_interrupted_before_anything_was_saved(tmp_path, capsys, monkeypatch):
    def ctrl_c(self, config, data=None):
        raise KeyboardInterrupt  # e.g. while the data loads

    monkeypatch.setattr(SGANTrainer, "__init__", ctrl_c)
    code, _, err = _run(["train", "--steps", "2", "--out", str(tmp_path / "run")], capsys)
    assert code == 130 and "without --resume" in err


def test_evaluate_bad_files(tmp_path, capsys):
    code, _, err = _run(["evaluate", str(tmp_path / "nope.keras")], capsys)
    assert code == 1 and "no such file" in err
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    code, _, err = _run(["evaluate", str(notes)], capsys)
    assert code == 1 and "not a Keras 3 model" in err


def test_train_then_evaluate_round_trip(tmp_path, capsys, small_data):
    """bfloat16 without --ema: history, the headline and the saved file give the same accuracy."""
    out = tmp_path / "run"
    code, stdout, _ = _run(["train", *TINY, "--precision", "mixed_bfloat16", "--out", str(out)], capsys)
    assert code == 0
    info = json.loads((out / "config.json").read_text())
    assert info["sessions"][0]["command"].startswith("python -m sgan_experiments train --steps 4")
    test_acc = json.loads((out / "history.json").read_text())["epochs"][-1]["test_acc"]
    assert f"Test accuracy {100 * test_acc:.2f}% with 100 labels after 4 steps" in stdout

    code, stdout, _ = _run(["evaluate", str(out / "classifier.keras")], capsys)
    assert code == 0
    lines = dict(line.split(": ") for line in stdout.strip().splitlines())
    assert lines["Test Accuracy"] == f"{100 * test_acc:.3f}%"
    assert 0 <= float(lines["Train Accuracy"].rstrip("%")) <= 100

    code, _, err = _run(["evaluate", str(out / "generator.keras")], capsys)
    assert code == 1 and "Is it the generator" in err

    # resume of a finished run: nothing left to do, nothing changes
    before = (out / "classifier.keras").read_bytes()
    code, _, _ = _run(["train", *TINY, "--precision", "mixed_bfloat16", "--out", str(out), "--resume"],
                      capsys)
    assert code == 0 and (out / "classifier.keras").read_bytes() == before


@pytest.mark.slow
def test_real_process_exit_codes(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    ok = subprocess.run([sys.executable, "-m", "sgan_experiments", "--help"], capture_output=True,
                        text=True, env=env)
    assert ok.returncode == 0 and "train" in ok.stdout and "evaluate" in ok.stdout
    # the former name, which the stored results' commands use, still runs the same command line
    bad = subprocess.run([sys.executable, "-m", "sgan_helpers", "evaluate", str(tmp_path / "x.keras")],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "error:" in bad.stderr and "Traceback" not in bad.stderr


def test_calibrate_times_each_setting_and_auto_then_uses_the_winner(tmp_path, capsys, monkeypatch):
    from sgan_experiments import speed

    monkeypatch.setenv(speed.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(speed, "detect_hardware",
                        lambda: speed.Hardware("test CPU", frozenset({"avx2", "avx512f"})))
    rates = {("float32", False): 2.0, ("float32", True): 2.5}  # a stand-in for the timed steps
    from sgan_experiments import training

    monkeypatch.setattr(training, "time_training_steps", lambda p, j, steps: rates[(p, j)])
    code, out, _ = _run(["calibrate", "--steps", "3"], capsys)
    assert code == 0 and "float32 +XLA" in out and "2.50 steps/s" in out
    assert "auto now chooses: precision=float32, XLA on (calibration" in out
    assert (tmp_path / "speed.json").is_file()
    choice = speed.resolve()  # the rule alone would say XLA off for this AVX-512 CPU
    assert (choice.jit_compile, choice.source) == (True, "calibration")


@pytest.mark.parametrize("argv, match", [
    (["train", "--recipe", "best"], "invalid choice"),
    (["train", "--noise-scale", "-1"], "must be 0 or more"),
    (["train", "--learning-rate", "0"], "must be more than 0"),
    (["train", "--generator-output", "tanh"], "invalid choice"),
    (["train", "--latent", "sphere"], "invalid choice"),
    (["train", "--adam-epsilon", "0"], "must be between 0 and 1"),
    (["train", "--adam-epsilon", "tiny"], "expected a small number"),
    (["train", "--sampling", "shuffle"], "invalid choice"),
    (["sweep", "--steps", "3", "--out", "x", "--set", "bogus=1"], "expected FIELD=VALUE"),
    (["sweep", "--steps", "3", "--out", "x", "--labels", "0"], "must be at least 1"),
    (["sweep", "--out", "x"], "required: --steps"),
    (["sweep", "--steps", "3", "--out", "x", "--evaluations", "0"], "must be at least 1"),
    (["sweep", "--steps", "3", "--out", "x", "--seeds", "0"], "must be at least 1"),
    (["sweep", "--steps", "3", "--out", "x", "--seeds"], "expected at least one argument"),
])
def test_bad_recipe_and_sweep_arguments_exit_2(argv, match, capsys):
    code, _, err = _run(argv, capsys)
    assert code == 2 and match in err


def test_bad_recipe_values_exit_1(tmp_path, capsys):
    code, _, err = _run(["train", "--noise-scale", "0.5", "--out", str(tmp_path / "r")], capsys)
    assert code == 1 and "noise_scale applies to architecture='mlp' only" in _one_error_line(err)
    code, _, err = _run(["train", "--init-noise", "--out", str(tmp_path / "r")], capsys)
    assert code == 1 and "init_noise applies to architecture='mlp' only" in _one_error_line(err)
    code, _, err = _run(["sweep", "--steps", "3", "--out", str(tmp_path / "s")], capsys)
    assert code == 1 and "--baseline-steps is needed" in _one_error_line(err)
    code, _, err = _run(["baseline", "--labels-from", str(tmp_path / "nowhere")], capsys)
    assert code == 1 and "no config.json there" in _one_error_line(err)


def test_baseline_from_an_sgan_run(tmp_path, capsys, small_data):
    sgan, base = tmp_path / "sgan", tmp_path / "base"
    code, _, _ = _run(["train", *TINY, "--recipe", "improved", "--labels", "50", "--seed", "3",
                       "--out", str(sgan)], capsys)
    assert code == 0
    code, stdout, _ = _run(["baseline", *TINY, "--recipe", "improved", "--labels-from", str(sgan),
                            "--out", str(base)], capsys)
    assert code == 0 and "Baseline (no GAN): Test accuracy (averaged weights)" in stdout
    a, b = (json.loads((d / "config.json").read_text()) for d in (sgan, base))
    assert a["labelled_indices"] == b["labelled_indices"] and len(b["labelled_indices"]) == 50
    assert b["config"]["method"] == "supervised" and b["config"]["seed"] == 3
    assert b["config"]["architecture"] == "mlp" and not (base / "generator.keras").exists()
    code, _, err = _run(["baseline", *TINY, "--labels-from", str(sgan), "--labels", "20",
                         "--out", str(tmp_path / "other")], capsys)
    assert code == 1 and "sets n_labels from that run" in _one_error_line(err)


def test_sweep_command_runs_and_skips(tmp_path, capsys, small_data):
    argv = ["sweep", "--labels", "20", "--draws", "1", "--steps", "2", "--baseline-steps", "2",
            "--precision", "float32", "--set", "noise_scale=0", "--evaluations", "2",
            "--out", str(tmp_path / "res"),
            "--runs", str(tmp_path / "runs")]
    code, stdout, _ = _run(argv, capsys)
    assert code == 0 and "2 cells" in stdout
    record = json.loads((tmp_path / "res" / "sgan-mnist-20labels-seed1.json").read_text())
    assert record["config"]["noise_scale"] == 0 and "--noise-scale 0" in record["command"]
    assert [p["step"] for p in record["curve"]] == [1, 2] and record["spec"]["evaluations"] == 2
    assert record["sweep_command"].startswith("python -m sgan_experiments sweep --labels 20")
    assert (tmp_path / "res" / "sgan-mnist-20labels-seed1.png").is_file()
    assert (tmp_path / "res" / "sgan-mnist-20labels-seed1.npz").is_file()  # the generator's images
    code, stdout, _ = _run(argv, capsys)
    assert code == 0 and "2 done" in stdout and "[1/2]" not in stdout


@pytest.mark.slow
def test_label_seed_option_and_sweep_setting(tmp_path, capsys, small_data):
    run = tmp_path / "run"
    code, _, _ = _run(["train", *TINY, "--labels", "20", "--seed", "4", "--label-seed", "2",
                       "--out", str(run)], capsys)
    assert code == 0
    info = json.loads((run / "config.json").read_text())
    assert info["config"]["seed"] == 4 and info["config"]["label_seed"] == 2
    draw2 = tmp_path / "draw2"
    assert _run(["train", *TINY, "--labels", "20", "--seed", "2", "--out", str(draw2)], capsys)[0] == 0
    assert info["labelled_indices"] == json.loads((draw2 / "config.json").read_text())["labelled_indices"]
    code, _, err = _run(["baseline", *TINY, "--labels-from", str(run), "--label-seed", "3",
                         "--out", str(tmp_path / "base")], capsys)
    assert code == 1 and "sets label_seed from that run" in _one_error_line(err)
    code, stdout, _ = _run(["sweep", "--labels", "20", "--draws", "2", "--steps", "2", "--methods", "sgan",
                            "--set", "label_seed=2", "--out", str(tmp_path / "res"), "--dry-run"], capsys)
    assert code == 0 and "[2/2] sgan-mnist-20labels-seed2" in stdout
    code, _, err = _run(["train", "--label-seed", "x", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "--label-seed" in err


def test_latent_float32_output_and_adam_epsilon_options(tmp_path, capsys, small_data):
    """--latent uniform, --float32-output and --adam-epsilon reach the run's config and its generator; refused
    for the CNNs."""
    run = tmp_path / "run"
    code, _, _ = _run(["train", "--recipe", "salimans", "--batch-size", "20", *TINY, "--labels", "20",
                       "--latent", "uniform", "--generator-output", "sigmoid", "--float32-output",
                       "--adam-epsilon", "1e-4", "--precision", "mixed_bfloat16", "--out", str(run)], capsys)
    assert code == 0
    config = json.loads((run / "config.json").read_text())["config"]
    chosen = ("latent", "generator_output", "float32_output", "adam_epsilon")
    assert tuple(config[k] for k in chosen) == ("uniform", "sigmoid", True, 1e-4)
    generator = evaluation.load_model(run / "generator.keras")  # safe_mode=True
    assert generator.get_layer("to_uniform").name == "to_uniform"
    assert generator.get_layer("g_pixels").compute_dtype == "float32"
    code, _, err = _run(["train", *TINY, "--latent", "uniform", "--out", str(tmp_path / "cnn")], capsys)
    assert code == 1 and "latent applies to architecture='mlp' only" in _one_error_line(err)
    assert not (tmp_path / "cnn").exists()


def test_sweep_seeds_train_only_those_draws(tmp_path, capsys):
    argv = ["sweep", "--labels", "20", "--draws", "3", "--steps", "2", "--methods", "sgan",
            "--out", str(tmp_path / "res"), "--dry-run"]
    code, stdout, _ = _run([*argv, "--seeds", "3"], capsys)
    assert code == 0 and "[1/1] sgan-mnist-20labels-seed3" in stdout
    assert "seed1" not in stdout and not (tmp_path / "res").exists()
    code, _, err = _run([*argv, "--seeds", "4"], capsys)
    assert code == 1 and "seeds must be among this sweep's draws 1..3" in _one_error_line(err)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "sweep"])
def test_sigterm_saves_the_step_and_says_how_to_go_on(tmp_path, capsys, monkeypatch, small_data, command):
    """kill <pid> (a scheduler's limit, Binder culling): the step in progress is checkpointed, the
    exit code is 130 and one line says what was kept and how to continue."""
    real_step = SGANTrainer.train_step

    def kill_during_step_2(self):
        if self.step == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_step(self)

    monkeypatch.setattr(SGANTrainer, "train_step", kill_during_step_2)
    out = tmp_path / "run"
    argv = (["train", *TINY, "--checkpoint-every", "100", "--out", str(out)] if command == "train" else
            ["sweep", "--labels", "20", "--draws", "1", "--steps", "4", "--methods", "sgan",
             "--precision", "float32", "--out", str(tmp_path / "res"), "--runs", str(tmp_path / "runs")])
    code, _, err = _run(argv, capsys)
    assert code == 130 and "(SIGTERM: stopped after step 2; checkpoint saved)" in err
    assert ("--resume --out" if command == "train" else "Run the same sweep command again") in err
    run = out if command == "train" else tmp_path / "runs" / "res" / "sgan-mnist-20labels-seed1"
    assert checkpoints.read(run / "checkpoint.npz")[1]["step"] == 2
    monkeypatch.setattr(SGANTrainer, "train_step", real_step)
    code, stdout, _ = _run([*argv, "--resume"] if command == "train" else argv, capsys)
    assert code == 0 and "Resuming at step 2" in stdout


def test_the_options_are_the_config_fields_written_once(capsys):
    """Each config field with a command-line form is an option of ``train`` (with its own help), the
    GAN-only ones are not options of ``baseline``, no option sets anything when left out, a sweep may
    ``--set`` the settable ones, and docs/cli.md's table is the one the fields make."""
    from pathlib import Path

    from conftest import load_script
    from sgan_experiments import cli, config

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--help"])
    train_help = capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["baseline", "--help"])
    baseline_help = capsys.readouterr().out
    for name, option in config.OPTIONS.items():
        flag = option.option_name(name)
        assert (flag in train_help) is option.cli, name
        assert (flag in baseline_help) is (option.cli and not option.sgan_only), name
    for recipe in ("tutorial", "faithful"):
        args = cli.build_parser().parse_args(["train", "--recipe", recipe])
        assert config.given_options(args) == {}
        assert cli.train_config(args, "sgan")[0] == config.recipe_config(recipe)
    from sgan_experiments.sweep import SETTABLE

    assert SETTABLE == tuple(n for n, o in config.OPTIONS.items() if o.settable) and "label_seed" in SETTABLE
    docs = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    block = docs.split("<!-- options: python tools/cli_options.py -->\n")[1].split("\n<!-- /options -->")[0]
    assert block == load_script("tools/cli_options.py").table(), "run python tools/cli_options.py"


@pytest.mark.parametrize("argv, field, problem", [
    (["--batch-size", "0"], "batch_size", 0), (["--ema", "1"], "ema_decay", 1.0),
    (["--minutes", "-2"], "minutes", -2.0), (["--seed", "-1"], "seed", -1),
    (["--unlabelled-weight", "-0.5"], "unlabelled_weight", -0.5),
    (["--learning-rate", "0"], "learning_rate", 0.0),
])
def test_one_rule_refuses_a_value_on_the_command_line_and_in_python(argv, field, problem, capsys):
    from sgan_experiments.config import TrainConfig

    code, _, err = _run(["train", *argv], capsys)
    with pytest.raises(ValueError) as refused:
        TrainConfig(**{field: problem})
    bound = str(refused.value).split(" must be ")[1].split(", got")[0]
    assert code == 2 and f"must be {bound}, got" in err
