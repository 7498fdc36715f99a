"""The improved recipe's variants, measured: each changes one thing, everything else fixed.

Each variant trains the MLP recipe for STEPS steps (100 labels, seed 1, bfloat16 where `auto` picks it) and
prints, every EVERY steps, the test accuracy (raw weights, and averaged ones when kept), the last step's
losses and the generator's diversity (mean per-pixel standard deviation over 100 fixed latent points: near
0 means it draws one image whatever z is).

    python benchmarks/improved_variants.py [--steps 1200] [--variants sigmoid softplus supervised]
    python benchmarks/improved_variants.py --steps 3000 --every 600 --recipe-schedule \\
        --variants recipe input-noise-0.1 extra-g-step float32 init-noise

Without ``--recipe-schedule`` the learning rate is constant and no weight average is kept (the 1,200-step
comparisons); with it, the recipe's own schedule and average (the 3,000-step comparisons).
Results of 2026-11-26 (AVX-512-BF16, 2 cores): benchmarks/results/improved-exploration-20261126/.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

VARIANTS = {
    "sigmoid": {"generator_output": "sigmoid"},  # Salimans et al.'s generator output
    "softplus": {"generator_output": "softplus"},  # ours (the recipe's default)
    "supervised": {"method": "supervised"},  # no GAN: the baseline
    "recipe": {},  # the improved recipe as it is
    "input-noise-0.1": {"input_noise": 0.1},  # Sleepychord/ImprovedGAN-pytorch's input noise (ours: 0.3)
    "extra-g-step": {"extra_g": True},  # their second G update when its loss is above 1 (after 2 epochs)
    "float32": {"precision": "float32"},  # no bfloat16
    "init-noise": {"init_noise": True},  # the initialisation sees the training noise (= recipe salimans)
}


def run(name: str, steps: int, every: int, recipe_schedule: bool) -> None:
    import tensorflow as tf

    from sgan_experiments.config import recipe_config
    from sgan_experiments.trainer import SGANTrainer
    from sgan_helpers import data, improved

    options = dict(VARIANTS[name])
    input_noise = options.pop("input_noise", improved.INPUT_NOISE)
    extra_g = options.pop("extra_g", False)
    schedule = {} if recipe_schedule else {"lr_schedule": "constant", "ema_decay": None}
    config = recipe_config("improved", **options, **schedule, steps=steps, eval_train=False,
                           jit_compile=False)
    default_noise, improved.INPUT_NOISE = improved.INPUT_NOISE, input_noise  # read when the models are built
    try:
        trainer = SGANTrainer(config)
    finally:
        improved.INPUT_NOISE = default_noise
    trainer.set_planned_steps(steps)
    model = trainer.model

    @tf.function
    def g_update(z_gen, x_real):  # G's update alone, as the model's train_step makes it
        model.update(model.g_optimizer, model.generator.trainable_variables,
                     lambda: model.generator_loss(model, x_real, model.generator(z_gen, training=True)))

    rng = np.random.default_rng(123)
    z = np.random.default_rng(0).standard_normal((100, config.latent_dim)).astype("float32")
    started, extra = time.time(), 0
    for step in range(1, steps + 1):
        losses = trainer.train_step()
        if extra_g and step > 1200 and losses["g_loss"] > 1:
            z_gen = data.latent_points(config.batch_size, config.latent_dim, rng)
            g_update(z_gen, data.real_batch(trainer.x_train, None, config.batch_size // 2, rng)[0])
            extra += 1
        if step % every == 0:
            images = np.asarray(trainer.generator(z, training=True), dtype=np.float32)
            averaged = (f" averaged {trainer.accuracy(trainer.x_test, trainer.y_test, 'ema'):.4f}"
                        if trainer.average is not None else "")
            print(name, step, f"test {trainer.accuracy(trainer.x_test, trainer.y_test):.4f}{averaged}",
                  {k: round(v, 3) for k, v in losses.items()}, f"G diversity {images.std(axis=0).mean():.3f}",
                  f"extra G steps {extra}" if extra_g else "", f"{time.time() - started:.0f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--every", type=int, default=300)
    parser.add_argument("--recipe-schedule", action="store_true",
                        help="keep the recipe's learning-rate schedule and weight average")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS),
                        default=["sigmoid", "softplus", "supervised"])
    args = parser.parse_args()
    for name in args.variants:
        run(name, args.steps, args.every, args.recipe_schedule)


if __name__ == "__main__":
    main()
