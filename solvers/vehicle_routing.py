"""Capacitated vehicle routing (CVRP) on the complete graph: the best set of depot routes.

Node 0 is the depot and nodes ``1..m`` the customers (``n_nodes = m + 1``). ``θ`` holds one
score per undirected edge, shape ``(..., E)`` with ``E = n_nodes(n_nodes-1)/2``, in the
edge order of :mod:`solvers.tsp` (``itertools.combinations(range(n_nodes), 2)``, PyEPO's
order), and the solver returns

    y*(θ) = argmax { ⟨θ, y⟩ : y ∈ {0,1}^E the edges of a set of routes },

where a set of routes is a family of cycles through the depot that visit every customer
exactly once, each with total demand ``Σ_{v ∈ route} q_v <= Q`` and, with ``num_vehicles =
K``, at most ``K`` of them. Edge costs ``c`` enter as ``θ = -c``
(:func:`~solvers.base.costs_to_theta`); :func:`~solvers.tsp.edge_vector` reads a symmetric
matrix.

**Every route visits at least two customers**, as in PyEPO's CVRP (Tang and Khalil,
"PyEPO", Math. Prog. Comp. 2024, ``pyepo.model.grb.vrp``): a route ``0 → v → 0`` would use
the edge ``(0, v)`` twice, so ``y`` would no longer be a 0/1 vector. Hence ``n_nodes >= 3``,
and an instance where the customers cannot be grouped in twos or more within the capacity
(a customer whose demand fills a vehicle alone, say) is infeasible: the solvers raise
:class:`SolverInputError`. To allow a lone customer, give it a twin of demand 0 at distance
0 (a copy of the depot, as PyEPO advises). A set of ``r`` routes has ``m + r`` edges, so
adding a constant ``t`` to ``θ`` adds ``t`` per route: unlike the TSP, a shift of ``θ``
changes the decision (a positive one favours more routes).

Side data: ``demands`` ``q >= 0`` of shape ``(m,)`` and a ``capacity`` ``Q >= 0``, given at
construction, ``solvers.get("vehicle_routing", n_nodes=..., demands=q, capacity=Q)``, or
per call, ``solver.solve(theta, demands=q, capacity=Q)`` (per-call values replace the fixed
ones), as for ``multi_knapsack``: ``demands`` ``(m,)`` or ``(*batch, m)``, ``capacity`` a
scalar or ``(*batch,)``. ``num_vehicles`` (default ``None``: no limit) is fixed at
construction.

Integer demands. The exact backends compare integer loads: without ``demand_scale`` the
demands must be integers and the capacity is used as ``⌊Q⌋`` (exact for integer demands).
With ``demand_scale = s`` fractional demands are placed on the grid of multiples of ``1/s``
as ``multi_knapsack`` places its weights (:mod:`solvers._scale`): each demand becomes the
smallest ``k`` with ``k/s >= q_v``, the capacity the largest ``k`` with ``k/s <= Q``
(``k/s`` evaluated in float64, so ``0.29`` at ``s = 100`` is 29 hundredths as a demand and
as a capacity). Demands are rounded up and the capacity down, in every backend, in
:meth:`~VehicleRoutingSolver.lp_form` and in :meth:`~VehicleRoutingSolver.is_routes`: every
set of routes returned is feasible for the true demands (up to the floating-point rounding
of ``k/s``), and optimal for the rounded ones, which may exclude a route that fills a
vehicle to within ``m/s``. The checks of a customer heavier than a vehicle and of the
fleet's total capacity compare the rounded values and report them in the user's units.

    >>> import numpy as np, solvers
    >>> vrp = solvers.get(
    ...     "vehicle_routing", n_nodes=5, demands=[0.29, 0.71, 0.3, 0.7], capacity=1.0,
    ...     demand_scale=100,
    ... )
    >>> theta = -np.ones(10)  # edges (0,1) (0,2) (0,3) (0,4) (1,2) ... (3,4)
    >>> vrp.routes(vrp.solve(theta))  # 29 + 71 and 30 + 70 hundredths fill two vehicles
    [[1, 2], [3, 4]]

Backends:

* ``numba`` (default): exact dynamic programming over subsets of customers
  (:mod:`solvers._vehicle_routing_kernels`): the best route through every set that fits a
  vehicle (Held–Karp), then the best partition into such sets. ``O(m² 2^m + L·3^m)``, ``L``
  the route limit (1 without one), one ``prange`` over the batch. It solves up to
  ``max_customers`` customers (default 12, at most 16) and raises
  :class:`SolverInputError` above, naming ``ortools``.
* ``ortools``: OR-Tools CP-SAT, exact: ``AddMultipleCircuit`` on the two arcs of every
  edge, no arc pair ``0 → v → 0``, loads ``u_v ∈ [q_v, Q]`` with ``u_j >= u_i + q_j`` on
  every used arc between customers, and at most ``K`` arcs out of the depot. Scores are
  scaled to integers per instance by :mod:`solvers._cpsat` (integer ``θ`` up to ``2^40``
  exactly; otherwise within ``2m·2^-40·max|θ|`` of the optimum). One model per instance;
  ``time_limit`` (default 60 s), ``num_workers`` (default 1) and ``on_time_limit``
  (``"warn"`` or ``"raise"``) as in :mod:`solvers.tsp`.
* ``lp`` (derived, reference): the flow MIP of :meth:`~VehicleRoutingSolver.lp_form`
  through :mod:`solvers.lp` (SCIP); slow, for cross-checks on small instances.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import runtime
from ._cpsat import CpSatOptions, TimeLimitReport, integer_objective, solve_model
from ._vehicle_routing_base import VehicleRoutingBase
from ._vehicle_routing_kernels import vehicle_routing_batch, vehicle_routing_dp, work_tables
from .base import SolverInputError, check_path_sum
from .registry import register

__all__ = [
    "VehicleRoutingSolver",
    "VehicleRoutingCpSatSolver",
    "DEFAULT_MAX_CUSTOMERS",
    "MAX_DP_CUSTOMERS",
]

_NAME = VehicleRoutingBase.problem
DEFAULT_MAX_CUSTOMERS = 12
"""Default largest number of customers the DP backend solves."""
MAX_DP_CUSTOMERS = 16
"""Hard limit of ``max_customers`` (``3^16 ≈ 4.3·10^7`` partition steps per instance)."""


class VehicleRoutingSolver(VehicleRoutingBase):
    """Exact CVRP by dynamic programming over subsets of customers (Numba, parallel batch).

    Parameters: ``n_nodes`` (depot and customers, ``>= 3``); ``demands`` (m,) and
    ``capacity`` (both optional: else per call); ``num_vehicles`` (``None``: no limit);
    ``demand_scale`` for fractional demands (module docstring); ``max_customers`` (default
    :data:`DEFAULT_MAX_CUSTOMERS`, at most :data:`MAX_DP_CUSTOMERS`): more customers raise
    :class:`SolverInputError` at ``solve`` (so that the derived ``lp`` backend, which
    shares these checks, works for any size).

        >>> import numpy as np
        >>> solver = VehicleRoutingSolver(5, demands=[1, 1, 1, 1], capacity=2)
        >>> theta = -np.ones(10)  # edges (0,1) (0,2) (0,3) (0,4) (1,2) ... (3,4)
        >>> theta[[4, 9]] = 0.0  # (1,2) and (3,4) cost nothing
        >>> y = solver.solve(theta)  # two customers per vehicle
        >>> solver.routes(y)
        [[1, 2], [3, 4]]
    """

    backend = "numba"

    def __init__(
        self,
        n_nodes: int,
        demands: Any = None,
        capacity: Any = None,
        *,
        num_vehicles: int | None = None,
        demand_scale: float | None = None,
        max_customers: int = DEFAULT_MAX_CUSTOMERS,
    ) -> None:
        super().__init__(
            n_nodes, demands, capacity, num_vehicles=num_vehicles, demand_scale=demand_scale
        )
        if isinstance(max_customers, bool) or not isinstance(max_customers, (int, np.integer)):
            raise TypeError(f"{_NAME}: max_customers must be an int, got {max_customers!r}")
        if not 2 <= max_customers <= MAX_DP_CUSTOMERS:
            raise SolverInputError(
                f"{_NAME}: max_customers must lie in 2..{MAX_DP_CUSTOMERS} (the partition DP "
                f"takes 3^m steps per instance), got {max_customers}"
            )
        self.max_customers = int(max_customers)

    def _layers(self) -> int:
        """The route limit the kernel enforces: 0 when ``num_vehicles`` cannot bind (every
        route has two customers or more, so there are at most ``⌊m/2⌋`` routes)."""
        k = self.num_vehicles
        return 0 if k is None or k >= self.n_customers // 2 else k

    def _solve_batch(self, theta: np.ndarray, demands: np.ndarray, capacity: np.ndarray):
        m = self.n_customers
        if m > self.max_customers:
            raise SolverInputError(
                f"{_NAME}: the numba backend (DP over subsets, O(3^m)) solves up to "
                f"max_customers={self.max_customers} customers, got {m}; use "
                f"backend='ortools' (CP-SAT), or raise max_customers (at most {MAX_DP_CUSTOMERS})"
            )
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        check_path_sum(float(np.abs(theta).max()), 2 * m, _NAME)  # at most 2m edges
        demands, capacity = self._integer_instance(demands, capacity)
        layers = self._layers()
        if theta.shape[0] == 1:  # one instance: skip the parallel region's start-up cost
            y = np.zeros(theta.shape)
            tables = work_tables(m, max(layers, 1))
            ok = vehicle_routing_dp(
                theta[0], self.n_nodes, demands[0], capacity[0], layers, y[0], tables
            )
            feasible = np.array([ok])
        else:
            chunks = min(theta.shape[0], runtime.threads_for(theta.size << m))
            y, feasible = vehicle_routing_batch(
                theta, self.n_nodes, demands, capacity, layers, chunks
            )
        if not feasible.all():
            raise self._infeasible(int(np.flatnonzero(~feasible)[0]))
        return y


class VehicleRoutingCpSatSolver(VehicleRoutingBase):
    """Exact CVRP by OR-Tools CP-SAT (multiple-circuit constraint and loads), per instance.

    Parameters: ``n_nodes``, ``demands``, ``capacity``, ``num_vehicles``, ``demand_scale``
    as the other backends; ``time_limit`` (seconds per instance, default 60),
    ``num_workers`` (default 1), ``on_time_limit`` (``"warn"`` or ``"raise"``, see
    :mod:`solvers._cpsat`).

    Examples:
        >>> import numpy as np, solvers
        >>> vrp = solvers.get(
        ...     "vehicle_routing", backend="ortools", n_nodes=5, demands=[1, 1, 1, 1], capacity=2
        ... )
        >>> theta = -np.ones(10)
        >>> theta[[4, 9]] = 0.0  # (1,2) and (3,4) cost nothing
        >>> vrp.routes(vrp.solve(theta))  # at most two customers per vehicle
        [[1, 2], [3, 4]]
    """

    backend = "ortools"

    def __init__(
        self,
        n_nodes: int,
        demands: Any = None,
        capacity: Any = None,
        *,
        num_vehicles: int | None = None,
        demand_scale: float | None = None,
        time_limit: float = 60.0,
        num_workers: int = 1,
        on_time_limit: str = "warn",
    ) -> None:
        super().__init__(
            n_nodes, demands, capacity, num_vehicles=num_vehicles, demand_scale=demand_scale
        )
        self.options = CpSatOptions.checked(_NAME, time_limit, num_workers, on_time_limit)

    def _model(self, demands: np.ndarray, capacity: int) -> tuple[Any, list, list]:
        """The model of one instance without objective, and its forward and backward arcs."""
        from ortools.sat.python import cp_model

        model = cp_model.CpModel()
        e = self.edges.shape[0]
        forward = [model.new_bool_var(f"a{k}") for k in range(e)]
        backward = [model.new_bool_var(f"b{k}") for k in range(e)]
        arcs = [(int(i), int(j), a) for (i, j), a in zip(self.edges, forward)]
        arcs += [(int(j), int(i), b) for (i, j), b in zip(self.edges, backward)]
        model.add_multiple_circuit(arcs)
        load = [None] + [
            model.new_int_var(int(demands[v - 1]), capacity, f"u{v}")
            for v in range(1, self.n_nodes)
        ]
        for (i, j), a, b in zip(self.edges, forward, backward):
            if i == 0:
                model.add_bool_or([a.Not(), b.Not()])  # no route 0 → j → 0
                continue
            model.add(load[j] >= load[i] + int(demands[j - 1])).only_enforce_if(a)
            model.add(load[i] >= load[j] + int(demands[i - 1])).only_enforce_if(b)
        if self.num_vehicles is not None:
            model.add(
                sum(a for (i, _), a in zip(self.edges, forward) if i == 0) <= self.num_vehicles
            )
        return model, forward, backward

    def _solve_batch(self, theta: np.ndarray, demands: np.ndarray, capacity: np.ndarray):
        from ortools.sat.python import cp_model

        demands, capacity = self._integer_instance(demands, capacity)
        solver = self.options.solver(linearization_level=2)
        report = TimeLimitReport(_NAME, self.options)
        y = np.zeros(theta.shape, dtype=np.float64)
        built: tuple | None = None
        for b in range(theta.shape[0]):
            key = (demands[b].tobytes(), int(capacity[b]))
            if built is None or built[0] != key:
                built = (key, *self._model(demands[b], int(capacity[b])))
            _, model, forward, backward = built
            coef = integer_objective(theta[b].astype(np.float64), terms=2 * theta.shape[1])
            model.maximize(cp_model.LinearExpr.weighted_sum(forward + backward, [*coef, *coef]))
            try:
                solve_model(model, solver, report, b)
            except SolverInputError:
                raise self._infeasible(b) from None
            y[b] = [
                solver.boolean_value(f) + solver.boolean_value(r) for f, r in zip(forward, backward)
            ]
        report.warn()
        return y


register(
    _NAME,
    "numba",
    VehicleRoutingSolver,
    "capacitated vehicle routing (edge vector, depot 0, routes of >= 2 customers), exact DP "
    "over subsets of customers in Numba, parallel batch; params n_nodes, demands, capacity "
    "(or per call), num_vehicles, demand_scale, max_customers (default 12, at most 16)",
    default=True,
)
register(
    _NAME,
    "ortools",
    VehicleRoutingCpSatSolver,
    "capacitated vehicle routing, exact OR-Tools CP-SAT multiple-circuit model per instance "
    "(scores scaled to integers); params n_nodes, demands, capacity (or per call), "
    "num_vehicles, demand_scale, time_limit, num_workers, on_time_limit",
)
