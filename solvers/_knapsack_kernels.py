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

Before the table is built, a reduction fixes the items whose value is decided by bounds
(Dembo and Hammer 1980; Kellerer et al. 2004, §5.1.3): with items sorted by efficiency
``θ_i / w_i``, the greedy packing gives a lower bound ``L`` on the optimum; for each item,
the Dantzig (LP relaxation) bound ``U_j`` of the problem with ``x_j`` forced to the other
value is computed, and if ``U_j < L`` every optimal packing agrees with the greedy value of
``x_j``, which is then fixed. On uncorrelated instances most items are fixed and the DP
runs on a small core of items over the capacity left, many times smaller than ``n·C``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .runtime import parallel_kernel


@njit(cache=True)
def _dantzig_bound(theta, weights, order, m, capacity, skip):
    """LP-relaxation bound of the items ``order[:m]`` (by decreasing efficiency) except
    ``skip``, within ``capacity``: whole items while they fit, then a fraction of the next."""
    bound = 0.0
    room = capacity
    for k in range(m):
        i = order[k]
        if i == skip:
            continue
        if weights[i] <= room:
            room -= weights[i]
            bound += theta[i]
        else:
            return bound + theta[i] * (room / weights[i])
    return bound


@njit(cache=True)
def _reduce(theta, weights, capacity, cand, m, y):
    """Fix the candidates decided by bounds (see the module docstring): items fixed to one
    are set in ``y``; returns the capacity left and the free candidates' count, the free
    candidates moved to ``cand[:count]`` in their original order."""
    eff = np.empty(m)
    for k in range(m):
        w = weights[cand[k]]
        eff[k] = -np.inf if w == 0 else -theta[cand[k]] / w
    order = cand[:m][np.argsort(eff, kind="mergesort")]
    lower = 0.0  # value of the greedy packing: items by efficiency, each one that fits
    room = capacity
    split = m  # position in ``order`` of the first item the greedy packing skips
    for k in range(m):
        i = order[k]
        if weights[i] <= room:
            room -= weights[i]
            lower += theta[i]
        elif split == m:
            split = k
    # Fix only with a margin, so that rounding in the bounds can never fix a wrong value.
    margin = 1e-9 * (abs(lower) + 1.0)
    fixed = np.zeros(theta.shape[0], dtype=np.int8)  # by item: 1 fixed to one, -1 to zero
    for k in range(m):
        i = order[k]
        if k < split:  # greedy takes it: bound without it
            if _dantzig_bound(theta, weights, order, m, capacity, i) < lower - margin:
                fixed[i] = 1
        else:  # greedy leaves it (or takes it after the split item): bound with it
            rest = capacity - weights[i]
            with_i = theta[i] + _dantzig_bound(theta, weights, order, m, rest, i)
            if with_i < lower - margin:
                fixed[i] = -1
    left = capacity
    count = 0
    for k in range(m):
        i = cand[k]
        if fixed[i] == 1:
            y[i] = 1.0
            left -= weights[i]
        elif fixed[i] == 0:
            cand[count] = i
            count += 1
    return left, count


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
    if total > capacity:
        capacity, m = _reduce(theta, weights, capacity, cand, m, y)
        total = 0
        for k in range(m):
            total += weights[cand[k]]
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


@parallel_kernel
def knapsack_dp_batch(theta, weights, capacity):
    """Solve ``B`` instances: ``θ`` (B, n) float64; ``weights`` (B, n), ``capacity`` (B,) int64."""
    batch, n = theta.shape
    y = np.zeros((batch, n), dtype=np.float64)
    for b in prange(batch):
        knapsack_dp(theta[b], weights[b], capacity[b], y[b])
    return y
