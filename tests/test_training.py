"""The trainer: update isolation, learning, determinism, resume, atomic files."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from conftest import n_changed, snapshot, tiny_config

from sgan_helpers import files, training
from sgan_helpers.training import RunFolderError, SGANTrainer, TrainConfig, run_training


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


def test_short_run_learns_well_above_chance(small_mnist):
    trainer = SGANTrainer(tiny_config(steps=40), data=small_mnist)
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
    classifier = keras.saving.load_model(out / "classifier.keras", safe_mode=True)
    assert np.array_equal(classifier.predict(trainer.x_test[:64], verbose=0).argmax(1),
                          trainer.predict_logits(trainer.x_test[:64]).argmax(1))


@pytest.mark.parametrize("options", [{}, {"ema_decay": 0.9}])
def test_killed_run_resumes_to_the_same_end(tmp_path, small_mnist, monkeypatch, options):
    config = tiny_config(**options)
    straight = run_training(config, tmp_path / "a", progress=False, data=small_mnist)

    real_step = SGANTrainer.train_step

    def dies_at_step_5(self):
        if self.step == 4:
            raise KeyboardInterrupt  # killed after the checkpoint of step 4
        return real_step(self)

    monkeypatch.setattr(SGANTrainer, "train_step", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        run_training(config, tmp_path / "b", progress=False, data=small_mnist)
    monkeypatch.setattr(SGANTrainer, "train_step", real_step)
    resumed = run_training(config, tmp_path / "b", resume=True, progress=False, data=small_mnist)

    assert resumed.step == straight.step == 6
    groups = lambda t: [v for vs in t._state_variables().values() for v in vs]  # noqa: E731
    for a, b in zip(groups(straight), groups(resumed), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    strip = lambda h: [{k: v for k, v in r.items() if k != "train_seconds"} for r in h]  # noqa: E731
    assert strip(straight.history["epochs"]) == strip(resumed.history["epochs"])
    assert straight.history["steps"] == resumed.history["steps"]
    sessions = json.loads((tmp_path / "b" / "config.json").read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0, 4]


def test_run_folder_guards(tmp_path, small_mnist):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "results.txt").write_text("precious")
    with pytest.raises(RunFolderError, match="not empty"):
        run_training(tiny_config(), busy, progress=False, data=small_mnist)
    assert (busy / "results.txt").read_text() == "precious"
    with pytest.raises(RunFolderError, match="Nothing to resume"):
        run_training(tiny_config(), tmp_path / "empty", resume=True, progress=False, data=small_mnist)

    run_training(tiny_config(steps=2, steps_per_epoch=2), tmp_path / "r", progress=False, data=small_mnist)
    with pytest.raises(RunFolderError, match="another config"):
        run_training(tiny_config(steps=2, steps_per_epoch=2, seed=9), tmp_path / "r", resume=True,
                     progress=False, data=small_mnist)


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

    monkeypatch.setattr(training.np, "savez", dying_savez)
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
])
def test_config_validation(options, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**options)


def test_config_defaults_are_the_tutorials():
    c = TrainConfig()
    assert (c.n_labels, c.batch_size, c.epoch_steps, c.total_steps) == (100, 100, 600, 12_000)
    assert (c.learning_rate, c.beta_1, c.latent_dim, c.schedule) == (2e-4, 0.5, 100, "tutorial")
    assert (c.generator_loss, c.precision, c.jit_compile) == ("bce", "float32", False)



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
    for shadow, e in zip(averaged.ema_vars, expected, strict=True):
        np.testing.assert_allclose(shadow.numpy(), e, rtol=1e-5, atol=1e-7)
    assert n_changed(averaged.ema_vars, snapshot(averaged.disc_vars)) == len(averaged.ema_vars)
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
    weights = "ema" if "ema_decay" in options else "raw"
    x = trainer.x_test[:200]
    agree = np.mean(classifier.predict(x, verbose=0).argmax(1)
                    == trainer.predict_logits(x, weights=weights).argmax(1))
    assert agree >= (1.0 if weights == "ema" else 0.95), agree  # bfloat16 rounding may flip a few
    record = trainer.history["epochs"][-1]
    assert record[trainer.headline_acc_key] == trainer.accuracy(trainer.x_test, trainer.y_test, weights)
