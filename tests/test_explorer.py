"""The latent-space explorer: geometry, scores, inversion, and the widget driven headless."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sgan_helpers import explorer

SHIPPED = Path(__file__).resolve().parents[1] / "pretrained" / "mnist_100labels"


def test_directions_are_orthonormal():
    d = explorer.directions(100, 4, seed=3)
    np.testing.assert_allclose(d @ d.T, np.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match="k must be between 1"):
        explorer.directions(10, 11)


def test_slerp_ends_and_keeps_length():
    rng = np.random.default_rng(0)
    z0, z1 = rng.standard_normal(100), rng.standard_normal(100)
    path = explorer.slerp(z0, z1, np.linspace(0, 1, 5))
    np.testing.assert_allclose(path[0], z0, atol=1e-5)
    np.testing.assert_allclose(path[-1], z1, atol=1e-5)
    lengths = np.linalg.norm(path, axis=1)
    assert lengths.min() > 0.9 * min(np.linalg.norm(z0), np.linalg.norm(z1))
    assert np.linalg.norm((z0 + z1) / 2) < 0.8 * lengths[2]  # the straight midpoint is much shorter


def test_neighbours_lie_at_the_radius():
    z = np.zeros(100, np.float32)
    n = explorer.neighbours(z, 6, radius=2.0, seed=1)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 2.0, rtol=1e-5)


@pytest.fixture(scope="module")
def models():
    return explorer.LatentModels(SHIPPED)


def test_scores_real_is_z_over_z_plus_one(models):
    z = np.random.default_rng(2).standard_normal((5, models.latent_dim)).astype(np.float32)
    s = models.scores(z)
    logits = np.asarray(models.logits(s.images), np.float64)
    zsum = np.exp(logits).sum(axis=1)
    np.testing.assert_allclose(s.real, zsum / (zsum + 1), rtol=1e-6)
    np.testing.assert_allclose(s.proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(s.proba, np.asarray(models.classifier(s.images)), atol=1e-5)


def test_inversion_recovers_a_generated_image(models):
    z_true = np.random.default_rng(4).standard_normal((1, models.latent_dim)).astype(np.float32)
    target = models.generate(z_true)[0]
    z, error = models.invert(target, steps=150)
    assert error < 0.02
    assert models.scores(z[None]).predicted[0] == models.scores(z_true).predicted[0]


def test_explorer_headless(models):
    ui = explorer.Explorer(models, [str(i) for i in range(10)], k=3, seed=0)
    start = ui.state["z"].copy()
    ui.sliders[1].value = -1.5
    np.testing.assert_allclose(ui.state["z"] - start, -1.5 * ui.dirs[1], atol=1e-5)
    ui.sliders[1].value = 0.0
    ui.t.value = 1.0
    np.testing.assert_allclose(ui.state["z"], ui.end, atol=1e-4)
    old_end = ui.end.copy()
    ui.pick_end()
    assert not np.array_equal(ui.end, old_end) and 0 <= ui.state["predicted"] < 10
    assert 0 < ui.state["real"] < 1 and 0.1 <= ui.state["confidence"] <= 1
