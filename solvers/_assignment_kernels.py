"""Numba kernels for the linear assignment problem (see :mod:`solvers.assignment`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def assign_one(theta: np.ndarray, col_of_row: np.ndarray) -> None:
    """Max-score assignment of the ``n`` rows of ``theta`` (n, m), n <= m, to distinct columns.

    Shortest augmenting paths with dual potentials (Hungarian method in the Jonker-Volgenant
    form): rows are inserted one at a time; a Dijkstra-like search over reduced costs
    ``c_ij - u_i - v_j >= 0`` (with ``c = -θ``) finds the cheapest augmenting path, and the
    potentials are updated so that reduced costs stay non-negative. O(n²m) time.
    Writes the column of each row into ``col_of_row``.
    """
    n, m = theta.shape
    inf = np.inf
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=np.int64)  # p[j]: row (1-based) matched to column j; 0 = free
    way = np.zeros(m + 1, dtype=np.int64)
    minv = np.empty(m + 1)
    used = np.empty(m + 1, dtype=np.bool_)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv[:] = inf
        used[:] = False
        while True:
            used[j0] = True
            i0 = p[j0]
            delta = inf
            j1 = 0
            ui0 = u[i0]
            for j in range(1, m + 1):
                if not used[j]:
                    cur = -np.float64(theta[i0 - 1, j - 1]) - ui0 - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            if j1 == 0:  # only with non-finite reduced costs; validation rules that out
                for j in range(1, m + 1):
                    if not used[j]:
                        j1 = j
                        break
            j0 = j1
            if p[j0] == 0:
                break
        while j0 != 0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    for j in range(1, m + 1):
        if p[j] != 0:
            col_of_row[p[j] - 1] = j - 1


@njit(parallel=True, cache=True)
def assign_batch(theta: np.ndarray) -> np.ndarray:
    """0/1 assignment matrices for a batch ``theta`` (B, n, m); one instance per thread."""
    b_size, n, m = theta.shape
    y = np.zeros(theta.shape, dtype=theta.dtype)
    for b in prange(b_size):
        cols = np.empty(n, dtype=np.int64)
        assign_one(theta[b], cols)
        for i in range(n):
            y[b, i, cols[i]] = 1.0
    return y


@njit(cache=True)
def assign_single(theta: np.ndarray) -> np.ndarray:
    """0/1 assignment matrix for one instance ``theta`` (n, m), without a thread-pool launch."""
    n = theta.shape[0]
    y = np.zeros(theta.shape, dtype=theta.dtype)
    cols = np.empty(n, dtype=np.int64)
    assign_one(theta, cols)
    for i in range(n):
        y[i, cols[i]] = 1.0
    return y
