"""Numba kernels for the multi-dimensional 0-1 knapsack: depth-first branch and bound.

For one instance with values ``θ`` (n,), integer weights ``W`` (m, n) and capacities ``C``
(m,), the search fixes the candidates one at a time, in decreasing order of
``θ_i / Σ_k (W_ki / C_k)`` (the aggregate efficiency of Senju and Toyoda, "An approach to
linear programming with 0-1 variables", Management Science 15, 1968), trying "take" before
"leave". A node at depth ``j`` with value ``v`` and residual capacities ``r`` is pruned when

    v + min_k U_k(j, r_k) <= best,

``U_k`` being the Dantzig bound of resource ``k`` alone: the items not yet fixed, in
decreasing order of ``θ_i / W_ki``, packed greedily into ``r_k`` with the first one that does
not fit taken fractionally (Dantzig, "Discrete-variable extremum problems", Operations
Research 5, 1957; Kellerer, Pferschy and Pisinger, *Knapsack Problems*, 2004, ch. 9.5);
the minimum also runs over ``U_s``, the Dantzig bound of the surrogate constraint
``Σ_k W_k y / C_k <= Σ_k r_k / C_k`` (Glover, "Surrogate constraints", Operations Research
16, 1968), whose efficiency order is the branching order. Each is an upper bound on a
relaxation of the node, so the minimum bounds every completion of it, and the search is
exact. When every value is an integer (and the values sum below ``2^52``, so that sums are
exact), so is every packing's value, and a node is pruned unless its bound reaches
``best + 1`` (less ``1e-9`` for the rounding of the bound). A
node's packing is recorded as the incumbent when its value is the best so far (a partial
packing is feasible: the items not yet fixed are left out).

As in the dynamic program (:mod:`solvers._multi_knapsack_kernels`), only items with
``θ_i > 0`` that fit every resource are candidates, resources that cannot bind are left
out, and candidates that weigh nothing in the binding resources are packed outright.

The work is bounded by ``max_nodes`` per instance: an instance whose search reaches it
stops with its best packing so far and a flag, which the caller turns into an error.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._multi_knapsack_kernels import reduce_instance
from .runtime import parallel_kernel


@njit(cache=True)
def _dantzig_bound(theta, weights, k, order, position, depth, room, cutoff):
    """``U_k``: the items at branching positions ``>= depth``, by ``order`` (resource
    ``k``'s efficiency order), packed into ``room`` with one fractional item; stops early
    once the sum exceeds ``cutoff`` (it is then not the smallest bound)."""
    total = 0.0
    for t in range(order.shape[0]):
        i = order[t]
        if position[i] < depth:
            continue
        w = weights[k, i]
        if w <= room:
            total += theta[i]
            room -= w
        else:
            total += theta[i] * (room / w)
            break
        if total > cutoff:
            break
    return total


@njit(cache=True)
def _surrogate_bound(theta, load, items, depth, room, cutoff):
    """The Dantzig bound of the surrogate constraint ``Σ_k W_k y / C_k <= Σ_k r_k / C_k``
    (``load`` the items' surrogate weights, ``room`` its right-hand side) over the items at
    branching positions ``>= depth``, which are in its efficiency order already."""
    total = 0.0
    for p in range(depth, items.shape[0]):
        w = load[p]
        if w <= room:
            total += theta[items[p]]
            room -= w
        else:
            total += theta[items[p]] * (room / w)
            break
        if total > cutoff:
            break
    return total


@njit(cache=True)
def multi_knapsack_bnb(theta, weights, capacity, y, max_nodes):
    """Fill ``y`` (zeros on entry) with an optimal packing of one instance: ``θ`` (n,)
    float64, ``weights`` (m, n) and ``capacity`` (m,) int64. Returns the number of nodes
    searched; a value above ``max_nodes`` means the search stopped early."""
    n = weights.shape[1]
    items, binding = reduce_instance(theta, weights, capacity, y)
    kept = items.shape[0]
    if kept == 0:
        return 0
    dims = np.flatnonzero(binding)
    d = dims.shape[0]
    # branching order: aggregate efficiency, largest first (stable, so ties keep index order)
    load = np.zeros(kept)
    for c in range(kept):
        for t in range(d):
            k = dims[t]
            load[c] += weights[k, items[c]] / capacity[k]
    by_efficiency = np.argsort(-theta[items] / load, kind="mergesort")
    items = items[by_efficiency]
    load = load[by_efficiency]
    integral = True  # integer values: a completion's value is an integer too
    total_value = 0.0
    for p in range(kept):
        total_value += theta[items[p]]
        if theta[items[p]] != np.floor(theta[items[p]]):
            integral = False
            break
    if total_value >= 2.0**52:  # sums no longer exact to the unit: no rounding of the bound
        integral = False
    position = np.full(n, n, dtype=np.int64)
    for p in range(kept):
        position[items[p]] = p
    # per binding resource: the items by θ_i / W_ki, largest first (weightless ones first)
    orders = np.empty((d, kept), dtype=np.int64)
    for t in range(d):
        k = dims[t]
        ratio = np.empty(kept)
        for c in range(kept):
            w = weights[k, items[c]]
            ratio[c] = np.inf if w == 0 else theta[items[c]] / w
        orders[t] = items[np.argsort(-ratio, kind="mergesort")]

    room = np.empty(d)
    for t in range(d):
        room[t] = capacity[dims[t]]
    # integer values: prune unless the bound reaches best + 1 (with room for rounding)
    step = 1.0 - 1e-9 if integral else 0.0
    take = np.zeros(kept, dtype=np.int8)  # 1 taken, 0 left (or not yet fixed below depth)
    best_take = np.zeros(kept, dtype=np.int8)
    best = 0.0
    value = 0.0
    depth = 0
    nodes = 0
    while True:
        nodes += 1
        if nodes > max_nodes:
            break
        if value > best:
            best = value
            best_take[:depth] = take[:depth]
            best_take[depth:] = 0
        prune = depth == kept
        if not prune:
            surrogate_room = 0.0
            for t in range(d):
                surrogate_room += room[t] / capacity[dims[t]]
            bound = _surrogate_bound(theta, load, items, depth, surrogate_room, np.inf)
            for t in range(d):
                u = _dantzig_bound(
                    theta, weights, dims[t], orders[t], position, depth, room[t], bound
                )
                if u < bound:
                    bound = u
            prune = value + bound < best + step or value + bound <= best
        if prune:  # back up to the deepest "take" and turn it into "leave"
            depth -= 1
            while depth >= 0 and take[depth] == 0:
                depth -= 1
            if depth < 0:
                break
            i = items[depth]
            value -= theta[i]
            for t in range(d):
                room[t] += weights[dims[t], i]
            take[depth] = 0
            depth += 1
            continue
        i = items[depth]
        fits = True
        for t in range(d):
            if weights[dims[t], i] > room[t]:
                fits = False
                break
        if fits:
            take[depth] = 1
            value += theta[i]
            for t in range(d):
                room[t] -= weights[dims[t], i]
        else:
            take[depth] = 0
        depth += 1
    for p in range(kept):
        if best_take[p] == 1:
            y[items[p]] = 1.0
    return nodes


@parallel_kernel
def multi_knapsack_bnb_batch(theta, weights, capacity, max_nodes):
    """``multi_knapsack_bnb`` over a batch: ``θ`` (B, n), ``weights`` (B, m, n), ``capacity``
    (B, m); returns the packings (B, n) and the nodes searched per instance (B,)."""
    batch, n = theta.shape
    y = np.zeros((batch, n))
    nodes = np.zeros(batch, dtype=np.int64)
    for b in prange(batch):
        nodes[b] = multi_knapsack_bnb(theta[b], weights[b], capacity[b], y[b], max_nodes)
    return y, nodes
