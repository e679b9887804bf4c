"""Numba kernels for the 0-1 knapsack: dynamic programming over integer capacity.

For one instance with values ``θ`` and integer weights ``w`` and capacity ``C``, the table

    V_i(c) = max(V_{i-1}(c), V_{i-1}(c - w_i) + θ_i)      (c >= w_i),    V_0(c) = 0,

holds the best value of items ``1..i`` within capacity ``c`` (Bellman 1957; Kellerer,
Pferschy and Pisinger, *Knapsack Problems*, 2004, §2.3). One array ``V`` is updated in
place from high to low ``c``; a byte table ``keep[i, c]`` records the decisions, and the
packing is read back from ``c = C`` down. Only items with ``θ_i > 0`` and ``w_i <= C`` are
candidates, so items of non-positive value are never chosen. Two bounds trim the table:
``C`` is first capped at the candidates' total weight, and stage ``i`` only fills
capacities ``c >= C - Σ_{j>i} w_j``, the only ones the read-back can still reach.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def knapsack_dp(theta, weights, capacity, y):
    """Fill ``y`` (zeros on entry) with an optimal packing of one instance."""
    n = theta.shape[0]
    cand = np.empty(n, dtype=np.int64)
    m = 0
    total = 0
    for i in range(n):
        if theta[i] > 0.0 and weights[i] <= capacity:
            cand[m] = i
            m += 1
            total += weights[i]
    if m == 0:
        return
    cap = min(capacity, total)
    if cap == total:  # everything useful fits
        for k in range(m):
            y[cand[k]] = 1.0
        return
    suffix = np.zeros(m + 1, dtype=np.int64)  # suffix[k] = Σ_{j >= k} w_cand[j]
    for k in range(m - 1, -1, -1):
        suffix[k] = suffix[k + 1] + weights[cand[k]]
    value = np.zeros(cap + 1, dtype=np.float64)
    keep = np.zeros((m, cap + 1), dtype=np.uint8)
    for k in range(m):
        i = cand[k]
        w = weights[i]
        t = np.float64(theta[i])
        low = max(w, cap - suffix[k + 1])
        for c in range(cap, low - 1, -1):
            v = value[c - w] + t
            if v > value[c]:
                value[c] = v
                keep[k, c] = 1
    c = cap
    for k in range(m - 1, -1, -1):
        if keep[k, c]:
            i = cand[k]
            y[i] = 1.0
            c -= weights[i]


@njit(parallel=True, cache=True)
def knapsack_dp_batch(theta, weights, capacity):
    """Solve ``B`` instances: ``θ`` (B, n) float64; ``weights`` (B, n), ``capacity`` (B,) int64."""
    batch, n = theta.shape
    y = np.zeros((batch, n), dtype=np.float64)
    for b in prange(batch):
        knapsack_dp(theta[b], weights[b], capacity[b], y[b])
    return y
