# Front door. `make run` = set up + the main job; `make test` = set up + every test.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
MINUTES ?= 6

.PHONY: setup run experiment results test lint lab notebooks site benchmark benchmark-avx2 \
        benchmark-notebooks test-oldest test-colab portable-models sync-notebooks keras2-venv profile \
        calibrate clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,site]"
	@touch $@

# The main job: Salimans et al.'s MLP recipe (feature matching, weight-normalised MLPs, one combined
# D update, weight average) for 6 minutes of training, sized by time on any CPU: the trainer measures its
# step rate and picks the step count (recorded in config.json). It learns most per minute of the recipes
# measured (benchmarks/README.md). RUN_ARGS adds options, e.g. RUN_ARGS="--seed 2 --out runs/mine".
RUN_ARGS ?=
run: setup
	$(PY) -m sgan_experiments train --recipe salimans --minutes $(MINUTES) --no-train-eval $(RUN_ARGS)

# Every stored experiment is one named entry of sgan_experiments/experiments.py, run by one command:
#   make experiment                                 # list the names and what each measures
#   make experiment NAME=sweep-mnist-series         # run one (sweeps resume where they stopped)
#   make experiment NAME=long-mnist-salimans ARGS="--seeds 2"   # options are added to its command
# What each found, and what it cost: docs/results.md and the results/NAME/ records.
NAME ?=
ARGS ?=
experiment: setup
	$(PY) -m sgan_experiments run-experiment $(if $(NAME),$(NAME) $(ARGS),--list)

# Remake the stored results notebooks 10-13 read (about 6 hours on 2 cores; resumable).
results: setup
	$(PY) -m sgan_experiments run-experiment results

# Execute every notebook headless with its classroom parameters into executed/.
notebooks: setup
	@mkdir -p executed
	cd notebooks && for nb in [0-9][0-9]_*.ipynb; do \
	  ../$(PY) -m papermill --log-level WARNING -k python3 "$$nb" "../executed/$$nb" || exit 1; done
	@echo "Executed notebooks are in executed/"

lint: setup
	$(VENV)/bin/ruff check .

# Unit tests, then every notebook in a fresh kernel (nbval; SGAN_QUICK=1 keeps notebook 07 short).
# pytest-xdist runs one worker per core (pyproject's addopts); each notebook's cells stay in one kernel.
# The notebooks as they ran (build/executed/) then become the site, read in a headless browser.
test: setup lint
	rm -rf build/executed
	SGAN_QUICK=1 $(PY) -m pytest --nbval-lax tests notebooks
	$(PY) tools/site.py --executed build/executed --out build/site
	$(PY) -m pytest -n 0 site/test_site.py

# The series as a static site (build/site/html/): every notebook executed with its classroom
# parameters (`make notebooks`, about 20 minutes), the README as the front page.
site: notebooks
	$(PY) tools/site.py --executed executed --out build/site

# The lowest versions pyproject.toml allows (uv's lowest-direct resolution) in their own venv:
# the unit tests and every notebook.
OLDEST ?= .venv-oldest
$(OLDEST)/.installed: $(VENV)/.installed
	$(PYTHON) -m venv $(OLDEST)
	$(VENV)/bin/uv pip install --quiet --python $(OLDEST)/bin/python --resolution lowest-direct -e ".[dev]"
	@touch $@

test-oldest: $(OLDEST)/.installed
	SGAN_QUICK=1 $(OLDEST)/bin/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider \
	  tests notebooks

# Colab's path: its own TensorFlow/Keras pair installed first (COLAB_STACK), then the notebooks'
# setup cell (a clone, `pip install --no-deps`), then notebooks 01, 07 and 08 (the shipped models) in
# quick mode.
COLAB ?= .venv-colab
COLAB_STACK ?= tensorflow-cpu==2.19.0 keras==3.10.0 numpy==2.0.2
test-colab: setup
	$(PYTHON) -m venv $(COLAB)
	$(VENV)/bin/uv pip install --quiet --python $(COLAB)/bin/python $(COLAB_STACK) \
	  matplotlib ipywidgets tqdm pydot ipykernel papermill pip
	$(COLAB)/bin/python tools/colab_like.py --stack "$(COLAB_STACK)" 01_standard_discriminator 07_train_sgan \
	  08_evaluate_classifier

# Shipped models saved by the oldest allowed Keras: every newer release reads them, not the reverse.
portable-models: $(OLDEST)/.installed
	$(OLDEST)/bin/python tools/portable_models.py pretrained/*/*.keras

sync-notebooks: setup
	$(PY) tools/notebooks.py

# Speed, side by side, with the tutorial's own code on Keras 2 as the anchor (see benchmarks/README.md);
# the time to 95/97/99 % test accuracy, salimans vs series recipe, 5 training minutes each (~12 min);
# then `make run` itself for three seeds: wall time, peak memory, accuracy (~20 min).
benchmark: setup keras2-venv
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/time_to_accuracy.py --minutes 5
	$(PY) benchmarks/main_job.py

# The speed table and the main job on this machine with oneDNN and XLA capped at AVX2 (imitates an
# AVX2-only CPU).
benchmark-avx2: setup keras2-venv
	$(PY) benchmarks/speed.py --isa avx2
	$(PY) benchmarks/main_job.py --isa avx2

# Each notebook at its classroom defaults, one fresh kernel each: wall time and peak memory, stored
# under benchmarks/results/ with the machine (about 15 minutes).
benchmark-notebooks: setup
	$(PY) benchmarks/notebook_runtimes.py

# The anchor's own environment: the TensorFlow we use plus tf_keras (Keras 2), nothing of ours.
KERAS2 ?= .venv-keras2
keras2-venv: $(KERAS2)/.installed

$(KERAS2)/.installed: $(VENV)/.installed
	$(PYTHON) -m venv $(KERAS2)
	$(KERAS2)/bin/python -m pip install --quiet --upgrade pip
	TFV=$$($(PY) -c 'from importlib.metadata import version as v; print(v("tensorflow-cpu"))' 2>/dev/null \
	     || $(PY) -c 'from importlib.metadata import version as v; print(v("tensorflow"))'); \
	  TFPKG=$$($(PY) -c 'from importlib.metadata import version as v; v("tensorflow-cpu"); print("tensorflow-cpu")' \
	     2>/dev/null || echo tensorflow); \
	  $(KERAS2)/bin/python -m pip install --quiet "$$TFPKG==$$TFV" && \
	  $(KERAS2)/bin/python -m pip install --quiet --no-deps "tf_keras==$${TFV%.*}.*"
	@touch $@

# Per-op profile of one training step (installs xprof, the profiler's converter, on first use).
profile: setup
	$(PY) -c 'import xprof' 2>/dev/null || $(PY) -m pip install --quiet 'xprof>=2.20'
	$(PY) benchmarks/profile_step.py

# Time a few steps of each (precision, XLA) candidate here; `auto` then uses the fastest.
calibrate: setup
	$(PY) -m sgan_experiments calibrate

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV) $(KERAS2) $(OLDEST) $(COLAB) build executed runs notebooks/sgan_runs .pytest_cache .ruff_cache
