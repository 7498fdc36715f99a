"""Figures: what each plot draws (the notebooks show them; these check their content)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sgan_helpers import plotting  # noqa: E402


def _history(averaged: bool) -> dict:
    steps = [{"step": s, "c_loss": 1.0 / s, "d_real": 0.5, "d_fake": 0.6, "g_loss": 1.2}
             for s in (50, 100, 150)]
    epochs = []
    for step, acc in ((600, 0.84), (1200, 0.89)):
        record = {"step": step, "test_acc": acc, "train_acc": acc - 0.01, "labelled_acc": 1.0}
        if averaged:
            record.update(ema_test_acc=acc + 0.01, ema_train_acc=acc)
        epochs.append(record)
    return {"steps": steps, "epochs": epochs}


@pytest.mark.parametrize("averaged", [False, True])
def test_history_plot_draws_every_recorded_curve(averaged):
    fig = plotting.plot_history(_history(averaged), show_tutorial=True)
    ax_loss, ax_acc = fig.axes
    assert len(ax_loss.get_lines()) == 4
    labels = [line.get_label() for line in ax_acc.get_lines()]
    assert "2019 tutorial, train (Keras 2)" in labels
    if averaged:
        assert "test, 10,000 images, averaged weights" in labels
        assert "test, 10,000 images, training weights" in labels
        ema = next(x for x in ax_acc.get_lines() if x.get_label() == "test, 10,000 images, averaged weights")
        np.testing.assert_allclose(ema.get_ydata(), [85.0, 90.0])
    else:
        assert "test, 10,000 images" in labels and not any("averaged" in x for x in labels)
    plt.close(fig)


@pytest.mark.parametrize("fallback, summaries", [("note", 0), ("summary", 1)])
def test_diagram_without_graphviz_prints_the_summary_at_most_once(monkeypatch, capsys, fallback, summaries):
    import keras

    inputs = keras.Input((3,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2, name="only_layer")(inputs), name="tiny")
    monkeypatch.setattr(plotting, "graphviz_available", lambda: False)
    capsys.readouterr()
    assert plotting.architecture_diagram(model, "unused.png", fallback=fallback) is None
    out = capsys.readouterr().out
    assert "Graphviz" in out and out.count("only_layer") == summaries
    with pytest.raises(ValueError, match="fallback"):
        plotting.architecture_diagram(model, "unused.png", fallback="both")


def test_sgan_step_diagram_shows_which_weights_each_loss_moves():
    fig = plotting.sgan_step_diagram(half_batch=50, batch_size=100)
    texts = [t.get_text() for t in fig.axes[0].texts]
    moved = [t for t in texts if t.endswith("weights")]
    assert moved == ["discriminator\nweights"] * 3 + ["generator\nweights"]
    assert sum(t.startswith("50 ") for t in texts) == 3 and sum(t.startswith("100 ") for t in texts) == 1
    for loss in ("C loss", "D loss, real", "D loss, fake", "G loss"):
        assert sum(t.startswith(loss) for t in texts) == 1
    assert texts.count("G") == 2 and texts.count("D / C") == 4  # G in the two rows that make fakes
    assert any("through D" in t for t in texts)
    plt.close(fig)


def test_comparison_figures():
    from sgan_experiments.sweep import Summary

    names = [str(i) for i in range(10)]
    fig = plotting.plot_per_class({"a": np.linspace(0.5, 1, 10), "b": np.full(10, 0.7)}, names, "t")
    assert len(fig.axes[0].patches) == 20
    plt.close(fig)
    diff = np.zeros((10, 10), int)
    diff[3, 5], diff[5, 3] = -4, 2
    fig = plotting.plot_confusion_difference(diff, names, "t")
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert texts == {"-4", "+2"}
    plt.close(fig)
    summary = {("sgan", 20): Summary("sgan", 20, (0.5, 0.6, 0.7)),
               ("supervised", 20): Summary("supervised", 20, (0.4, 0.5, 0.45)),
               ("supervised", 60000): Summary("supervised", 60000, (0.98, 0.985, 0.99))}
    fig = plotting.plot_label_budget(summary, "t", ceiling=summary[("supervised", 60000)])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["20"]
    assert {"SGAN", "baseline (no GAN)", "baseline, all 60,000 labels"} <= {
        t.get_text() for t in ax.get_legend().get_texts()}
    plt.close(fig)
