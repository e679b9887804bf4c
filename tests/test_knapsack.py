"""0-1 knapsack: Numba DP and OR-Tools against brute force, each other and the lp backend."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
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

BACKENDS = ["numba", "ortools"]


def brute_force_best(theta: np.ndarray, weights: np.ndarray, capacity: float) -> float:
    """Best ``⟨θ, y⟩`` over all ``2^n`` subsets that fit (exact for integer ``θ``)."""
    n = theta.shape[0]
    subsets = np.array(list(itertools.product((0.0, 1.0), repeat=n))).reshape(-1, n)
    fits = subsets @ weights <= capacity
    return float((subsets[fits] @ theta).max())


def assert_feasible(theta, weights, capacity, y) -> None:
    assert_integral(y)
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert np.all((y * weights).sum(-1) <= capacity), "packing exceeds the capacity"
    assert not np.any(y[theta <= 0]), "an item of non-positive value was chosen"


@st.composite
def instances(draw, max_n: int = 10, max_batch: int = 4, max_weight: int = 6):
    """A batch of small integer instances: ties, zero weights, zero capacity, all-fitting."""
    n = draw(st.integers(1, max_n))
    b = draw(st.integers(1, max_batch))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    theta = rng.integers(-3, 7, size=(b, n)).astype(np.float64)
    weights = rng.integers(0, max_weight + 1, size=(b, n)).astype(np.float64)
    total = weights.sum(1)
    mode = draw(st.sampled_from(["zero", "random", "all"]))
    if mode == "zero":
        capacity = np.zeros(b)
    elif mode == "all":
        capacity = total + rng.integers(0, 3, size=b)
    else:
        capacity = np.floor(rng.uniform(0, 1, size=b) * (total + 1))
    return theta, weights, capacity


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=200, deadline=None)
@given(inst=instances())
def test_matches_brute_force(backend, inst):
    theta, weights, capacity = inst
    solver = solvers.get("knapsack", backend=backend)
    y = solver.solve(theta, weights=weights, capacity=capacity)
    assert_feasible(theta, weights, capacity, y)
    got = solver.objective(theta, y)
    want = [brute_force_best(t, w, c) for t, w, c in zip(theta, weights, capacity)]
    np.testing.assert_array_equal(got, want)


@settings(max_examples=100, deadline=None)
@given(inst=instances(max_n=60, max_batch=6, max_weight=40))
def test_numba_matches_ortools_larger(inst):
    theta, weights, capacity = inst
    numba = solvers.get("knapsack", backend="numba")
    ortools = solvers.get("knapsack", backend="ortools")
    ya, yb = assert_same_objective(numba, ortools, theta, weights=weights, capacity=capacity)
    assert_feasible(theta, weights, capacity, ya)
    assert_feasible(theta, weights, capacity, yb)


@settings(max_examples=40, deadline=None)
@given(inst=instances(max_n=8, max_batch=3))
def test_matches_lp_backend(inst):
    pytest.importorskip("solvers.lp")
    theta, weights, capacity = inst
    numba = solvers.get("knapsack")
    lp = solvers.get("knapsack", backend="lp")
    assert_same_objective(numba, lp, theta, weights=weights, capacity=capacity)


def test_lp_backend_with_fixed_side_data():
    pytest.importorskip("solvers.lp")
    rng = np.random.default_rng(3)
    w = rng.integers(1, 8, size=9)
    theta = rng.integers(-2, 9, size=(20, 9)).astype(np.float64)
    numba = solvers.get("knapsack", weights=w, capacity=15)
    lp = solvers.get("knapsack", backend="lp", weights=w, capacity=15)
    assert_same_objective(numba, lp, theta)


def test_lp_form():
    solver = solvers.get("knapsack", weights=[3, 0, 2], capacity=4)
    form = solver.lp_form(shape=(3,))
    assert form.integrality.all() and not form.integral_polytope
    assert form.is_feasible(np.array([1.0, 1.0, 0.0]))
    assert not form.is_feasible(np.array([1.0, 0.0, 1.0]))
    form2 = solver.lp_form(shape=(2,), weights=np.array([1.0, 1.0]), capacity=np.array(1.0))
    assert form2.is_feasible(np.array([0.0, 1.0])) and not form2.is_feasible(np.ones(2))
    with pytest.raises(SolverInputError, match="knapsack"):
        solver.lp_form(shape=(5,))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12))
def test_float_values(seed, n):
    """Non-integer θ: both backends reach the brute-force optimum up to rounding."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(3, n))
    weights = rng.integers(0, 10, size=n)
    capacity = int(rng.integers(0, weights.sum() + 1))
    want = [brute_force_best(t, weights.astype(float), capacity) for t in theta]
    for backend in BACKENDS:
        solver = solvers.get("knapsack", backend=backend, weights=weights, capacity=capacity)
        y = solver.solve(theta)
        assert_feasible(theta, weights, capacity, y)
        np.testing.assert_allclose(solver.objective(theta, y), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 9), scale=st.sampled_from([1, 10, 7.5]))
def test_weight_scale(backend, seed, n, scale):
    """Fractional weights: feasible for the true weights, optimal for the rounded instance."""
    rng = np.random.default_rng(seed)
    theta = rng.integers(-2, 8, size=(3, n)).astype(np.float64)
    weights = np.round(rng.uniform(0, 3, size=n), 2)
    capacity = float(np.round(rng.uniform(0, weights.sum()), 2))
    solver = solvers.get(
        "knapsack", backend=backend, weights=weights, capacity=capacity, weight_scale=scale
    )
    y = solver.solve(theta)
    assert_feasible(theta, weights, capacity, y)
    product = weights * scale
    w_int = np.where(
        product - np.floor(product) <= 2.0**-50 * product, np.floor(product), np.ceil(product)
    )
    c_int = np.floor(capacity * scale)
    got = solver.objective(theta, y)
    np.testing.assert_array_equal(got, [brute_force_best(t, w_int, c_int) for t in theta])
    assert np.all(got <= [brute_force_best(t, weights, capacity) for t in theta])


@pytest.mark.parametrize("backend", BACKENDS)
def test_weight_scale_snaps_float_error(backend):
    """0.07 * 100 is 7.000000000000001 in floating point; it must count as weight 7."""
    assert 0.07 * 100 > 7
    solver = solvers.get(
        "knapsack", backend=backend, weights=[0.07, 0.93], capacity=1.0, weight_scale=100
    )
    np.testing.assert_array_equal(solver.solve([1.0, 1.0]), [1.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixed_equals_per_call_and_broadcast(backend):
    rng = np.random.default_rng(0)
    theta = rng.integers(-2, 9, size=(4, 5, 7)).astype(np.float64)
    w = rng.integers(0, 6, size=7)
    fixed = solvers.get("knapsack", backend=backend, weights=w, capacity=9)
    free = solvers.get("knapsack", backend=backend)
    y = fixed.solve(theta)
    np.testing.assert_array_equal(y, free.solve(theta, weights=w, capacity=9))
    np.testing.assert_array_equal(
        y, free.solve(theta, weights=np.broadcast_to(w, (4, 5, 7)), capacity=np.full((4, 5), 9))
    )
    # per-call data replaces the construction's
    np.testing.assert_array_equal(
        fixed.solve(theta, capacity=0), free.solve(theta, weights=w, capacity=0)
    )


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=50, deadline=None)
@given(inst=instances(max_batch=6))
def test_batched_equals_single(backend, inst):
    theta, weights, capacity = inst
    solver = solvers.get("knapsack", backend=backend)
    assert_batched_equals_single(solver, theta, weights=weights, capacity=capacity)


def test_tiled_side_data_matches_per_instance():
    """(M, B, n) with side data tiled M times, as the perturbed layer does."""
    rng = np.random.default_rng(1)
    b, n, m = 5, 8, 3
    w = rng.integers(0, 7, size=(b, n))
    c = rng.integers(0, 20, size=b)
    theta = rng.integers(-3, 9, size=(m, b, n)).astype(np.float64)
    solver = solvers.get("knapsack")
    y = solver.solve(theta, weights=np.broadcast_to(w, (m, b, n)), capacity=np.tile(c, (m, 1)))
    flat = solver.solve(theta.reshape(m * b, n), weights=np.tile(w, (m, 1)), capacity=np.tile(c, m))
    np.testing.assert_array_equal(y.reshape(m * b, n), flat)
    for i in range(m):
        for j in range(b):
            np.testing.assert_array_equal(
                y[i, j], solver.solve(theta[i, j], weights=w[j], capacity=c[j])
            )


@pytest.mark.parametrize("backend", BACKENDS)
def test_dtypes_and_degenerate_sizes(backend):
    rng = np.random.default_rng(2)
    w = rng.integers(0, 5, size=6)
    solver = solvers.get("knapsack", backend=backend, weights=w, capacity=7)
    theta = rng.integers(-2, 6, size=(4, 6)).astype(np.float64)
    assert_dtype_rules(solver, theta)
    assert_empty_batch(solver, (6,))
    # n = 0 items
    empty = solvers.get("knapsack", backend=backend, weights=np.zeros(0), capacity=3)
    assert empty.solve(np.zeros((2, 0))).shape == (2, 0)
    # n = 1, capacity 0: a weightless item of positive value is still taken
    one = solvers.get("knapsack", backend=backend, weights=[0], capacity=0)
    np.testing.assert_array_equal(one.solve([[2.0], [0.0], [-1.0]]), [[1.0], [0.0], [0.0]])
    # an item heavier than the capacity is never taken, even with a huge value
    big = solvers.get("knapsack", backend=backend, weights=[5, 1], capacity=4)
    np.testing.assert_array_equal(big.solve([1e9, 1.0]), [0.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_capacity_and_weights(backend):
    """Capacities and weights far above the items' total do not overflow or blow the table."""
    solver = solvers.get("knapsack", backend=backend)
    theta = np.array([[3.0, 2.0, 1.0]])
    y = solver.solve(theta, weights=[[1e15, 2, 3]], capacity=1e18)
    np.testing.assert_array_equal(y, [[1.0, 1.0, 1.0]])
    y = solver.solve(theta, weights=[[1e30, 2, 3]], capacity=4)
    np.testing.assert_array_equal(y, [[0.0, 1.0, 0.0]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_capacity_beyond_the_integer_range_packs_everything_that_fits(backend):
    # The capacity is capped at the total weight first, so 1e30 is not an error.
    solver = solvers.get("knapsack", backend=backend, weights=[1, 1, 2], capacity=1e30)
    np.testing.assert_array_equal(solver.solve(np.array([1.0, -1.0, 2.0])), [1.0, 0.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_weights_summing_beyond_int64_raise_instead_of_overflowing(backend):
    # 17 items of 2^59 under a capacity of 2^60: the int64 sum of the weights would wrap
    # and let every item through.
    solver = solvers.get("knapsack", backend=backend, weights=[2**59] * 17, capacity=2**60)
    with pytest.raises(SolverInputError, match="sum to .* beyond the integer range 2\\^62"):
        solver.solve(np.arange(1.0, 18.0))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scale", [1e-305, 1e-200, 1e-12, 1.0, 1e12, 1e200, 1e305])
def test_the_packing_does_not_depend_on_the_scale_of_the_values(backend, scale):
    rng = np.random.default_rng(7)
    theta = rng.integers(1, 50, size=(20, 8)).astype(np.float64)
    weights = rng.integers(1, 6, size=(20, 8)).astype(np.float64)
    capacity = np.full(20, 9.0)
    solver = solvers.get("knapsack", backend=backend)
    y = solver.solve(theta * scale, weights=weights, capacity=capacity)
    for t, w, c, yb in zip(theta, weights, capacity, y):
        assert_feasible(t, w, c, yb)
        assert t @ yb == brute_force_best(t, w, c)


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_item_count_mismatch_is_caught_for_an_empty_batch_too(backend):
    solver = solvers.get("knapsack", backend=backend, weights=[1, 2, 3], capacity=3)
    for theta in (np.ones((0, 4)), np.ones((2, 4))):
        with pytest.raises(SolverInputError, match="θ has 4 items per instance but weights have 3"):
            solver.solve(theta)
    assert solver.solve(np.ones((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_inputs(backend):
    w = np.array([1, 2, 3])
    solver = solvers.get("knapsack", backend=backend, weights=w, capacity=4)
    check_bad_inputs(solver, np.ones((2, 3)))
    free = solvers.get("knapsack", backend=backend)
    theta = np.ones((2, 3))
    bad_side = [
        ({"weights": [-1, 2, 3], "capacity": 4}, ">= 0"),
        ({"weights": [np.nan, 2, 3], "capacity": 4}, "NaN"),
        ({"weights": [np.inf, 2, 3], "capacity": 4}, "inf"),
        ({"weights": w, "capacity": -1}, ">= 0"),
        ({"weights": w, "capacity": np.nan}, "NaN"),
        ({"weights": w, "capacity": np.inf}, "inf"),
        ({"weights": [1.5, 2, 3], "capacity": 4}, "integers"),
        ({"weights": [1, 2], "capacity": 4}, "items"),
        ({"weights": np.ones((3, 3)), "capacity": 4}, "batch"),
        ({"weights": w, "capacity": [1, 2, 3]}, "batch shape"),
        ({"weights": 3.0, "capacity": 4}, "weights"),
        ({"weights": w}, "capacity missing"),
        ({"capacity": 4}, "weights missing"),
    ]
    for side, match in bad_side:
        with pytest.raises(SolverInputError, match=match) as info:
            free.solve(theta, **side)
        assert "knapsack" in str(info.value)
    with pytest.raises(TypeError, match="knapsack"):
        free.solve(theta, weights=np.array(["a", "b", "c"]), capacity=4)
    with pytest.raises(TypeError, match="knapsack"):
        free.solve(theta, weights=w, capacity=4, values=w)
    for scale in (0, -1.0, np.nan, np.inf, "2"):
        with pytest.raises(SolverInputError, match="weight_scale"):
            solvers.get("knapsack", backend=backend, weight_scale=scale)
    with pytest.raises(SolverInputError, match="knapsack"):
        solvers.get("knapsack", backend=backend, weights=[[1, 2]], capacity=3)
    with pytest.raises(SolverInputError, match="knapsack"):
        solvers.get("knapsack", backend=backend, weights=[1, 2], capacity=[3, 4])


def test_table_size_limit():
    solver = solvers.get("knapsack", max_table_size=1000)
    theta = np.ones((1, 10))
    solver.solve(theta, weights=np.full((1, 10), 9), capacity=1e12)  # capped at Σw = 90: fits
    with pytest.raises(SolverInputError, match="max_table_size"):
        solver.solve(theta, weights=np.full((1, 10), 200), capacity=1000)
    with pytest.raises(SolverInputError, match="max_table_size"):
        solvers.get("knapsack", max_table_size=0)


def test_numba_raises_when_the_values_would_overflow_the_dp():
    """Each value is finite but their sum is not: the DP compared infinities and returned
    [1, 1, 0] (value inf) instead of [1, 0, 1]. ortools and lp scale θ, so they are exact."""
    theta = np.array([1e308, 1e308, 1.7e308])
    solver = solvers.get("knapsack", weights=[1, 1, 1], capacity=2)
    with pytest.raises(SolverInputError, match="knapsack: θ up to 1.7e\\+308 would overflow"):
        solver.solve(theta)
    with pytest.raises(SolverInputError, match="instance 1"):
        solver.solve(np.stack([np.ones(3), theta]))
    for backend in ("ortools", "lp"):
        other = solvers.get("knapsack", backend=backend, weights=[1, 1, 1], capacity=2)
        y = other.solve(theta)  # items 0 and 1 tie: either goes with item 2
        assert y[2] == 1.0 and y.sum() == 2.0
    # negative values never enter a sum: no overflow there
    np.testing.assert_array_equal(solver.solve([-1.7e308, -1.7e308, 1.0]), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_weight_scale_keeps_the_packing_feasible(backend):
    """A scaled weight 5e-11 used to snap to 0 (an absolute 1e-9 tolerance), packing
    weight 1.0 into capacity 0.7; snapping is relative, so it rounds up to 1."""
    solver = solvers.get(
        "knapsack", backend=backend, weights=[0.5, 0.5], capacity=0.7, weight_scale=1e-10
    )
    np.testing.assert_array_equal(solver.solve([1.0, 2.0]), [0.0, 0.0])
    weights = np.array([1e10, 2e10, 0.5])  # scaled: 1, 2 and 5e-11 (rounded up to 1)
    solver = solvers.get(
        "knapsack", backend=backend, weights=weights, capacity=3e10, weight_scale=1e-10
    )
    y = solver.solve([1.0, 1.0, 1.0])
    assert y @ weights <= 3e10  # all three items (1.0 snapped away) weigh 3e10 + 0.5
    assert y.sum() == 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_masked_matrix_and_tensor_side_data(backend):
    """Side data goes through the same conversion as θ: a masked weight is refused, an
    np.matrix batch of weights is read as a plain array, a tensor requiring grad is a
    TypeError naming the argument."""
    theta = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    free = solvers.get("knapsack", backend=backend)
    weights = np.array([[1.0, 1.0, 2.0], [2.0, 1.0, 1.0]])
    want = free.solve(theta, weights=weights, capacity=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        as_matrix = np.asmatrix(weights)
    np.testing.assert_array_equal(free.solve(theta, weights=as_matrix, capacity=2), want)
    masked = np.ma.masked_array(weights, mask=[[0, 0, 1], [0, 0, 0]])
    with pytest.raises(SolverInputError, match="knapsack: weights is a masked array"):
        free.solve(theta, weights=masked, capacity=2)
    with pytest.raises(SolverInputError, match="knapsack: weights is a masked array"):
        solvers.get("knapsack", backend=backend, weights=masked[0], capacity=2)
    torch = pytest.importorskip("torch")
    for name, value in (("weights", torch.ones(3)), ("capacity", torch.tensor(2.0))):
        kwargs = {"weights": [1, 1, 1], "capacity": 2, name: value.requires_grad_()}
        with pytest.raises(TypeError, match=f"knapsack: {name} .*requires grad.*detach"):
            solvers.get("knapsack", backend=backend, **kwargs)
        with pytest.raises(TypeError, match=f"knapsack: {name} .*requires grad.*detach"):
            free.solve(theta, **kwargs)
    tensors = {"weights": torch.from_numpy(weights), "capacity": torch.tensor(2.0)}
    np.testing.assert_array_equal(free.solve(torch.from_numpy(theta), **tensors), want)


def test_lp_backend_is_exact_on_a_wide_dynamic_range():
    """Values spanning 1e10: the MIP's tolerances used to drop the small items ([1, 0, 0]
    instead of [1, 0, 1]) with a warning; the exact engine keeps them, without one."""
    solver = solvers.get("knapsack", backend="lp", weights=[1, 1, 1], capacity=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(solver.solve([1e10, 1.0, 2.0]), [1.0, 0.0, 1.0])
        np.testing.assert_array_equal(solver.solve([1e300, 1e-300, 2e-300]), [1.0, 0.0, 1.0])


# -- a capacity is never rounded up (issue 26, item 1) --------------------------------------


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
@pytest.mark.parametrize(
    ("weights", "capacity"),
    [([1e9], 999_999_999.5), ([10], 9.9999999999), ([3, 4], 6.999999999999999), ([7], 7 - 2e-15)],
)
def test_a_capacity_just_below_an_integer_is_not_rounded_up(backend, weights, capacity):
    """Integral weights: the capacity is used as ⌊C⌋, never snapped up to the next integer
    (999_999_999.5 used to pack the item of weight 1e9)."""
    solver = solvers.get("knapsack", backend=backend)
    y = solver.solve(np.ones(len(weights)), weights=weights, capacity=capacity)
    assert y @ np.asarray(weights, dtype=float) <= capacity
    assert y.sum() == len(weights) - 1  # all but one item still fit


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_scaled_capacity_just_below_an_integer_is_not_rounded_up(backend):
    """weight_scale: ⌊s·C⌋ of the floating-point product, not snapped up (4 · 0.2499999999
    = 0.9999999996 used to count as 1 and pack the item of weight 0.25)."""
    solver = solvers.get(
        "knapsack", backend=backend, weights=[0.25], capacity=0.2499999999, weight_scale=4
    )
    np.testing.assert_array_equal(solver.solve([1.0]), [0.0])
    solver = solvers.get("knapsack", backend=backend, weights=[0.25], capacity=0.25, weight_scale=4)
    np.testing.assert_array_equal(solver.solve([1.0]), [1.0])


# -- the OR-Tools time limit (issue 26, item 12) ---------------------------------------------


def _strongly_correlated(n: int = 90):
    """Weights 1..49, values = weights + 10, capacity 30% of the total weight: OR-Tools'
    branch and bound took 186 s on this instance without a time limit."""
    rng = np.random.default_rng(0)
    weights = rng.integers(1, 50, size=n)
    return (weights + 10).astype(np.float64), weights, int(0.3 * weights.sum())


def test_ortools_time_limit_raises_by_default():
    theta, weights, capacity = _strongly_correlated()
    solver = solvers.get("knapsack", backend="ortools", time_limit=0.01)
    with pytest.raises(solvers.SolverTimeLimitError, match="time limit of 0.01 s") as info:
        solver.solve(theta, weights=weights, capacity=capacity)
    assert "knapsack (ortools): instance 0" in str(info.value)
    assert "on_time_limit='warn'" in str(info.value)


def test_ortools_time_limit_can_warn_and_return_a_feasible_packing():
    theta, weights, capacity = _strongly_correlated()
    solver = solvers.get("knapsack", backend="ortools", time_limit=0.01, on_time_limit="warn")
    with pytest.warns(RuntimeWarning, match="2 instance\\(s\\), first 0 reached the time limit"):
        y = solver.solve(np.stack([theta, theta]), weights=weights, capacity=capacity)
    for packing in y:
        assert_feasible(theta, weights, capacity, packing)
    best = solvers.get("knapsack").solve(theta, weights=weights, capacity=capacity) @ theta
    assert np.all(y @ theta <= best)
    assert np.all(y @ theta > 0.9 * best)


def test_ortools_time_limit_default_and_checks():
    from solvers.knapsack import DEFAULT_TIME_LIMIT

    solver = solvers.get("knapsack", backend="ortools")
    assert solver.time_limit == DEFAULT_TIME_LIMIT == 10.0
    assert solver.on_time_limit == "raise"
    with warnings.catch_warnings():  # easy instances are proven within any limit
        warnings.simplefilter("error")
        unlimited = solvers.get("knapsack", backend="ortools", time_limit=float("inf"))
        np.testing.assert_array_equal(
            unlimited.solve([3.0, 2.0, 1.0], weights=[1, 1, 1], capacity=2), [1.0, 1.0, 0.0]
        )
    for bad in (0, -1.0, float("nan"), "10", True):
        with pytest.raises(SolverInputError, match="knapsack: time_limit must be"):
            solvers.get("knapsack", backend="ortools", time_limit=bad)
    with pytest.raises(SolverInputError, match="on_time_limit must be 'raise' or 'warn'"):
        solvers.get("knapsack", backend="ortools", on_time_limit="ignore")


def test_ortools_keeps_values_far_below_the_largest():
    """Profits used to be scaled so that the largest was 2^40: an item worth 3·2^-45 of it
    rounded to 0 and was dropped, although float sums resolve it. The sum of the values
    now scales to 2^50."""
    theta = np.array([1.0, 2.0**-45, 3 * 2.0**-45])
    solver = solvers.get("knapsack", backend="ortools", weights=[1, 1, 1], capacity=2)
    np.testing.assert_array_equal(solver.solve(theta), [1.0, 0.0, 1.0])
    big = np.array([2.0**48, 2.0**48, 1.0, 3.0])  # a sum of 2^49: still exact
    solver = solvers.get("knapsack", backend="ortools", weights=[1, 1, 1, 1], capacity=3)
    np.testing.assert_array_equal(solver.solve(big), [1.0, 1.0, 0.0, 1.0])
