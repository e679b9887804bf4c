"""Shortest path on a general directed graph with costs on the edges.

The graph is fixed at construction: ``n_nodes``, an edge list ``[(u, v), ...]`` (edge ``e``
is ``edges[e]``), a ``source`` and a ``target``:

    solvers.get("shortest_path_graph", n_nodes=4, edges=[(0, 1), (1, 3), (0, 2), (2, 3)],
                source=0, target=3)
    solvers.get("shortest_path_graph", **grid_dag(5, 5))      # PyEPO-style 5×5 grid

``θ = -c`` holds minus the edge costs, shape ``(B, n_edges)`` or ``(n_edges,)``, and ``y`` is
the 0/1 indicator of the edges of a shortest source→target path, ``y*(θ) = argmax ⟨θ, y⟩``.

Graph rules: nodes are ``0..n_nodes-1``; an edge out of range or a self-loop ``(v, v)`` is
rejected (a self-loop never lies on a path); parallel edges are allowed (each has its own
cost, so multigraphs work); the target must be reachable from the source, else the
constructor raises. ``source == target`` is allowed and gives the empty path ``y = 0``.

Backend ``numba`` (default) picks its algorithm from the graph:

* a DAG (checked once at construction): dynamic programming in topological order, exact
  for any sign of the costs. Ties go to the first relaxation, in topological order of the
  tail node (Kahn's order, smallest node first) and then edge index.
* a graph with cycles: Dijkstra with a binary heap; costs must be ``>= 0`` (``θ <= 0``).
  Negative costs raise :class:`SolverInputError` unless the solver is built with
  ``negative_costs="clamp"``, which clamps them at zero (``θ ← min(θ, 0)``). Heap entries
  are ordered by (distance, node); predecessors change on a strictly smaller distance.

Backend ``networkx`` is the reference: Dijkstra for non-negative costs, Goldberg–Radzik
(a Bellman-Ford variant) otherwise (DAGs only). Both run one instance at a time.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _shortest_path_kernels as _k
from .base import LPForm, Solver, SolverInputError, check_path_sum
from .registry import register

__all__ = [
    "GraphShortestPath",
    "NumbaGraphShortestPath",
    "NetworkxGraphShortestPath",
    "grid_dag",
]

_PROBLEM = "shortest_path_graph"


def grid_dag(rows: int, cols: int | None = None) -> dict[str, Any]:
    """The PyEPO ``rows×cols`` grid DAG as keyword arguments for ``shortest_path_graph``.

    Nodes are the grid points numbered row-major (``r * cols + c``); edges go right
    ``(v, v + 1)`` and down ``(v, v + cols)``; the source is the top-left node ``0`` and the
    target the bottom-right node ``rows * cols - 1``. Edge order is PyEPO's: for each row
    ``r``, first its ``cols - 1`` right edges (left to right), then, unless ``r`` is the last
    row, its ``cols`` down edges (left to right); ``2 * rows * cols - rows - cols`` edges in
    all (``2k(k-1)`` for a ``k×k`` grid), so PyEPO cost vectors can be used unchanged.

    Examples:
        >>> graph = grid_dag(5)
        >>> graph["n_nodes"], len(graph["edges"]), graph["source"], graph["target"]
        (25, 40, 0, 24)
    """
    cols = rows if cols is None else cols
    for name, val in (("rows", rows), ("cols", cols)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{_PROBLEM}: grid_dag needs {name} >= 1, got {val!r}")
    edges = []
    for r in range(rows):
        edges += [(r * cols + c, r * cols + c + 1) for c in range(cols - 1)]
        if r < rows - 1:
            edges += [(r * cols + c, (r + 1) * cols + c) for c in range(cols)]
    return {"n_nodes": rows * cols, "edges": edges, "source": 0, "target": rows * cols - 1}


def _as_index(value: Any, name: str, n_nodes: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{_PROBLEM}: {name} must be an integer node index, got {value!r}")
    if not 0 <= value < n_nodes:
        raise ValueError(f"{_PROBLEM}: {name}={value} is not a node of 0..{n_nodes - 1}")
    return int(value)


def _topological_order(n: int, tails: np.ndarray, heads: np.ndarray) -> np.ndarray | None:
    """Kahn's topological order (smallest ready node first), or ``None`` if there is a cycle."""
    indeg = np.bincount(heads, minlength=n)
    out: list[list[int]] = [[] for _ in range(n)]
    for u, v in zip(tails.tolist(), heads.tolist()):
        out[u].append(v)
    ready = [v for v in range(n) if indeg[v] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        u = heapq.heappop(ready)
        order.append(u)
        for v in out[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(ready, v)
    return np.array(order, dtype=np.int64) if len(order) == n else None


def _reachable(n: int, tails: np.ndarray, heads: np.ndarray, start: int) -> np.ndarray:
    adj = sp.csr_matrix((np.ones(len(tails)), (tails, heads)), shape=(n, n))
    seen = np.zeros(n, dtype=bool)
    seen[start] = True
    stack = [start]
    while stack:
        u = stack.pop()
        for v in adj.indices[adj.indptr[u] : adj.indptr[u + 1]]:
            if not seen[v]:
                seen[v] = True
                stack.append(int(v))
    return seen


class GraphShortestPath(Solver):
    """Shared set-up of the graph backends: graph checks, input checks and the LP form.

    Parameters
    ----------
    n_nodes, edges, source, target:
        The directed graph (see the module docstring for the rules).
    negative_costs:
        For graphs with cycles: ``"raise"`` (default) rejects ``θ > 0``, ``"clamp"`` clamps
        costs at zero. Ignored for DAGs, where any sign is solved exactly.

    Examples:
        >>> import numpy as np, solvers
        >>> edges = [(0, 1), (1, 3), (0, 2), (2, 3)]
        >>> sp = solvers.get("shortest_path_graph", n_nodes=4, edges=edges, source=0, target=3)
        >>> sp.solve(-np.array([1.0, 1.0, 0.5, 0.5]))
        array([0., 0., 1., 1.])
    """

    problem = _PROBLEM
    event_ndim = 1

    def __init__(
        self,
        n_nodes: int,
        edges: Any,
        source: int,
        target: int,
        negative_costs: str = "raise",
    ) -> None:
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)) or n_nodes < 1:
            raise ValueError(f"{_PROBLEM}: n_nodes must be a positive integer, got {n_nodes!r}")
        n = int(n_nodes)
        try:
            arr = np.asarray(edges)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{_PROBLEM}: edges must be a list of (u, v) pairs: {exc}") from exc
        if arr.size == 0:
            arr = np.zeros((0, 2), dtype=np.int64)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iu":
            raise ValueError(
                f"{_PROBLEM}: edges must be integer (u, v) pairs of shape (n_edges, 2), "
                f"got an array of shape {arr.shape} and dtype {arr.dtype}"
            )
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(f"{_PROBLEM}: edge endpoints must lie in 0..{n - 1}")
        loops = np.flatnonzero(arr[:, 0] == arr[:, 1])
        if loops.size:
            raise ValueError(
                f"{_PROBLEM}: self-loops are not allowed (edge {int(loops[0])} is "
                f"{tuple(arr[loops[0]].tolist())})"
            )
        if negative_costs not in ("raise", "clamp"):
            raise ValueError(
                f"{_PROBLEM}: negative_costs must be 'raise' or 'clamp', got {negative_costs!r}"
            )
        self.n_nodes = n
        self.edges = arr
        self.edges.setflags(write=False)
        self.source = _as_index(source, "source", n)
        self.target = _as_index(target, "target", n)
        self.negative_costs = negative_costs
        self.instance_shape = (arr.shape[0],)
        self._tails = np.ascontiguousarray(arr[:, 0])
        self._heads = np.ascontiguousarray(arr[:, 1])
        if not _reachable(n, self._tails, self._heads, self.source)[self.target]:
            raise ValueError(
                f"{_PROBLEM}: the target {self.target} is not reachable from the source "
                f"{self.source}"
            )
        self._order = _topological_order(n, self._tails, self._heads)
        self.is_dag = self._order is not None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_nodes={self.n_nodes}, n_edges={self.edges.shape[0]}, "
            f"source={self.source}, target={self.target}, dag={self.is_dag})"
        )

    def validate(self, theta: Any) -> np.ndarray:
        """Check ``θ`` (finite, real, ``(..., n_edges)``); on cyclic graphs also its sign."""
        arr = super().validate(theta)
        if arr.size:
            check_path_sum(float(np.abs(arr).max()), arr.shape[-1], self.problem)
        if not self.is_dag and arr.size and arr.max() > 0:
            if self.negative_costs == "clamp":
                return np.minimum(arr, 0)
            raise SolverInputError(
                f"{_PROBLEM}: the graph has a cycle, so edge costs must be >= 0 "
                f"(θ = -costs <= 0), but max θ = {arr.max():g}; build the solver with "
                "negative_costs='clamp' to clamp negative costs at zero"
            )
        return arr

    def lp_form(self, shape: Any = None, **side: Any) -> LPForm:
        """Unit flow LP: ``outflow(v) - inflow(v) = [v = s] - [v = t]``, ``0 <= x_e <= 1``.

        One variable per edge and ``y = x``. The node-edge incidence matrix is totally
        unimodular, so the polytope is integral. It describes shortest paths when there is
        no negative-cost cycle (always true on a DAG, and with non-negative costs); with
        zero-cost cycles an optimal vertex may add such cycles (same objective).
        """
        if side:
            raise TypeError(f"{_PROBLEM}: lp_form takes no side data, got {sorted(side)}")
        if shape is not None and tuple(np.atleast_1d(shape)) != self.instance_shape:
            raise ValueError(
                f"{_PROBLEM}: this graph has {self.instance_shape[0]} edges, got shape={shape}"
            )
        n, m = self.n_nodes, self.edges.shape[0]
        ar = np.arange(m)
        vals = np.concatenate([np.ones(m), -np.ones(m)])
        rows = np.concatenate([self._tails, self._heads])
        a_eq = sp.csr_matrix((vals, (rows, np.concatenate([ar, ar]))), shape=(n, m))
        b_eq = np.zeros(n)
        b_eq[self.source] += 1.0
        b_eq[self.target] -= 1.0
        return LPForm(
            n_vars=m,
            y_index=ar,
            A_eq=a_eq,
            b_eq=b_eq,
            upper=np.ones(m),
            integral_polytope=True,
            description=f"unit s-t flow on a directed graph ({n} nodes, {m} edges)",
        )


class NumbaGraphShortestPath(GraphShortestPath):
    """Numba DP in topological order on DAGs, binary-heap Dijkstra otherwise; parallel batch.

    Examples:
        >>> import numpy as np, solvers
        >>> sp = solvers.get("shortest_path_graph", **grid_dag(3))
        >>> sp.solve(-np.ones((2, 12))).sum(axis=1)  # 4 edges from corner to corner
        array([4., 4.])
    """

    backend = "numba"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        n, m = self.n_nodes, self.edges.shape[0]
        by_tail: dict[int, list[int]] = {}
        if self.is_dag:
            # keep the nodes on some source→target path, in topological order
            fwd = _reachable(n, self._tails, self._heads, self.source)
            bwd = _reachable(n, self._heads, self._tails, self.target)
            keep = fwd & bwd
            order = self._order[keep[self._order]]
            for e in range(m):
                if keep[self._tails[e]] and keep[self._heads[e]]:
                    by_tail.setdefault(int(self._tails[e]), []).append(e)
            groups = [by_tail.get(int(u), []) for u in order]
            self._nodes = np.ascontiguousarray(order)
        else:
            for e in range(m):  # edges grouped by tail, in edge-index order
                by_tail.setdefault(int(self._tails[e]), []).append(e)
            groups = [by_tail.get(u, []) for u in range(n)]
        self._out_ptr = np.cumsum([0] + [len(g) for g in groups]).astype(np.int64)
        self._out_edge = np.array([e for g in groups for e in g], dtype=np.int64)

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        if self.source == self.target:
            return np.zeros(theta.shape)
        common = (self._out_ptr, self._out_edge, self._heads, self._tails, self.source, self.target)
        if self.is_dag:
            return _k.dag_longest_path_batch(theta, self.n_nodes, self._nodes, *common)
        return _k.graph_dijkstra_batch(-theta, self.n_nodes, *common)


class NetworkxGraphShortestPath(GraphShortestPath):
    """networkx reference: Dijkstra for non-negative costs, Goldberg–Radzik otherwise.

    Examples:
        >>> import numpy as np, solvers
        >>> sp = solvers.get("shortest_path_graph", backend="networkx", n_nodes=3,
        ...                  edges=[(0, 1), (1, 2), (0, 2)], source=0, target=2)
        >>> sp.solve(-np.array([1.0, 1.0, 3.0]))
        array([1., 1., 0.])
    """

    backend = "networkx"

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        import networkx as nx

        graph = nx.MultiDiGraph()
        graph.add_nodes_from(range(self.n_nodes))
        for e, (u, v) in enumerate(self.edges.tolist()):
            graph.add_edge(u, v, key=e)
        y = np.zeros(theta.shape)
        if self.source == self.target:
            return y
        for i, row in enumerate(-np.asarray(theta, dtype=np.float64)):
            c = row.tolist()

            def weight(u: int, v: int, keys: dict, c: list[float] = c) -> float:
                return min(c[k] for k in keys)

            if min(c, default=0.0) >= 0:
                nodes = nx.dijkstra_path(graph, self.source, self.target, weight=weight)
            else:
                nodes = _goldberg_radzik_path(nx, graph, self.source, self.target, weight)
            for u, v in zip(nodes[:-1], nodes[1:]):
                y[i, min(graph[u][v], key=lambda k, c=c: c[k])] = 1.0
        return y


def _goldberg_radzik_path(nx: Any, graph: Any, source: int, target: int, weight: Any) -> list:
    """The nodes of a shortest ``source`` → ``target`` path by networkx's Goldberg–Radzik.

    Not networkx's Bellman–Ford: it skips the edges of a node whose distance a second
    relaxation only matches, which floating-point absorption makes happen on costs of very
    different magnitudes (costs from 1e-314 to 1e219: a path 3.5e219 short of the optimum).
    """
    pred, _ = nx.goldberg_radzik(graph, source, weight=weight)
    if target not in pred:
        raise nx.NetworkXNoPath(f"node {target} not reachable from {source}")
    nodes = [target]
    while nodes[-1] != source:
        nodes.append(pred[nodes[-1]])
    return nodes[::-1]


register(
    _PROBLEM,
    "numba",
    NumbaGraphShortestPath,
    "directed graph path, edge costs; Numba DP on DAGs (any sign), Dijkstra otherwise;"
    " params n_nodes, edges, source, target (see grid_dag)",
    default=True,
)
register(
    _PROBLEM,
    "networkx",
    NetworkxGraphShortestPath,
    "directed graph path, networkx Dijkstra / Goldberg-Radzik per instance (reference)",
)
