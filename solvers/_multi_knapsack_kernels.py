"""Numba kernels for the multi-dimensional 0-1 knapsack: dynamic programming over the
lattice of capacity vectors.

For one instance with values ``θ`` (n,), integer weights ``W`` (m, n) and capacities ``C``
(m,), the table

    V_i(c) = max(V_{i-1}(c), V_{i-1}(c - W_{:,i}) + θ_i)     (c >= W_{:,i} componentwise),
    V_0(c) = 0,

holds the best value of items ``1..i`` within the capacity vector ``c`` (Weingartner and
Ness, "Methods for the solution of the multidimensional 0/1 knapsack problem", Operations
Research 15, 1967; Kellerer, Pferschy and Pisinger, *Knapsack Problems*, 2004, ch. 9).
A capacity vector ``c`` is stored at the mixed-radix index ``Σ_k c_k·stride_k`` of one
array ``V`` of ``L = Π_k (C_k + 1)`` entries, updated in place in decreasing index order
(``c - W_{:,i}`` has a smaller index, so it still holds ``V_{i-1}``), visiting only the box
``c >= W_{:,i}`` with an odometer. A byte table ``keep[i, c]`` records the decisions and
the packing is read back from ``c = C``.

Only items with ``θ_i > 0`` that fit every dimension are candidates, so an item of
non-positive value is never chosen. A dimension whose capacity holds all candidates at
once can never bind and is left out of the lattice; candidates that then weigh nothing
are packed outright. Ties keep the item out (strict ``>``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .runtime import parallel_kernel


# Also compiled into the branch and bound's kernels (_multi_knapsack_bnb_kernels.py), whose
# Numba cache entries are checked only against their own file: after editing this function,
# clear solvers/__pycache__ or touch that file.
@njit(cache=True)
def reduce_instance(theta, weights, capacity, y):
    """The part of one instance a search must decide: the candidates (``θ_i > 0``, fitting
    every resource) that weigh something in a binding resource, and the binding resources
    (those whose capacity the candidates together exceed). The other candidates are packed
    into ``y`` outright. Returns ``(items, binding)``: item indices and a mask over the
    resources."""
    m, n = weights.shape
    cand = np.empty(n, dtype=np.int64)
    count = 0
    for i in range(n):
        if theta[i] <= 0.0:
            continue
        fits = True
        for k in range(m):
            if weights[k, i] > capacity[k]:
                fits = False
                break
        if fits:
            cand[count] = i
            count += 1
    binding = np.zeros(m, dtype=np.bool_)
    for k in range(m):
        total = 0
        for c in range(count):
            total += weights[k, cand[c]]
        binding[k] = total > capacity[k]
    kept = 0
    for c in range(count):
        i = cand[c]
        light = True
        for k in range(m):
            if binding[k] and weights[k, i] > 0:
                light = False
                break
        if light:
            y[i] = 1.0
        else:
            cand[kept] = i
            kept += 1
    return cand[:kept], binding


@njit(cache=True)
def multi_knapsack_dp(theta, weights, capacity, y):
    """Fill ``y`` (zeros on entry) with an optimal packing of one instance: ``θ`` (n,)
    float64, ``weights`` (m, n) and ``capacity`` (m,) int64 (the caller bounds the lattice)."""
    m = weights.shape[0]
    cand, binding = reduce_instance(theta, weights, capacity, y)
    kept = cand.shape[0]
    if kept == 0:
        return
    # the lattice over the binding resources, in mixed radix
    radix = np.ones(m, dtype=np.int64)
    stride = np.zeros(m, dtype=np.int64)
    size = 1
    for k in range(m):
        if binding[k]:
            radix[k] = capacity[k] + 1
            stride[k] = size
            size *= radix[k]
    value = np.zeros(size)
    keep = np.zeros((kept, size), dtype=np.uint8)
    low = np.zeros(m, dtype=np.int64)
    digits = np.empty(m, dtype=np.int64)
    for c in range(kept):
        i = cand[c]
        t = theta[i]
        offset = 0
        for k in range(m):
            if radix[k] > 1:
                low[k] = weights[k, i]
                offset += weights[k, i] * stride[k]
            else:
                low[k] = 0
            digits[k] = radix[k] - 1
        idx = size - 1
        while True:
            v = value[idx - offset] + t
            if v > value[idx]:
                value[idx] = v
                keep[c, idx] = 1
            k = 0  # odometer: the next capacity vector of the box, in decreasing index order
            while k < m:
                if digits[k] > low[k]:
                    digits[k] -= 1
                    idx -= stride[k]
                    break
                idx += (radix[k] - 1 - digits[k]) * stride[k]
                digits[k] = radix[k] - 1
                k += 1
            if k == m:
                break
    idx = size - 1
    for c in range(kept - 1, -1, -1):
        if keep[c, idx]:
            i = cand[c]
            y[i] = 1.0
            for k in range(m):
                if radix[k] > 1:
                    idx -= weights[k, i] * stride[k]


@parallel_kernel
def multi_knapsack_dp_batch(theta, weights, capacity):
    """Solve ``B`` instances: ``θ`` (B, n) float64; ``weights`` (B, m, n), ``capacity``
    (B, m) int64."""
    batch, n = theta.shape
    y = np.zeros((batch, n), dtype=np.float64)
    for b in prange(batch):
        multi_knapsack_dp(theta[b], weights[b], capacity[b], y[b])
    return y
