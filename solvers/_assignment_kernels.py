"""Numba kernels for the linear assignment problem (see :mod:`solvers.assignment`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .runtime import parallel_kernel


@njit(cache=True)
def assign_one(theta: np.ndarray, col_of_row: np.ndarray) -> None:
    """Max-score assignment of the ``n`` rows of ``theta`` (n, m), n <= m, to distinct columns.

    Shortest augmenting paths with dual potentials (Jonker & Volgenant 1987, in the form of
    Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 52, 2016):
    rows are inserted one at a time; a Dijkstra search over the reduced costs
    ``c_ij - u_i - v_j >= 0`` (with ``c = -θ``) finds the cheapest augmenting path, then the
    potentials are updated so that reduced costs stay non-negative and the matched edges
    stay tight. Each search step scans the columns not yet reached once: O(n²m) time.
    Writes the column of each row into ``col_of_row``.
    """
    n, m = theta.shape
    inf = np.inf
    u = np.zeros(n)
    v = np.zeros(m)
    dist = np.empty(m)  # shortest path length to each column in this search
    path = np.empty(m, dtype=np.int64)  # row preceding each column on its shortest path
    row_of_col = np.full(m, -1, dtype=np.int64)
    col_of_row[:] = -1
    remaining = np.empty(m, dtype=np.int64)
    seen_row = np.empty(n, dtype=np.bool_)
    seen_col = np.empty(m, dtype=np.bool_)
    for cur in range(n):
        dist[:] = inf
        seen_row[:] = False
        seen_col[:] = False
        for k in range(m):
            remaining[k] = m - 1 - k
        n_rem = m
        min_val = 0.0
        i = cur
        sink = -1
        while sink == -1:
            seen_row[i] = True
            best = -1
            lowest = inf
            base = min_val - u[i]
            for k in range(n_rem):
                j = remaining[k]
                r = base - np.float64(theta[i, j]) - v[j]
                if r < dist[j]:
                    path[j] = i
                    dist[j] = r
                # prefer a free column on ties: the search ends sooner
                if dist[j] < lowest or (dist[j] == lowest and row_of_col[j] == -1):
                    lowest = dist[j]
                    best = k
            if best < 0:  # only with non-finite reduced costs; validation rules that out
                best = 0
                lowest = dist[remaining[0]]
            min_val = lowest
            j = remaining[best]
            seen_col[j] = True
            n_rem -= 1
            remaining[best] = remaining[n_rem]
            if row_of_col[j] == -1:
                sink = j
            else:
                i = row_of_col[j]
        u[cur] += min_val
        for r in range(n):
            if seen_row[r] and r != cur:
                u[r] += min_val - dist[col_of_row[r]]
        for j in range(m):
            if seen_col[j]:
                v[j] -= min_val - dist[j]
        j = sink
        while True:
            r = path[j]
            row_of_col[j] = r
            nxt = col_of_row[r]
            col_of_row[r] = j
            j = nxt
            if r == cur:
                break


@parallel_kernel(min_size=2048)
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
