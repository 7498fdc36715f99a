"""The checkpoint unit on its own: stable keys, checked restores, one atomic file."""

from __future__ import annotations

import numpy as np
import pytest

from sgan_experiments import checkpoints
from sgan_helpers.discriminators import logits_model, make_optimizer, stacked_discriminators


def test_keys_do_not_depend_on_what_else_the_process_built():
    """Keras numbers auto-named paths per process (seed_generator_1, adam_2): keys must not."""
    first, second = (logits_model(stacked_discriminators()[1]) for _ in range(2))
    assert list(checkpoints.model_variables(first)) == list(checkpoints.model_variables(second))
    assert "dropout/seed_generator_state" in checkpoints.model_variables(first)
    optimizers = [make_optimizer() for _ in range(2)]
    for opt, model in zip(optimizers, (first, second), strict=True):
        opt.build(model.trainable_variables)
    assert list(checkpoints.optimizer_variables(optimizers[0])) == \
        list(checkpoints.optimizer_variables(optimizers[1]))


def test_save_read_restore_and_refuse(tmp_path):
    source, target = (logits_model(stacked_discriminators()[1]) for _ in range(2))
    path = tmp_path / "ckpt.npz"
    checkpoints.save(path, checkpoints.model_variables(source), {"step": 7})
    arrays, meta = checkpoints.read(path)
    assert meta == {"format": checkpoints.FORMAT, "step": 7}
    variables = checkpoints.model_variables(target)
    arrays["class_logits/kernel"] = arrays["class_logits/kernel"][:, :5]
    before = {k: v.numpy() for k, v in variables.items()}
    with pytest.raises(checkpoints.CheckpointError, match=r"'class_logits/kernel' is float32\[2048, 5\]"):
        checkpoints.restore(variables, arrays)
    assert all(np.array_equal(v.numpy(), before[k]) for k, v in variables.items())  # nothing assigned
    checkpoints.restore(variables, checkpoints.read(path)[0])
    for key, v in checkpoints.model_variables(source).items():
        np.testing.assert_array_equal(variables[key].numpy(), v.numpy())
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]


def test_unreadable_checkpoints(tmp_path):
    path = tmp_path / "ckpt.npz"
    path.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(checkpoints.CheckpointError, match="cannot read the checkpoint"):
        checkpoints.read(path)
    np.savez(path, **{"disc/0": np.zeros(3), "meta": np.array("{}")})  # the old, positional format
    with pytest.raises(checkpoints.CheckpointError, match="stored variables by position"):
        checkpoints.read(path)
