"""Numba kernels for the capacitated vehicle routing problem: exact dynamic programming over
subsets of customers.

One instance has a depot (node 0) and ``m`` customers (nodes ``1..m``, bits ``0..m-1`` of a
set ``S``) with integer demands ``q`` and capacity ``Q``; every route visits at least two
customers. Two stages:

1. Best route per set (Held–Karp, :mod:`solvers._held_karp_kernels`, shared with the
   travelling salesman). For every set ``S`` with ``q(S) <= Q``,

       V(S, j) = max_{k ∈ S∖{j}} V(S∖{j}, k) + w(k, j),      V({j}, j) = w(0, j),
       R(S)    = max_{j ∈ S} V(S, j) + w(j, 0)                (|S| >= 2; else R(S) = -inf),

   the best score of a route from the depot through exactly ``S`` and back. Sets over the
   capacity, and their supersets, are never extended.
2. Best partition into routes (set partitioning by DP). With ``ℓ(S)`` the lowest customer of
   ``S``, ``F_k(S)`` the best score of at most ``k`` routes covering exactly ``S``:

       F_k(∅) = 0,    F_k(S) = max_{T ⊆ S, ℓ(S) ∈ T} R(T) + F_{k-1}(S∖T),

   and the answer is ``F_K(all customers)`` (``-inf``: no feasible set of routes). Without a
   limit on the number of routes, one table ``F`` is updated in place (``S∖T < S``, so it is
   final when read). Fixing ``ℓ(S) ∈ T`` counts every partition once.

Time ``O(m² 2^m + L·3^m)`` with ``L = 1`` without a route limit and ``L = K`` with one;
tables of ``(9m + 17 + 12(L + 1))·2^m`` bytes (0.6 MB for 12 customers without a route
limit). Ties keep the smallest predecessor, the first route end and the first subset met
(strict ``>``), so ``y`` is a deterministic function of ``θ``.

References: Held and Karp, J. SIAM 10, 1962 (routes); Christofides, Mingozzi and Toth,
"Exact algorithms for the vehicle routing problem, based on spanning tree and shortest path
relaxations", Math. Programming 20, 1981 (the set-partitioning recursion over routes).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._held_karp_kernels import add_path, extend_paths, score_matrix
from .runtime import parallel_kernel


@njit(cache=True)
def route_tables(theta, n_nodes, demands, capacity, value, parent, route, route_end):
    """Fill ``route`` (2^m) with ``R(S)`` and ``route_end`` with the last customer of a best
    route through ``S``; ``value`` (float64) and ``parent`` (int8), both ``(m, 2^m)``, hold
    ``V`` and its argmax (module docstring, stage 1). Returns nothing."""
    m = n_nodes - 1
    size = 1 << m
    load = np.zeros(size, dtype=np.int64)
    for s in range(1, size):
        low = 0
        while not (s >> low) & 1:
            low += 1
        load[s] = load[s ^ (1 << low)] + demands[low]
    for s in range(size):
        route[s] = -np.inf
        route_end[s] = -1
    w = score_matrix(theta, n_nodes)
    extend_paths(w, value, parent, load, capacity, route, route_end)


@njit(cache=True)
def partition_tables(route, m, max_routes, best, choice):
    """Fill ``best`` and ``choice``, both ``(L + 1, 2^m)``, with ``F_k`` and the route ``T``
    that attains it (module docstring, stage 2); ``max_routes = 0`` means no limit (``L = 1``,
    updated in place). Returns the best score over all customers (``-inf``: infeasible)."""
    size = 1 << m
    layers = best.shape[0] - 1
    for k in range(layers + 1):
        best[k, 0] = 0.0
        choice[k, 0] = 0
        for s in range(1, size):
            best[k, s] = -np.inf
            choice[k, s] = 0
    for k in range(1, layers + 1):
        source = k - 1 if max_routes > 0 else k
        for s in range(1, size):
            low = s & -s
            rest = s ^ low
            top = -np.inf
            arg = 0
            sub = rest
            while True:
                t = sub | low
                r = route[t]
                if r > -np.inf:
                    f = best[source, s ^ t]
                    if f > -np.inf and r + f > top:
                        top = r + f
                        arg = t
                if sub == 0:
                    break
                sub = (sub - 1) & rest
            best[k, s] = top
            choice[k, s] = arg
    return best[layers, size - 1]


@njit(cache=True)
def vehicle_routing_dp(theta, n_nodes, demands, capacity, max_routes, y, tables):
    """Fill ``y`` (zeros on entry) with an optimal set of routes for the edge scores
    ``theta``; ``tables`` from :func:`work_tables`. Returns ``False`` (``y`` left at zero)
    when no set of routes is feasible."""
    value, parent, route, route_end, best, choice = tables
    m = n_nodes - 1
    route_tables(theta, n_nodes, demands, capacity, value, parent, route, route_end)
    if partition_tables(route, m, max_routes, best, choice) == -np.inf:
        return False
    s = (1 << m) - 1
    k = best.shape[0] - 1
    while s:
        t = choice[k, s]
        add_path(y, t, route_end[t], n_nodes, parent)
        s ^= t
        if max_routes > 0:
            k -= 1
    return True


@njit(cache=True)
def work_tables(m, layers):
    """The work tables of :func:`vehicle_routing_dp` for ``m`` customers and ``layers``
    partition tables (the route limit, or 1 without one)."""
    size = 1 << m
    return (
        np.empty((m, size)),
        np.empty((m, size), dtype=np.int8),
        np.empty(size),
        np.empty(size, dtype=np.int8),
        np.empty((layers + 1, size)),
        np.empty((layers + 1, size), dtype=np.int32),
    )


@parallel_kernel
def vehicle_routing_batch(theta, n_nodes, demands, capacity, max_routes, n_chunks):
    """Solve ``B`` instances: ``theta`` (B, E) float64, ``demands`` (B, m) int64,
    ``capacity`` (B,) int64. One ``prange`` over ``n_chunks`` contiguous chunks of the batch,
    each with its own work tables. Returns ``y`` and ``feasible`` (B,) bool."""
    batch = theta.shape[0]
    y = np.zeros(theta.shape, dtype=np.float64)
    feasible = np.zeros(batch, dtype=np.bool_)
    layers = max_routes if max_routes > 0 else 1
    for c in prange(n_chunks):
        tables = work_tables(n_nodes - 1, layers)
        for b in range(c * batch // n_chunks, (c + 1) * batch // n_chunks):
            feasible[b] = vehicle_routing_dp(
                theta[b], n_nodes, demands[b], capacity[b], max_routes, y[b], tables
            )
    return y, feasible
