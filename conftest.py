"""Loaded by every pytest run in this repository, including a bare `pytest --nbval-lax`.

Notebooks executed under pytest (nbval) run in their quick mode: the training notebook
then trains a few steps instead of its classroom length. Set SGAN_QUICK=0 to run them
at full length under pytest; papermill runs (tests/test_notebooks_papermill.py, `make
notebooks`) pass their own parameters.
"""

import os

os.environ.setdefault("SGAN_QUICK", "1")
