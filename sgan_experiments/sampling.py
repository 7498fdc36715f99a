"""How the trainer draws a batch's real images in ``sampling="epochs"``: in passes, as Salimans et al.'s
code does (``sampling="random"``, every recipe's way, draws them with replacement:
:func:`sgan_helpers.data.real_batch`)."""

from __future__ import annotations

import numpy as np


class EpochBatches:
    """Batches that go through the images in passes, each pass a fresh random order (without
    replacement), as Salimans et al.'s code does: every image once per pass. With 100 labelled images
    and batches of 100, every batch holds each labelled image exactly once.

    The indices of step ``t`` are positions ``t * size`` to ``(t + 1) * size`` of one endless sequence of
    orders, order ``k`` from ``numpy.random.default_rng([*key, k])``: a function of the step alone, so a
    resumed run draws exactly the batches of an uninterrupted one, with no state to checkpoint.
    """

    def __init__(self, n: int, size: int, key: tuple[int, ...]) -> None:
        if n < 1 or size < 1:
            raise ValueError(f"need at least one image and a batch size of at least 1, got {n} and {size}.")
        self.n, self.size, self.key = int(n), int(size), tuple(int(k) for k in key)
        self._orders: dict[int, np.ndarray] = {}

    def order(self, k: int) -> np.ndarray:
        """The ``k``-th pass's order of the images (the last two are kept)."""
        if k not in self._orders:
            self._orders = {j: v for j, v in self._orders.items() if j >= k - 1}
            self._orders[k] = np.random.default_rng([*self.key, k]).permutation(self.n)
        return self._orders[k]

    def indices(self, step: int) -> np.ndarray:
        """The image indices of the batch at ``step`` (0-based)."""
        positions = np.arange(step * self.size, (step + 1) * self.size)
        passes = positions // self.n
        return np.concatenate([self.order(int(k))[positions[passes == k] % self.n]
                               for k in np.unique(passes)])
