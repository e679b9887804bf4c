"""Synthetic contextual optimisation problems in the style of PyEPO's data generators.

Features ``x ~ N(0, I_p)`` map to true costs through a fixed random Bernoulli(0.5) matrix
``B ∈ {0, 1}^{d×p}`` and a polynomial of degree ``deg`` with multiplicative noise
(Elmachtoub & Grigas, "Smart 'Predict, then Optimize'", Management Science 2022; Tang &
Khalil, "PyEPO", Math. Prog. Comp. 2024):

    c_j(x) = [ ((B x)_j / √p + 3)^deg + 1 ] / 3.5^deg · ε_j,     ε_j ~ U[1 − w̄, 1 + w̄].

With ``deg = 1`` the costs are (up to noise) affine in ``x``, so a linear model is well
specified and two-stage regression does well; larger degrees make the linear model
misspecified, where decision-focused training helps (PyEPO, Fig. 7-9).

The travelling salesman follows PyEPO's own TSP generator instead: Euclidean distances
between cities plus a feature-driven part (see :func:`tsp_costs`); the vehicle routing
problem takes the same edge costs on the depot and its customers, with integer demands
(see :func:`vehicle_routing_demands`). Every generator is
deterministic by ``seed`` and returns a :class:`SyntheticProblem`: the features, the true
costs (or values), the solver parameters, and whether the problem is a minimisation
(``θ = −c``) or a maximisation (``θ = c``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial.distance import pdist

from solvers.shortest_path_graph import grid_dag

__all__ = [
    "SyntheticProblem",
    "polynomial_costs",
    "tsp_costs",
    "vehicle_routing_demands",
    "make_synthetic",
    "SYNTHETIC_PROBLEMS",
]


@dataclass
class SyntheticProblem:
    """A synthetic data set: features ``x`` (N, p) and true costs ``costs`` (N, *shape).

    ``theta = sign · costs`` is what the (maximising) solver receives: ``sign = −1`` for
    minimisation problems (paths, assignments, trees), ``+1`` for maximisation (knapsack
    values, ranking scores). ``solver_params`` are passed to ``solvers.get(problem, ...)``.

    Examples:
        >>> from diffsolvers.datasets import make_synthetic
        >>> data = make_synthetic("knapsack", n=4, p=5, deg=2, noise_width=0.5, seed=0)
        >>> data.x.shape, data.costs.shape, data.sign, sorted(data.solver_params)
        ((4, 5), (4, 32), 1.0, ['capacity', 'weights'])
    """

    problem: str
    x: np.ndarray
    costs: np.ndarray
    sign: float
    solver_params: dict[str, Any] = field(default_factory=dict)
    deg: int = 1
    noise_width: float = 0.0
    seed: int = 0

    @property
    def theta(self) -> np.ndarray:
        return self.sign * self.costs

    @property
    def minimize(self) -> bool:
        return self.sign < 0

    def __len__(self) -> int:
        return self.x.shape[0]


def _check_sizes(n: int, p: int, deg: int, noise_width: float) -> None:
    if not isinstance(deg, (int, np.integer)) or deg < 1:
        raise ValueError(f"deg must be a positive integer, got {deg!r}")
    if noise_width < 0 or noise_width >= 1:
        raise ValueError(f"noise_width must lie in [0, 1), got {noise_width!r}")
    if n < 0 or p < 1:
        raise ValueError(f"need n >= 0, p >= 1; got n={n}, p={p}")


def polynomial_costs(
    n: int,
    p: int,
    d: int,
    deg: int,
    noise_width: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Features ``x`` (n, p) and positive costs (n, d) by the polynomial map above.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x, c = polynomial_costs(n=3, p=5, d=40, deg=2, noise_width=0.5, rng=rng)
        >>> x.shape, c.shape, bool((c > 0).all())
        ((3, 5), (3, 40), True)
    """
    _check_sizes(n, p, deg, noise_width)
    if d < 1:
        raise ValueError(f"need d >= 1; got d={d}")
    b = rng.binomial(1, 0.5, size=(d, p)).astype(np.float64)
    x = rng.normal(0.0, 1.0, size=(n, p))
    c = ((x @ b.T) / np.sqrt(p) + 3.0) ** deg + 1.0
    c /= 3.5**deg
    c *= rng.uniform(1.0 - noise_width, 1.0 + noise_width, size=(n, d))
    return x, c


def tsp_costs(
    n: int,
    p: int,
    n_nodes: int,
    deg: int,
    noise_width: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Features ``x`` (n, p) and edge costs (n, E), ``E = n_nodes(n_nodes-1)/2``, by PyEPO's
    TSP formula (Tang and Khalil, "PyEPO", Math. Prog. Comp. 2024, ``pyepo.data.tsp``).

    The first ``⌊n_nodes/2⌋`` cities lie uniformly in ``[-2, 2]²``, the others at
    ``N(0, I₂)``; ``d_e`` is the Euclidean length of edge ``e`` (edges in
    ``itertools.combinations`` order, the TSP solver's). With ``B_ej = b_ej·u_ej``,
    ``b ~ Bernoulli(0.5)``, ``u ~ U[-2, 2]``, features ``x ~ N(0, I_p)`` and noise
    ``ε_e ~ U[1 − w̄, 1 + w̄]``,

        c_e(x) = d_e + [ ((B x)_e / √p + 3)^deg / 3^(deg−1) ] · ε_e,

    rounded to 4 decimals. Unlike :func:`polynomial_costs`, ``B`` has signed entries, so
    for odd ``deg`` a cost can (rarely) be negative. Drawn in this order: cities, ``B``,
    ``x``, ``ε``.

    Examples:
        >>> import numpy as np, solvers
        >>> rng = np.random.default_rng(0)
        >>> x, c = tsp_costs(n=3, p=5, n_nodes=5, deg=2, noise_width=0.5, rng=rng)
        >>> x.shape, c.shape  # 5 cities: 10 edges
        ((3, 5), (3, 10))
        >>> solvers.get("tsp", n_nodes=5).solve(-c).sum(axis=1)  # shortest tours: 5 edges
        array([5., 5., 5.])
    """
    _check_sizes(n, p, deg, noise_width)
    if n_nodes < 3:
        raise ValueError(f"n_nodes must be >= 3 for a tour, got {n_nodes}")
    half = n_nodes // 2
    cities = np.concatenate(
        [rng.uniform(-2.0, 2.0, size=(half, 2)), rng.normal(0.0, 1.0, size=(n_nodes - half, 2))]
    )
    dist = pdist(cities)
    e = dist.shape[0]
    b = rng.binomial(1, 0.5, size=(e, p)) * rng.uniform(-2.0, 2.0, size=(e, p))
    x = rng.normal(0.0, 1.0, size=(n, p))
    feature = ((x @ b.T) / np.sqrt(p) + 3.0) ** deg / 3.0 ** (deg - 1)
    c = dist + feature * rng.uniform(1.0 - noise_width, 1.0 + noise_width, size=(n, e))
    return x, np.round(c, 4)


def vehicle_routing_demands(
    n_customers: int, capacity: int, rng: np.random.Generator, max_demand: int | None = None
) -> np.ndarray:
    """Integer demands ``q_v ~ U{1, …, max_demand}`` of ``n_customers`` customers, for
    vehicles of capacity ``capacity``; ``max_demand`` defaults to ``⌊capacity/2⌋``, so that
    any two customers fit one vehicle and every instance is feasible (a route visits two
    customers or more, as in PyEPO's CVRP, ``solvers.vehicle_routing``).

    PyEPO has no CVRP data generator; its CVRP model (``pyepo.model.grb.vrp``) takes
    demands and a capacity, and its edge costs are those of its TSP generator
    (:func:`tsp_costs` on the depot and the customers).

    Examples:
        >>> import numpy as np
        >>> q = vehicle_routing_demands(9, 20, np.random.default_rng(0))
        >>> q.shape, bool(q.min() >= 1 and q.max() <= 10)
        ((9,), True)
    """
    if n_customers < 2:
        raise ValueError(f"need at least two customers (n_nodes >= 3), got {n_customers}")
    if max_demand is None:
        max_demand = capacity // 2
    if not 1 <= max_demand <= capacity:
        raise ValueError(
            f"need 1 <= max_demand <= capacity, got max_demand={max_demand}, capacity={capacity}"
        )
    return rng.integers(1, max_demand + 1, size=n_customers).astype(np.float64)


def _shortest_path_graph(n, p, deg, noise_width, rng, grid: int = 5):
    params = grid_dag(grid, grid)
    x, c = polynomial_costs(n, p, len(params["edges"]), deg, noise_width, rng)
    return x, c, -1.0, params


def _knapsack(n, p, deg, noise_width, rng, n_items: int = 32, capacity_ratio: float = 0.3):
    # PyEPO: weights in {3.00, ..., 7.99}, values 5·c rounded up. Integer weights 3..8 here
    # so that the DP solver needs no weight scale; capacity a fixed share of the total.
    weights = rng.integers(3, 9, size=n_items).astype(np.float64)
    x, c = polynomial_costs(n, p, n_items, deg, noise_width, rng)
    values = np.ceil(5.0 * c)
    capacity = float(np.floor(capacity_ratio * weights.sum()))
    return x, values, 1.0, dict(weights=weights, capacity=capacity)


def _multi_knapsack(
    n,
    p,
    deg,
    noise_width,
    rng,
    n_items: int = 32,
    dim: int = 2,
    capacity: float = 20.0,
    weight_decimals: int = 0,
):
    # PyEPO's multi-dimensional knapsack: weights (dim, n_items) uniform on the multiples of
    # 10^-d in [3, 8) ({3.00, ..., 7.99} with d = 2, PyEPO's; {3, ..., 7} with d = 0, which
    # the DP solves without a weight scale), values 5·c rounded up, capacity 20 per resource.
    # With d = 2 the DP's lattice has (100·capacity + 1)^dim points: 32 items on two
    # resources exceed its default table, so solve those with backend="ortools".
    if not isinstance(weight_decimals, (int, np.integer)) or not 0 <= weight_decimals <= 6:
        raise ValueError(f"weight_decimals must be an integer in 0..6, got {weight_decimals!r}")
    if dim < 1 or n_items < 1:
        raise ValueError(f"need dim >= 1 and n_items >= 1; got dim={dim}, n_items={n_items}")
    unit = 10**weight_decimals
    weights = rng.integers(3 * unit, 8 * unit, size=(dim, n_items)) / unit
    x, c = polynomial_costs(n, p, n_items, deg, noise_width, rng)
    params: dict[str, Any] = dict(weights=weights, capacity=np.full(dim, float(capacity)))
    if weight_decimals:
        params["weight_scale"] = float(unit)
    return x, np.ceil(5.0 * c), 1.0, params


def _tsp(n, p, deg, noise_width, rng, n_nodes: int = 10):
    x, c = tsp_costs(n, p, n_nodes, deg, noise_width, rng)
    return x, c, -1.0, dict(n_nodes=n_nodes)


def _vehicle_routing(n, p, deg, noise_width, rng, n_nodes: int = 10, capacity: int = 20):
    # demands first: they depend on the seed only, not on n (as the knapsack's weights)
    demands = vehicle_routing_demands(n_nodes - 1, capacity, rng)
    x, c = tsp_costs(n, p, n_nodes, deg, noise_width, rng)
    return x, c, -1.0, dict(n_nodes=n_nodes, demands=demands, capacity=float(capacity))


def _assignment(n, p, deg, noise_width, rng, size: int = 8):
    x, c = polynomial_costs(n, p, size * size, deg, noise_width, rng)
    return x, c.reshape(n, size, size), -1.0, {}


def _ranking(n, p, deg, noise_width, rng, n_items: int = 16):
    x, c = polynomial_costs(n, p, n_items, deg, noise_width, rng)
    return x, c, 1.0, {}


def _spanning_tree(n, p, deg, noise_width, rng, n_nodes: int = 8):
    edges = list(itertools.combinations(range(n_nodes), 2))
    x, c = polynomial_costs(n, p, len(edges), deg, noise_width, rng)
    return x, c, -1.0, dict(n_nodes=n_nodes, edges=edges)


SYNTHETIC_PROBLEMS = {
    "shortest_path_graph": (_shortest_path_graph, "5×5 grid DAG, right/down moves, edge costs"),
    "knapsack": (_knapsack, "32 items, integer weights 3..8, capacity 30% of total, values"),
    "assignment": (_assignment, "8×8 linear assignment, costs"),
    "ranking": (_ranking, "16 items ranked by score"),
    "spanning_tree": (_spanning_tree, "minimum spanning tree of the complete graph on 8 nodes"),
    "multi_knapsack": (
        _multi_knapsack,
        "32 items, 2 resources of capacity 20, values as PyEPO's; weights 3..7 "
        "(weight_decimals=2: PyEPO's 3.00..7.99)",
    ),
    "tsp": (_tsp, "travelling salesman on 10 cities: distances plus feature costs (PyEPO's)"),
    "vehicle_routing": (
        _vehicle_routing,
        "vehicle routing, depot and 9 customers, demands 1..10, capacity 20; edge costs as tsp",
    ),
}
"""The synthetic problems: name -> (generator, description); ``make_synthetic`` takes the names."""


def make_synthetic(
    problem: str,
    n: int = 1000,
    p: int = 5,
    deg: int = 1,
    noise_width: float = 0.5,
    seed: int = 0,
    **options: Any,
) -> SyntheticProblem:
    """Generate ``n`` feature/cost pairs for ``problem`` (see :data:`SYNTHETIC_PROBLEMS`).

    ``seed`` fixes the random map ``B``, the problem structure (knapsack weights) and the
    sequence of features: two calls with the same seed and different ``n`` share ``B`` and
    their first ``min(n)`` rows of ``x``, so a test set drawn that way overlaps the training
    set. Draw train and test in one call and split it (as ``compare synthetic`` does); a
    different seed gives a different ``B``, hence a different problem.

    Examples:
        >>> data = make_synthetic("shortest_path_graph", n=100, p=5, deg=4, noise_width=0.5, seed=0)
        >>> data.x.shape, data.costs.shape
        ((100, 5), (100, 40))
        >>> bool((make_synthetic("shortest_path_graph", n=10, seed=0).x == data.x[:10]).all())
        True
    """
    if problem not in SYNTHETIC_PROBLEMS:
        raise ValueError(
            f"unknown synthetic problem {problem!r}; available: {', '.join(SYNTHETIC_PROBLEMS)}"
        )
    rng = np.random.default_rng(seed)
    make, _ = SYNTHETIC_PROBLEMS[problem]
    x, costs, sign, params = make(n, p, deg, noise_width, rng, **options)
    return SyntheticProblem(
        problem=problem,
        x=x.astype(np.float32),
        costs=costs.astype(np.float32),
        sign=sign,
        solver_params=params,
        deg=deg,
        noise_width=noise_width,
        seed=seed,
    )
