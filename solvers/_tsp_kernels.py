"""Numba kernels for the travelling salesman problem: Held–Karp dynamic programming.

For one instance on cities ``0..n-1`` with symmetric edge scores ``w``, the tour starts and
ends at city 0. With ``m = n - 1`` and the other cities as bits ``0..m-1`` of a set ``S``,

    V(S, j) = max_{k ∈ S∖{j}} V(S∖{j}, k) + w(k, j),     V({j}, j) = w(0, j),
    best    = max_j V(S_full, j) + w(j, 0),

where ``V(S, j)`` is the best score of a path from city 0 through exactly the cities of
``S``, ending at ``j ∈ S`` (Bellman, "Dynamic programming treatment of the travelling
salesman problem", J. ACM 9, 1962; Held and Karp, "A dynamic programming approach to
sequencing problems", J. SIAM 10, 1962). ``O(n² 2ⁿ)`` time; a float64 table of values and
an int8 table of predecessors, ``(n-1) × 2^(n-1)`` entries each, indexed ``[j, S]`` so that
the sweep below reads and writes them in ``n - 1`` sequential streams. Ties keep the
smallest predecessor (strict ``>``), so the tour is a deterministic function of ``θ``.

Edges are indexed in ``itertools.combinations(range(n), 2)`` order: edge ``(i, j)``,
``i < j``, is entry ``i·(2n − i − 1)/2 + (j − i − 1)`` of the edge vector.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .runtime import parallel_kernel


@njit(cache=True)
def edge_index(i, j, n):
    """Position of the edge ``{i, j}`` (``i != j``) in the edge vector of ``n`` cities."""
    if i > j:
        i, j = j, i
    return i * (2 * n - i - 1) // 2 + (j - i - 1)


@njit(cache=True)
def held_karp(theta, n, y, value, parent):
    """Fill ``y`` (zeros on entry, the edge vector's shape) with an optimal tour of the
    edge scores ``theta`` (float64, length ``n(n-1)/2``, ``3 <= n <= 63``). ``value``
    (float64) and ``parent`` (int8), both ``(n-1, 2^(n-1))`` (:func:`work_tables`), are
    work tables whose content on entry does not matter."""
    w = np.empty((n, n))
    for i in range(n):
        w[i, i] = 0.0
        for j in range(i + 1, n):
            t = theta[edge_index(i, j, n)]
            w[i, j] = t
            w[j, i] = t
    m = n - 1
    size = 1 << m
    for j in range(m):
        value[j, 1 << j] = w[0, j + 1]
        parent[j, 1 << j] = -1
    members = np.empty(m, dtype=np.int64)
    row = np.empty(m)
    # Each (S, j) has the single predecessor set S∖{j}: visiting the predecessor sets in
    # increasing order and extending each by every city outside it fills every entry once,
    # reading one row of the table at a time.
    for prev in range(1, size - 1):
        count = 0
        for k in range(m):
            if (prev >> k) & 1:
                members[count] = k
                row[count] = value[k, prev]
                count += 1
        for j in range(m):
            if (prev >> j) & 1:
                continue
            best = -np.inf
            arg = -1
            for b in range(count):
                v = row[b] + w[j + 1, members[b] + 1]
                if v > best:
                    best = v
                    arg = members[b]
            value[j, prev | (1 << j)] = best
            parent[j, prev | (1 << j)] = arg
    full = size - 1
    best = -np.inf
    last = 0
    for j in range(m):
        v = value[j, full] + w[j + 1, 0]
        if v > best:
            best = v
            last = j
    y[edge_index(last + 1, 0, n)] = 1.0
    s = full
    j = last
    while True:
        k = parent[j, s]
        if k < 0:
            y[edge_index(0, j + 1, n)] = 1.0
            break
        y[edge_index(k + 1, j + 1, n)] = 1.0
        s ^= 1 << j
        j = k


def work_tables(n):
    """The work tables of :func:`held_karp` for ``n`` cities."""
    m = n - 1
    return np.empty((m, 1 << m)), np.empty((m, 1 << m), dtype=np.int8)


@parallel_kernel
def held_karp_batch(theta, n, n_chunks):
    """Solve ``B`` instances: ``theta`` (B, n(n-1)/2) float64. One ``prange`` over
    ``n_chunks`` contiguous chunks of the batch (one per thread), each with its own work
    tables, allocated once and reused for every instance of the chunk."""
    batch = theta.shape[0]
    y = np.zeros(theta.shape, dtype=np.float64)
    m = n - 1
    for c in prange(n_chunks):
        value = np.empty((m, 1 << m))
        parent = np.empty((m, 1 << m), dtype=np.int8)
        for b in range(c * batch // n_chunks, (c + 1) * batch // n_chunks):
            held_karp(theta[b], n, y[b], value, parent)
    return y
