"""Numba kernels for the maximum-weight spanning tree (see :mod:`solvers.spanning_tree`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .runtime import parallel_kernel


@njit(cache=True)
def _find(parent: np.ndarray, x: int) -> int:
    """Root of ``x`` in the disjoint-set forest, with path halving."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True)
def kruskal_one(theta: np.ndarray, edges: np.ndarray, n_nodes: int, y: np.ndarray) -> None:
    """Kruskal: scan edges by decreasing weight, keep those joining two components.

    Union-find with path halving and union by size; O(E log E) for the sort. Writes the
    0/1 edge indicator into ``y`` (zeroed by the caller).
    """
    order = np.argsort(-theta.astype(np.float64))
    parent = np.arange(n_nodes)
    size = np.ones(n_nodes, dtype=np.int64)
    taken = 0
    for k in range(order.shape[0]):
        if taken == n_nodes - 1:
            break
        e = order[k]
        ru = _find(parent, edges[e, 0])
        rv = _find(parent, edges[e, 1])
        if ru == rv:
            continue
        if size[ru] < size[rv]:
            ru, rv = rv, ru
        parent[rv] = ru
        size[ru] += size[rv]
        y[e] = 1.0
        taken += 1


@njit(cache=True)
def prim_one(
    theta: np.ndarray,
    indptr: np.ndarray,
    nbr: np.ndarray,
    eid: np.ndarray,
    n_nodes: int,
    y: np.ndarray,
) -> None:
    """Prim with an array of best connecting weights: O(n² + E), no heap, no sort.

    The graph is given in CSR form (``indptr``, neighbour ``nbr`` and edge id ``eid`` per
    directed half-edge). Grows the tree from node 0, each time adding the outside node
    with the heaviest edge into the tree. Writes the 0/1 edge indicator into ``y``.
    """
    best = np.full(n_nodes, -np.inf)
    best_edge = np.full(n_nodes, -1, dtype=np.int64)
    in_tree = np.zeros(n_nodes, dtype=np.bool_)
    v = 0
    for _ in range(n_nodes - 1):
        in_tree[v] = True
        for k in range(indptr[v], indptr[v + 1]):
            w = nbr[k]
            if not in_tree[w]:
                t = np.float64(theta[eid[k]])
                if best_edge[w] < 0 or t > best[w]:
                    best[w] = t
                    best_edge[w] = eid[k]
        nxt = -1
        top = -np.inf
        for w in range(n_nodes):
            if not in_tree[w] and best_edge[w] >= 0 and (nxt < 0 or best[w] > top):
                top = best[w]
                nxt = w
        y[best_edge[nxt]] = 1.0
        v = nxt


@njit(cache=True)
def spanning_tree_one(
    theta: np.ndarray,
    edges: np.ndarray,
    indptr: np.ndarray,
    nbr: np.ndarray,
    eid: np.ndarray,
    n_nodes: int,
    use_prim: bool,
) -> np.ndarray:
    """One instance ``theta`` (E,) without the thread-pool launch of the batch kernel."""
    y = np.zeros(theta.shape, dtype=theta.dtype)
    if use_prim:
        prim_one(theta, indptr, nbr, eid, n_nodes, y)
    else:
        kruskal_one(theta, edges, n_nodes, y)
    return y


@parallel_kernel(min_size=2048)
def spanning_tree_batch(
    theta: np.ndarray,
    edges: np.ndarray,
    indptr: np.ndarray,
    nbr: np.ndarray,
    eid: np.ndarray,
    n_nodes: int,
    use_prim: bool,
) -> np.ndarray:
    """Maximum spanning tree indicators for a batch ``theta`` (B, E); one instance per thread."""
    y = np.zeros(theta.shape, dtype=theta.dtype)
    for b in prange(theta.shape[0]):
        if use_prim:
            prim_one(theta[b], indptr, nbr, eid, n_nodes, y[b])
        else:
            kruskal_one(theta[b], edges, n_nodes, y[b])
    return y
