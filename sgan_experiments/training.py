"""Training into a run folder: :func:`run_training`, the loop behind ``python -m sgan_experiments train``.

The loop calls :meth:`SGANTrainer.train_step <sgan_experiments.trainer.SGANTrainer.train_step>` (the
teaching package's model's ``train_step``) and around it does what a long run needs: it sizes a
``minutes`` run from the step rate it measures, evaluates and saves the float32 models at each epoch's
end, checkpoints every ``checkpoint_every`` steps, and on SIGTERM or Ctrl-C keeps the step it is in,
checkpoints and stops; ``resume=True`` then ends bit for bit where an uninterrupted run ends.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sgan_helpers import data as data_mod
from sgan_helpers import files

from . import stopping
from .config import OPERATIONAL_FIELDS, TrainConfig
from .export import standalone
from .runs import CHECKPOINT, CONFIG, RunFolderError, check_run_folder, machine, run_wall_seconds
from .trainer import SGANTrainer, StepMetrics

EVALUATIONS = 5
"""A ``minutes`` run without ``steps_per_epoch`` evaluates about this often, on any machine."""
PROBE_STEPS = (5, 20)
PROBE_SECONDS = 30.0
"""A ``minutes`` run skips 5 steps (tracing, compiling), times the next 20 or more, until at least
30 seconds have passed (or a quarter of the run's time, if shorter: the learning rate holds for its
first half), then fixes its step count; it evaluates only after that. A fast model (the MLP: 20 steps
in about 1.3 s) would otherwise size a run on a second's jitter; on a shared 2-core AVX2 VM the MLP's
rate swung between 5 and 11 steps/s within a minute, and a 10-second probe sized 6-minute runs to 4."""


def run_training(
    config: TrainConfig,
    out_dir: Path | str,
    resume: bool = False,
    command: str | None = None,
    progress: bool | None = None,
    data: data_mod.Arrays | None = None,
    expect_indices: list[int] | None = None,
) -> SGANTrainer:
    """Train into ``out_dir``, checkpointing as we go; ``resume=True`` continues an interrupted run.

    Writes (all atomically): ``config.json`` (config, the labelled images' indices and
    SHA-256, and per session: command, machine, steps, wall time, changed operational options),
    ``checkpoint.npz`` (at step 0, then every ``checkpoint_every`` steps and at each epoch
    end), ``history.json``, ``samples/epoch_NNN.png``, and at each epoch end
    ``classifier.keras`` and ``generator.keras``. From the moment ``config.json`` exists,
    ``resume=True`` works; before, a new run does. ``progress=None`` shows a bar only on a
    terminal/notebook. ``expect_indices``: the labelled images another run used (a baseline
    must train on exactly those); a different draw is refused before anything is written.
    """
    from tqdm.auto import tqdm

    from sgan_helpers.plotting import save_sample_grid

    out = Path(out_dir)
    config_path, ckpt_path = out / CONFIG, out / CHECKPOINT
    info = check_run_folder(config, out, resume)
    if info is None and out.is_dir():
        files.remove_stale_temps(out)  # an interrupted first write of config.json
    files.check_writable(out)  # fail now, not after loading data and building models
    if info is not None:  # resume: the run's own config, with this session's operational options
        asked = config
        config = replace(TrainConfig.from_dict(info["config"]),
                         **{k: getattr(asked, k) for k in OPERATIONAL_FIELDS})
    config, choice = config.resolve_speed(resumed=info is not None)
    length = (f"about {config.minutes:g} min of training, steps chosen from the measured speed"
              if config.sized_by_time else f"{config.total_steps} steps")
    print(f"Run folder: {out}  ({length}, schedule={config.schedule})", flush=True)
    print(f"Speed: {choice.describe()}", flush=True)

    trainer = SGANTrainer(config, data=data)
    trainer.speed = choice
    if expect_indices is not None and trainer.sup_index.tolist() != list(expect_indices):
        raise RunFolderError(
            "the labelled images differ from the run's (its config.json lists other indices for the "
            "same dataset, labels and seed: the dataset file changed?); nothing was written.")
    if info is not None:
        files.remove_stale_temps(out)  # left by a kill -9 in the middle of a write
        if ckpt_path.is_file():
            trainer.load_checkpoint(ckpt_path)
        stored = (info.get("labelled_indices"), info.get("labelled_sha256"))
        if stored != (None, None) and stored != (trainer.sup_index.tolist(), trainer.sup_sha256):
            raise RunFolderError(
                f"{config_path}: the run's labelled images are not the ones this dataset gives for "
                f"its seed: the dataset file changed. Resume with the original data, or start a new run.")
        changed = TrainConfig.from_dict(info["config"]).differences(config, operational=True)
        print(f"Resuming at step {trainer.step}"
              + (f"; changed: {', '.join(f'{k} {a} -> {b}' for k, (a, b) in changed.items())}"
                 if changed else ""), flush=True)
    else:
        info = {"config": config.to_dict(), "sessions": [],
                "total_steps": None if config.sized_by_time else config.total_steps}
        changed = {}
    session: dict[str, Any] = {
        "command": command, "machine": machine(), "speed": choice.to_dict(),
        "op_determinism": trainer.op_determinism,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "start_step": trainer.step,
        "end_step": trainer.step, "wall_seconds": 0.0}
    if changed:
        session["changed_options"] = {k: {"run": a, "session": b} for k, (a, b) in changed.items()}
    info["sessions"].append(session)
    info["labelled_sha256"] = trainer.sup_sha256
    info["labelled_indices"] = trainer.sup_index.tolist()  # audit; a baseline can use the same images
    files.write_json(config_path, info)
    if not ckpt_path.is_file():
        trainer.save_checkpoint(ckpt_path)  # step 0: from now on --resume always works
    session_start = time.perf_counter()

    saved_step = trainer.step  # the step the checkpoint on disk holds

    def note_session(**extra: Any) -> None:
        """Note in config.json how far this session got and how long it took (``extra``: end fields)."""
        session.update(end_step=trainer.step, wall_seconds=round(time.perf_counter() - session_start, 1),
                       **extra)
        info["train_seconds"] = round(trainer.train_seconds, 1)
        info["wall_seconds"] = run_wall_seconds(info["sessions"])
        files.write_json(config_path, info)

    def checkpoint(**extra: Any) -> None:
        """Save the checkpoint (unless it already holds this step), then note the session, so a run
        killed later still counts the time up to here."""
        nonlocal saved_step
        if saved_step != trainer.step:
            trainer.save_checkpoint(ckpt_path)
            saved_step = trainer.step
        note_session(**extra)

    total = None if config.sized_by_time else config.total_steps
    per_epoch = config.epoch_steps
    if config.sized_by_time and config.steps_per_epoch is None:
        per_epoch = sys.maxsize  # no evaluation inside the probe: set once the step count is known
    bar = tqdm(total=total, initial=trainer.step, unit="step", dynamic_ncols=True,
               desc="SGAN" if config.method == "sgan" else "baseline",
               disable=None if progress is None else not progress)
    tick = time.perf_counter()
    probe: tuple[int, float] | None = None  # (step, time) where a minutes run starts timing
    first_step = trainer.step

    def clock() -> None:  # add the time since the last tick to the training time
        nonlocal tick
        now = time.perf_counter()
        trainer.train_seconds += now - tick
        tick = now

    with stopping.StopRequests() as stop:
        while total is None or trainer.step < total:
            metrics = trainer.train_step()
            trainer.window.add(metrics)
            trainer.epoch_metrics.add(metrics)
            bar.update(1)
            step = trainer.step
            if total is None and probe is None and step == first_step + PROBE_STEPS[0]:
                probe = (step, time.perf_counter())
            elif (total is None and probe is not None and step >= probe[0] + PROBE_STEPS[1]
                  and time.perf_counter() - probe[1] >= min(PROBE_SECONDS, config.minutes * 15)):
                rate = (step - probe[0]) / (time.perf_counter() - probe[1])
                total = max(step, int(config.minutes * 60 * rate) // 10 * 10)
                if config.steps_per_epoch is None:  # evaluate about EVALUATIONS times, not every 600 steps
                    config = replace(config, steps_per_epoch=max(step, -(-total // EVALUATIONS)))
                    per_epoch = config.epoch_steps
                config = replace(config, steps=total)
                trainer.config = config
                trainer.set_planned_steps(total)
                info["config"], info["total_steps"] = config.to_dict(), total
                info["steps_from_minutes"] = {"minutes": config.minutes, "steps_per_s": round(rate, 3),
                                              "measured_steps": [probe[0], step], "steps": total}
                files.write_json(config_path, info)
                bar.total = total
                bar.refresh()
                bar.write(f"{rate:.2f} steps/s measured: {total} steps fill about {config.minutes:g} min")
            if step % config.log_every == 0 or step == total:
                clock()
                trainer.history["steps"].append({"step": step, **trainer.window.means()})
                bar.set_postfix({k: f"{v:.3f}" for k, v in trainer.window.means().items()})
                trainer.window = StepMetrics()
            if step % per_epoch == 0 or step == total:
                clock()
                record = {"epoch": -(-step // per_epoch), "step": step,
                          **{f"mean_{k}": v for k, v in trainer.epoch_metrics.means().items()},
                          **trainer.evaluate(), "train_seconds": round(trainer.train_seconds, 2)}
                trainer.epoch_metrics = StepMetrics()
                trainer.history["epochs"].append(record)
                files.save_model(standalone(trainer.saved_classifier()), out / "classifier.keras")
                if config.method == "sgan":  # a supervised baseline trains no generator
                    save_sample_grid(trainer.saved_generator(), trainer.grid_latent,
                                     out / "samples" / f"epoch_{record['epoch']:03d}.png")
                    files.save_model(standalone(trainer.saved_generator()), out / "generator.keras")
                files.write_json(out / "history.json", trainer.history)
                checkpoint()
                shown = " ".join(f"{k}={v:.4f}" for k, v in record.items() if k.endswith("_acc"))
                bar.write(f"epoch {record['epoch']} (step {step}/{total}): {shown}")
                tick = time.perf_counter()  # evaluating and saving is not training time
            elif step % config.checkpoint_every == 0:
                clock()
                checkpoint()
                tick = time.perf_counter()
            if stop.requested:  # SIGTERM or Ctrl-C during the step: keep it, then stop
                clock()
                checkpoint(stopped_by=stop.requested)
                bar.close()
                raise KeyboardInterrupt(f"{stop.requested}: stopped after step {step}; checkpoint saved")
    bar.close()
    note_session(finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    return trainer


def time_training_steps(precision: str, jit: bool, steps: int = 12, warmup: int = 3, data=None) -> float:
    """Steps/s of the real training step (tutorial schedule, batch 100) in one setting
    (``speed.calibrate``'s timer)."""
    if data is None:  # a slice is enough: the step's cost does not depend on the data size
        (x, y), (xt, yt) = data_mod.load_dataset("mnist")
        data = (x[:6000], y[:6000]), (xt[:100], yt[:100])
    trainer = SGANTrainer(TrainConfig(precision=precision, jit_compile=jit, eval_train=False), data=data)
    for _ in range(warmup):
        trainer.train_step()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return steps / (time.perf_counter() - start)
