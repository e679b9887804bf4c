"""One small test case per problem of the solver zoo, for the registry contract test.

Every problem listed by ``solvers.problems()`` must have an entry in :data:`CASES`
(``test_every_problem_has_a_case`` fails otherwise): a new problem adds its case here.
Solver parameters are built lazily, so this file imports even while a problem module is
missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

import solvers


def _no_side(rng: np.random.Generator, batch: int) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ProblemCase:
    """``params()`` gives solver parameters; ``theta(rng, B)`` a valid θ batch (float64);
    ``side(rng, B)`` per-instance side data (knapsack weights...)."""

    problem: str
    params: Callable[[], dict[str, Any]]
    theta: Callable[[np.random.Generator, int], np.ndarray]
    side: Callable[[np.random.Generator, int], dict[str, Any]] = field(default=_no_side)

    def solver(self, **extra: Any) -> solvers.Solver:
        return solvers.get(self.problem, **{**self.params(), **extra})

    def draw(self, seed: int, batch: int = 3) -> tuple[torch.Tensor, dict[str, Any]]:
        """A θ batch (torch float64) and its side data."""
        rng = np.random.default_rng(seed)
        return torch.from_numpy(self.theta(rng, batch)), self.side(rng, batch)

    def target(self, theta: torch.Tensor, side: dict[str, Any]) -> torch.Tensor:
        """The solver's solution ``y*(θ)`` (a valid target for losses)."""
        return torch.from_numpy(self.solver().solve(theta.numpy(), **side))


def _grid_dag_params() -> dict[str, Any]:
    from solvers.shortest_path_graph import grid_dag

    return grid_dag(3, 3)


def _n_edges(params: Callable[[], dict[str, Any]]) -> int:
    return len(params()["edges"])


def _lp_params() -> dict[str, Any]:
    n = 5  # a 2-subset polytope {0 <= y <= 1, Σ y = 2} given as an LP
    return {
        "A_eq": sp.csr_matrix(np.ones((1, n))),
        "b_eq": np.array([2.0]),
        "upper": np.ones(n),
        "y_shape": (n,),
        "integral_polytope": True,
    }


def _knapsack_side(rng: np.random.Generator, batch: int) -> dict[str, Any]:
    weights = rng.integers(1, 6, size=(batch, 6)).astype(np.float64)
    return {"weights": weights, "capacity": np.full(batch, 8.0)}


def _multi_knapsack_side(rng: np.random.Generator, batch: int) -> dict[str, Any]:
    weights = rng.integers(1, 6, size=(batch, 2, 6)).astype(np.float64)
    return {"weights": weights, "capacity": np.full((batch, 2), 8.0)}


def _vehicle_routing_side(rng: np.random.Generator, batch: int) -> dict[str, Any]:
    demands = rng.integers(1, 3, size=(batch, 4)).astype(np.float64)  # any two fit a vehicle
    return {"demands": demands, "capacity": np.full(batch, 4.0)}


CASES: dict[str, ProblemCase] = {
    c.problem: c
    for c in [
        ProblemCase("argmax", dict, lambda r, b: r.normal(size=(b, 5))),
        ProblemCase("top_k", lambda: {"k": 2}, lambda r, b: r.normal(size=(b, 6))),
        ProblemCase("ranking", dict, lambda r, b: r.normal(size=(b, 5))),
        ProblemCase(
            "shortest_path",
            lambda: {"neighbourhood": 8},
            lambda r, b: -(r.uniform(0.2, 2.0, size=(b, 4, 5))),
        ),
        ProblemCase(
            "shortest_path_graph",
            _grid_dag_params,
            lambda r, b: -(r.uniform(0.2, 2.0, size=(b, _n_edges(_grid_dag_params)))),
        ),
        ProblemCase("assignment", dict, lambda r, b: r.normal(size=(b, 4, 4))),
        ProblemCase(
            "spanning_tree",
            lambda: {"n_nodes": 5},
            lambda r, b: r.uniform(0.2, 2.0, size=(b, 10)),
        ),
        ProblemCase(
            "knapsack", dict, lambda r, b: r.uniform(0.2, 2.0, size=(b, 6)), _knapsack_side
        ),
        ProblemCase(
            "multi_knapsack",
            dict,
            lambda r, b: r.uniform(0.2, 2.0, size=(b, 6)),
            _multi_knapsack_side,
        ),
        ProblemCase("tsp", lambda: {"n_nodes": 5}, lambda r, b: r.normal(size=(b, 10))),
        ProblemCase(
            "vehicle_routing",
            lambda: {"n_nodes": 5},
            lambda r, b: r.normal(size=(b, 10)),
            _vehicle_routing_side,
        ),
        ProblemCase("lp", _lp_params, lambda r, b: r.normal(size=(b, 5))),
    ]
}
