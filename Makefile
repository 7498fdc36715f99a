# Front door. `make run` = set up + the main job; `make test` = set up + every test.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
MINUTES ?= 6

.PHONY: site test-oldest test-colab portable-models setup run train-full pretrained pretrained-improved sweep-salimans sweep-fast sweep-long sweep-paper sweep-ema sweep-epoch-batches sweep-label-draw2 sweep-faithful notebooks test lint sync-notebooks benchmark benchmark-avx2 benchmark-notebooks \
        keras2-venv profile calibrate lab clean results sweep sweep-series sweep-fashion ablations

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
# The tutorial's CNNs and 20-epoch schedule: `make train-full`.
RUN_ARGS ?=
run: setup
	$(PY) -m sgan_helpers train --recipe salimans --minutes $(MINUTES) --no-train-eval $(RUN_ARGS)

train-full: setup
	$(PY) -m sgan_helpers train --epochs 20

# Retrain the shipped classifier (pretrained/mnist_100labels/) with its exact recipe into runs/.
# ~38 min on a 2-core CPU with bfloat16 units; elsewhere use PRECISION=float32 (slower, not bit-identical).
PRECISION ?= mixed_bfloat16
pretrained: setup
	$(PY) -m sgan_helpers train --epochs 12 --schedule combined --precision $(PRECISION) --ema 0.999 \
	  --out runs/pretrained-$(PRECISION)-$$(date +%Y%m%d-%H%M%S)

# Does the GAN help? The stored results under results/ (notebooks 10-13 render them; docs/results.md).
# Each sweep is resumable: finished cells (one JSON each) are skipped, an interrupted one resumes.
# Measured on the 2-core AVX-512-BF16 machine of docs/results.md: sweep 59 min, sweep-series 20, sweep-fashion 16.
SWEEP_STEPS ?= 3000
results: sweep sweep-series sweep-fashion sweep-salimans ablations sweep-fast sweep-long

# MNIST, improved recipe: SGAN vs baseline at 20/50/100/200/1,000 labels x 3 draws, + every label.
sweep: setup
	$(PY) -m sgan_helpers sweep --recipe improved --dataset mnist --labels 20 50 100 200 1000 --draws 3 \
	  --steps $(SWEEP_STEPS) --baseline-steps $(SWEEP_STEPS) --ceiling-steps 6000 \
	  --out results/sweep-mnist-improved

# The series' own recipe (make run's, the shipped model's) at 100 labels x 3 draws: its error bar.
sweep-series: setup
	$(PY) -m sgan_helpers sweep --recipe series --dataset mnist --labels 100 --draws 3 \
	  --steps 1200 --baseline-steps 1200 --out results/sweep-mnist-series

# Fashion-MNIST, improved recipe, 100 labels x 3 draws, + every label.
sweep-fashion: setup
	$(PY) -m sgan_helpers sweep --recipe improved --dataset fashion_mnist --labels 100 --draws 3 \
	  --steps $(SWEEP_STEPS) --baseline-steps $(SWEEP_STEPS) --ceiling-steps 6000 \
	  --out results/sweep-fashion-improved

# The salimans recipe (improved + the initialisation of Salimans et al.'s code) at 100 labels x 3 draws,
# SGAN and baseline: the reference of the ablations below.
sweep-salimans: setup
	$(PY) -m sgan_helpers sweep --recipe salimans --dataset mnist --labels 100 --draws 3 \
	  --steps $(SWEEP_STEPS) --baseline-steps $(SWEEP_STEPS) --out results/sweep-mnist-salimans

# What each technique is worth (notebook 11): the salimans recipe with one thing changed, SGAN only,
# 100 labels x 3 draws, paired with sweep-salimans's runs (same seeds, images and length).
# NAME:FIELD=VALUE, one results/ablation-NAME folder each. (init_noise=false is the improved recipe,
# whose runs `make sweep` stored.)
# name:field=value[,field=value...]; sigmoid-float32-output: the paper's sigmoid with its layer in float32
ABLATIONS ?= no-feature-matching:generator_loss=bce no-noise:noise_scale=0 sigmoid-output:generator_output=sigmoid \
  sigmoid-float32-output:generator_output=sigmoid,float32_output=true
ablations: setup
	for a in $(ABLATIONS); do \
	  $(PY) -m sgan_helpers sweep --recipe salimans --dataset mnist --labels 100 --draws 3 \
	    --steps $(SWEEP_STEPS) --methods sgan --set $$(echo "$${a#*:}" | sed 's/,/ --set /g') \
	    --out "results/ablation-$${a%%:*}" || exit 1; \
	done

# 95 % in minutes: the salimans recipe, 6,000 steps (about 5 minutes of training on a 2-core AVX-512 CPU),
# 100 labels x 3 draws; each record's curve gives the time to each accuracy.
sweep-fast: setup
	$(PY) -m sgan_helpers sweep --recipe salimans --dataset mnist --labels 100 --draws 3 --steps 6000 \
	  --methods sgan --out results/fast-mnist-salimans

# Toward 99 %: the salimans recipe for 69,600 steps (116 epochs; about 55 minutes of training on a 2-core
# AVX-512-BF16 CPU, length fixed before the runs), 100 labels x 3 draws, 58 evaluations each (the curve
# gives the time to 99 %). About 3 hours; resumable: stop it any time, the same command goes on.
sweep-long: setup
	$(PY) -m sgan_helpers sweep --recipe salimans --dataset mnist --labels 100 --draws 3 --steps 69600 \
	  --evaluations 58 --methods sgan --out results/long-mnist-salimans

# The time to 99 %: Salimans et al.'s own length and schedule, 300 epochs (180,000 steps) at a constant
# learning rate, 100 labels x 3 draws, 150 evaluations each (raw and averaged weights). About 2 h 20 min of
# training per draw on a 2-core AVX-512-BF16 CPU; resumable: `kill PID` or Ctrl-C checkpoints the step
# and stops, the same command goes on. Not in `make results` (7 hours).
sweep-paper: setup
	$(PY) -m sgan_helpers sweep --recipe salimans --dataset mnist --labels 100 --draws 3 --steps 180000 \
	  --evaluations 150 --methods sgan --set lr_schedule=constant --out results/paper-mnist-salimans

# Salimans et al.'s longer weight average (their code's decay 0.9999; the recipe's 0.999) on sweep-paper's
# first 69,600 steps (the hour-long length, constant learning rate), 3 draws. The average only reads the
# weights, so on sweep-paper's machine a draw trains exactly what sweep-paper's did: a paired comparison.
# About 58 minutes per draw on a 2-core AVX-512-BF16 CPU; resumable; one draw alone: add --seeds 2.
sweep-ema: setup
	$(PY) -m sgan_helpers sweep --recipe salimans --dataset mnist --labels 100 --draws 3 --steps 69600 \
	  --evaluations 58 --methods sgan --set lr_schedule=constant --set ema_decay=0.9999 \
	  --out results/ema9999-mnist-salimans

# sweep-ema with the batches of Salimans et al.'s code too (--sampling epochs: the real images in passes,
# each in a new order, so every batch holds all 100 labelled images; the recipe draws with replacement).
# 54-60 minutes of training per draw on a 2-core Intel Xeon with AMX (its speed varied by the hour);
# resumable; one draw alone: add --seeds 2.
sweep-epoch-batches: setup
	$(PY) -m sgan_helpers sweep --recipe salimans --dataset mnist --labels 100 --draws 3 --steps 69600 \
	  --evaluations 58 --methods sgan --set lr_schedule=constant --set ema_decay=0.9999 \
	  --set sampling=epochs --out results/epoch-batches-mnist-salimans

# Labels or luck? sweep-epoch-batches' draw 2 (its weakest) has its labelled images trained under seeds 1
# and 3 too (--set label_seed=2: the labels of draw 2, every other random choice the seed's). Its seed-2 run
# computes what sweep-epoch-batches' draw 2 did (on the same CPU model: the same readings, a determinism
# check, not run yet at full length); add --seeds 1 3 for the two new runs alone (stored: 61.1 and 60.1
# minutes of training on a 2-core Intel Xeon with AMX; 98.63 and 98.68 %). Resumable.
sweep-label-draw2: setup
	$(PY) -m sgan_helpers sweep --recipe salimans --dataset mnist --labels 100 --draws 3 --steps 69600 \
	  --evaluations 58 --methods sgan --set lr_schedule=constant --set ema_decay=0.9999 \
	  --set sampling=epochs --set label_seed=2 --out results/label-draw2-mnist-salimans

# Every known difference from Salimans et al.'s MNIST code removed: sweep-epoch-batches (their average,
# batches and constant learning rate) with their sigmoid generator output, their uniform latent points and
# their Adam epsilon (about 1e-4), all in float32 as their code ran (notebooks 11 and 15).
# Draw 2 first (the weakest draw; resumable; one draw alone: add --seeds 2). Draw 2: 58.8 minutes of training,
# 99.03 %, on a 2-core Intel Xeon with AMX (float32 runs about as fast as bfloat16 for this MLP there).
sweep-faithful: setup
	$(PY) -m sgan_helpers sweep --recipe salimans --dataset mnist --labels 100 --draws 3 --steps 69600 \
	  --evaluations 58 --methods sgan --set lr_schedule=constant --set ema_decay=0.9999 \
	  --set sampling=epochs --set generator_output=sigmoid --set latent=uniform --set adam_epsilon=1e-4 \
	  --precision float32 --out results/faithful-mnist-salimans

# The shipped improved model (pretrained/mnist_100labels_improved/): draw 1 of sweep-faithful (every known
# difference from Salimans et al.'s code but the length removed), trained on its own: seed 1, 69,600 steps, float32
# (about an hour on a 2-core Intel Xeon with AMX), into runs/. The shipped folder is a copy of the sweep's draw-1
# run folder; this command computes the same run (docs/results.md: The improved model).
pretrained-improved: setup
	$(PY) -m sgan_helpers train --recipe salimans --lr-schedule constant --ema 0.9999 --sampling epochs \
	  --generator-output sigmoid --latent uniform --adam-epsilon 0.0001 --dataset mnist --labels 100 --seed 1 \
	  --steps 69600 --steps-per-epoch 1200 --no-train-eval --checkpoint-every 1000 --precision float32 \
	  --out runs/pretrained-improved-$$(date +%Y%m%d-%H%M%S)

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
	$(PY) -m sgan_helpers calibrate

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV) $(KERAS2) $(OLDEST) $(COLAB) build executed runs notebooks/sgan_runs .pytest_cache .ruff_cache
