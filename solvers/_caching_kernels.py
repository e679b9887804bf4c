"""Numba kernel for solution caching: the best pool solution of each instance.

``best_in_pool(θ, S)`` returns, for each row ``θ_b``, the index of the row ``s`` of ``S``
maximising ``⟨θ_b, s⟩`` (the first one on ties), in one serial pass: no ``B × P`` score
matrix and no BLAS thread pool, whose start-up costs more than the product itself on small
pools when other processes share the cores. The inner products may be summed in any order
(``fastmath`` reassociation, which lets the loop use SIMD: 4× faster): scores equal up to
rounding may then be ordered either way, and integer-valued scores stay exact.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, fastmath={"reassoc", "contract"})
def best_in_pool(theta, pool):
    """Indices (B,) of the pool rows of largest inner product with each row of ``θ``."""
    batch, size = theta.shape
    count = pool.shape[0]
    out = np.zeros(batch, dtype=np.int64)
    for b in range(batch):
        best = -np.inf
        row = theta[b]
        for p in range(count):
            score = 0.0
            for j in range(size):
                score += row[j] * pool[p, j]
            if score > best:
                best = score
                out[b] = p
    return out
