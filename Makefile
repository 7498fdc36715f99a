# Front door. `make run` = set up + the main job; `make test` = set up + every test.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STEPS  ?= 900

.PHONY: setup run train-full pretrained notebooks test lint sync-notebooks benchmark lab clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

# The main job: a short SGAN training run (~8 min on 2 CPU cores) that prints its test accuracy.
# The tutorial's full 20-epoch schedule: `make train-full` (about 1 h 40 min on 2 cores).
run: setup
	$(PY) -m sgan_helpers train --steps $(STEPS) --steps-per-epoch 300

train-full: setup
	$(PY) -m sgan_helpers train --epochs 20

# Retrain the shipped classifier (pretrained/mnist_100labels/) with its exact recipe into runs/.
# ~38 min on a 2-core CPU with bfloat16 units; elsewhere use PRECISION=float32 (slower, not bit-identical).
PRECISION ?= mixed_bfloat16
pretrained: setup
	$(PY) -m sgan_helpers train --epochs 12 --schedule combined --precision $(PRECISION) --ema 0.999 \
	  --out runs/pretrained-$(PRECISION)-$$(date +%Y%m%d-%H%M%S)

# Execute every notebook headless with its classroom parameters into executed/.
notebooks: setup
	@mkdir -p executed
	cd notebooks && for nb in [0-9][0-9]_*.ipynb; do \
	  ../$(PY) -m papermill --log-level WARNING -k python3 "$$nb" "../executed/$$nb" || exit 1; done
	@echo "Executed notebooks are in executed/"

lint: setup
	$(VENV)/bin/ruff check .

# Unit tests, then every notebook in a fresh kernel (nbval; SGAN_QUICK=1 keeps notebook 06 short).
test: setup lint
	SGAN_QUICK=1 $(PY) -m pytest --nbval-lax tests notebooks

sync-notebooks: setup
	$(PY) tools/notebooks.py

benchmark: setup
	$(PY) benchmarks/speed.py

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV) executed runs notebooks/sgan_runs .pytest_cache .ruff_cache
