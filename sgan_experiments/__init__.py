"""The experiment layer beside the teaching package: how the series' stored results were made.

``sgan_helpers`` holds what the notebooks teach (the models, the SGAN's ``train_step``, evaluation,
plots). This package runs experiments with them and keeps their records:

* ``training``: the resumable trainer behind the command line (recipes, run folders, checkpoints at
  any step, bit-exact resume, the session record in ``config.json``);
* ``sweep``: SGAN against the baseline over label budgets and draws, one JSON record per run;
* ``speed``: ``auto`` precision and XLA for this machine, and the calibration that measures them;
* ``checkpoints``, ``stopping``, ``export``: one checkpoint file, a clean stop on a signal, the
  float32 copies saved for loading anywhere;
* ``cli``: ``python -m sgan_experiments train | baseline | sweep | evaluate | calibrate``.

It imports ``sgan_helpers``; no teaching module imports it (only ``python -m sgan_helpers``, the
command line's former name that the stored results record, forwards here).
"""
