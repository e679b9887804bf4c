"""Numba kernels of the Held–Karp dynamic programme over paths from a depot, shared by the
travelling salesman (:mod:`solvers._tsp_kernels`) and vehicle routing
(:mod:`solvers._vehicle_routing_kernels`).

Node 0 is the depot (the tour's start); with ``m = n - 1``, the other nodes are bits
``0..m-1`` of a set ``S``. For symmetric edge scores ``w``,

    V(S, j) = max_{k ∈ S∖{j}} V(S∖{j}, k) + w(k, j),     V({j}, j) = w(0, j),
    C(S)    = max_{j ∈ S} V(S, j) + w(j, 0),

where ``V(S, j)`` is the best score of a path from the depot through exactly the nodes of
``S``, ending at ``j ∈ S``, and ``C(S)`` that of the best closed route through ``S``. With
integer loads ``q`` and a capacity ``Q``, only sets with ``q(S) <= Q`` are filled: a set over
the capacity is never extended, so none of its supersets is reached through it.

The tables ``value`` (float64, ``V``) and ``parent`` (int8, the argmax ``k``, ``-1`` for
singletons) have ``(m, 2^m)`` entries, indexed ``[j, S]`` so that the sweep reads and writes
them in ``m`` sequential streams. Ties keep the smallest predecessor and the smallest route
end (strict ``>``), so the paths are a deterministic function of ``w``.

References: Bellman, "Dynamic programming treatment of the travelling salesman problem",
J. ACM 9, 1962; Held and Karp, "A dynamic programming approach to sequencing problems",
J. SIAM 10, 1962.

Edges are indexed in ``itertools.combinations(range(n), 2)`` order: edge ``(i, j)``,
``i < j``, is entry ``i·(2n − i − 1)/2 + (j − i − 1)`` of the edge vector.

Numba's on-disk cache checks a kernel only against its own source file: after editing this
module, clear the ``__pycache__`` of ``solvers/`` (or touch ``_tsp_kernels.py`` and
``_vehicle_routing_kernels.py``), or their cached kernels keep the old helpers. Installs and
fresh checkouts are not affected.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def edge_index(i, j, n):
    """Position of the edge ``{i, j}`` (``i != j``) in the edge vector of ``n`` nodes."""
    if i > j:
        i, j = j, i
    return i * (2 * n - i - 1) // 2 + (j - i - 1)


@njit(cache=True)
def score_matrix(theta, n):
    """The symmetric ``(n, n)`` matrix ``w`` of the edge vector ``theta`` (zero diagonal)."""
    w = np.empty((n, n))
    for i in range(n):
        w[i, i] = 0.0
        for j in range(i + 1, n):
            t = theta[edge_index(i, j, n)]
            w[i, j] = t
            w[j, i] = t
    return w


# The two helpers of the sweep's inner loops are inlined into it by Numba: as calls (which
# LLVM does not inline here), they double the time of a small instance's sweep.
@njit(cache=True, inline="always")
def path_ends(value, s, members, row):
    """Write the nodes ``k ∈ s`` in increasing order to ``members`` and ``V(s, k)`` to
    ``row``; returns ``|s|``."""
    count = 0
    for k in range(value.shape[0]):
        if (s >> k) & 1:
            members[count] = k
            row[count] = value[k, s]
            count += 1
    return count


@njit(cache=True, inline="always")
def best_link(w, node, members, row, count):
    """``max_b row[b] + w(members[b], node)`` over the first ``count`` path ends, and the
    first end that attains it (``(-inf, -1)`` when none does); ``node`` counts the depot
    as 0, ``members`` do not."""
    best = -np.inf
    arg = -1
    for b in range(count):
        v = row[b] + w[node, members[b] + 1]
        if v > best:
            best = v
            arg = members[b]
    return best, arg


@njit(cache=True)
def extend_paths(w, value, parent, load=None, capacity=0, route=None, route_end=None):
    """Fill ``value`` and ``parent`` with ``V`` and its argmax for every set (module
    docstring). With ``load`` (``q(S)`` per set, int64, ``2^m``), only the sets with
    ``q(S) <= capacity``; with ``route`` (float64) and ``route_end`` (int8), both ``2^m``,
    also ``C(S)`` and its last node for every filled set of two nodes or more (entries of
    other sets are left as they are). Without them, both branches compile away."""
    m = value.shape[0]
    for j in range(m):
        value[j, 1 << j] = w[0, j + 1]
        parent[j, 1 << j] = -1
    members = np.empty(m, dtype=np.int64)
    row = np.empty(m)
    # Each (S, j) has the single predecessor set S∖{j}: visiting the predecessor sets in
    # increasing order and extending each by every node outside it fills every entry once,
    # reading the entries of one set at a time.
    for prev in range(1, 1 << m):
        if load is not None:
            if load[prev] > capacity:
                continue
        count = path_ends(value, prev, members, row)
        if route is not None:
            if count >= 2:
                route[prev], route_end[prev] = best_link(w, 0, members, row, count)
        for j in range(m):
            if (prev >> j) & 1:
                continue
            s = prev | (1 << j)
            if load is not None:
                if load[s] > capacity:
                    continue
            value[j, s], parent[j, s] = best_link(w, j + 1, members, row, count)


@njit(cache=True)
def add_path(y, s, end, n, parent):
    """Set in the edge vector ``y`` the edges of the best closed route through ``s`` that
    ends at ``end`` (from ``parent`` filled by :func:`extend_paths`)."""
    y[edge_index(end + 1, 0, n)] = 1.0
    j = end
    while True:
        k = parent[j, s]
        if k < 0:
            y[edge_index(0, j + 1, n)] = 1.0
            return
        y[edge_index(k + 1, j + 1, n)] = 1.0
        s ^= 1 << j
        j = k
