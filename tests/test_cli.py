"""``python -m sgan_helpers``: clear errors, non-zero exits, nothing overwritten, evaluate."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sgan_helpers.cli import main


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize("argv, match", [
    (["train", "--steps", "0"], "must be at least 1"),
    (["train", "--epochs", "two"], "expected a whole number"),
    (["train", "--epochs", "2", "--steps", "5"], "not allowed with argument"),
    (["train", "--dataset", "cifar10"], "invalid choice"),
    (["train", "--schedule", "fast"], "invalid choice"),
    (["train", "--ema", "1.5"], "must be between 0 and 1"),
    (["train", "--ema", "slow"], "expected a number such as 0.999"),
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
])
def test_bad_values_exit_1(argv, match, capsys, tmp_path):
    code, _, err = _run(argv + ["--out", str(tmp_path / "x")] if "--resume" not in argv else argv,
                        capsys)
    assert code == 1 and match in err and err.startswith("error: ")


def test_occupied_out_folder_is_left_alone(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "classifier.keras").write_bytes(b"an earlier model")
    code, _, err = _run(["train", "--steps", "2", "--out", str(out)], capsys)
    assert code == 1 and "not empty" in err and "--resume" in err
    assert (out / "classifier.keras").read_bytes() == b"an earlier model"
    code, _, err = _run(["train", "--steps", "2", "--out", str(tmp_path / "none"), "--resume"], capsys)
    assert code == 1 and "Nothing to resume" in err


def test_evaluate_bad_files(tmp_path, capsys):
    code, _, err = _run(["evaluate", str(tmp_path / "nope.keras")], capsys)
    assert code == 1 and "no such file" in err
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    code, _, err = _run(["evaluate", str(notes)], capsys)
    assert code == 1 and "not a Keras 3 model" in err


def test_train_then_evaluate_round_trip(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _run(["train", "--steps", "4", "--steps-per-epoch", "4", "--out", str(out),
                            "--no-train-eval", "--quiet"], capsys)
    assert code == 0 and "Test accuracy" in stdout
    info = json.loads((out / "config.json").read_text())
    assert info["sessions"][0]["command"].startswith("python -m sgan_helpers train --steps 4")
    test_acc = json.loads((out / "history.json").read_text())["epochs"][-1]["test_acc"]

    code, stdout, _ = _run(["evaluate", str(out / "classifier.keras")], capsys)
    assert code == 0
    lines = dict(line.split(": ") for line in stdout.strip().splitlines())
    assert float(lines["Test Accuracy"].rstrip("%")) == pytest.approx(100 * test_acc, abs=0.01)
    assert 0 <= float(lines["Train Accuracy"].rstrip("%")) <= 100

    code, _, err = _run(["evaluate", str(out / "generator.keras")], capsys)
    assert code == 1 and "Is it the generator" in err

    # resume of a finished run: nothing left to do, nothing changes
    before = (out / "classifier.keras").read_bytes()
    code, _, _ = _run(["train", "--steps", "4", "--steps-per-epoch", "4", "--out", str(out),
                       "--no-train-eval", "--quiet", "--resume"], capsys)
    assert code == 0 and (out / "classifier.keras").read_bytes() == before


def test_real_process_exit_codes(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    ok = subprocess.run([sys.executable, "-m", "sgan_helpers", "--help"], capture_output=True,
                        text=True, env=env)
    assert ok.returncode == 0 and "train" in ok.stdout and "evaluate" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "sgan_helpers", "evaluate", str(tmp_path / "x.keras")],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "error:" in bad.stderr and "Traceback" not in bad.stderr
