"""Numba kernels for the travelling salesman problem: Held–Karp dynamic programming.

For one instance on cities ``0..n-1`` with symmetric edge scores ``w``, the tour starts and
ends at city 0. With ``V(S, j)`` the best score of a path from city 0 through exactly the
cities of ``S`` (the others, as bits ``0..n-2``), ending at ``j ∈ S``
(:mod:`solvers._held_karp_kernels`, shared with vehicle routing), the best tour scores

    best = max_j V(S_full, j) + w(j, 0)

(Held and Karp, "A dynamic programming approach to sequencing problems", J. SIAM 10, 1962).
``O(n² 2ⁿ)`` time; a float64 table of values and an int8 table of predecessors,
``(n-1) × 2^(n-1)`` entries each. Ties keep the smallest predecessor and the smallest last
city (strict ``>``), so the tour is a deterministic function of ``θ``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._held_karp_kernels import (
    add_path,
    best_link,
    extend_paths,
    path_ends,
    score_matrix,
)
from .runtime import parallel_kernel


@njit(cache=True)
def held_karp(theta, n, y, value, parent):
    """Fill ``y`` (zeros on entry, the edge vector's shape) with an optimal tour of the
    edge scores ``theta`` (float64, length ``n(n-1)/2``, ``3 <= n <= 63``). ``value``
    (float64) and ``parent`` (int8), both ``(n-1, 2^(n-1))`` (:func:`work_tables`), are
    work tables whose content on entry does not matter."""
    w = score_matrix(theta, n)
    extend_paths(w, value, parent)
    m = n - 1
    full = (1 << m) - 1
    members = np.empty(m, dtype=np.int64)
    row = np.empty(m)
    count = path_ends(value, full, members, row)
    last = best_link(w, 0, members, row, count)[1]
    add_path(y, full, last, n, parent)


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
