"""Brute force for the capacitated vehicle routing tests: every set of routes on a few
customers, as edge vectors (shared by tests/test_vehicle_routing.py and the fuzz cases)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from solvers.tsp import complete_graph_edges


def _partitions(items: list[int]):
    """Every partition of ``items`` into blocks of two or more."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for k in range(1, len(rest) + 1):
        for others in itertools.combinations(rest, k):
            remaining = [v for v in rest if v not in others]
            for tail in _partitions(remaining):
                yield [(first, *others), *tail]


@dataclasses.dataclass(frozen=True)
class RouteSets:
    """Every set of routes on ``m`` customers: edge vectors ``y`` (R, E), the customers of
    each route ``members`` (R, ⌊m/2⌋, m) (zero rows pad), and the number of routes."""

    y: np.ndarray
    members: np.ndarray
    n_routes: np.ndarray

    def best(self, theta, demands, capacity, num_vehicles=None):
        """Best objective per instance over the feasible route sets (-inf: none)."""
        theta = np.atleast_2d(theta)
        demands = np.broadcast_to(demands, (theta.shape[0], self.members.shape[2]))
        capacity = np.broadcast_to(capacity, (theta.shape[0],))
        out = np.empty(theta.shape[0])
        for b in range(theta.shape[0]):
            ok = (self.members @ demands[b]).max(axis=1) <= capacity[b]
            if num_vehicles is not None:
                ok &= self.n_routes <= num_vehicles
            out[b] = (self.y[ok] @ theta[b]).max() if ok.any() else -np.inf
        return out


def all_route_sets(m: int) -> RouteSets:
    """Brute force: every partition of the customers into blocks of two or more, every order
    of each block (each direction once), as edge vectors."""
    n = m + 1
    index = {tuple(e): k for k, e in enumerate(complete_graph_edges(n).tolist())}
    ys, members, counts = [], [], []
    for blocks in _partitions(list(range(1, n))):
        orders = [[p for p in itertools.permutations(b) if p[0] < p[-1]] for b in blocks]
        for chosen in itertools.product(*orders):
            y = np.zeros(len(index))
            for route in chosen:
                cycle = (0, *route, 0)
                for a, b in zip(cycle, cycle[1:]):
                    y[index[(min(a, b), max(a, b))]] = 1.0
            member = np.zeros((m // 2, m))
            for r, route in enumerate(chosen):
                member[r, np.array(route) - 1] = 1.0
            ys.append(y)
            members.append(member)
            counts.append(len(chosen))
    return RouteSets(np.array(ys), np.array(members), np.array(counts))


SETS = {m: all_route_sets(m) for m in range(2, 8)}
