"""Travelling salesman problem on the complete graph: the best Hamiltonian tour.

For ``n >= 3`` cities, ``θ`` holds one score per undirected edge of the complete graph,
shape ``(..., E)`` with ``E = n(n-1)/2``, and the solver returns

    y*(θ) = argmax { ⟨θ, y⟩ : y ∈ {0,1}^E the indicator of a Hamiltonian cycle },

``n`` edges that visit every city once. Distances ``d`` enter as ``θ = -d``
(:func:`~solvers.base.costs_to_theta`); :func:`edge_vector` reads a symmetric ``(n, n)``
matrix into this form.

**Representation.** The edges are ordered as ``itertools.combinations(range(n), 2)``:
``(0,1), (0,2), …, (0,n-1), (1,2), …`` (the upper triangle, row by row, as
``scipy.spatial.distance.pdist`` and PyEPO's TSP use; :func:`complete_graph_edges`). One
entry per edge rather than a symmetric ``(n, n)`` matrix: each decision has exactly one
score, so perturbing ``θ`` perturbs each edge once (a matrix would draw two independent
noises for the same edge and split its gradient between two entries, with a diagonal that
means nothing); the entries of ``y`` are exactly the LP form's edge variables; and the
layers' per-entry losses (Hamming, projections) count every edge once. Every tour has
exactly ``n`` edges, so adding a constant to ``θ`` does not change the optimum.

Backends:

* ``numba`` (default): Held–Karp dynamic programming (:mod:`solvers._tsp_kernels`), exact,
  ``O(n² 2ⁿ)`` time and ``9·(n-1)·2^(n-1)`` bytes of tables per thread; one ``prange`` over
  the batch. It solves ``n <= max_nodes`` (default 20: 90 MB per thread; at most 24) and
  raises :class:`SolverInputError` above, naming the ``ortools`` backend. Measured with
  ``benchmarks/bench_tsp.py``, it is 100× faster than CP-SAT at 12 cities and CP-SAT
  overtakes it at about 18.
* ``ortools``: OR-Tools CP-SAT with its circuit constraint (``AddCircuit`` on the two arcs
  of every edge) and LP cuts at linearisation level 2, exact: optimal within the time
  limit for the integer-scaled scores of :mod:`solvers._cpsat` (integer ``θ`` up to
  ``2^40`` exactly; otherwise within ``n·2^-40·max|θ - mid|`` of the optimum, ``mid`` the
  midrange that is subtracted first). One instance at a time; ``time_limit`` seconds
  each (default 60), ``num_workers`` search threads (default 1, deterministic), and
  ``on_time_limit`` ``"warn"`` (return the best tour found, with a RuntimeWarning) or
  ``"raise"``.
* ``lp`` (derived, reference): the MIP of :meth:`~TSPSolver.lp_form` (single-commodity
  flow) through :mod:`solvers.lp` with SCIP; slow, for cross-checks on small ``n``.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import runtime
from ._cpsat import CpSatOptions, TimeLimitReport, integer_objective, solve_model
from ._tsp_kernels import held_karp, held_karp_batch, work_tables
from .base import LPForm, Solver, SolverInputError, as_array, check_path_sum
from .registry import register

__all__ = [
    "TSPSolver",
    "TSPCpSatSolver",
    "complete_graph_edges",
    "edge_vector",
    "DEFAULT_MAX_NODES",
    "MAX_DP_NODES",
]

DEFAULT_MAX_NODES = 20
"""Default largest ``n`` the Held–Karp backend solves (tables of 90 MB per thread)."""
MAX_DP_NODES = 24
"""Hard limit of ``max_nodes``: 24 cities need tables of 1.7 GB per thread."""


def complete_graph_edges(n_nodes: int) -> np.ndarray:
    """The ``(n(n-1)/2, 2)`` edges ``(i, j)``, ``i < j``, in the order of ``θ``'s entries.

    Examples:
        >>> complete_graph_edges(4).tolist()
        [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    """
    pairs = list(itertools.combinations(range(n_nodes), 2))
    return np.array(pairs, dtype=np.int64).reshape(len(pairs), 2)


def edge_vector(matrix: Any) -> np.ndarray:
    """The edge vector ``(..., n(n-1)/2)`` of symmetric ``(..., n, n)`` matrices (distances or
    scores), in the order of :func:`complete_graph_edges`; the diagonal is ignored.

    Raises :class:`SolverInputError` for a matrix that is not square or not symmetric (an
    asymmetric problem is not a symmetric TSP).

        >>> edge_vector([[0, 1, 2], [1, 0, 3], [2, 3, 0]])
        array([1., 2., 3.])
    """
    arr = as_array(matrix, "matrix", "tsp")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"tsp: matrix must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim < 2 or arr.shape[-1] != arr.shape[-2]:
        raise SolverInputError(f"tsp: matrix must have shape (..., n, n), got {arr.shape}")
    upper = np.triu_indices(arr.shape[-1], k=1)
    top, bottom = arr[..., upper[0], upper[1]], arr[..., upper[1], upper[0]]
    same = (top == bottom) | (np.isnan(top) & np.isnan(bottom))
    if not same.all():
        raise SolverInputError(
            "tsp: matrix is not symmetric; the symmetric TSP has one score per undirected edge"
        )
    return top.astype(np.float64)


def _check_n_nodes(n_nodes: Any) -> int:
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)):
        raise TypeError(f"tsp: n_nodes must be an int, got {n_nodes!r}")
    if n_nodes < 3:
        raise SolverInputError(
            f"tsp: n_nodes must be >= 3 (a tour visits at least three cities), got {n_nodes}"
        )
    return int(n_nodes)


class _TSPBase(Solver):
    """Instance structure shared by the TSP backends: ``n_nodes`` and the edge order."""

    problem = "tsp"
    event_ndim = 1

    def __init__(self, n_nodes: int) -> None:
        self.n_nodes = _check_n_nodes(n_nodes)
        self.edges = complete_graph_edges(self.n_nodes)
        self.instance_shape = (self.edges.shape[0],)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_nodes={self.n_nodes}, backend={self.backend!r})"

    def tour(self, y: Any) -> np.ndarray:
        """The cities of the tour ``y`` (E,) in visiting order, from city 0 towards its
        smaller neighbour; :class:`SolverInputError` if ``y`` is not a Hamiltonian cycle."""
        y = np.asarray(as_array(y, "y", self.problem), dtype=np.float64)
        if y.shape != self.instance_shape or not np.all((y == 0) | (y == 1)):
            raise SolverInputError(
                f"tsp: a tour is a 0/1 vector of shape {self.instance_shape}, got shape {y.shape}"
            )
        chosen = self.edges[y == 1]
        degree = np.bincount(chosen.ravel(), minlength=self.n_nodes)
        if chosen.shape[0] != self.n_nodes or np.any(degree != 2):
            raise SolverInputError("tsp: y is not a tour (every city needs exactly two edges)")
        neighbours = [[] for _ in range(self.n_nodes)]
        for i, j in chosen:
            neighbours[i].append(int(j))
            neighbours[j].append(int(i))
        order, previous = [0], -1
        while len(order) < self.n_nodes:
            a, b = sorted(neighbours[order[-1]])
            nxt = a if a != previous else b
            if nxt == 0:
                raise SolverInputError("tsp: y is not a tour (its edges form several cycles)")
            previous = order[-1]
            order.append(nxt)
        return np.array(order, dtype=np.int64)

    def is_tour(self, y: Any) -> bool:
        """Whether ``y`` (E,) is the 0/1 indicator of a Hamiltonian cycle."""
        try:
            self.tour(y)
        except SolverInputError:
            return False
        return True

    def lp_form(self, shape: Any = None) -> LPForm:
        """Degree constraints and a single-commodity flow (a MIP; Gavish and Graves, "The
        travelling salesman problem and related problems", MIT OR Center WP 078-78, 1978).

        Variables ``x = (y, f⁺, f⁻)``, each of length ``E``: ``f⁺_e`` flows from ``i`` to
        ``j`` along edge ``e = (i, j)``, ``f⁻_e`` from ``j`` to ``i``. City 0 sends ``n - 1``
        units and every other city keeps one:

            Σ_{e ∋ v} y_e = 2                            (every city v)
            Σ_out f - Σ_in f = n - 1 (city 0), -1 (other cities)
            f⁺_e <= (n - 1) y_e,   f⁻_e <= (n - 1) y_e,   y ∈ {0, 1}^E,   0 <= f <= n - 1.

        A 0/1 ``y`` of degree two everywhere is a union of disjoint cycles; the flow exists
        iff its edges connect every city to city 0, i.e. iff it is one cycle through all
        cities. ``3E`` variables and ``2n + 2E`` rows, against the exponentially many
        subtour constraints of Dantzig, Fulkerson and Johnson (1954). The relaxation is not
        integral, so ``y`` is flagged integer and the ``lp`` backend uses a MIP solver.
        """
        if shape is not None and tuple(np.atleast_1d(shape)) != self.instance_shape:
            raise SolverInputError(
                f"tsp: lp_form shape {shape!r} does not match the {self.instance_shape[0]} "
                f"edges of {self.n_nodes} cities"
            )
        n, e = self.n_nodes, self.instance_shape[0]
        u, v = self.edges[:, 0], self.edges[:, 1]
        ar = np.arange(e)
        one, cap = np.ones(e), float(n - 1)
        # rows 0..n-1: degrees; rows n..2n-1: flow balance
        rows = np.concatenate([u, v, n + u, n + v, n + v, n + u])
        cols = np.concatenate([ar, ar, e + ar, e + ar, 2 * e + ar, 2 * e + ar])
        vals = np.concatenate([one, one, one, -one, one, -one])
        a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(2 * n, 3 * e))
        b_eq = np.concatenate([np.full(n, 2.0), [cap], np.full(n - 1, -1.0)])
        ub_rows = np.concatenate([ar, ar, e + ar, e + ar])
        ub_cols = np.concatenate([e + ar, ar, 2 * e + ar, ar])
        ub_vals = np.concatenate([one, np.full(e, -cap), one, np.full(e, -cap)])
        a_ub = sp.csr_matrix((ub_vals, (ub_rows, ub_cols)), shape=(2 * e, 3 * e))
        return LPForm(
            n_vars=3 * e,
            y_index=ar,
            A_eq=a_eq,
            b_eq=b_eq,
            A_ub=a_ub,
            b_ub=np.zeros(2 * e),
            upper=np.concatenate([one, np.full(2 * e, cap)]),
            integrality=np.concatenate([np.ones(e, dtype=bool), np.zeros(2 * e, dtype=bool)]),
            integral_polytope=False,
            description="Hamiltonian cycles: degree two and a single-commodity flow (MIP)",
        )


class TSPSolver(_TSPBase):
    """Exact TSP by Held–Karp dynamic programming (Numba, parallel batch).

    Parameters: ``n_nodes`` (``>= 3``); ``max_nodes`` (default :data:`DEFAULT_MAX_NODES`,
    at most :data:`MAX_DP_NODES`), the largest ``n`` it agrees to solve: the tables take
    ``9·(n-1)·2^(n-1)`` bytes per thread and the time grows as ``n² 2ⁿ``. Solving more
    cities raises :class:`SolverInputError` (at ``solve``, so that the derived ``lp``
    backend, which shares this solver's checks and LP form, works for any ``n``).

        >>> solver = TSPSolver(4)   # edges (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
        >>> solver.solve([5.0, 0.0, 1.0, 1.0, 0.0, 5.0])
        array([1., 0., 1., 1., 0., 1.])
    """

    backend = "numba"

    def __init__(self, n_nodes: int, max_nodes: int = DEFAULT_MAX_NODES) -> None:
        super().__init__(n_nodes)
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)):
            raise TypeError(f"tsp: max_nodes must be an int, got {max_nodes!r}")
        if not 3 <= max_nodes <= MAX_DP_NODES:
            raise SolverInputError(
                f"tsp: max_nodes must lie in 3..{MAX_DP_NODES} (the Held–Karp tables of "
                f"{MAX_DP_NODES} cities take 1.7 GB per thread), got {max_nodes}"
            )
        self.max_nodes = int(max_nodes)

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        n = self.n_nodes
        if n > self.max_nodes:
            mb = 9 * (n - 1) * 2.0 ** (n - 1) / 1e6
            raise SolverInputError(
                f"tsp: the numba backend (Held–Karp, O(n² 2ⁿ)) solves up to max_nodes="
                f"{self.max_nodes} cities, got n_nodes={n} (its tables would take {mb:,.0f} MB "
                f"per thread); use backend='ortools' (CP-SAT), or raise max_nodes (at most "
                f"{MAX_DP_NODES})"
            )
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        check_path_sum(float(np.abs(theta).max()), n, "tsp")  # a tour sums n scores
        if theta.shape[0] == 1:  # one instance: skip the parallel region's start-up cost
            y = np.zeros(theta.shape)
            held_karp(theta[0], n, y[0], *work_tables(n))
            return y
        chunks = min(theta.shape[0], runtime.threads_for(theta.size))
        return held_karp_batch(theta, n, chunks)


class TSPCpSatSolver(_TSPBase):
    """Exact TSP by OR-Tools CP-SAT (circuit constraint), one instance at a time.

    Parameters: ``n_nodes``; ``time_limit`` (seconds per instance, default 60),
    ``num_workers`` (CP-SAT search threads, default 1), ``on_time_limit`` (``"warn"`` or
    ``"raise"``, see :mod:`solvers._cpsat`). Scores are shifted by their midrange and
    scaled to integers per instance (module docstring).

    Examples:
        >>> import solvers
        >>> tsp = solvers.get("tsp", backend="ortools", n_nodes=4)
        >>> y = tsp.solve([5.0, 0.0, 1.0, 1.0, 0.0, 5.0])  # edges as complete_graph_edges(4)
        >>> y, tsp.tour(y).tolist()
        (array([1., 0., 1., 1., 0., 1.]), [0, 1, 2, 3])
    """

    backend = "ortools"

    def __init__(
        self,
        n_nodes: int,
        *,
        time_limit: float = 60.0,
        num_workers: int = 1,
        on_time_limit: str = "warn",
    ) -> None:
        super().__init__(n_nodes)
        self.options = CpSatOptions.checked("tsp", time_limit, num_workers, on_time_limit)

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        from ortools.sat.python import cp_model

        model = cp_model.CpModel()
        forward = [model.new_bool_var(f"a{k}") for k in range(self.edges.shape[0])]
        backward = [model.new_bool_var(f"b{k}") for k in range(self.edges.shape[0])]
        arcs = [(int(i), int(j), a) for (i, j), a in zip(self.edges, forward)]
        arcs += [(int(j), int(i), b) for (i, j), b in zip(self.edges, backward)]
        model.add_circuit(arcs)
        arcs_of_edge = list(zip(forward, backward))
        solver = self.options.solver(linearization_level=2)
        report = TimeLimitReport("tsp", self.options)
        y = np.zeros(theta.shape, dtype=np.float64)
        for b in range(theta.shape[0]):
            t = theta[b].astype(np.float64)
            mid = 0.5 * float(t.max()) + 0.5 * float(t.min())  # halves first: no overflow
            coef = integer_objective(t - mid, terms=2 * t.size).tolist()
            model.maximize(cp_model.LinearExpr.weighted_sum(forward + backward, coef + coef))
            solve_model(model, solver, report, b)
            y[b] = [solver.boolean_value(f) + solver.boolean_value(r) for f, r in arcs_of_edge]
        report.warn()
        return y


register(
    "tsp",
    "numba",
    TSPSolver,
    "travelling salesman on the complete graph (edge vector), exact Held–Karp DP in Numba, "
    "parallel batch; params n_nodes, max_nodes (default 20, at most 24)",
    default=True,
)
register(
    "tsp",
    "ortools",
    TSPCpSatSolver,
    "travelling salesman, exact OR-Tools CP-SAT circuit model per instance (scores scaled to "
    "integers); params n_nodes, time_limit, num_workers, on_time_limit",
)
