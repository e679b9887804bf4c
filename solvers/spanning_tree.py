"""Maximum-weight spanning tree of a fixed undirected graph.

The graph ``G = (V, E)`` (``n_nodes`` nodes, ``E`` edges, connected) is fixed at
construction; ``θ`` of shape ``(..., E)`` holds one score per edge and the solver returns

    y*(θ) = argmax { ⟨θ, y⟩ : y ∈ {0,1}^E the indicator of a spanning tree of G },

the vertices of the spanning-tree polytope (Edmonds, "Matroids and the greedy algorithm",
Math. Programming 1, 1971). Minimum-cost trees enter as ``θ = -c``
(:func:`~solvers.base.costs_to_theta`). With ``edges`` omitted the graph is complete, its
edges in ``itertools.combinations(range(n_nodes), 2)`` order.

Backends:

* ``numba`` (default): Kruskal (sort + union-find; Kruskal, Proc. AMS 7, 1956) on sparse
  graphs and array-based Prim (O(n² + E), no sort; Prim, Bell Syst. Tech. J. 36, 1957) on
  dense ones, chosen at construction by edge density (see ``PRIM_MIN_DENSITY``); one
  ``prange`` loop over the batch.
* ``networkx``: :func:`networkx.maximum_spanning_tree` per instance (reference).
* ``scipy``: :func:`scipy.sparse.csgraph.minimum_spanning_tree` per instance on rank
  weights ``w_e = 1 + #{distinct scores > θ_e}``, the integers ``1..k`` for ``k`` distinct
  scores (the largest score weighs 1). Kruskal's greedy scan, and hence the set of maximum
  spanning trees, depends only on the order of the scores, ties included (Edmonds 1971);
  ``θ_e > θ_f ⇔ w_e < w_f`` and ``θ_e = θ_f ⇔ w_e = w_f``, so the minimum spanning trees
  for ``w`` are exactly the maximum spanning trees for ``θ``. The weights are exact in
  float64 for any finite ``θ`` (no rounding merges close scores, nothing overflows) and
  ``>= 1``, since SciPy reads a zero entry as a missing edge.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._spanning_tree_kernels import spanning_tree_batch, spanning_tree_one
from .base import LPForm, Solver, SolverInputError
from .registry import register

__all__ = ["SpanningTreeSolver", "NetworkxSpanningTree", "ScipySpanningTree", "PRIM_MIN_DENSITY"]

PRIM_MIN_DENSITY = 0.1
"""Prim is used when ``E >= PRIM_MIN_DENSITY · n(n-1)/2``. Measured with
benchmarks/bench_spanning_tree.py (n = 100, one thread): Kruskal's sort costs 5.7× Prim on the
complete graph, 1.7× at density 0.2 and 1.3× at 0.1, while Kruskal is 3× faster at density 0.03
(E ~ 1.5 n). The crossover lies near 0.1.
"""


class SpanningTreeSolver(Solver):
    """Maximum-weight spanning tree of a fixed connected undirected graph (Numba kernels).

    Parameters
    ----------
    n_nodes:
        Number of nodes, ``>= 1``.
    edges:
        ``(E, 2)`` node pairs ``(u, v)``, ``0 <= u, v < n_nodes``, ``u != v``, no pair
        repeated in either orientation. ``None`` gives the complete graph.
    algorithm:
        ``"auto"`` (by density), ``"prim"`` or ``"kruskal"`` (``numba`` backend only).

    Examples:
        >>> import numpy as np, solvers
        >>> ring = solvers.get("spanning_tree", n_nodes=4, edges=[(0, 1), (1, 2), (2, 3), (3, 0)])
        >>> ring.solve(np.array([4.0, 3.0, 2.0, 1.0]))  # drop the lightest edge
        array([1., 1., 1., 0.])
    """

    problem = "spanning_tree"
    backend = "numba"
    event_ndim = 1

    def __init__(
        self,
        n_nodes: int,
        edges: Any = None,
        algorithm: str = "auto",
    ) -> None:
        self.n_nodes, self.edges = _check_graph(n_nodes, edges)
        self.n_edges = self.edges.shape[0]
        self.instance_shape = (self.n_edges,)
        if algorithm not in ("auto", "prim", "kruskal"):
            raise ValueError(
                f"spanning_tree: algorithm must be 'auto', 'prim' or 'kruskal', got {algorithm!r}"
            )
        n = self.n_nodes
        dense = self.n_edges >= PRIM_MIN_DENSITY * n * (n - 1) / 2
        self.algorithm = ("prim" if dense else "kruskal") if algorithm == "auto" else algorithm
        # CSR adjacency: both orientations of every edge, with the edge id.
        tails = np.concatenate([self.edges[:, 0], self.edges[:, 1]])
        heads = np.concatenate([self.edges[:, 1], self.edges[:, 0]])
        ids = np.concatenate([np.arange(self.n_edges)] * 2)
        order = np.argsort(tails, kind="stable")
        self._nbr = np.ascontiguousarray(heads[order])
        self._eid = np.ascontiguousarray(ids[order])
        self._indptr = np.searchsorted(tails[order], np.arange(n + 1)).astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_nodes={self.n_nodes}, n_edges={self.n_edges}, "
            f"backend={self.backend!r})"
        )

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        args = (self.edges, self._indptr, self._nbr, self._eid, self.n_nodes)
        use_prim = self.algorithm == "prim"
        if theta.shape[0] == 1:  # skip the thread-pool launch for a single instance
            return spanning_tree_one(theta[0], *args, use_prim)[None]
        return spanning_tree_batch(theta, *args, use_prim)

    def is_spanning_tree(self, y: np.ndarray) -> bool:
        """Whether the 0/1 vector ``y`` (E,) is the indicator of a spanning tree."""
        y = np.asarray(y)
        if y.shape != (self.n_edges,) or not np.all((y == 0) | (y == 1)):
            return False
        chosen = self.edges[y == 1]
        return chosen.shape[0] == self.n_nodes - 1 and _n_components(self.n_nodes, chosen) == 1

    def lp_form(self, shape: Any = None) -> LPForm:
        """Single-commodity flow formulation (exact with integral ``y``).

        Variables ``x = (y, f⁺, f⁻)``, each of length ``E``: ``f⁺_e`` flows from ``u`` to
        ``v`` along edge ``e = (u, v)``, ``f⁻_e`` from ``v`` to ``u``. Node 0 sends ``n - 1``
        units and every other node consumes one:

            Σ_out f - Σ_in f = n - 1 (node 0), -1 (other nodes)
            f⁺_e <= (n - 1) y_e,   f⁻_e <= (n - 1) y_e,   Σ_e y_e = n - 1,
            y ∈ {0, 1}^E,   0 <= f <= n - 1.

        A 0/1 ``y`` admits such a flow iff its edges connect every node to node 0; with
        ``n - 1`` edges that is exactly a spanning tree. So the integer points project onto
        the spanning trees, but the LP relaxation is not integral (``integrality`` is set
        on ``y``, and a MIP solver is needed). ``O(E)`` variables and constraints, in
        contrast to the exponentially many subtour constraints of Edmonds' polytope
        (Magnanti & Wolsey, "Optimal trees", Handbooks in OR & MS 7, 1995, §3).
        """
        if shape is not None and tuple(np.atleast_1d(shape)) != self.instance_shape:
            raise SolverInputError(
                f"spanning_tree: lp_form shape {shape!r} does not match the graph's "
                f"{self.n_edges} edges"
            )
        n, e = self.n_nodes, self.n_edges
        u, v = self.edges[:, 0], self.edges[:, 1]
        ar = np.arange(e)
        # node balance rows (n), then Σ y = n - 1
        rows = np.concatenate([u, v, v, u, np.full(e, n)])
        cols = np.concatenate([e + ar, e + ar, 2 * e + ar, 2 * e + ar, ar])
        vals = np.concatenate([np.ones(e), -np.ones(e), np.ones(e), -np.ones(e), np.ones(e)])
        a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(n + 1, 3 * e))
        b_eq = np.full(n + 1, -1.0)
        b_eq[0] = n - 1.0
        b_eq[n] = n - 1.0
        cap = float(n - 1)
        ub_rows = np.concatenate([ar, ar, e + ar, e + ar])
        ub_cols = np.concatenate([e + ar, ar, 2 * e + ar, ar])
        ub_vals = np.concatenate([np.ones(e), np.full(e, -cap), np.ones(e), np.full(e, -cap)])
        a_ub = sp.csr_matrix((ub_vals, (ub_rows, ub_cols)), shape=(2 * e, 3 * e))
        return LPForm(
            n_vars=3 * e,
            y_index=ar,
            A_eq=a_eq,
            b_eq=b_eq,
            A_ub=a_ub,
            b_ub=np.zeros(2 * e),
            upper=np.concatenate([np.ones(e), np.full(2 * e, cap)]),
            integrality=np.concatenate([np.ones(e, dtype=bool), np.zeros(2 * e, dtype=bool)]),
            integral_polytope=False,
            description="spanning trees via single-commodity flow from node 0 (MIP)",
        )


class NetworkxSpanningTree(SpanningTreeSolver):
    """Reference: :func:`networkx.maximum_spanning_tree` (Kruskal) per instance.

    Examples:
        >>> import numpy as np, solvers
        >>> tree = solvers.get("spanning_tree", backend="networkx", n_nodes=3)
        >>> tree.solve(np.array([1.0, 2.0, 3.0]))
        array([0., 1., 1.])
    """

    backend = "networkx"

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        import networkx as nx

        y = np.zeros_like(theta)
        for b in range(theta.shape[0]):
            g = nx.Graph()
            g.add_nodes_from(range(self.n_nodes))
            g.add_edges_from(
                (int(u), int(v), {"weight": float(t), "id": k})
                for k, ((u, v), t) in enumerate(zip(self.edges, theta[b]))
            )
            tree = nx.maximum_spanning_tree(g, weight="weight", algorithm="kruskal")
            y[b, [d["id"] for _, _, d in tree.edges(data=True)]] = 1.0
        return y


class ScipySpanningTree(SpanningTreeSolver):
    """Reference: :func:`scipy.sparse.csgraph.minimum_spanning_tree` on the rank weights of
    :func:`_rank_weights` (``1`` for the largest score).

    Examples:
        >>> import numpy as np, solvers
        >>> tree = solvers.get("spanning_tree", backend="scipy", n_nodes=3)
        >>> tree.solve(np.array([1.0, 2.0, 3.0]))
        array([0., 1., 1.])
    """

    backend = "scipy"

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        from scipy.sparse.csgraph import minimum_spanning_tree

        lo = np.minimum(self.edges[:, 0], self.edges[:, 1])
        hi = np.maximum(self.edges[:, 0], self.edges[:, 1])
        ids = sp.csr_matrix((np.arange(1, self.n_edges + 1), (lo, hi)), (self.n_nodes,) * 2)
        y = np.zeros_like(theta)
        if self.n_edges == 0:  # a single node: the empty tree
            return y
        for b in range(theta.shape[0]):
            graph = sp.csr_matrix((_rank_weights(theta[b]), (lo, hi)), shape=(self.n_nodes,) * 2)
            tree = minimum_spanning_tree(graph).tocoo()
            r = np.minimum(tree.row, tree.col)
            c = np.maximum(tree.row, tree.col)
            y[b, np.asarray(ids[r, c]).ravel() - 1] = 1.0
        return y


def _rank_weights(theta: np.ndarray) -> np.ndarray:
    """``w_e = 1 + #{distinct θ_f > θ_e}``: float64 integers ``>= 1``, decreasing in ``θ_e``,
    equal exactly for equal scores."""
    distinct, rank = np.unique(theta, return_inverse=True)  # rank: ascending, 0-based
    return (distinct.size - rank).astype(np.float64)


def _check_graph(n_nodes: Any, edges: Any) -> tuple[int, np.ndarray]:
    """Validate the graph; return ``(n_nodes, edges (E, 2) int64)``."""
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)) or n_nodes < 1:
        raise ValueError(f"spanning_tree: n_nodes must be an integer >= 1, got {n_nodes!r}")
    n = int(n_nodes)
    if edges is None:
        pairs = list(itertools.combinations(range(n), 2))
        arr = np.array(pairs, dtype=np.int64).reshape(len(pairs), 2)
    else:
        try:
            raw = np.asarray(edges)
        except (TypeError, ValueError) as exc:
            raise SolverInputError(
                f"spanning_tree: edges must be a sequence of (u, v) pairs of node indices: {exc}"
            ) from exc
        if raw.size == 0:
            raw = raw.reshape(0, 2)
        if raw.ndim != 2 or raw.shape[1] != 2:
            raise SolverInputError(
                f"spanning_tree: edges must be a sequence of (u, v) pairs, got shape {raw.shape}"
            )
        if raw.dtype.kind not in "iu":
            if raw.dtype.kind != "f" or not np.all(np.isfinite(raw)) or np.any(raw != raw // 1):
                raise TypeError(
                    f"spanning_tree: edge endpoints must be integers, got dtype {raw.dtype}"
                )
        arr = raw.astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise SolverInputError(
                f"spanning_tree: edge endpoints must lie in 0..{n - 1}, got values in "
                f"{arr.min()}..{arr.max()}"
            )
        loops = np.flatnonzero(arr[:, 0] == arr[:, 1])
        if loops.size:
            raise SolverInputError(
                f"spanning_tree: self-loop at edge {loops[0]} {tuple(arr[loops[0]])}; "
                "a tree never uses one, remove it"
            )
        key = np.sort(arr, axis=1)
        _, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
        if np.any(counts > 1):
            dup = tuple(key[first[np.argmax(counts > 1)]])
            raise SolverInputError(
                f"spanning_tree: edge {dup} appears more than once (in either orientation); "
                "parallel edges are not supported, keep the one you need"
            )
        arr = np.ascontiguousarray(arr)
    comps = _n_components(n, arr)
    if comps != 1:
        raise SolverInputError(
            f"spanning_tree: the graph is disconnected ({comps} components on {n} nodes), "
            "so it has no spanning tree"
        )
    return n, arr


def _n_components(n: int, edges: np.ndarray) -> int:
    """Number of connected components of the graph on ``n`` nodes (SciPy)."""
    from scipy.sparse.csgraph import connected_components

    adj = sp.csr_matrix((np.ones(edges.shape[0]), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return int(connected_components(adj, directed=False)[0])


register(
    "spanning_tree",
    "numba",
    SpanningTreeSolver,
    "maximum-weight spanning tree of a fixed graph (params n_nodes, edges), Numba "
    "Prim (dense) / Kruskal (sparse), batch-parallel",
    default=True,
)
register(
    "spanning_tree",
    "networkx",
    NetworkxSpanningTree,
    "networkx.maximum_spanning_tree per instance (reference)",
)
register(
    "spanning_tree",
    "scipy",
    ScipySpanningTree,
    "scipy.sparse.csgraph.minimum_spanning_tree on rank weights, per instance (reference)",
)
