"""``python -m sgan_helpers``: see :mod:`sgan_helpers.cli`."""

from .cli import main

raise SystemExit(main())
