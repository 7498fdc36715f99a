"""``python -m sgan_experiments``: see :mod:`sgan_experiments.cli`."""

from .cli import main

raise SystemExit(main())
