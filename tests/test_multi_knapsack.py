"""Multi-dimensional 0-1 knapsack: the Numba DP over the capacity lattice, the Numba branch and
bound and CP-SAT against brute force over all subsets, each other, the one-dimensional knapsack
and the lp backend."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from solver_checks import (
    assert_batched_equals_single,
    assert_dtype_rules,
    assert_empty_batch,
    assert_integral,
    assert_same_objective,
    check_bad_inputs,
)

import solvers
from solvers import SolverInputError

BACKENDS = ["numba", "branch_and_bound", "ortools"]
SUBSETS = {n: np.array(list(itertools.product((0.0, 1.0), repeat=n))) for n in range(13)}


def brute_force_best(theta, weights, capacity) -> float:
    """Best ``⟨θ, y⟩`` over all ``2^n`` subsets with ``W y <= C`` (exact for integer θ)."""
    subsets = SUBSETS[theta.shape[0]]
    fits = np.all(subsets @ np.asarray(weights).T <= capacity, axis=1)
    return float((subsets[fits] @ theta).max())


def assert_feasible(theta, weights, capacity, y) -> None:
    assert_integral(y)
    assert set(np.unique(y)) <= {0.0, 1.0}
    load = np.einsum("...mn,...n->...m", np.asarray(weights, dtype=float), y)
    assert np.all(load <= capacity), "a packing exceeds a capacity"
    assert not np.any(y[theta <= 0]), "an item of non-positive value was chosen"


@st.composite
def instances(draw, max_n=12, max_m=3, max_batch=4, max_weight=6):
    """A batch of small integer instances with per-instance side data: ties, zero weights,
    zero capacities, resources that never bind, everything fitting."""
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    b = draw(st.integers(1, max_batch))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    theta = rng.integers(-3, 7, size=(b, n)).astype(np.float64)
    weights = rng.integers(0, max_weight + 1, size=(b, m, n)).astype(np.float64)
    total = weights.sum(2)
    mode = draw(st.sampled_from(["zero", "random", "random", "all", "mixed"]))
    if mode == "zero":
        capacity = np.zeros((b, m))
    elif mode == "all":
        capacity = total + rng.integers(0, 3, size=(b, m))
    else:
        capacity = np.floor(rng.uniform(0, 1, size=(b, m)) * (total + 1))
        if mode == "mixed":  # some resources bind, others never do
            capacity = np.where(rng.random((b, m)) < 0.5, total, capacity)
    return theta, weights, capacity


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=200, deadline=None)
@given(inst=instances())
def test_matches_brute_force(backend, inst):
    theta, weights, capacity = inst
    solver = solvers.get("multi_knapsack", backend=backend)
    y = solver.solve(theta, weights=weights, capacity=capacity)
    assert_feasible(theta, weights, capacity, y)
    want = [brute_force_best(t, w, c) for t, w, c in zip(theta, weights, capacity)]
    np.testing.assert_array_equal(solver.objective(theta, y), want)


@settings(max_examples=80, deadline=None)
@given(
    inst=st.one_of(
        instances(max_n=40, max_m=2, max_batch=5, max_weight=9),
        instances(max_n=14, max_m=4, max_batch=5, max_weight=2),
    )
)
def test_dp_and_branch_and_bound_match_cp_sat_on_larger_instances(inst):
    """Beyond brute force, within the DP's default table (n·Π(C_k+1) <= 5e7)."""
    theta, weights, capacity = inst
    cp = solvers.get("multi_knapsack", backend="ortools")
    for backend in ("numba", "branch_and_bound"):
        solver = solvers.get("multi_knapsack", backend=backend)
        ya, yb = assert_same_objective(solver, cp, theta, weights=weights, capacity=capacity)
        assert_feasible(theta, weights, capacity, ya)
        assert_feasible(theta, weights, capacity, yb)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ties=st.booleans(), dims=st.integers(1, 3))
def test_branch_and_bound_matches_cp_sat_where_the_dp_table_is_too_large(seed, ties, dims):
    """PyEPO's knapsack (32 items, weights 3.00-7.99 on a grid of 0.01, capacity 20 per
    resource): 2,001^2·32 DP cells, beyond the DP's table. Values from a linear model's
    output, some negative; with ``ties`` rounded to integers so that many packings tie."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(300, 800, size=(dims, 32)) / 100
    theta = rng.normal(1.0, 2.0, size=(8, 32))
    if ties:
        theta = np.round(theta)
    bnb = solvers.get(
        "multi_knapsack", backend="branch_and_bound", weights=weights, capacity=20.0,
        weight_scale=100,
    )  # fmt: skip
    cp = solvers.get(
        "multi_knapsack", backend="ortools", weights=weights, capacity=20.0, weight_scale=100
    )
    ya, yb = assert_same_objective(bnb, cp, theta)
    assert_feasible(theta, weights, 20.0, ya)
    assert_feasible(theta, weights, 20.0, yb)


def test_branch_and_bound_stops_at_max_nodes_with_a_clear_error():
    """Equal values (not integers: no rounding of the bound) and equal weights that never
    fill a capacity exactly: the Dantzig bound is half an item above every packing, so no
    node is pruned early."""
    solver = solvers.get("multi_knapsack", backend="branch_and_bound", max_nodes=1_000)
    theta = np.full((2, 30), 0.5)
    weights = np.full((2, 30), 2.0)
    with pytest.raises(SolverInputError, match="instance 0 reached max_nodes=1000.*ortools"):
        solver.solve(theta, weights=weights, capacity=[[29.0, 29.0], [29.0, 29.0]])
    # filled exactly, the bound meets the first packing found: solved at once; with integer
    # values the bound 14.5 rounds down to the 14 of the first packing
    y = solver.solve(theta, weights=weights, capacity=28.0)
    np.testing.assert_array_equal(y.sum(axis=1), [14.0, 14.0])
    y = solver.solve(2 * theta, weights=weights, capacity=29.0)
    np.testing.assert_array_equal(y.sum(axis=1), [14.0, 14.0])
    with pytest.raises(SolverInputError, match="max_nodes must be >= 1"):
        solvers.get("multi_knapsack", backend="branch_and_bound", max_nodes=0)
    with pytest.raises(TypeError, match="max_nodes must be an int"):
        solvers.get("multi_knapsack", backend="branch_and_bound", max_nodes=1e6)


@settings(max_examples=30, deadline=None)
@given(inst=instances(max_n=8, max_batch=2))
def test_matches_lp_backend(inst):
    theta, weights, capacity = inst
    dp = solvers.get("multi_knapsack")
    lp = solvers.get("multi_knapsack", backend="lp")
    assert_same_objective(dp, lp, theta, weights=weights, capacity=capacity)


@settings(max_examples=60, deadline=None)
@given(inst=instances(max_n=30, max_m=1, max_batch=4, max_weight=20))
def test_one_resource_matches_the_knapsack_solver(inst):
    theta, weights, capacity = inst
    multi = solvers.get("multi_knapsack")
    single = solvers.get("knapsack")
    y = multi.solve(theta, weights=weights, capacity=capacity)
    y1 = single.solve(theta, weights=weights[:, 0], capacity=capacity[:, 0])
    np.testing.assert_array_equal(multi.objective(theta, y), single.objective(theta, y1))


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), m=st.integers(1, 3))
def test_float_values(backend, seed, n, m):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(3, n))
    weights = rng.integers(0, 10, size=(m, n))
    capacity = np.floor(rng.uniform(0, 1, size=m) * (weights.sum(1) + 1))
    solver = solvers.get("multi_knapsack", backend=backend, weights=weights, capacity=capacity)
    y = solver.solve(theta)
    assert_feasible(theta, weights, capacity, y)
    want = [brute_force_best(t, weights, capacity) for t in theta]
    np.testing.assert_allclose(solver.objective(theta, y), want, rtol=1e-12, atol=1e-12)


# -- capacities and the weight grid -------------------------------------------------------


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_a_capacity_just_below_an_integer_does_not_admit_it(backend):
    solver = solvers.get("multi_knapsack", backend=backend, weights=[[10, 0], [0, 10]])
    for below in (10 - 1e-12, np.nextafter(10.0, 0.0), 9.9999):
        y = solver.solve([1.0, 1.0], capacity=[below, 20])
        np.testing.assert_array_equal(y, [0.0, 1.0])
    np.testing.assert_array_equal(solver.solve([1.0, 1.0], capacity=[10.0, 20]), [1.0, 1.0])
    np.testing.assert_array_equal(solver.solve([1.0, 1.0], capacity=[10.7, 20]), [1.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_weight_scale_compares_on_the_users_grid(backend):
    """0.29·100 is 28.999999999999996 in floating point: as a weight and as a capacity it
    is 29 hundredths, so an item as heavy as the capacity fits; a capacity one ulp below
    0.29 does not admit it."""
    solver = solvers.get("multi_knapsack", backend=backend, weight_scale=100)
    y = solver.solve([1.0], weights=[[0.29]], capacity=0.29)
    np.testing.assert_array_equal(y, [1.0])
    y = solver.solve([1.0], weights=[[0.29]], capacity=np.nextafter(0.29, 0.0))
    np.testing.assert_array_equal(y, [0.0])
    y = solver.solve([1.0, 1.0], weights=[[0.7, 0.3]], capacity=1.0)  # 0.7·100 = 70.00000000000001
    np.testing.assert_array_equal(y, [1.0, 1.0])
    y = solver.solve([1.0, 1.0], weights=[[0.123, 0.0]], capacity=0.123)  # 0.123 rounds up to 0.13
    np.testing.assert_array_equal(y, [0.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 9), scale=st.sampled_from([1, 10, 100]))
@example(seed=105, n=7, scale=100)  # a capacity filled to the last 1/100
@example(seed=555, n=5, scale=100)  # 0.02 + 0.27 fills 0.29 exactly (not in floating point)
def test_weight_scale_is_feasible_and_optimal_for_the_rounded_instance(backend, seed, n, scale):
    rng = np.random.default_rng(seed)
    theta = rng.integers(-2, 8, size=(3, n)).astype(np.float64)
    weights = np.round(rng.uniform(0, 3, size=(2, n)), 2)
    capacity = np.round(rng.uniform(0, 1, size=2) * weights.sum(1), 2)
    solver = solvers.get(
        "multi_knapsack", backend=backend, weights=weights, capacity=capacity, weight_scale=scale
    )
    y = solver.solve(theta)
    # the grid of 1/scale: weights rounded up, capacities down, in the user's units
    w_int = np.array(
        [[min(k for k in range(30 * scale) if k / scale >= w) for w in row] for row in weights]
    )
    c_int = np.array([max(k for k in range(30 * scale) if k / scale <= c) for c in capacity])
    # feasible exactly on the grid: a packing that fills a capacity of two decimals to the
    # last unit (0.6 + 1.37 = 1.97) sums to 1.9700000000000002 in floating point
    assert_feasible(theta, w_int, c_int, y)
    got = solver.objective(theta, y)
    np.testing.assert_array_equal(got, [brute_force_best(t, w_int, c_int) for t in theta])
    # never above the true optimum, taken in exact arithmetic: the data have two decimals,
    # so in hundredths they are integers (in floating point 0.02 + 0.27 > 0.29 would drop a
    # packing that fits exactly)
    w_exact, c_exact = np.round(weights * 100).astype(int), np.round(capacity * 100).astype(int)
    assert np.all(got <= [brute_force_best(t, w_exact, c_exact) for t in theta])


# -- side data: fixed, per call, shared or per instance -----------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixed_per_call_and_broadcast_side_data(backend):
    rng = np.random.default_rng(0)
    theta = rng.integers(-2, 9, size=(4, 5, 7)).astype(np.float64)
    w = rng.integers(0, 6, size=(2, 7))
    fixed = solvers.get("multi_knapsack", backend=backend, weights=w, capacity=[9, 8])
    free = solvers.get("multi_knapsack", backend=backend)
    y = fixed.solve(theta)
    np.testing.assert_array_equal(y, free.solve(theta, weights=w, capacity=[9, 8]))
    np.testing.assert_array_equal(
        y,
        free.solve(
            theta,
            weights=np.broadcast_to(w, (4, 5, 2, 7)),
            capacity=np.broadcast_to([9.0, 8.0], (4, 5, 2)),
        ),
    )
    scalar = fixed.solve(theta, capacity=8)  # one capacity for every resource
    np.testing.assert_array_equal(scalar, free.solve(theta, weights=w, capacity=[8, 8]))
    np.testing.assert_array_equal(
        fixed.solve(theta, capacity=0), free.solve(theta, weights=w, capacity=[0, 0])
    )
    for t, yb in zip(theta.reshape(-1, 7), y.reshape(-1, 7)):
        assert t @ yb == brute_force_best(t, w, np.array([9, 8]))


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None)
@given(inst=instances(max_batch=6))
def test_batched_equals_single(backend, inst):
    theta, weights, capacity = inst
    solver = solvers.get("multi_knapsack", backend=backend)
    assert_batched_equals_single(solver, theta, weights=weights, capacity=capacity)


def test_tiled_side_data_matches_per_instance():
    """(M, B, n) with side data tiled M times, as the perturbed layers do."""
    rng = np.random.default_rng(1)
    b, n, m, samples = 5, 8, 2, 3
    w = rng.integers(0, 7, size=(b, m, n))
    c = rng.integers(0, 20, size=(b, m))
    theta = rng.integers(-3, 9, size=(samples, b, n)).astype(np.float64)
    solver = solvers.get("multi_knapsack")
    y = solver.solve(
        theta, weights=np.broadcast_to(w, (samples, b, m, n)), capacity=np.tile(c, (samples, 1, 1))
    )
    for i in range(samples):
        for j in range(b):
            np.testing.assert_array_equal(
                y[i, j], solver.solve(theta[i, j], weights=w[j], capacity=c[j])
            )


@pytest.mark.parametrize("backend", BACKENDS)
def test_dtypes_and_degenerate_sizes(backend):
    rng = np.random.default_rng(2)
    w = rng.integers(0, 5, size=(3, 6))
    solver = solvers.get("multi_knapsack", backend=backend, weights=w, capacity=[7, 6, 5])
    theta = rng.integers(-2, 6, size=(4, 6)).astype(np.float64)
    assert_dtype_rules(solver, theta)
    assert_empty_batch(solver, (6,))
    # no items
    empty = solvers.get("multi_knapsack", backend=backend, weights=np.zeros((2, 0)), capacity=3)
    assert empty.solve(np.zeros((2, 0))).shape == (2, 0)
    # no resources: every item of positive value
    free = solvers.get("multi_knapsack", backend=backend, weights=np.zeros((0, 3)), capacity=[])
    np.testing.assert_array_equal(free.solve([2.0, 0.0, -1.0]), [1.0, 0.0, 0.0])
    # weightless items are packed at capacity 0; a heavy item never, whatever its value
    light = solvers.get("multi_knapsack", backend=backend, weights=[[0, 5, 1], [0, 1, 1]])
    np.testing.assert_array_equal(light.solve([2.0, 1e9, 1.0], capacity=0), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(light.solve([2.0, 1e9, 1.0], capacity=[4, 9]), [1.0, 0.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_capacities_and_weights(backend):
    solver = solvers.get("multi_knapsack", backend=backend)
    theta = np.array([[3.0, 2.0, 1.0]])
    y = solver.solve(theta, weights=[[[1e15, 2, 3], [1, 1, 1]]], capacity=[[1e18, 1e30]])
    np.testing.assert_array_equal(y, [[1.0, 1.0, 1.0]])
    y = solver.solve(theta, weights=[[[1e30, 2, 3], [1, 1, 1]]], capacity=[[4, 3]])
    np.testing.assert_array_equal(y, [[0.0, 1.0, 0.0]])
    with pytest.raises(SolverInputError, match="beyond the integer range 2\\^62"):
        solver.solve(np.ones(17), weights=np.full((1, 17), 2.0**59), capacity=2.0**60)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scale", [1e-300, 1e-12, 1.0, 1e12, 1e300])
def test_the_packing_does_not_depend_on_the_scale_of_the_values(backend, scale):
    rng = np.random.default_rng(7)
    theta = rng.integers(1, 50, size=(20, 8)).astype(np.float64)
    weights = rng.integers(1, 6, size=(20, 2, 8)).astype(np.float64)
    capacity = np.full((20, 2), 9.0)
    solver = solvers.get("multi_knapsack", backend=backend)
    y = solver.solve(theta * scale, weights=weights, capacity=capacity)
    for t, w, c, yb in zip(theta, weights, capacity, y):
        assert_feasible(t, w, c, yb)
        assert t @ yb == brute_force_best(t, w, c)


# -- the LP form ------------------------------------------------------------------------------


def test_lp_form():
    solver = solvers.get("multi_knapsack", weights=[[3, 0, 2], [1, 2, 2]], capacity=[4, 3.5])
    form = solver.lp_form(shape=(3,))
    assert form.integrality.all() and not form.integral_polytope
    np.testing.assert_array_equal(form.b_ub, [4.0, 3.0])  # integral weights: ⌊C⌋
    assert form.is_feasible(np.array([1.0, 1.0, 0.0]))
    assert not form.is_feasible(np.array([1.0, 0.0, 1.0]))  # 5 > 4 on the first resource
    assert not form.is_feasible(np.array([0.0, 1.0, 1.0]))  # 4 > 3 on the second
    other = solver.lp_form(weights=np.ones((1, 2)), capacity=1.0)
    assert other.is_feasible(np.array([0.0, 1.0])) and not other.is_feasible(np.ones(2))
    scaled = solvers.get(
        "multi_knapsack", weights=[[0.5, 0.25]], capacity=0.6, weight_scale=4
    ).lp_form()
    np.testing.assert_array_equal(scaled.b_ub, [0.6])  # the true, unrounded instance
    with pytest.raises(SolverInputError, match="multi_knapsack: lp_form shape"):
        solver.lp_form(shape=(5,))
    with pytest.raises(SolverInputError, match="lp_form needs weights and capacity"):
        solvers.get("multi_knapsack").lp_form()
    with pytest.raises(SolverInputError, match="2 resource rows but capacity has 3"):
        solver.lp_form(capacity=[1, 2, 3])


# -- bad input ------------------------------------------------------------------------------


def test_table_size_limit():
    solver = solvers.get("multi_knapsack", max_table_size=10_000)
    theta = np.ones((1, 10))
    # capacities capped at each resource's total weight, 90 and 20: 10 * 91 * 21 cells fit
    solver.solve(theta, weights=np.stack([np.full(10, 9), np.full(10, 2)])[None], capacity=1e12)
    with pytest.raises(SolverInputError, match="max_table_size.*ortools"):
        solver.solve(theta, weights=np.full((1, 2, 10), 200), capacity=1000)
    # a resource that can never bind adds nothing to the lattice
    solver.solve(theta, weights=np.stack([np.full(10, 9), np.full(10, 1e6)])[None], capacity=1e7)
    with pytest.raises(SolverInputError, match="max_table_size must be >= 1"):
        solvers.get("multi_knapsack", max_table_size=0)
    with pytest.raises(TypeError, match="max_table_size must be an int"):
        solvers.get("multi_knapsack", max_table_size=1e6)


@pytest.mark.parametrize("backend", ["numba", "branch_and_bound"])
def test_the_numba_backends_refuse_values_whose_sum_overflows(backend):
    theta = np.array([1e308, 1e308, 1.7e308])
    solver = solvers.get("multi_knapsack", backend=backend, weights=[[1, 1, 1]], capacity=2)
    with pytest.raises(SolverInputError, match="multi_knapsack: θ up to 1.7e\\+308 would overflow"):
        solver.solve(theta)
    other = solvers.get("multi_knapsack", backend="ortools", weights=[[1, 1, 1]], capacity=2)
    y = other.solve(theta)  # CP-SAT scales the values first; items 0 and 1 tie
    assert y[2] == 1.0 and y.sum() == 2.0


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_bad_inputs(backend):
    w = np.array([[1, 2, 3], [3, 2, 1]])
    solver = solvers.get("multi_knapsack", backend=backend, weights=w, capacity=[4, 4])
    check_bad_inputs(solver, np.ones((2, 3)))
    free = solvers.get("multi_knapsack", backend=backend)
    theta = np.ones((2, 3))
    bad_side = [
        ({"weights": -w, "capacity": 4}, ">= 0"),
        ({"weights": w * np.nan, "capacity": 4}, "NaN"),
        ({"weights": w * np.inf, "capacity": 4}, "inf"),
        ({"weights": w, "capacity": -1}, ">= 0"),
        ({"weights": w, "capacity": np.nan}, "NaN"),
        ({"weights": w, "capacity": [4, np.inf]}, "inf"),
        ({"weights": w + 0.5, "capacity": 4}, "integers"),
        ({"weights": w[:, :2], "capacity": 4}, "θ has 3 items per instance but weights have 2"),
        ({"weights": w[0], "capacity": 4}, "one row per resource"),
        ({"weights": np.ones((3, 2, 3)), "capacity": 4}, "matching θ's batch axes"),
        ({"weights": w, "capacity": [1, 2, 3]}, "capacity must be a scalar, \\(m,\\)"),
        ({"weights": w, "capacity": np.ones(2)[:, None]}, "capacity must be a scalar"),
        ({"weights": w}, "capacity missing"),
        ({"capacity": 4}, "weights missing"),
    ]
    for side, match in bad_side:
        with pytest.raises(SolverInputError, match=match) as info:
            free.solve(theta, **side)
        assert "multi_knapsack" in str(info.value)
    with pytest.raises(TypeError, match="multi_knapsack: weights must be real"):
        free.solve(theta, weights=np.array([["a", "b", "c"]]), capacity=4)
    with pytest.raises(TypeError, match="multi_knapsack: unexpected side input"):
        free.solve(theta, weights=w, capacity=4, values=w)
    for scale in (0, -1.0, np.nan, np.inf, "2"):
        with pytest.raises(SolverInputError, match="weight_scale"):
            solvers.get("multi_knapsack", backend=backend, weight_scale=scale)
    with pytest.raises(SolverInputError, match="one row per resource"):
        solvers.get("multi_knapsack", backend=backend, weights=[1, 2], capacity=3)
    with pytest.raises(SolverInputError, match="capacity must be a scalar or have shape"):
        solvers.get("multi_knapsack", backend=backend, weights=w, capacity=[[3, 4]])
    with pytest.raises(SolverInputError, match="2 resource rows but capacity has 3"):
        solvers.get("multi_knapsack", backend=backend, weights=w, capacity=[3, 4, 5])


def test_cp_sat_options_are_checked():
    for bad in (0, -1.0, np.inf, "1"):
        with pytest.raises(SolverInputError, match="multi_knapsack: time_limit must be"):
            solvers.get("multi_knapsack", backend="ortools", time_limit=bad)
    with pytest.raises(SolverInputError, match="on_time_limit must be one of warn, raise"):
        solvers.get("multi_knapsack", backend="ortools", on_time_limit=None)


def test_lp_backend_is_exact_on_a_wide_dynamic_range():
    """The lp backend solves the integer program exactly, without a warning, whatever the
    spread of the values (it used to drop the small items past 1e9, with a warning)."""
    solver = solvers.get("multi_knapsack", backend="lp", weights=[[1, 1, 1]], capacity=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(solver.solve([1e10, 1.0, 2.0]), [1.0, 0.0, 1.0])
        np.testing.assert_array_equal(solver.solve([1e300, 1e-300, 2e-300]), [1.0, 0.0, 1.0])


def test_ortools_keeps_values_far_below_the_largest():
    """Found by the fuzz suite: a value 2^-45 of the largest rounded to 0 (scores scaled so
    that the largest was 2^40), and the packing missed 5.6e-9 of the optimum."""
    theta = np.array([1.0913936421275139e-11, 5.5879354476928711e-09, 6.3664629124104977e-12,
                      2.4576e05])  # fmt: skip
    weights = [[5.0, 4.0, 3.0, 1.0], [2.0, 0.0, 0.0, 0.0], [1.0, 5.0, 4.0, 6.0]]
    capacity = [11.5, 0.0, 11.999999999]
    solver = solvers.get("multi_knapsack", backend="ortools", weights=weights, capacity=capacity)
    np.testing.assert_array_equal(solver.solve(theta), [0.0, 1.0, 0.0, 1.0])
