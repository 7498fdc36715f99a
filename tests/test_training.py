"""The trainer: update isolation, learning, determinism, resume, atomic files."""

from __future__ import annotations

import hashlib
import json

import keras
import numpy as np
import pytest

from conftest import assert_same_state, n_changed, snapshot, tiny_config, trainer_state
from sgan_experiments import checkpoints, speed
from sgan_experiments.config import TrainConfig
from sgan_experiments.runs import RunFolderError
from sgan_experiments.trainer import SGANTrainer
from sgan_experiments.training import run_training
from sgan_helpers import evaluation, files


def _silence(trainer: SGANTrainer, *optimizers: str) -> None:
    """Zero the learning rate of the named optimizers: their updates then change nothing."""
    for name in optimizers:
        getattr(trainer, name).learning_rate.assign(0.0)


@pytest.mark.parametrize("schedule, generator_loss", [
    ("tutorial", "bce"), ("combined", "bce"), ("tutorial", "feature_matching")])
def test_each_update_touches_only_its_weights(small_mnist, schedule, generator_loss):
    trainer = SGANTrainer(tiny_config(schedule=schedule, generator_loss=generator_loss),
                          data=small_mnist)
    disc, gen = trainer.disc_vars, trainer.gen_vars

    # everything on: both sides move
    d0, g0 = snapshot(disc), snapshot(gen)
    trainer.train_step()
    assert n_changed(disc, d0) == len(disc) and n_changed(gen, g0) == len(gen)

    # only the generator's optimizer on: the G update must leave D alone
    _silence(trainer, "c_opt", "d_opt")
    d0, g0 = snapshot(disc), snapshot(gen)
    trainer.train_step()
    assert n_changed(disc, d0) == 0 and n_changed(gen, g0) == len(gen)

    # generator's optimizer off: the C and D updates must leave G alone
    for name in ("c_opt", "d_opt"):
        getattr(trainer, name).learning_rate.assign(2e-4)
    _silence(trainer, "g_opt")
    d0, g0 = snapshot(disc), snapshot(gen)
    trainer.train_step()
    assert n_changed(disc, d0) == len(disc) and n_changed(gen, g0) == 0


def test_classifier_update_alone_moves_the_shared_body(small_mnist):
    trainer = SGANTrainer(tiny_config(), data=small_mnist)
    _silence(trainer, "d_opt", "g_opt")
    d0, g0 = snapshot(trainer.disc_vars), snapshot(trainer.gen_vars)
    trainer.train_step()
    assert n_changed(trainer.disc_vars, d0) == len(trainer.disc_vars)  # body + logits
    assert n_changed(trainer.gen_vars, g0) == 0


@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")  # the pitfall
def test_tutorial_code_trains_nothing_on_keras3_and_the_fix_works(small_mnist):
    from sgan_helpers import data
    from sgan_helpers.tutorial_style import TutorialStyleSGAN

    (x, y), _ = small_mnist
    x = data.preprocess(x)
    x_sup, y_sup = data.select_supervised(x, y, 100, np.random.default_rng(0))
    for fix in (False, True):
        keras.utils.set_random_seed(0)
        sgan = TutorialStyleSGAN(x, x_sup, y_sup, np.random.default_rng(0), keras3_fix=fix)
        disc, gen = sgan.c_model.weights, sgan.g_model.trainable_weights
        d0, g0 = snapshot(disc), snapshot(gen)
        sgan.step()
        sgan.step()
        if fix:
            assert n_changed(disc, d0) == len(disc) and n_changed(gen, g0) == len(gen)
            d0 = snapshot(disc)
            sgan.d_model.trainable = False  # what the fixed loop does around the G update
            sgan.gan_model.train_on_batch(np.zeros((4, 100), np.float32), np.ones((4, 1)))
            sgan.d_model.trainable = True
            assert n_changed(disc, d0) == 0
        else:  # verbatim order: the shared layers are frozen for C and D alike
            assert len(sgan.c_model.trainable_weights) == 0
            assert n_changed(disc, d0) == 0 and n_changed(gen, g0) == len(gen)


@pytest.mark.slow
def test_short_run_learns_well_above_chance(small_mnist):
    trainer = SGANTrainer(tiny_config(steps=40, batch_size=100), data=small_mnist)  # the tutorial's batch
    before = trainer.accuracy(trainer.x_test, trainer.y_test)
    for _ in range(40):
        metrics = trainer.train_step()
    after = trainer.accuracy(trainer.x_test, trainer.y_test)
    assert before < 0.25 and after > 0.35, (before, after)
    assert all(np.isfinite(v) for v in metrics.values())


def test_same_seed_same_run(small_mnist):
    runs = []
    for _ in range(2):
        trainer = SGANTrainer(tiny_config(seed=5), data=small_mnist)
        losses = [trainer.train_step() for _ in range(3)]
        runs.append((losses, snapshot(trainer.logits.variables + trainer.generator.variables)))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))
    other = SGANTrainer(tiny_config(seed=6), data=small_mnist)
    assert not np.array_equal(other.x_sup, SGANTrainer(tiny_config(seed=5), data=small_mnist).x_sup)


def test_label_seed_picks_the_labels_and_nothing_else(small_mnist):
    """label_seed=2 with seed 5: draw 2's labelled images, seed 5's training; unset, the seed picks both."""
    assert tiny_config(seed=5).labels_seed == 5 and tiny_config(seed=5, label_seed=2).labels_seed == 2
    own, draw2 = (SGANTrainer(tiny_config(seed=s), data=small_mnist) for s in (5, 2))
    mixed = SGANTrainer(tiny_config(seed=5, label_seed=2), data=small_mnist)
    assert np.array_equal(mixed.sup_index, draw2.sup_index) and mixed.sup_sha256 == draw2.sup_sha256
    assert not np.array_equal(mixed.sup_index, own.sup_index)
    # the rest of the run is seed 5's: the same initial generator and batch stream as its own run
    assert all(np.array_equal(a, b) for a, b in zip(snapshot(mixed.generator.variables),
                                                    snapshot(own.generator.variables), strict=True))
    assert np.array_equal(mixed.grid_latent, own.grid_latent)
    assert mixed.rng.integers(1 << 30) == own.rng.integers(1 << 30)
    assert TrainConfig.from_dict({k: v for k, v in tiny_config().to_dict().items()
                                  if k != "label_seed"}).label_seed is None, "older configs: seed picks"
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="label_seed must be (a whole number|0 or more)"):
            tiny_config(label_seed=bad)


def test_label_seed_equal_to_the_seed_is_the_seeds_own_run(small_mnist):
    """--label-seed 2 --seed 2 trains what --seed 2 trains, step for step (notebook 11 takes the stored
    draw 2 as that cell of its labels x seeds grid): the salimans recipe with batches in passes, the
    configuration of results/label-draw2-mnist-salimans."""
    from sgan_experiments.recipes import RECIPES

    options = {**RECIPES["salimans"].fields, "lr_schedule": "constant", "ema_decay": 0.9999,
               "sampling": "epochs", "seed": 2, "steps": 4}
    plain, labelled = (SGANTrainer(tiny_config(**options, label_seed=lab), data=small_mnist)
                       for lab in (None, 2))
    assert np.array_equal(plain.sup_index, labelled.sup_index)
    assert_same_state(trainer_state(plain), trainer_state(labelled))  # the same initial weights
    assert [plain.train_step() for _ in range(4)] == [labelled.train_step() for _ in range(4)]
    assert_same_state(trainer_state(plain), trainer_state(labelled))  # the same weights after
    assert plain.evaluate() == labelled.evaluate()


def test_run_folder_contents(tmp_path, small_mnist):
    out = tmp_path / "run"
    trainer = run_training(tiny_config(), out, command="pytest", progress=False, data=small_mnist)
    names = {p.name for p in out.iterdir()}
    assert {"classifier.keras", "generator.keras", "history.json", "config.json",
            "checkpoint.npz", "samples"} <= names
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    info = json.loads((out / "config.json").read_text())
    assert info["config"] == tiny_config().to_dict() and info["sessions"][0]["command"] == "pytest"
    assert info["sessions"][0]["end_step"] == 6 and info["wall_seconds"] > 0
    history = json.loads((out / "history.json").read_text())
    assert [r["step"] for r in history["epochs"]] == [3, 6]
    assert [r["step"] for r in history["steps"]] == [2, 4, 6]
    assert history == trainer.history
    assert not [p for p in out.rglob("*.tmp*")], "no temp files left behind"
    assert info["labelled_indices"] == trainer.sup_index.tolist()
    machine = info["sessions"][0]["machine"]
    assert info["sessions"][0]["op_determinism"] is False and machine["gpus"] == []
    assert (machine["cpu"], frozenset(machine["cpu_flags"])) == speed.cpu_flags(), "the CPU model is recorded"
    classifier = keras.saving.load_model(out / "classifier.keras", safe_mode=True)
    assert np.array_equal(classifier.predict(trainer.x_test[:64], verbose=0).argmax(1),
                          trainer.classifier()[0].predict(trainer.x_test[:64], verbose=0).argmax(1))


@pytest.mark.slow
def test_killed_run_with_weight_averaging_resumes_to_the_same_end(tmp_path, small_mnist, monkeypatch):
    config = tiny_config(ema_decay=0.9)
    straight = run_training(config, tmp_path / "a", progress=False, data=small_mnist)

    real_step = SGANTrainer.train_step

    def dies_at_step_6(self):
        if self.step == 5:
            raise KeyboardInterrupt  # killed between the checkpoints of steps 4 and 6
        return real_step(self)

    monkeypatch.setattr(SGANTrainer, "train_step", dies_at_step_6)
    with pytest.raises(KeyboardInterrupt):
        run_training(config, tmp_path / "b", progress=False, data=small_mnist)
    monkeypatch.setattr(SGANTrainer, "train_step", real_step)
    resumed = run_training(config, tmp_path / "b", resume=True, progress=False, data=small_mnist)

    assert resumed.step == straight.step == 6
    a, b = straight.checkpoint_variables(), resumed.checkpoint_variables()
    assert a.keys() == b.keys() and any(k.startswith("ema/") for k in a)
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)
    strip = lambda h: [{k: v for k, v in r.items() if k != "train_seconds"} for r in h]  # noqa: E731
    assert strip(straight.history["epochs"]) == strip(resumed.history["epochs"])
    assert straight.history["steps"] == resumed.history["steps"]
    sessions = json.loads((tmp_path / "b" / "config.json").read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0, 4]


def test_run_folder_guards(tmp_path, small_mnist):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "results.txt").write_text("precious")
    with pytest.raises(RunFolderError, match="not empty and holds no run"):
        run_training(tiny_config(), busy, progress=False, data=small_mnist)
    with pytest.raises(RunFolderError, match="Nothing to resume.*new --out"):
        run_training(tiny_config(), busy, resume=True, progress=False, data=small_mnist)
    assert [p.name for p in busy.iterdir()] == ["results.txt"]
    assert (busy / "results.txt").read_text() == "precious"
    with pytest.raises(RunFolderError, match="Nothing to resume.*without --resume"):
        run_training(tiny_config(), tmp_path / "empty", resume=True, progress=False, data=small_mnist)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for resume in (False, True):
        with pytest.raises(RunFolderError, match="is a file, not a folder"):
            run_training(tiny_config(), a_file, resume=resume, progress=False, data=small_mnist)
    assert a_file.read_text() == "mine"

    run = tmp_path / "r"
    config = tiny_config(steps=2, steps_per_epoch=2)
    run_training(config, run, progress=False, data=small_mnist)
    with pytest.raises(RunFolderError, match="not empty: it holds a run.*--resume"):
        run_training(config, run, progress=False, data=small_mnist)
    for changed in ({"seed": 9}, {"precision": "mixed_bfloat16"}, {"ema_decay": 0.9}):
        with pytest.raises(RunFolderError, match=f"another config.*{next(iter(changed))}"):
            run_training(tiny_config(steps=2, steps_per_epoch=2, **changed), run, resume=True,
                         progress=False, data=small_mnist)


def test_resume_may_change_how_a_run_is_operated(tmp_path, small_mnist):
    run = tmp_path / "r"
    config = tiny_config(steps=2, steps_per_epoch=2)
    run_training(config, run, progress=False, data=small_mnist)
    operated = tiny_config(steps=2, steps_per_epoch=2, checkpoint_every=7, eval_train=True, log_every=1)
    trainer = run_training(operated, run, resume=True, progress=False, data=small_mnist)
    assert trainer.step == 2
    info = json.loads((run / "config.json").read_text())
    assert info["config"] == config.to_dict()  # what the run is
    assert info["sessions"][1]["changed_options"] == {
        "checkpoint_every": {"run": 2, "session": 7}, "eval_train": {"run": False, "session": True},
        "log_every": {"run": 2, "session": 1}}
    assert "changed_options" not in info["sessions"][0]


def test_resume_refuses_other_labelled_images(tmp_path, small_mnist):
    """The run folder records which images were labelled; other data for the same seed is refused."""
    run = tmp_path / "r"
    config = tiny_config(steps=2, steps_per_epoch=2)
    trainer = run_training(config, run, progress=False, data=small_mnist)
    (x, y), test = small_mnist
    stored = json.loads((run / "config.json").read_text())["labelled_indices"]
    assert stored == trainer.sup_index.tolist() and len(stored) == 100
    np.testing.assert_array_equal(trainer.x_sup, trainer.x_train[stored])
    np.testing.assert_array_equal(y[stored], trainer.y_sup)
    info = json.loads((run / "config.json").read_text())
    assert info["labelled_sha256"] == hashlib.sha256(
        x[stored].tobytes() + y[stored].astype(np.int64).tobytes()).hexdigest()
    shuffled = np.random.default_rng(0).permutation(len(x))
    with pytest.raises(RunFolderError, match="labelled images"):
        run_training(config, run, resume=True, progress=False, data=((x[shuffled], y[shuffled]), test))
    brighter = x.copy()
    brighter[stored[0]] //= 2  # same labels, so the same indices, but another image
    with pytest.raises(RunFolderError, match="labelled images"):
        run_training(config, run, resume=True, progress=False, data=((brighter, y), test))


def test_corrupt_checkpoint_is_reported(tmp_path, small_mnist):
    trainer = SGANTrainer(tiny_config(), data=small_mnist)
    bad = tmp_path / "checkpoint.npz"
    bad.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(RunFolderError, match="cannot read the checkpoint"):
        trainer.load_checkpoint(bad)


def test_crash_during_write_keeps_the_old_file(tmp_path):
    target = files.write_json(tmp_path / "history.json", {"epochs": [1, 2]})

    def crash(path):
        path.write_text('{"epochs": [1, 2, 3')  # half written ...
        raise OSError("disk full")  # ... then the process dies

    with pytest.raises(OSError):
        files.write_with(target, crash)
    assert json.loads(target.read_text()) == {"epochs": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


def test_crash_during_checkpoint_keeps_the_last_good_one(tmp_path, small_mnist, monkeypatch):
    trainer = SGANTrainer(tiny_config(), data=small_mnist)
    trainer.train_step()
    path = tmp_path / "checkpoint.npz"
    trainer.save_checkpoint(path)
    good = path.read_bytes()
    trainer.train_step()

    def dying_savez(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.np, "savez", dying_savez)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == good and len(list(tmp_path.iterdir())) == 1
    monkeypatch.undo()
    fresh = SGANTrainer(tiny_config(), data=small_mnist)
    fresh.load_checkpoint(path)
    assert fresh.step == 1


def test_save_model_is_atomic(tmp_path):
    from sgan_helpers.discriminators import stacked_discriminators

    _, c = stacked_discriminators()
    path = files.save_model(c, tmp_path / "classifier.keras")
    assert keras.saving.load_model(path, safe_mode=True).output_shape == (None, 10)
    assert [p.name for p in tmp_path.iterdir()] == ["classifier.keras"]


@pytest.mark.parametrize("options, match", [
    ({"n_labels": 15}, "multiple of the 10 classes"), ({"n_labels": 0}, "multiple"),
    ({"schedule": "adam"}, "schedule"), ({"dataset": "cifar10"}, "Unknown dataset"),
    ({"batch_size": 7}, "even"), ({"steps": 0}, "steps"), ({"precision": "float16"}, "precision"),
    ({"generator_loss": "wgan"}, "generator_loss"),
    ({"batch_size": 70_000}, "cannot exceed the 60,000 training images"),
    ({"n_labels": 60_010}, "cannot exceed the 60,000 training images"),
])
def test_config_validation(options, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**options)


def test_op_determinism_is_turned_on_where_a_gpu_is_visible(monkeypatch):
    import tensorflow as tf

    from sgan_experiments import speed

    calls, gpus = [], []
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: calls.append(1))
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    assert speed.enable_gpu_determinism() is False and calls == []  # CPU: deterministic already
    gpus.append("/physical_device:GPU:0")
    assert speed.enable_gpu_determinism() is True and calls == [1]


def test_config_defaults_are_the_tutorials():
    c = TrainConfig()
    assert (c.n_labels, c.batch_size, c.epoch_steps, c.total_steps) == (100, 100, 600, 12_000)
    assert (c.learning_rate, c.beta_1, c.latent_dim, c.schedule) == (2e-4, 0.5, 100, "tutorial")
    assert (c.generator_loss, c.precision, c.jit_compile, c.minutes) == ("bce", "auto", "auto", None)


def test_auto_speed_is_resolved_recorded_and_kept_on_resume(tmp_path, small_mnist, monkeypatch):
    amx = speed.Hardware("test CPU", frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16"}))
    monkeypatch.setattr(speed, "detect_hardware", lambda: amx)
    monkeypatch.setenv(speed.CACHE_ENV, str(tmp_path / "cache"))  # no calibration stored
    out = tmp_path / "run"
    config = tiny_config(precision="auto", jit_compile="auto", steps=4)
    trainer = run_training(config, out, data=small_mnist, progress=False)
    assert (trainer.config.precision, trainer.config.jit_compile) == ("mixed_bfloat16", False)
    info = json.loads((out / "config.json").read_text())
    assert info["config"]["precision"] == "mixed_bfloat16" and info["config"]["jit_compile"] is False
    assert info["sessions"][0]["speed"]["source"] == "rule"

    # the same run resumed where "auto" would now say float32 + XLA: precision stays (it defines
    # the numbers), XLA is operational and follows the machine, and the change is recorded
    avx2 = speed.Hardware("test CPU", frozenset({"avx2"}))
    monkeypatch.setattr(speed, "detect_hardware", lambda: avx2)
    longer = tiny_config(precision="auto", jit_compile="auto", steps=4)
    resumed = run_training(longer, out, resume=True, data=small_mnist, progress=False)
    assert (resumed.config.precision, resumed.config.jit_compile) == ("mixed_bfloat16", True)
    session = json.loads((out / "config.json").read_text())["sessions"][-1]
    assert session["changed_options"] == {"jit_compile": {"run": False, "session": True}}


def test_a_run_sized_in_minutes_picks_and_records_its_steps(tmp_path, small_mnist):
    out = tmp_path / "run"
    config = tiny_config(steps=None, minutes=0.001, batch_size=10, steps_per_epoch=50,
                         checkpoint_every=100)
    assert config.sized_by_time
    trainer = run_training(config, out, data=small_mnist, progress=False)
    info = json.loads((out / "config.json").read_text())
    chosen = info["steps_from_minutes"]
    # a quarter of 0.06 s holds fewer steps than the 25 it takes to measure, so it stops right there
    assert chosen["measured_steps"] == [5, 25] and chosen["steps_per_s"] > 0
    assert trainer.step == chosen["steps"] == info["config"]["steps"] == info["total_steps"] == 25
    assert trainer.history["epochs"][-1]["step"] == 25
    # resuming a finished minutes run: the same command continues to the recorded step count
    again = run_training(tiny_config(steps=None, minutes=0.001, batch_size=10, steps_per_epoch=50,
                                     checkpoint_every=100), out, resume=True, data=small_mnist,
                         progress=False)
    assert again.step == 25
    with pytest.raises(RunFolderError, match="another config"):  # other minutes: another run
        run_training(tiny_config(steps=None, minutes=0.002, batch_size=10, steps_per_epoch=50),
                     out, resume=True, data=small_mnist, progress=False)


@pytest.mark.parametrize("options, match", [({"minutes": 0}, "minutes must be more than 0"),
                                            ({"jit_compile": "sometimes"}, "jit_compile must be"),
                                            ({"precision": "bf16"}, "precision must be")])
def test_speed_and_minutes_validation(options, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**options)



def test_weight_averaging_leaves_training_alone_and_averages(small_mnist):
    plain = SGANTrainer(tiny_config(), data=small_mnist)
    averaged = SGANTrainer(tiny_config(ema_decay=0.9), data=small_mnist)
    expected = snapshot(averaged.disc_vars)  # the average starts at the initial weights
    for n in range(1, 4):
        assert plain.train_step() == averaged.train_step()
        decay = min(0.9, (1 + n) / (10 + n))
        now = snapshot(averaged.disc_vars)
        expected = [decay * e + (1 - decay) * v for e, v in zip(expected, now, strict=True)]
    for a, b in zip(plain.disc_vars + plain.gen_vars, averaged.disc_vars + averaged.gen_vars, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # training is unchanged
    shadows = averaged.average.averaged_variables
    for shadow, e in zip(shadows, expected, strict=True):
        np.testing.assert_allclose(shadow.numpy(), e, rtol=1e-5, atol=1e-7)
    assert n_changed(shadows, snapshot(averaged.disc_vars)) == len(shadows)
    scores = averaged.evaluate()
    assert {"test_acc", "ema_test_acc", "labelled_acc", "ema_labelled_acc"} <= set(scores)


@pytest.mark.parametrize("options", [{"ema_decay": 0.99}, {"precision": "mixed_bfloat16"}])
def test_saved_models_are_float32_and_the_classifier_is_the_one_reported(tmp_path, small_mnist, options):
    trainer = run_training(tiny_config(**options), tmp_path / "run", progress=False, data=small_mnist)
    classifier = keras.saving.load_model(tmp_path / "run" / "classifier.keras", safe_mode=True)
    assert {layer.dtype_policy.name for layer in classifier.layers} == {"float32"}
    generator = keras.saving.load_model(tmp_path / "run" / "generator.keras", safe_mode=True)
    assert {layer.dtype_policy.name for layer in generator.layers} == {"float32"}
    fakes = np.asarray(generator(trainer.grid_latent[:4], training=False))
    assert fakes.dtype == np.float32
    np.testing.assert_allclose(fakes, np.asarray(trainer.generator(trainer.grid_latent[:4], training=False),
                                                 dtype=np.float32), atol=0.05)  # bfloat16 vs float32
    weights, prefix = ("ema", "ema_") if "ema_decay" in options else ("raw", "")
    x = trainer.x_test[:200]
    assert np.array_equal(classifier.predict(x, verbose=0).argmax(1),
                          trainer.classifier(weights)[0].predict(x, verbose=0).argmax(1))
    # what is reported is what is saved: history (and the CLI's headline) = the file, exactly
    record = trainer.history["epochs"][-1]
    saved = evaluation.load_classifier(tmp_path / "run" / "classifier.keras")
    assert record[trainer.headline_acc_key] == evaluation.accuracy(saved, trainer.x_test, trainer.y_test)
    assert record[f"{prefix}labelled_acc"] == evaluation.accuracy(saved, trainer.x_sup, trainer.y_sup)
    assert record[trainer.headline_acc_key] == trainer.accuracy(trainer.x_test, trainer.y_test, weights)


def _swap(items: list, a: int, b: int) -> list:
    items = list(items)
    items[a], items[b] = items[b], items[a]
    return items


def test_checkpoint_does_not_depend_on_variable_order(tmp_path, small_mnist, monkeypatch):
    """A Keras that lists variables (or layers) in another order must not swap same-shaped kernels."""
    import inspect

    saved = SGANTrainer(tiny_config(), data=small_mnist)
    saved.train_step()
    path = tmp_path / "checkpoint.npz"
    saved.save_checkpoint(path)

    fresh = SGANTrainer(tiny_config(), data=small_mnist)
    model_class = type(fresh.logits)
    variables = inspect.getattr_static(fresh.logits, "variables")
    layers = inspect.getattr_static(fresh.logits, "layers")
    names = [v.path for v in fresh.logits.variables]
    i, j = names.index("conv_2/kernel"), names.index("conv_3/kernel")  # both (3, 3, 128, 128)
    monkeypatch.setattr(model_class, "variables", property(lambda m: _swap(variables.fget(m), i, j)))
    monkeypatch.setattr(model_class, "layers", property(lambda m: layers.fget(m)[::-1]))
    fresh.load_checkpoint(path)
    monkeypatch.undo()
    for layer in ("conv_2", "conv_3"):
        np.testing.assert_array_equal(fresh.logits.get_layer(layer).kernel.numpy(),
                                      saved.logits.get_layer(layer).kernel.numpy())


def _rewrite(path, change) -> None:
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    np.savez(path, **arrays)


def test_checkpoint_that_does_not_fit_is_refused(tmp_path, small_mnist):
    """Keys compared as sets, then shapes and dtypes: the first difference is named, nothing restored."""
    trainer = SGANTrainer(tiny_config(), data=small_mnist)
    good = tmp_path / "good.npz"
    trainer.save_checkpoint(good)
    trainer.train_step()
    before = {k: v.numpy() for k, v in trainer.checkpoint_variables().items()}
    for change, match in [
        (lambda a: a.pop("disc/conv_2/kernel"), "lacks 'disc/conv_2/kernel'"),
        (lambda a: a.update({"disc/conv_4/kernel": a["disc/conv_3/kernel"]}), "holds 'disc/conv_4/kernel'"),
        (lambda a: a.update({"gen/project/bias": np.zeros(3, np.float32)}),
         r"'gen/project/bias' is float32\[3\] there, float32\[6272\] in the models"),
        (lambda a: a.pop("__meta__"), "older sgan_helpers that stored variables by position"),
    ]:
        path = tmp_path / "checkpoint.npz"
        path.write_bytes(good.read_bytes())
        _rewrite(path, change)
        with pytest.raises(RunFolderError, match=match):
            trainer.load_checkpoint(path)
        assert trainer.step == 1  # nothing was restored
        for key, v in trainer.checkpoint_variables().items():
            np.testing.assert_array_equal(v.numpy(), before[key])


def test_sizes_are_checked_before_anything_is_built(small_mnist, monkeypatch):
    from sgan_experiments import trainer

    monkeypatch.setattr(trainer, "stacked_discriminators", lambda **_: pytest.fail("built models"))
    with pytest.raises(ValueError, match="batch_size \\(4000\\) cannot exceed the 3,000 training images"):
        SGANTrainer(tiny_config(batch_size=4000), data=small_mnist)
    with pytest.raises(ValueError, match="asks for 500 examples of class 0, but the data holds only"):
        SGANTrainer(tiny_config(n_labels=5000), data=small_mnist)


@pytest.mark.slow
def test_the_step_compiles_with_xla_and_computes_the_same_losses(small_mnist):
    """XLA (``auto``'s choice for the CNN on AVX2-only CPUs and GPUs) compiles the step on any machine.
    It rounds differently and draws other dropout masks from the same seeds, so the losses agree
    closely, not bit for bit."""
    plain = SGANTrainer(tiny_config(), data=small_mnist)
    fused = SGANTrainer(tiny_config(jit_compile=True), data=small_mnist)
    assert fused._step_fn._jit_compile is True and plain._step_fn._jit_compile is False
    for _ in range(3):
        a, b = plain.train_step(), fused.train_step()
        assert a.keys() == b.keys() and all(b[k] == pytest.approx(a[k], rel=0.05) for k in a), (a, b)
