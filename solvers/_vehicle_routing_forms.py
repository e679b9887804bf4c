"""The routes of an edge vector and the LP form of the capacitated vehicle routing problem
(:mod:`solvers.vehicle_routing`), apart from the solvers."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import LPForm, SolverInputError

_NAME = "vehicle_routing"


def routes_of(edges: np.ndarray, n_nodes: int, y: np.ndarray) -> list[list[int]]:
    """The routes of a 0/1 edge vector ``y`` (edges as ``edges``), each a list of customers
    in visiting order from the depot towards the smaller end; :class:`SolverInputError` if
    ``y`` is not a set of depot routes covering every customer once."""
    chosen = edges[y == 1]
    degree = np.bincount(chosen.ravel(), minlength=n_nodes)
    if np.any(degree[1:] != 2):
        raise SolverInputError(
            f"{_NAME}: y is not a set of routes (every customer needs two edges)"
        )
    neighbours: list[list[int]] = [[] for _ in range(n_nodes)]
    for i, j in chosen:
        neighbours[i].append(int(j))
        neighbours[j].append(int(i))
    out, seen, used = [], 0, set()
    for first in sorted(neighbours[0]):
        if first in used:
            continue
        route, previous = [first], 0
        while True:
            a, b = sorted(neighbours[route[-1]])
            nxt = a if a != previous else b
            if nxt == 0:
                break
            previous = route[-1]
            route.append(nxt)
        used.add(route[-1])
        seen += len(route)
        out.append(route)
    if seen != n_nodes - 1:
        raise SolverInputError(f"{_NAME}: y is not a set of routes (a cycle misses the depot)")
    return out


def load_flow_form(
    edges: np.ndarray,
    n_nodes: int,
    demands: np.ndarray,
    capacity: float,
    num_vehicles: int | None,
) -> LPForm:
    """The LP form of the sets of routes on ``n_nodes`` nodes with integer ``demands``
    (m,), ``capacity`` and at most ``num_vehicles`` routes (``None``: no limit): directed
    arcs and one flow of load, as :meth:`solvers.vehicle_routing.VehicleRoutingSolver.lp_form`
    states it."""
    n, e = n_nodes, edges.shape[0]
    m = n - 1
    big_m = float(m + 1)
    absorb = big_m * np.asarray(demands, dtype=np.float64) + 1.0
    arc_cap = big_m * float(np.floor(capacity)) + m
    u, v = edges[:, 0], edges[:, 1]
    ar = np.arange(e)
    one = np.ones(e)
    yv, ap, am, fp, fm = ar, e + ar, 2 * e + ar, 3 * e + ar, 4 * e + ar
    # rows 0..e-1: y = a⁺ + a⁻; e..e+m-1: in-degree of customers 1..m;
    # e+m..e+2m-1: out-degree; e+2m..e+2m+n-1: flow balance of nodes 0..n-1
    indeg, outdeg, flow = e - 1, e + m - 1, e + 2 * m
    rows = [ar, ar, ar]
    cols = [yv, ap, am]
    vals = [one, -one, -one]
    for arcs, tail, head in ((ap, u, v), (am, v, u)):
        into = head > 0
        rows.append(indeg + head[into])
        cols.append(arcs[into])
        vals.append(np.ones(into.sum()))
        out = tail > 0
        rows.append(outdeg + tail[out])
        cols.append(arcs[out])
        vals.append(np.ones(out.sum()))
    for flows, tail, head in ((fp, u, v), (fm, v, u)):
        rows += [flow + tail, flow + head]
        cols += [flows, flows]
        vals += [one, -one]
    n_eq = e + 2 * m + n
    a_eq = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_eq, 5 * e),
    )
    b_eq = np.concatenate([np.zeros(e), np.ones(2 * m), [absorb.sum()], -absorb])
    ub_rows = [ar, ar, e + ar, e + ar]
    ub_cols = [fp, ap, fm, am]
    ub_vals = [one, np.full(e, -arc_cap), one, np.full(e, -arc_cap)]
    b_ub = [np.zeros(2 * e)]
    if num_vehicles is not None:
        from_depot = ap[u == 0]  # the arc 0 → v is a⁺ of the edge (0, v)
        ub_rows.append(np.full(from_depot.size, 2 * e))
        ub_cols.append(from_depot)
        ub_vals.append(np.ones(from_depot.size))
        b_ub.append([float(num_vehicles)])
    a_ub = sp.csr_matrix(
        (np.concatenate(ub_vals), (np.concatenate(ub_rows), np.concatenate(ub_cols))),
        shape=(2 * e + (num_vehicles is not None), 5 * e),
    )
    # Demands are integers, so for integral arcs the load flow (a network flow with integer
    # supplies and capacities) has an integral optimum: every variable is flagged integer,
    # the program is pure and the lp backend's exact engines cover it.
    integral = np.ones(5 * e, dtype=bool)
    return LPForm(
        n_vars=5 * e,
        y_index=ar,
        A_eq=a_eq,
        b_eq=b_eq,
        A_ub=a_ub,
        b_ub=np.concatenate(b_ub),
        upper=np.concatenate([np.ones(3 * e), np.full(2 * e, arc_cap)]),
        integrality=integral,
        integral_polytope=False,
        description="capacitated vehicle routing: directed arcs and a load flow (MIP)",
    )
