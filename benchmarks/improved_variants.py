"""The improved recipe's generator output, measured: the paper's sigmoid vs our softplus vs no GAN.

Each variant trains the MLP recipe for STEPS steps (100 labels, seed 1, bfloat16 where `auto` picks it,
constant learning rate, no weight average, so that only the named change differs) and prints, every 300
steps, the test accuracy, the last step's losses and the generator's diversity (mean per-pixel standard
deviation over 100 fixed latent points: near 0 means it draws one image whatever z is).

    python benchmarks/improved_variants.py [--steps 1200] [--variants sigmoid softplus supervised]

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
}


def run(name: str, steps: int) -> None:
    from sgan_helpers.training import SGANTrainer, recipe_config

    config = recipe_config("improved", **VARIANTS[name], steps=steps, eval_train=False,
                           lr_schedule="constant", ema_decay=None, jit_compile=False)
    trainer = SGANTrainer(config)
    z = np.random.default_rng(0).standard_normal((100, config.latent_dim)).astype("float32")
    started = time.time()
    for step in range(1, steps + 1):
        losses = trainer.train_step()
        if step % 300 == 0:
            images = np.asarray(trainer.generator(z, training=True), dtype=np.float32)
            print(name, step, f"test {trainer.accuracy(trainer.x_test, trainer.y_test):.4f}",
                  {k: round(v, 3) for k, v in losses.items()},
                  f"G diversity {images.std(axis=0).mean():.3f}", f"{time.time() - started:.0f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    for name in args.variants:
        run(name, args.steps)


if __name__ == "__main__":
    main()
