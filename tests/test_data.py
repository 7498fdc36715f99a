"""The data module: loading, every bad file, preprocessing, the labelled subset, batches."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import write_corrupt_compressed_npz
from sgan_experiments.sampling import EpochBatches
from sgan_helpers import data


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _valid_arrays(n_train=60_000, n_test=10_000):
    return dict(x_train=np.zeros((n_train, 28, 28), np.uint8), y_train=np.zeros(n_train, np.uint8),
                x_test=np.zeros((n_test, 28, 28), np.uint8), y_test=np.zeros(n_test, np.uint8))


def test_load_matches_keras_layout(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60_000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60_000,) and x_test.shape == (10_000, 28, 28)
    assert y_test.dtype == np.uint8 and set(np.unique(y_train)) == set(range(10))
    assert x_train.max() == 255 and x_train.min() == 0


def test_load_fashion_mnist():
    try:
        (x_train, y_train), (x_test, _) = data.load_dataset("fashion_mnist")
    except data.DatasetUnavailableError:
        pytest.skip("Fashion-MNIST not available offline")
    assert x_train.shape == (60_000, 28, 28) and x_test.shape == (10_000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10


def test_offline_without_file_names_variable_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))

    def offline(name):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(data, "_keras_download", offline)
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load_dataset("mnist")
    message = str(err.value)
    assert data.DATA_DIR_ENV in message and "mnist.npz" in message and str(tmp_path) in message


def test_data_dir_without_the_file_says_so(tmp_path, monkeypatch, capsys):
    """The user set SGAN_DATA_DIR for a reason: falling back to Keras's cache must not be silent."""
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    arrays = _valid_arrays(10, 10)
    monkeypatch.setattr(data, "_keras_download",
                        lambda name: ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], None)))
    data.load_dataset("mnist")
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and f"{data.DATA_DIR_ENV}={tmp_path} holds no mnist.npz" in err
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "typo"))
    data.load_dataset("mnist")
    assert "is not a folder" in capsys.readouterr().err


def test_offline_with_variable_unset(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(data, "_keras_download", lambda name: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(data.DatasetUnavailableError, match="is not set"):
        data.load_dataset("fashion_mnist")


def test_file_in_data_dir_wins(tmp_path, monkeypatch):
    arrays = _valid_arrays()
    arrays["y_train"][:] = 7
    _write_npz(tmp_path / "mnist.npz", **arrays)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(data, "_keras_download", lambda name: pytest.fail("must not download"))
    (_, y_train), _ = data.load_dataset("mnist")
    assert np.all(y_train == 7)


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04garbage"])
def test_corrupt_file(tmp_path, content):
    path = tmp_path / "mnist.npz"
    path.write_bytes(content)
    with pytest.raises(data.DatasetFileError, match="corrupt or truncated") as err:
        data.read_npz(path)
    assert str(path) in str(err.value)


def test_corrupt_compressed_member(tmp_path):
    """A bad deflate stream inside the zip raises zlib.error, which must become the clear error."""
    path = tmp_path / "mnist.npz"
    write_corrupt_compressed_npz(path)
    with pytest.raises(data.DatasetFileError, match="corrupt or truncated") as err:
        data.read_npz(path)
    assert str(path) in str(err.value)


def test_truncated_real_file(tmp_path, mnist):
    full = tmp_path / "full.npz"
    (x_train, y_train), (x_test, y_test) = mnist
    np.savez(full, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    cut = tmp_path / "mnist.npz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(data.DatasetFileError, match="mnist.npz"):
        data.read_npz(cut)


def test_missing_keys(tmp_path):
    arrays = _valid_arrays()
    del arrays["y_test"]
    path = _write_npz(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(data.DatasetFileError, match=r"missing arrays \['y_test'\]"):
        data.read_npz(path)


@pytest.mark.parametrize("key, bad", [
    ("x_train", np.zeros((60_000, 32, 32), np.uint8)),
    ("x_test", np.zeros((10_000, 28, 28), np.float32)),
    ("y_train", np.zeros(59_999, np.uint8)),
])
def test_wrong_shape_or_dtype(tmp_path, key, bad):
    arrays = _valid_arrays()
    arrays[key] = bad
    path = _write_npz(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(data.DatasetFileError, match=key):
        data.read_npz(path)


def test_label_out_of_range(tmp_path):
    arrays = _valid_arrays()
    arrays["y_test"][3] = 12
    path = _write_npz(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(data.DatasetFileError, match="label 12"):
        data.read_npz(path)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar'.*fashion_mnist, mnist"):
        data.load_dataset("cifar")


def test_preprocess(mnist):
    (x_train, _), _ = mnist
    x = data.preprocess(x_train[:100])
    assert x.shape == (100, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert np.array_equal(data.preprocess(x_train[:100, :, :, None]), x)


def test_preprocess_rejects_scaled_or_misshapen():
    with pytest.raises(ValueError, match="uint8"):
        data.preprocess(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        data.preprocess(np.zeros((2, 32, 32), np.uint8))


def test_check_model_input():
    good = np.zeros((3, 28, 28, 1), np.float32)
    assert data.check_model_input(good) is not None
    with pytest.raises(ValueError, match="shape"):
        data.check_model_input(np.zeros((3, 28, 28), np.float32))
    with pytest.raises(ValueError, match="dtype uint8"):
        data.check_model_input(np.zeros((3, 28, 28, 1), np.uint8))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        data.check_model_input(np.full((3, 28, 28, 1), 255.0, np.float32))


def test_select_supervised_balanced_without_replacement(mnist):
    (x_train, y_train), _ = mnist
    x, y = data.select_supervised(x_train, y_train, 100, np.random.default_rng(0))
    assert x.shape == (100, 28, 28) and np.bincount(y).tolist() == [10] * 10
    assert len(np.unique(x.reshape(100, -1), axis=0)) == 100
    x2, y2 = data.select_supervised(x_train, y_train, 100, np.random.default_rng(0))
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    x3, _ = data.select_supervised(x_train, y_train, 100, np.random.default_rng(1))
    assert not np.array_equal(x, x3)


def test_select_supervised_indices_are_the_selected_images(mnist):
    (x_train, y_train), _ = mnist
    index = data.select_supervised_indices(y_train, 100, np.random.default_rng(0))
    x, y = data.select_supervised(x_train, y_train, 100, np.random.default_rng(0))
    assert index.shape == (100,) and len(set(index.tolist())) == 100
    assert np.array_equal(x_train[index], x) and np.array_equal(y_train[index], y)


@pytest.mark.parametrize("n, match", [
    (0, "positive"), (-10, "positive"), (105, "evenly over 10 classes"),
    (2.5, "whole number"), (True, "whole number"), (60_000, "holds only"),
])
def test_select_supervised_bad_counts(mnist, n, match):
    (x_train, y_train), _ = mnist
    with pytest.raises(ValueError, match=match):
        data.select_supervised(x_train, y_train, n, np.random.default_rng(0))


def test_batches_repeat_exactly_from_seed(mnist):
    (x_train, y_train), _ = mnist
    a = data.real_batch(x_train, y_train, 50, np.random.default_rng(3))
    b = data.real_batch(x_train, y_train, 50, np.random.default_rng(3))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    z1 = data.latent_points(10, 100, np.random.default_rng(4))
    z2 = data.latent_points(10, 100, np.random.default_rng(4))
    assert z1.shape == (10, 100) and z1.dtype == np.float32 and np.array_equal(z1, z2)
    assert abs(float(data.latent_points(20_000, 10, np.random.default_rng(5)).std()) - 1) < 0.02


def test_epoch_batches_take_every_image_once_per_pass():
    batches = EpochBatches(n=7, size=3, key=(5, 3))
    stream = np.concatenate([batches.indices(t) for t in range(14)])  # 42 positions = 6 passes
    for k in range(6):
        assert sorted(stream[7 * k:7 * (k + 1)]) == list(range(7)), f"pass {k}"
    assert not all((stream[:7] == stream[7 * k:7 * (k + 1)]).all() for k in range(1, 6)), "a new order"
    # a function of the step: a fresh object (a resumed run) draws the same batch, in any order of calls
    np.testing.assert_array_equal(EpochBatches(7, 3, (5, 3)).indices(9), stream[27:30])
    assert not np.array_equal(EpochBatches(7, 3, (6, 3)).indices(9), stream[27:30]), "seeded"
    # 100 labelled images, batches of 100: every batch is all of them, each once
    full = EpochBatches(100, 100, (1, 3))
    assert all(sorted(full.indices(t)) == list(range(100)) for t in (0, 1, 57))
    with pytest.raises(ValueError, match="at least one image"):
        EpochBatches(0, 3, (1,))
