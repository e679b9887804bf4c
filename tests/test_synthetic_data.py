"""The PyEPO-style generators of the travelling salesman, the vehicle routing problem and the
multi-dimensional knapsack (diffsolvers.datasets.synthetic): shapes, determinism and the
published formulas."""

from __future__ import annotations

import numpy as np
import pytest

import solvers
from diffsolvers.datasets.synthetic import (
    make_synthetic,
    polynomial_costs,
    tsp_costs,
    vehicle_routing_demands,
)


def _edge_fit(data):
    """Per-edge least squares ``c_e ≈ a_e + x·s_e``: intercepts (E,), slopes (p, E), and
    the largest residual."""
    x = data.x.astype(np.float64)
    design = np.column_stack([np.ones(len(x)), x])
    coef, *_ = np.linalg.lstsq(design, data.costs.astype(np.float64), rcond=None)
    residual = np.abs(design @ coef - data.costs).max()
    return coef[0], coef[1:], residual


def test_tsp_shapes_sign_and_determinism():
    a = make_synthetic("tsp", n=40, deg=2, seed=3)
    assert a.costs.shape == (40, 45) and a.x.shape == (40, 5)
    assert a.sign == -1.0 and a.minimize and a.solver_params == {"n_nodes": 10}
    b = make_synthetic("tsp", n=40, deg=2, seed=3)
    np.testing.assert_array_equal(a.costs, b.costs)
    assert not np.array_equal(a.costs, make_synthetic("tsp", n=40, deg=2, seed=4).costs)
    big = make_synthetic("tsp", n=4, p=3, seed=0, n_nodes=20)
    assert big.costs.shape == (4, 190) and big.x.shape == (4, 3)
    solver = solvers.get("tsp", **a.solver_params)
    y = solver.solve(a.theta)
    assert all(solver.is_tour(row) for row in y)
    with pytest.raises(ValueError, match="n_nodes must be >= 3"):
        make_synthetic("tsp", n_nodes=2)


def test_tsp_costs_are_distances_plus_an_affine_map_at_degree_one():
    """deg = 1, no noise: c_e = d_e + (B x)_e/√p + 3, so an affine fit is exact (up to the
    4-decimal rounding), its intercepts minus 3 are the distances between points of the
    plane, and its slopes times √p are B: entries in [-2, 2], about half of them zero."""
    p = 5
    data = make_synthetic("tsp", n=400, p=p, deg=1, noise_width=0.0, seed=11)
    intercept, slope, residual = _edge_fit(data)
    assert residual < 2e-4
    d = intercept - 3.0
    assert d.min() > 0
    n = 10
    dist = np.zeros((n, n))
    dist[np.triu_indices(n, k=1)] = d
    dist = dist + dist.T
    # a Euclidean distance matrix of points in the plane: its Gram matrix has rank two
    centring = np.eye(n) - 1.0 / n
    gram = -0.5 * centring @ (dist**2) @ centring
    eig = np.sort(np.linalg.eigvalsh(gram))[::-1]
    assert eig[1] > 0.1 and np.abs(eig[2:]).max() < 1e-3 * eig[0], eig
    b = slope * np.sqrt(p)
    assert np.abs(b).max() <= 2.0 + 1e-3
    zero = np.abs(b) < 1e-3
    assert 0.35 < zero.mean() < 0.65


@pytest.mark.parametrize("deg", [2, 3, 4, 6])
def test_tsp_degree_and_noise_follow_the_formula(deg):
    """One seed draws the same cities, B and x whatever the degree: with f = c¹ − d the
    degree-one feature part, c^deg = d + f^deg / 3^(deg−1) · ε, ε ~ U[1 − w̄, 1 + w̄]."""
    kw = dict(n=300, p=5, noise_width=0.0, seed=2)
    one = make_synthetic("tsp", deg=1, **kw)
    d = _edge_fit(one)[0] - 3.0
    f = one.costs.astype(np.float64) - d
    clean = make_synthetic("tsp", deg=deg, **kw).costs.astype(np.float64)
    np.testing.assert_allclose(clean, d + f**deg / 3.0 ** (deg - 1), rtol=1e-3, atol=1e-3)
    noisy = make_synthetic("tsp", deg=deg, **{**kw, "noise_width": 0.5}).costs
    away = np.abs(clean - d) > 0.1  # the ratio of two rounded numbers near zero says little
    ratio = ((noisy - d) / (clean - d))[away]
    assert ratio.min() > 0.5 - 1e-2 and ratio.max() < 1.5 + 1e-2
    assert ratio.mean() == pytest.approx(1.0, abs=0.02)


def test_vehicle_routing_demands_then_tsp_costs():
    data = make_synthetic("vehicle_routing", n=30, deg=2, seed=4)
    params = data.solver_params
    assert data.costs.shape == (30, 45) and data.sign == -1.0 and data.minimize
    assert params["n_nodes"] == 10 and params["capacity"] == 20.0
    demands = params["demands"]
    assert demands.shape == (9,) and demands.min() >= 1 and demands.max() <= 10
    np.testing.assert_array_equal(demands, np.round(demands))
    # demands drawn first (they do not depend on n), then PyEPO's TSP costs
    rng = np.random.default_rng(4)
    np.testing.assert_array_equal(vehicle_routing_demands(9, 20, rng), demands)
    x, c = tsp_costs(30, 5, 10, 2, 0.5, rng)
    np.testing.assert_array_equal(data.costs, c.astype(np.float32))
    np.testing.assert_array_equal(data.x, x.astype(np.float32))
    small = make_synthetic("vehicle_routing", n=3, deg=2, seed=4)
    np.testing.assert_array_equal(small.solver_params["demands"], demands)
    solver = solvers.get("vehicle_routing", **params)
    y = solver.solve(data.theta)
    assert all(solver.is_routes(row) for row in y)
    cp = solvers.get("vehicle_routing", backend="ortools", **params)
    yc = cp.solve(data.theta[:5])
    np.testing.assert_allclose(
        solver.objective(data.theta[:5], yc), solver.objective(data.theta[:5], y[:5]), rtol=1e-6
    )
    other = make_synthetic("vehicle_routing", n=2, seed=0, n_nodes=6, capacity=8)
    assert other.costs.shape == (2, 15) and other.solver_params["demands"].max() <= 4
    with pytest.raises(ValueError, match="at least two customers"):
        make_synthetic("vehicle_routing", n_nodes=2)
    with pytest.raises(ValueError, match="max_demand"):
        vehicle_routing_demands(5, 1, np.random.default_rng(0))


def test_multi_knapsack_shapes_weights_and_values():
    data = make_synthetic("multi_knapsack", n=50, deg=3, seed=5)
    assert data.costs.shape == (50, 32) and data.sign == 1.0 and not data.minimize
    weights, capacity = data.solver_params["weights"], data.solver_params["capacity"]
    assert weights.shape == (2, 32) and set(np.unique(weights)) <= {3.0, 4.0, 5.0, 6.0, 7.0}
    np.testing.assert_array_equal(capacity, [20.0, 20.0])
    assert "weight_scale" not in data.solver_params
    # values: ⌈5·c⌉ of the polynomial costs, drawn after the weights
    rng = np.random.default_rng(5)
    rng.integers(3, 8, size=(2, 32))
    _, c = polynomial_costs(50, 5, 32, 3, 0.5, rng)
    np.testing.assert_array_equal(data.costs, np.ceil(5.0 * c).astype(np.float32))
    assert data.costs.min() >= 1
    solver = solvers.get("multi_knapsack", **data.solver_params)
    y = solver.solve(data.theta)
    assert np.all(y @ weights.T <= capacity) and np.all(y.sum(1) >= 2)
    again = make_synthetic("multi_knapsack", n=50, deg=3, seed=5)
    np.testing.assert_array_equal(again.costs, data.costs)


def test_multi_knapsack_with_pyepos_two_decimal_weights():
    # two resources of capacity 2000 hundredths: a lattice of 2001² points, 10 items
    data = make_synthetic("multi_knapsack", n=4, seed=1, weight_decimals=2, n_items=10)
    weights = data.solver_params["weights"]
    assert weights.shape == (2, 10) and data.solver_params["weight_scale"] == 100.0
    assert weights.min() >= 3.0 and weights.max() <= 7.99
    np.testing.assert_array_equal(np.round(weights * 100) / 100, weights)  # hundredths
    assert not np.array_equal(weights, np.round(weights))
    dp = solvers.get("multi_knapsack", **data.solver_params)
    cp = solvers.get("multi_knapsack", backend="ortools", **data.solver_params)
    ya, yb = dp.solve(data.theta), cp.solve(data.theta)
    np.testing.assert_array_equal(dp.objective(data.theta, ya), cp.objective(data.theta, yb))
    assert np.all(ya @ weights.T <= 20.0)


def test_generator_arguments_are_checked():
    for bad in (-1, 7, 1.5):
        with pytest.raises(ValueError, match="weight_decimals"):
            make_synthetic("multi_knapsack", weight_decimals=bad)
    with pytest.raises(ValueError, match="dim >= 1"):
        make_synthetic("multi_knapsack", dim=0)
    with pytest.raises(ValueError, match="deg"):
        make_synthetic("tsp", deg=0)
    with pytest.raises(ValueError, match="noise_width"):
        make_synthetic("tsp", noise_width=1.0)
