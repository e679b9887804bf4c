"""What the vehicle-routing backends share (:mod:`solvers.vehicle_routing`): the instance
structure (nodes, edges, the route limit), the checks of the side data (demands and capacity,
per solver or per call), their rounding to integers with ``demand_scale`` (demands up and the
capacity down, to multiples of ``1/s``: :mod:`solvers._scale`), the infeasibility messages
in the user's units, and the readers of a solution (``routes``, ``is_routes``, ``lp_form``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._scale import check_scale, check_sizes, grid_ceil, grid_floor
from ._vehicle_routing_forms import load_flow_form, routes_of
from .base import LPForm, Solver, SolverInputError, as_array, as_finite_float
from .tsp import complete_graph_edges

_NAME = "vehicle_routing"

_INT_LIMIT = 2**62  # demands sum in int64


def _shown(value: float) -> str:
    """A user's number as a message shows it: short (``6``, ``0.29``) where that reads back
    as the same float, else in full (``0.28999999999999995``)."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{_NAME}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise SolverInputError(f"{_NAME}: {name} must be >= {minimum}, got {value}")
    return int(value)


class VehicleRoutingBase(Solver):
    """Instance structure (nodes, edges, route limit) and side data shared by the backends."""

    problem = _NAME
    event_ndim = 1
    side_inputs = ("demands", "capacity")

    def __init__(
        self,
        n_nodes: int,
        demands: Any = None,
        capacity: Any = None,
        *,
        num_vehicles: int | None = None,
        demand_scale: float | None = None,
    ) -> None:
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)):
            raise TypeError(f"{_NAME}: n_nodes must be an int, got {n_nodes!r}")
        if n_nodes < 3:
            raise SolverInputError(
                f"{_NAME}: n_nodes must be >= 3 (the depot and at least two customers: every "
                f"route visits two or more customers, as in PyEPO), got {n_nodes}"
            )
        self.n_nodes = int(n_nodes)
        self.n_customers = self.n_nodes - 1
        self.num_vehicles = (
            None if num_vehicles is None else _check_int(num_vehicles, "num_vehicles", 1)
        )
        self.demand_scale = check_scale(demand_scale, "demand_scale", _NAME)
        self.edges = complete_graph_edges(self.n_nodes)
        self.instance_shape = (self.edges.shape[0],)
        self.demands = None if demands is None else self._check_demands(demands, fixed=True)
        self.capacity = None if capacity is None else self._check_capacity(capacity, fixed=True)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_nodes={self.n_nodes}, num_vehicles={self.num_vehicles}, "
            f"backend={self.backend!r})"
        )

    # -- validation -------------------------------------------------------------------
    def _check_demands(self, demands: Any, fixed: bool = False) -> np.ndarray:
        q = as_finite_float(demands, "demands", _NAME)
        if q.ndim < 1 or (fixed and q.ndim != 1) or q.shape[-1] != self.n_customers:
            want = "(m,)" if fixed else "(m,) or (*batch, m)"
            raise SolverInputError(
                f"{_NAME}: demands must have shape {want} with m = n_nodes - 1 = "
                f"{self.n_customers} customers (the depot has none), got shape {q.shape}"
            )
        return check_sizes(
            q, self.demand_scale, "demands", "demand_scale", _NAME,
            "demands are then rounded up and the capacity down to multiples of 1/s",
        )  # fmt: skip

    def _check_capacity(self, capacity: Any, fixed: bool = False) -> np.ndarray:
        c = as_finite_float(capacity, "capacity", _NAME)
        if fixed and c.ndim != 0:
            raise SolverInputError(
                f"{_NAME}: capacity must be a scalar (one vehicle type), got shape {c.shape}"
            )
        if c.size and c.min() < 0:
            raise SolverInputError(f"{_NAME}: capacity must be >= 0, got minimum {c.min()}")
        return c

    def _check_side(
        self, side: dict[str, Any], batch_shape: tuple[int, ...], event_shape: tuple[int, ...]
    ) -> dict:
        """Validate demands and capacity, broadcast them over θ's batch axes and refuse the
        instances :meth:`_check_demands_fit` sees to be infeasible.

        Returns float64 ``demands`` ``(*batch, m)`` and ``capacity`` ``(*batch,)``, the true
        (unrounded) values: checking them again, or giving them to :meth:`lp_form`, rounds
        them once."""
        side = super()._check_side(side, batch_shape, event_shape)
        demands = side.get("demands", self.demands)
        capacity = side.get("capacity", self.capacity)
        if demands is None or capacity is None:
            missing = [k for k, v in (("demands", demands), ("capacity", capacity)) if v is None]
            raise SolverInputError(
                f"{_NAME}: {' and '.join(missing)} missing: fix them at construction, "
                f"solvers.get('{_NAME}', n_nodes=n, demands=q, capacity=Q), or pass them "
                "to solve()"
            )
        q = self._check_demands(demands)
        c = self._check_capacity(capacity)
        m = self.n_customers
        if q.shape not in ((m,), (*batch_shape, m)):
            raise SolverInputError(
                f"{_NAME}: demands must have shape (m,) = ({m},) or (*batch, m) = "
                f"{(*batch_shape, m)} matching θ's batch axes {batch_shape}, got {q.shape}"
            )
        if c.shape not in ((), batch_shape):
            raise SolverInputError(
                f"{_NAME}: capacity must be a scalar or (*batch,) = {batch_shape} for θ's "
                f"batch axes, got {c.shape}"
            )
        q = np.broadcast_to(q, (*batch_shape, m))
        c = np.broadcast_to(c, batch_shape)
        self._check_demands_fit(q.reshape(-1, m), c.reshape(-1))
        return {"demands": q, "capacity": c}

    def _integer_instance(
        self, demands: np.ndarray, capacity: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Integer demands ``(B, m)`` and capacities ``(B,)`` in units of ``1/s`` (module
        docstring, "Integer demands"; ``s = 1`` without ``demand_scale``), for side data
        already checked. Each capacity is capped at its instance's total demand (a larger
        one serves as the total does, so a huge capacity is not an error); the rounded
        demands of an instance must sum below ``2^62`` (the kernels add them in int64),
        else :class:`SolverInputError`."""
        s = 1.0 if self.demand_scale is None else self.demand_scale
        q = grid_ceil(demands, s)
        total = q.sum(axis=-1)
        if total.size and total.max() >= _INT_LIMIT:
            unit = "" if self.demand_scale is None else "; use a smaller demand_scale or unit"
            raise SolverInputError(
                f"{_NAME}: the demands of an instance sum to {total.max():.3g} units, beyond "
                f"the integer range 2^62{unit}"
            )
        c = np.minimum(grid_floor(capacity, s), total)
        return np.ascontiguousarray(q, dtype=np.int64), np.ascontiguousarray(c, dtype=np.int64)

    def _check_demands_fit(self, q: np.ndarray, c: np.ndarray) -> None:
        """Refuse, before any solve, the instances (demands ``(B, m)``, capacities ``(B,)``)
        that no set of routes can serve for reasons visible at a glance: a customer heavier
        than a vehicle, or more total demand than ``K`` vehicles carry (the backends report
        the subtler ones). The rounded values are compared; the message gives the user's."""
        qk, ck = self._integer_instance(q, c)
        over = np.flatnonzero((qk > ck[:, None]).any(axis=1))
        if over.size:
            b = int(over[0])
            v = int(np.argmax(qk[b] > ck[b])) + 1
            raise SolverInputError(
                f"{_NAME}: instance {b} is infeasible: customer {v} (node {v}) has demand "
                f"{_shown(q[b, v - 1])} above the capacity "
                + self._rounded(c[b], f"{qk[b, v - 1]}", f"{ck[b]}")
            )
        if self.num_vehicles is not None:
            short = np.flatnonzero(qk.sum(axis=1) > self.num_vehicles * ck)
            if short.size:
                b = int(short[0])
                k = self.num_vehicles
                raise SolverInputError(
                    f"{_NAME}: instance {b} is infeasible: total demand {q[b].sum():g} exceeds "
                    f"num_vehicles × capacity = {k} × "
                    + self._rounded(c[b], f"{qk[b].sum()}", f"{k} × {ck[b]}")
                )

    def _rounded(self, capacity: float, load: str, limit: str) -> str:
        """The capacity as a message states it: ``⌊Q⌋`` without ``demand_scale``; with it,
        the user's ``Q`` and the comparison of the rounded values, ``load/s > limit/s``."""
        if self.demand_scale is None:
            return f"{np.floor(capacity):g}"
        s = f"{self.demand_scale:g}"
        return (
            f"{_shown(capacity)} once rounded to multiples of 1/{s} (demand_scale={s}): "
            f"{load}/{s} > {limit}/{s}"
        )

    def _infeasible(self, instance: int) -> SolverInputError:
        limit = "" if self.num_vehicles is None else f", at most {self.num_vehicles} of them"
        rounded = (
            ""
            if self.demand_scale is None
            else f" (demands rounded up and the capacity down to multiples of "
            f"1/{self.demand_scale:g})"
        )
        return SolverInputError(
            f"{_NAME}: instance {instance} is infeasible: the customers cannot be split into "
            f"routes of at least two customers whose demands fit the capacity{rounded}{limit}"
        )

    # -- routes -------------------------------------------------------------------------
    def routes(self, y: Any) -> list[list[int]]:
        """The routes of ``y`` (E,), each a list of customers in visiting order from the
        depot, towards the smaller end; :class:`SolverInputError` if ``y`` is not a set of
        depot routes with two or more customers each covering every customer once
        (capacities are not checked: they are side data)."""
        y = np.asarray(as_array(y, "y", _NAME), dtype=np.float64)
        if y.shape != self.instance_shape or not np.all((y == 0) | (y == 1)):
            raise SolverInputError(
                f"{_NAME}: routes are a 0/1 vector of shape {self.instance_shape}, got "
                f"shape {y.shape}"
            )
        return routes_of(self.edges, self.n_nodes, y)

    def is_routes(self, y: Any, demands: Any = None, capacity: Any = None) -> bool:
        """Whether ``y`` (E,) is a feasible set of routes: :meth:`routes` accepts it, it has
        at most ``num_vehicles`` routes, and, where ``demands`` and ``capacity`` are given
        or fixed, every route's demand is within the capacity, compared as the backends
        compare them (integers; with ``demand_scale``, demands rounded up and the capacity
        down to multiples of ``1/s``: a route accepted fits the true demands)."""
        try:
            routes = self.routes(y)
        except SolverInputError:
            return False
        if self.num_vehicles is not None and len(routes) > self.num_vehicles:
            return False
        q = self.demands if demands is None else self._check_demands(demands, fixed=True)
        c = self.capacity if capacity is None else self._check_capacity(capacity, fixed=True)
        if q is None or c is None:
            return True
        qk, ck = self._integer_instance(q[None], c[None])
        return all(qk[0, np.array(r) - 1].sum() <= ck[0] for r in routes)

    # -- LP form --------------------------------------------------------------------------
    def lp_form(self, shape: Any = None, demands: Any = None, capacity: Any = None) -> LPForm:
        """Directed arcs and a single-commodity flow of load (a MIP); ``demands`` (m,) and
        ``capacity`` default to the ones fixed at construction.

        Variables ``x = (y, a⁺, a⁻, f⁺, f⁻)``, each of length ``E``: ``a⁺_e`` (``a⁻_e``) is
        the arc ``i → j`` (``j → i``) of edge ``e = (i, j)`` and ``f^±_e`` the flow on it.
        With ``M = m + 1``, customer ``v`` absorbs ``p_v = M·q_v + 1`` units and an arc
        carries at most ``U = M·Q + m``:

            y_e = a⁺_e + a⁻_e,  y ∈ {0,1}^E           (one direction per edge: no 0 → v → 0)
            Σ_in a = Σ_out a = 1                      (every customer)
            Σ_out f - Σ_in f = Σ_v p_v (depot),  -p_v (customer v)
            f^±_e <= U a^±_e,   Σ_{arcs out of 0} a <= K (with num_vehicles).

        The arcs form directed cycles; a cycle among customers only cannot be fed (it
        absorbs ``>= 1`` unit), so every cycle is a route. A route of ``k`` customers and
        demand ``D`` takes ``M·D + k`` units on its first arc, and for integers
        ``M·D + k <= M·Q + m ⟺ D <= Q`` (as ``1 <= k <= m < M``): the ``+1`` per customer
        is what makes zero-demand customers need the depot too. ``5E`` variables and
        ``E + 3m + 1`` equality rows (Gavish and Graves, MIT OR Center WP 078-78, 1978, for
        the flow; the load scaling keeps it one commodity).

        ``q`` and ``Q`` are the integers the backends solve: ``⌊Q⌋`` (capped at ``Σ q``)
        without ``demand_scale``; with it, the demands rounded up and the capacity down, in
        units of ``1/s`` (module docstring), since the argument above needs integers. The
        ``lp`` backend thus solves the instance the other backends solve.
        """
        if shape is not None and tuple(np.atleast_1d(shape)) != self.instance_shape:
            raise SolverInputError(
                f"{_NAME}: lp_form shape {shape!r} does not match the {self.instance_shape[0]} "
                f"edges of {self.n_nodes} nodes"
            )
        q = self.demands if demands is None else self._check_demands(demands, fixed=True)
        c = self.capacity if capacity is None else self._check_capacity(capacity, fixed=True)
        if q is None or c is None:
            raise SolverInputError(f"{_NAME}: lp_form needs demands and capacity")
        qk, ck = self._integer_instance(q[None], c[None])
        return load_flow_form(self.edges, self.n_nodes, qk[0], float(ck[0]), self.num_vehicles)
