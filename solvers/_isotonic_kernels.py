"""Numba kernel of the decreasing isotonic regression (see :mod:`solvers.isotonic`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .runtime import parallel_kernel


@njit(cache=True)
def pav_decreasing_one(u: np.ndarray, v: np.ndarray, block: np.ndarray) -> None:
    """Pool adjacent violators for ``v_1 >= ... >= v_n`` closest to ``u`` in ℓ2.

    A stack of blocks (start, size, sum): each entry opens a block, merged with the block
    before it while that block's mean is below its own. Writes the block means into ``v``
    and each entry's block index (0, 1, ... from the left) into ``block``. O(n).
    """
    n = u.shape[0]
    start = np.empty(n, dtype=np.int64)
    size = np.empty(n, dtype=np.int64)
    total = np.empty(n, dtype=np.float64)
    top = -1
    for i in range(n):
        top += 1
        start[top] = i
        size[top] = 1
        total[top] = np.float64(u[i])
        # merge while the previous block's mean is below the last one's (a violation)
        while top > 0 and total[top - 1] * size[top] < total[top] * size[top - 1]:
            total[top - 1] += total[top]
            size[top - 1] += size[top]
            top -= 1
    for b in range(top + 1):
        mean = total[b] / size[b]
        for i in range(start[b], start[b] + size[b]):
            v[i] = mean
            block[i] = b


@parallel_kernel(min_size=4096)
def pav_decreasing_batch(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pav_decreasing_one` on every row of ``u`` (B, n); one row per thread."""
    v = np.empty(u.shape, dtype=np.float64)
    block = np.empty(u.shape, dtype=np.int64)
    for b in prange(u.shape[0]):
        pav_decreasing_one(u[b], v[b], block[b])
    return v, block
