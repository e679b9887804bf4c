"""solvers: fast batched combinatorial solvers behind one LP-form interface (NumPy only).

    >>> import numpy as np, solvers
    >>> costs = np.random.default_rng(0).uniform(0.5, 9.0, size=(4, 12, 12))
    >>> sp = solvers.get("shortest_path")          # grid, 8-neighbour, Numba Dijkstra
    >>> y = sp.solve(solvers.costs_to_theta(costs))  # costs (B, H, W) >= 0
    >>> oracle = solvers.cached(sp, solve_ratio=0.3)  # 70% of each call from a pool

Every solver computes ``y*(θ) = argmax_{y ∈ Y} ⟨θ, y⟩`` (always maximise; costs enter as
``θ = -c``). ``solvers.available()`` lists every (problem, backend) pair.
"""

from . import (
    assignment,  # noqa: F401  (registers assignment)
    knapsack,  # noqa: F401  (registers knapsack)
    lp,  # noqa: F401  (registers lp)
    multi_knapsack,  # noqa: F401  (registers multi_knapsack)
    multi_knapsack_bnb,  # noqa: F401  (registers multi_knapsack, backend branch_and_bound)
    ranking,  # noqa: F401  (registers argmax, top_k, ranking)
    shortest_path,  # noqa: F401  (registers shortest_path)
    shortest_path_graph,  # noqa: F401  (registers shortest_path_graph)
    spanning_tree,  # noqa: F401  (registers spanning_tree)
    tsp,  # noqa: F401  (registers tsp)
    vehicle_routing,  # noqa: F401  (registers vehicle_routing)
)
from .base import (
    LPForm,
    Solver,
    SolverInputError,
    SolverTimeLimitError,
    as_theta,
    costs_to_theta,
    theta_to_costs,
)
from .caching import CachedSolver, cached
from .function import FunctionSolver, from_function
from .optimal_paths import count_optimal_paths
from .registry import available, backends, default_backend, get, problems, register

__all__ = [
    "CachedSolver",
    "FunctionSolver",
    "LPForm",
    "Solver",
    "SolverInputError",
    "SolverTimeLimitError",
    "as_theta",
    "available",
    "backends",
    "cached",
    "costs_to_theta",
    "count_optimal_paths",
    "default_backend",
    "from_function",
    "get",
    "problems",
    "register",
    "theta_to_costs",
]
__version__ = "0.1.0"
