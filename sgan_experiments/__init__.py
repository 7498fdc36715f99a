"""The experiment layer beside the teaching package: how the series' stored results were made.

``sgan_helpers`` holds what the notebooks teach (the models, the SGAN's ``train_step``, evaluation,
plots). This package runs experiments with them and keeps their records:

* ``recipes`` and ``config``: named, frozen recipes, and the training config whose every field carries
  its rule, help and command-line option;
* ``trainer``: the package's ``train_step`` driven one step at a time, with its state checkpointed
  (bit-exact resume); ``runs``: run folders and session records; ``training``: the run loop
  (``--minutes`` sizing, evaluation, checkpoints, a clean stop on a signal);
* ``experiments``: every stored experiment by name (``run-experiment NAME``);
* ``sweep``: SGAN against the baseline over label budgets and draws, one JSON record per run;
* ``speed``: ``auto`` precision and XLA for this machine, and the calibration that measures them;
* ``checkpoints``, ``stopping``, ``export``, ``sampling``: one checkpoint file, a clean stop on a
  signal, the float32 copies saved for loading anywhere, batches in passes;
* ``cli``: ``python -m sgan_experiments train | baseline | sweep | evaluate | calibrate | run-experiment``.

It imports ``sgan_helpers``; no teaching module imports it (only ``python -m sgan_helpers``, the
command line's former name that the stored results record, forwards here).
"""
