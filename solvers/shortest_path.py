"""Grid shortest path with costs on cells: the Warcraft problem (Vlastelica et al., ICLR 2020).

An instance is an ``H×W`` grid of non-negative cell costs ``c``. A path goes from the top-left
cell ``(0, 0)`` to the bottom-right cell ``(H-1, W-1)``, moving to one of the 8 surrounding
cells (``neighbourhood=8``, the default) or one of the 4 axis neighbours
(``neighbourhood=4``). ``y`` is the ``H×W`` 0/1 indicator of the cells on the path, both
ends included, and the path cost is ``⟨c, y⟩``. Following the maximisation convention of
:mod:`solvers.base`, the solvers take ``θ = -c`` (shape ``(B, H, W)`` or ``(H, W)``, any
``H, W >= 1`` read from ``θ``) and return ``y*(θ) = argmax_y ⟨θ, y⟩``.

Costs must be ``>= 0`` (``θ <= 0``). Positive ``θ`` raises :class:`SolverInputError`
unless the solver is built with ``negative_costs="clamp"``, which replaces ``θ`` by
``min(θ, 0)`` (costs clamped at zero) in :meth:`validate`, so every backend, including
``lp``, solves the clamped instance. The perturbed wrappers use clamping, since Gaussian
noise makes some costs negative.

Tie-breaking (backends ``numba`` and ``python``) reproduces the labels of the Warcraft
dataset exactly: ``dist(source) = c(source)`` and ``dist(v) = dist(u) + c(v)`` in float64;
heap entries are ordered by ``(distance, row, col)`` with stale entries skipped; neighbours
are scanned in the order ``(dr, dc)`` of ``itertools.product((-1, 0, 1), (-1, 0, 1))``
without ``(0, 0)`` (the 4-neighbourhood keeps that order restricted to its four moves);
a cell's predecessor changes only on a strictly smaller distance; the path is rebuilt from
the target back to the source. (Heap keys are unique and a predecessor changes only on a
strict improvement, so the neighbour scan order cannot change the result; it is kept for
fidelity with the reference.) Backends ``scipy`` and ``networkx`` return an optimal path
with their own tie-breaking (same objective, possibly a different ``y``).
"""

from __future__ import annotations

import heapq
import itertools
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _shortest_path_kernels as _k
from . import runtime
from .base import (
    LPForm,
    Solver,
    SolverInputError,
    as_theta,
    check_finite_range,
    check_path_sum,
)
from .registry import register

__all__ = [
    "GridShortestPath",
    "NumbaGridShortestPath",
    "PythonGridShortestPath",
    "ScipyGridShortestPath",
    "NetworkxGridShortestPath",
    "dijkstra_grid_python",
    "grid_edges",
]

_PROBLEM = "shortest_path"

#: Chunks of the batch per thread in the grid kernel (each allocates its scratch once).
CHUNKS_PER_THREAD = 4


def _moves(neighbourhood: int) -> list[tuple[int, int]]:
    moves = [m for m in itertools.product((-1, 0, 1), (-1, 0, 1)) if m != (0, 0)]
    if neighbourhood == 4:
        moves = [m for m in moves if abs(m[0]) + abs(m[1]) == 1]
    return moves


@lru_cache(maxsize=64)
def grid_edges(shape: tuple[int, int], neighbourhood: int = 8) -> np.ndarray:
    """Directed edges ``(u, v)`` of the grid graph, cells numbered row-major ``r * W + c``.

    Edges are listed by tail ``u`` (row-major), then in the neighbour scan order. Returns an
    ``(n_edges, 2)`` int64 array (read-only; cached per shape and neighbourhood).

    Examples:
        >>> grid_edges((2, 2), neighbourhood=4).shape
        (8, 2)
    """
    h, w = shape
    edges = [
        (r * w + c, (r + dr) * w + (c + dc))
        for r in range(h)
        for c in range(w)
        for dr, dc in _moves(neighbourhood)
        if 0 <= r + dr < h and 0 <= c + dc < w
    ]
    arr = np.array(edges, dtype=np.int64).reshape(-1, 2)
    arr.setflags(write=False)
    return arr


def _check_grid_shape(arr: np.ndarray) -> None:
    """Reject a grid without cells: the path needs a source ``(0, 0)`` and a target."""
    h, w = arr.shape[-2:]
    if h < 1 or w < 1:
        raise SolverInputError(
            f"{_PROBLEM}: the grid's height and width must be >= 1, got H={h}, W={w} "
            f"(θ of shape {arr.shape})"
        )


class GridShortestPath(Solver):
    """Shared set-up of the grid backends: options, input checks and the LP form.

    Parameters
    ----------
    neighbourhood:
        ``8`` (default, the Warcraft setting) or ``4``.
    negative_costs:
        ``"raise"`` (default): ``θ > 0`` (a negative cost) raises
        :class:`SolverInputError`. ``"clamp"``: costs are clamped at zero, ``θ ← min(θ, 0)``.

    Examples:
        >>> import numpy as np, solvers
        >>> costs = np.array([[1.0, 9.0, 9.0], [9.0, 1.0, 9.0], [9.0, 9.0, 1.0]])
        >>> solvers.get("shortest_path").solve(-costs)  # the diagonal
        array([[1., 0., 0.],
               [0., 1., 0.],
               [0., 0., 1.]])
    """

    problem = _PROBLEM
    event_ndim = 2

    def __init__(self, neighbourhood: int = 8, negative_costs: str = "raise") -> None:
        if isinstance(neighbourhood, bool) or neighbourhood not in (4, 8):
            raise ValueError(f"{_PROBLEM}: neighbourhood must be 4 or 8, got {neighbourhood!r}")
        if negative_costs not in ("raise", "clamp"):
            raise ValueError(
                f"{_PROBLEM}: negative_costs must be 'raise' or 'clamp', got {negative_costs!r}"
            )
        self.neighbourhood = int(neighbourhood)
        self.negative_costs = negative_costs

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(neighbourhood={self.neighbourhood}, "
            f"negative_costs={self.negative_costs!r})"
        )

    def validate(self, theta: Any) -> np.ndarray:
        """Check ``θ`` (finite, real, ``(..., H, W)`` with ``H, W >= 1``) and its sign; clamp
        when asked to. An empty batch ``(0, H, W)`` passes unchanged."""
        arr = as_theta(theta, self.event_ndim, problem=self.problem, check_finite=False)
        _check_grid_shape(arr)
        if not arr.size:
            return arr
        lo, hi = check_finite_range(arr, self.problem)
        check_path_sum(max(-lo, hi), arr.shape[-2] * arr.shape[-1], self.problem)
        if hi > 0:
            if self.negative_costs == "clamp":
                return np.minimum(arr, 0)
            raise SolverInputError(
                f"{_PROBLEM}: costs must be >= 0, i.e. θ = -costs <= 0, but max θ = "
                f"{hi:g}; build the solver with negative_costs='clamp' to clamp "
                "negative costs at zero"
            )
        return arr

    def lp_form(self, shape: Any = None, **side: Any) -> LPForm:
        """Node-split flow LP of one ``H×W`` grid (``shape=(H, W)``); integral polytope.

        Variables: one flow ``x_e ∈ [0, 1]`` per directed edge ``e = (u, v)`` of the
        neighbourhood graph (order of :func:`grid_edges`), then ``y_v ∈ [0, 1]`` per cell
        (row-major). Constraints, for every cell ``v`` with source ``s`` and target ``t``:

            y_v - inflow(v) = [v = s]        outflow(v) - y_v = -[v = t]

        so ``y_v = inflow(v) + [v = s]`` is the flow through cell ``v``. Each column has
        one ``+1`` and one ``-1`` (the incidence matrix of the node-split graph), so the
        constraint matrix is totally unimodular and the LP has integral vertices. With
        non-negative costs its optimum is a shortest path; when some cells cost zero, an
        optimal vertex may add zero-cost cycles disjoint from the path (same objective).
        """
        if side:
            raise TypeError(f"{_PROBLEM}: lp_form takes no side data, got {sorted(side)}")
        if shape is None or len(tuple(shape)) != 2 or min(shape) < 1:
            raise ValueError(f"{_PROBLEM}: lp_form needs shape=(H, W) with H, W >= 1, got {shape}")
        h, w = (int(s) for s in shape)
        n = h * w
        edges = grid_edges((h, w), self.neighbourhood)
        m = edges.shape[0]
        ar = np.arange(m)
        cells = np.arange(n)
        # rows 0..n-1: y_v - inflow(v); rows n..2n-1: outflow(v) - y_v
        rows = np.concatenate([edges[:, 1], n + edges[:, 0], cells, n + cells])
        cols = np.concatenate([ar, ar, m + cells, m + cells])
        vals = np.concatenate([-np.ones(m), np.ones(m), np.ones(n), -np.ones(n)])
        a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(2 * n, m + n))
        b_eq = np.zeros(2 * n)
        b_eq[0] += 1.0
        b_eq[n + n - 1] -= 1.0
        return LPForm(
            n_vars=m + n,
            y_index=m + cells.reshape(h, w),
            A_eq=a_eq,
            b_eq=b_eq,
            upper=np.ones(m + n),
            integral_polytope=True,
            description=f"{h}x{w} grid, {self.neighbourhood}-neighbourhood, node-split flow",
        )

    @staticmethod
    def _costs(theta: np.ndarray) -> np.ndarray:
        """Non-negative float64 costs ``c = -θ`` of a validated batch."""
        return np.ascontiguousarray(-theta, dtype=np.float64)


class NumbaGridShortestPath(GridShortestPath):
    """Dijkstra in Numba (each cell enters the frontier once, final; a bucket-queue frontier
    up to 1,024 cells, a binary heap above; cells leave it in (distance, row, col) order),
    one parallel ``prange`` loop over the batch.

    Runs through :mod:`solvers.runtime`: batches smaller than ``PARALLEL_MIN_SIZE`` cells in
    all, a busy machine, a fork child... get one thread.

    Examples:
        >>> import numpy as np, solvers
        >>> costs = np.array([[1.0, 1.0], [5.0, 1.0]])
        >>> solvers.get("shortest_path", neighbourhood=4).solve(-costs)
        array([[1., 1.],
               [0., 1.]])
    """

    backend = "numba"

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        moves = _k.MOVES_8 if self.neighbourhood == 8 else _k.MOVES_4
        theta = np.ascontiguousarray(theta, dtype=np.float64)  # the kernels read c = -θ
        return _k.grid_dijkstra_batch(theta, moves, CHUNKS_PER_THREAD * runtime.budget())


def dijkstra_grid_python(costs: np.ndarray, neighbourhood: int = 8) -> np.ndarray:
    """Plain-Python heapq Dijkstra on one cost grid: the labelling rule of the Warcraft data.

    Runs to completion as the field's reference implementation does (the Numba kernel
    stops at the target, which gives the same path). Returns the 0/1 path indicator.

    Examples:
        >>> import numpy as np
        >>> dijkstra_grid_python(np.array([[1.0, 1.0], [5.0, 1.0]]), neighbourhood=4)
        array([[1., 1.],
               [0., 1.]])
    """
    h, w = costs.shape
    cost = np.asarray(costs, dtype=np.float64).tolist()
    moves = _moves(neighbourhood)
    dist = [[float("inf")] * w for _ in range(h)]
    dist[0][0] = cost[0][0]
    pred: dict[tuple[int, int], tuple[int, int]] = {}
    done: set[tuple[int, int]] = set()
    heap = [(dist[0][0], (0, 0))]
    while heap:
        d, (r, c) = heapq.heappop(heap)
        if (r, c) in done:
            continue
        done.add((r, c))
        for dr, dc in moves:
            rr, cc = r + dr, c + dc
            if 0 <= rr < h and 0 <= cc < w and (rr, cc) not in done:
                nd = d + cost[rr][cc]
                if nd < dist[rr][cc]:
                    dist[rr][cc] = nd
                    pred[(rr, cc)] = (r, c)
                    heapq.heappush(heap, (nd, (rr, cc)))
    y = np.zeros((h, w))
    cell = (h - 1, w - 1)
    y[cell] = 1.0
    while cell != (0, 0):
        cell = pred[cell]
        y[cell] = 1.0
    return y


class PythonGridShortestPath(GridShortestPath):
    """Plain-Python heapq Dijkstra, one instance at a time (reference and baseline).

    Examples:
        >>> import numpy as np, solvers
        >>> costs = np.random.default_rng(0).uniform(0.5, 9.0, size=(3, 6, 6))
        >>> a = solvers.get("shortest_path", backend="python").solve(-costs)
        >>> bool((a == solvers.get("shortest_path").solve(-costs)).all())  # the same tie-breaking
        True
    """

    backend = "python"

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        costs = self._costs(theta)
        return np.stack([dijkstra_grid_python(c, self.neighbourhood) for c in costs])


class ScipyGridShortestPath(GridShortestPath):
    """``scipy.sparse.csgraph.dijkstra`` per instance; edge ``(u, v)`` weighs ``c(v)``.

    Zero-cost cells become explicit zero entries of the sparse matrix, which csgraph treats
    as edges of weight zero. Costs are validated (or clamped) before csgraph sees them.

    Examples:
        >>> import numpy as np, solvers
        >>> costs = np.random.default_rng(0).uniform(0.5, 9.0, size=(4, 6, 6))
        >>> a = solvers.get("shortest_path", backend="scipy").solve(-costs)
        >>> b = solvers.get("shortest_path").solve(-costs)
        >>> bool(np.allclose((a * costs).sum((1, 2)), (b * costs).sum((1, 2))))  # the same cost
        True
    """

    backend = "scipy"

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        from scipy.sparse.csgraph import dijkstra

        b, h, w = theta.shape
        n = h * w
        edges = grid_edges((h, w), self.neighbourhood)
        order = np.lexsort((edges[:, 1], edges[:, 0]))
        heads = edges[order, 1]
        indptr = np.searchsorted(edges[order, 0], np.arange(n + 1))
        costs = self._costs(theta).reshape(b, n)
        y = np.zeros((b, n))
        for i in range(b):
            graph = sp.csr_matrix((costs[i, heads], heads, indptr), shape=(n, n))
            _, pred = dijkstra(graph, indices=0, return_predecessors=True)
            v = n - 1
            y[i, v] = 1.0
            while v != 0:
                v = pred[v]
                y[i, v] = 1.0
        return y.reshape(b, h, w)


class NetworkxGridShortestPath(GridShortestPath):
    """``networkx.dijkstra_path`` per instance on the directed grid graph (reference).

    Examples:
        >>> import numpy as np, solvers
        >>> costs = np.random.default_rng(0).uniform(0.5, 9.0, size=(2, 5, 5))
        >>> a = solvers.get("shortest_path", backend="networkx").solve(-costs)
        >>> b = solvers.get("shortest_path").solve(-costs)
        >>> bool(np.allclose((a * costs).sum((1, 2)), (b * costs).sum((1, 2))))
        True
    """

    backend = "networkx"

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        import networkx as nx

        b, h, w = theta.shape
        graph = nx.DiGraph()
        graph.add_nodes_from(range(h * w))
        graph.add_edges_from(map(tuple, grid_edges((h, w), self.neighbourhood).tolist()))
        costs = self._costs(theta).reshape(b, h * w)
        y = np.zeros((b, h * w))
        for i in range(b):
            c = costs[i].tolist()
            path = nx.dijkstra_path(graph, 0, h * w - 1, weight=lambda u, v, d, c=c: c[v])
            y[i, path] = 1.0
        return y.reshape(b, h, w)


register(
    _PROBLEM,
    "numba",
    NumbaGridShortestPath,
    "grid path, costs on cells (Warcraft labels); Numba Dijkstra, parallel batch;"
    " params neighbourhood=8|4, negative_costs='raise'|'clamp'",
    default=True,
)
register(
    _PROBLEM,
    "python",
    PythonGridShortestPath,
    "grid path, plain-Python heapq Dijkstra with the Warcraft tie-breaking (reference)",
)
register(
    _PROBLEM,
    "scipy",
    ScipyGridShortestPath,
    "grid path, scipy.sparse.csgraph.dijkstra per instance (reference)",
)
register(
    _PROBLEM,
    "networkx",
    NetworkxGridShortestPath,
    "grid path, networkx.dijkstra_path per instance (reference)",
)
