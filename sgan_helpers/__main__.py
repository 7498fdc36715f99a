"""``python -m sgan_helpers``: the command line's former name, kept so that the commands recorded in the
stored results still run. The command line is :mod:`sgan_experiments.cli`."""

from sgan_experiments.cli import main

raise SystemExit(main())
