"""Capacitated vehicle routing: the subset DP (numba) and CP-SAT (ortools) against brute force
over every set of routes, each other and the lp backend (load-flow MIP)."""

from __future__ import annotations

import dataclasses
import warnings
from fractions import Fraction

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
from vrp_support import SETS

import solvers
from solvers import SolverInputError
from solvers.lp import LPSolver
from solvers.tsp import complete_graph_edges

BACKENDS = ["numba", "ortools"]
NAME = "vehicle_routing"


def get(backend="numba", n_nodes=5, **params):
    return solvers.get(NAME, backend=backend, n_nodes=n_nodes, **params)


def assert_routes(checker, y, demands=None, capacity=None):
    assert_integral(y)
    y = y.reshape(-1, y.shape[-1])
    q = np.broadcast_to(demands, (y.shape[0], checker.n_customers)) if demands is not None else None
    c = np.broadcast_to(capacity, (y.shape[0],)) if capacity is not None else None
    for b, row in enumerate(y):
        side = {} if q is None else {"demands": q[b], "capacity": c[b]}
        assert checker.is_routes(row, **side), row


@st.composite
def instances(draw, min_m: int = 2, max_m: int = 7, max_batch: int = 3):
    """Small integer scores (exact sums, many ties), demands from 0 to the capacity (zeros
    and demands equal to the capacity included), a route limit or none:
    (n_nodes, θ (B, E), demands (m,), capacity, num_vehicles)."""
    m = draw(st.integers(min_m, max_m))
    b = draw(st.integers(1, max_batch))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    span = draw(st.sampled_from([1, 3, 20]))
    theta = rng.integers(-span, span + 1, size=(b, (m + 1) * m // 2)).astype(np.float64)
    capacity = draw(st.integers(1, 8))
    heavy = draw(st.booleans())  # light: any two customers fit one vehicle
    demands = rng.integers(0, (capacity if heavy else capacity // 2) + 1, size=m)
    vehicles = draw(st.sampled_from([None, None, 1, 2, 3, 4]))
    return m + 1, theta, demands.astype(np.float64), float(capacity), vehicles


def _infeasible(backend: str, instance: int = 0) -> str:
    """What the error of an infeasible instance says (the lp backend reports SCIP's status)."""
    return "INFEASIBLE" if backend == "lp" else f"instance {instance} is infeasible"


def _solve_or_infeasible(solver, theta, **side):
    """``y``, or ``None`` when the solver reports the instance infeasible."""
    try:
        return solver.solve(theta, **side)
    except SolverInputError as error:
        assert "infeasible" in str(error).lower(), error  # the lp backend: SCIP's status
        return None


# -- against brute force, each other and the lp backend -------------------------------------


def test_route_set_counts_and_brute_force_routes():
    # partitions into blocks of >= 2, times (k-1)!/2 orders per block of k >= 3
    assert [len(SETS[m].y) for m in range(2, 8)] == [1, 3, 15, 90, 645, 5355]
    checker = get(n_nodes=7)
    for y in SETS[6].y:
        assert checker.is_routes(y)
    assert len({tuple(y) for y in SETS[6].y}) == len(SETS[6].y)  # no set counted twice


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150, deadline=None)
@given(inst=instances())
def test_matches_brute_force_with_ties(backend, inst):
    n, theta, demands, capacity, vehicles = inst
    solver = get(backend, n, demands=demands, capacity=capacity, num_vehicles=vehicles)
    want = SETS[n - 1].best(theta, demands, capacity, vehicles)
    y = _solve_or_infeasible(solver, theta)
    if y is None:
        assert np.all(want == -np.inf)  # feasibility does not depend on θ
        return
    assert_routes(solver, y)
    np.testing.assert_array_equal(solver.objective(theta, y), want)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 7), seed=st.integers(0, 2**32 - 1))
def test_matches_brute_force_on_float_costs_and_per_instance_demands(backend, m, seed):
    rng = np.random.default_rng(seed)
    theta = -rng.uniform(0, 10, size=(3, (m + 1) * m // 2))  # costs as θ = -c
    demands = rng.integers(1, 5, size=(3, m)).astype(np.float64)
    capacity = np.maximum(demands.max(axis=1), rng.integers(4, 12, size=3)) + 0.5
    solver = get(backend, m + 1)
    want = np.concatenate([SETS[m].best(theta[b], demands[b], capacity[b]) for b in range(3)])
    if np.isinf(want).any():
        with pytest.raises(SolverInputError, match="infeasible"):
            solver.solve(theta, demands=demands, capacity=capacity)
        return
    y = solver.solve(theta, demands=demands, capacity=capacity)
    assert_routes(solver, y, demands, capacity)
    np.testing.assert_allclose(solver.objective(theta, y), want, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(inst=instances(min_m=8, max_m=11, max_batch=3))
def test_dp_matches_cp_sat_beyond_brute_force(inst):
    n, theta, demands, capacity, vehicles = inst
    params = dict(demands=demands, capacity=capacity, num_vehicles=vehicles)
    dp, cp = get("numba", n, **params), get("ortools", n, **params)
    ya = _solve_or_infeasible(dp, theta)
    yb = _solve_or_infeasible(cp, theta)
    assert (ya is None) == (yb is None)
    if ya is not None:
        np.testing.assert_array_equal(dp.objective(theta, ya), dp.objective(theta, yb))
        assert_routes(dp, ya)
        assert_routes(dp, yb)


def test_dp_matches_cp_sat_on_euclidean_instances():
    """Metric instances (nodes in the plane) with demands 1..9, as in CVRP benchmarks, up to
    the DP's default limit."""
    rng = np.random.default_rng(5)
    for n in (9, 11, 13):
        points = rng.uniform(0, 1, size=(3, n, 2))
        d = np.linalg.norm(points[:, :, None] - points[:, None, :], axis=-1)
        iu = np.triu_indices(n, 1)
        theta = solvers.costs_to_theta(np.round(d[:, iu[0], iu[1]] * 1000))  # exact sums
        demands = rng.integers(1, 10, size=(3, n - 1)).astype(np.float64)
        capacity = np.full(3, 20.0)
        dp, cp = get("numba", n), get("ortools", n)
        side = dict(demands=demands, capacity=capacity)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y_cp = cp.solve(theta, **side)
        stopped = _stopped_instances(caught)
        y_dp = dp.solve(theta, **side)
        assert_routes(dp, y_dp, demands, capacity)
        assert_routes(dp, y_cp, demands, capacity)
        ours, theirs = dp.objective(theta, y_dp), dp.objective(theta, y_cp)
        # CP-SAT proved these optimal; the rest (its time limit, under heavy load) are only
        # feasible, so the exact DP must score at least as high on them
        proven = np.setdiff1d(np.arange(3), stopped)
        np.testing.assert_array_equal(ours[proven], theirs[proven])
        assert (ours[stopped] >= theirs[stopped]).all()


def _stopped_instances(caught) -> np.ndarray:
    """The flat indices named by CP-SAT's time-limit warning (none without it)."""
    for w in caught:
        text = str(w.message)
        if "stopped the search on" in text:
            listed = text.split("flat index ")[1].split(")")[0]
            assert "..." not in listed
            return np.array([int(i) for i in listed.split(", ")], dtype=np.int64)
    return np.array([], dtype=np.int64)


@settings(max_examples=20, deadline=None)
@given(inst=instances(max_m=5, max_batch=2))
def test_matches_lp_backend(inst):
    n, theta, demands, capacity, vehicles = inst
    params = dict(demands=demands, capacity=capacity, num_vehicles=vehicles)
    dp, lp = get("numba", n, **params), get("lp", n, **params)
    ya = _solve_or_infeasible(dp, theta)
    if ya is None:
        with pytest.raises(SolverInputError):
            lp.solve(theta)
        return
    yb = lp.solve(theta)
    np.testing.assert_array_equal(dp.objective(theta, ya), dp.objective(theta, yb))
    assert_routes(dp, yb)


def test_lp_backend_beyond_the_dp_limit():
    """The derived lp backend shares the numba solver's checks, not its size limit."""
    rng = np.random.default_rng(0)
    theta = rng.integers(-9, 1, size=(1, 45)).astype(np.float64)
    params = dict(demands=[1, 2, 3, 1, 2, 3, 1, 2, 3], capacity=6)
    lp = get("lp", 10, max_customers=8, **params)
    cp = get("ortools", 10, **params)
    assert_same_objective(lp, cp, theta)


# -- the LP form ----------------------------------------------------------------------------


def _fixed(form, y):
    """``form`` with its edge variables fixed to ``y``."""
    e = y.size
    lower, upper = form.lower.copy(), form.upper.copy()
    lower[:e] = upper[:e] = y
    return dataclasses.replace(form, lower=lower, upper=upper)


def _indicator(n, *cycles):
    index = {tuple(e): k for k, e in enumerate(complete_graph_edges(n).tolist())}
    y = np.zeros(len(index))
    for cycle in cycles:
        for a, b in zip(cycle, cycle[1:] + cycle[:1]):
            y[index[(min(a, b), max(a, b))]] = 1.0
    return y


def test_lp_form_admits_routes_and_refuses_subtours_and_overloads():
    solver = get(n_nodes=7, demands=[0, 0, 0, 2, 2, 2], capacity=4)
    form = solver.lp_form(shape=(21,))
    assert form.n_vars == 105 and form.integrality.all()  # integer demands: integral loads
    assert not form.integral_polytope
    zero = np.zeros(21)
    LPSolver(_fixed(form, _indicator(7, (0, 1, 2, 4), (0, 3, 5, 6)))).solve(zero)
    # zero-demand customers on a cycle without the depot: no flow reaches them
    with pytest.raises(SolverInputError, match="INFEASIBLE|no optimal solution"):
        LPSolver(_fixed(form, _indicator(7, (1, 2, 3), (0, 4, 5, 6)))).solve(zero)
    # one route of demand 6 > 4 although all customers are on depot routes
    with pytest.raises(SolverInputError, match="INFEASIBLE|no optimal solution"):
        LPSolver(_fixed(form, _indicator(7, (0, 1, 2), (0, 3, 4, 5, 6)))).solve(zero)
    limited = get(n_nodes=7, demands=[0, 0, 0, 2, 2, 2], capacity=4, num_vehicles=1)
    with pytest.raises(SolverInputError, match="INFEASIBLE|no optimal solution"):
        LPSolver(_fixed(limited.lp_form(), _indicator(7, (0, 1, 2, 4), (0, 3, 5, 6)))).solve(zero)
    with pytest.raises(SolverInputError, match="vehicle_routing: lp_form shape"):
        solver.lp_form(shape=(10,))
    with pytest.raises(SolverInputError, match="lp_form needs demands and capacity"):
        get(n_nodes=7).lp_form()


# -- degenerate instances -------------------------------------------------------------------


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_two_customers_have_one_set_of_routes(backend):
    solver = get(backend, 3, demands=[2, 3], capacity=5)
    theta = np.array([[1.0, 2.0, 3.0], [-5.0, 0.0, 7.0], [0.0, 0.0, 0.0], [-1e300, 1e300, 0.0]])
    np.testing.assert_array_equal(solver.solve(theta), np.ones((4, 3)))
    with pytest.raises(SolverInputError, match=_infeasible(backend)):
        solver.solve(theta, demands=[3, 3], capacity=5)  # they do not fit one vehicle


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_customer_has_no_route(backend):
    """A route visits at least two customers (PyEPO's CVRP), so one customer is refused."""
    with pytest.raises(SolverInputError, match="n_nodes must be >= 3.*two or more customers"):
        get(backend, 2, demands=[1], capacity=1)


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_demands_equal_to_the_capacity(backend):
    """A full vehicle serves its customer only with zero-demand company."""
    solver = get(backend, 5, capacity=4)
    theta = -np.arange(10.0)
    y = solver.solve(theta, demands=[4, 0, 4, 0])
    assert_routes(get(n_nodes=5), y, [4, 0, 4, 0], 4)
    with pytest.raises(SolverInputError, match=_infeasible(backend)):
        solver.solve(theta, demands=[4, 0, 4, 4])


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_infeasible_demands_get_one_clear_error(backend):
    solver = get(backend, 5, capacity=5)
    theta = np.zeros((2, 10))
    with pytest.raises(SolverInputError, match="instance 1 is infeasible: customer 3 .*demand 6"):
        solver.solve(theta, demands=[[1, 1, 1, 1], [1, 1, 6, 1]])
    cannot = "INFEASIBLE" if backend == "lp" else "instance 0 is infeasible: the customers cannot"
    with pytest.raises(SolverInputError, match=cannot):
        solver.solve(theta, demands=[3, 3, 3, 3])  # no two customers fit together
    two = get(backend, 5, capacity=5, num_vehicles=1)
    with pytest.raises(SolverInputError, match="total demand 6 exceeds num_vehicles × capacity"):
        two.solve(theta, demands=[1, 2, 1, 2])


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_demands_and_zero_capacity(backend):
    solver = get(backend, 6, demands=np.zeros(5), capacity=0)
    theta = np.random.default_rng(1).integers(-5, 6, size=(4, 15)).astype(np.float64)
    y = solver.solve(theta)
    assert_routes(solver, y)
    np.testing.assert_array_equal(solver.objective(theta, y), SETS[5].best(theta, np.zeros(5), 0.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_route_limit(backend):
    """One vehicle of ample capacity: the routes form a tour of all nodes."""
    rng = np.random.default_rng(2)
    theta = rng.integers(-5, 6, size=(5, 21)).astype(np.float64)
    solver = get(backend, 7, demands=np.ones(6), capacity=10, num_vehicles=1)
    y = solver.solve(theta)
    tsp = solvers.get("tsp", n_nodes=7)
    np.testing.assert_array_equal(solver.objective(theta, y), tsp.objective(theta, tsp(theta)))


@settings(max_examples=40, deadline=None)
@given(inst=instances(max_m=9), power=st.integers(-20, 20))
def test_dp_is_invariant_to_binary_scales(inst, power):
    """θ·2^k ranks route sets alike and keeps integer sums exact: the same decisions."""
    n, theta, demands, capacity, vehicles = inst
    solver = get("numba", n, demands=demands, capacity=capacity, num_vehicles=vehicles)
    y = _solve_or_infeasible(solver, theta)
    if y is not None:
        np.testing.assert_array_equal(solver.solve(np.ldexp(theta, power)), y)


def test_a_shift_of_theta_changes_the_number_of_routes():
    """r routes have m + r edges: unlike the TSP, θ + t favours more routes for t > 0."""
    solver = get(n_nodes=7, demands=np.ones(6), capacity=6)
    theta = np.zeros(21)
    assert len(solver.routes(solver.solve(theta - 1.0))) == 1
    assert len(solver.routes(solver.solve(theta + 1.0))) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_scores_of_every_magnitude(backend):
    rng = np.random.default_rng(3)
    theta = rng.integers(-20, 21, size=(4, 21)).astype(np.float64)
    demands, capacity = [1, 2, 3, 1, 2, 3], 5
    want = SETS[6].best(theta, demands, capacity)
    solver = get(backend, 7, demands=demands, capacity=capacity)
    for scale in (1e-300, 1e-10, 1.0, 1e10, 1e300):
        np.testing.assert_array_equal(solver.objective(theta, solver.solve(theta * scale)), want)


# -- batching, dtypes, helpers --------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_batched_equals_single(backend, batch):
    rng = np.random.default_rng(batch)
    theta = rng.integers(-3, 4, size=(batch, 21)).astype(np.float64)
    demands = rng.integers(0, 4, size=(batch, 6)).astype(np.float64)
    capacity = np.full(batch, 6.0)
    solver = get(backend, 7)
    assert_batched_equals_single(solver, theta, demands=demands, capacity=capacity)
    assert_dtype_rules(solver, theta, demands=demands, capacity=capacity)
    assert_empty_batch(solver, (21,), demands=np.ones((0, 6)), capacity=np.ones(0))
    fixed = get(backend, 7, demands=demands[0], capacity=6)
    y = fixed.solve(theta.reshape(1, batch, 1, 21))
    np.testing.assert_array_equal(y.reshape(batch, 21), fixed.solve(theta))


def test_dp_chunks_do_not_change_the_answer():
    import numba

    rng = np.random.default_rng(9)
    theta = rng.normal(size=(9, 36))
    solver = get(n_nodes=9, demands=rng.integers(1, 4, size=8), capacity=6)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = solver.solve(theta)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(solver.solve(theta), one)


def test_routes_and_is_routes():
    solver = get(n_nodes=7, demands=[1, 1, 1, 1, 1, 1], capacity=3)
    y = _indicator(7, (0, 4, 2, 1), (0, 3, 6, 5))
    assert solver.routes(y) == [[1, 2, 4], [3, 6, 5]]
    assert solver.is_routes(y)
    assert not solver.is_routes(y, capacity=2)  # three customers per route
    assert not get(n_nodes=7, num_vehicles=1).is_routes(y)
    assert not solver.is_routes(_indicator(7, (0, 1, 2), (3, 4, 5, 6)))  # a subtour
    assert not solver.is_routes(_indicator(7, (0, 1, 2, 3, 4, 5)))  # customer 6 unserved
    assert not solver.is_routes(np.full(21, 0.5))
    assert not solver.is_routes(np.zeros(20))
    with pytest.raises(SolverInputError, match="misses the depot"):
        solver.routes(_indicator(7, (0, 1, 2), (3, 4, 5, 6)))
    with pytest.raises(SolverInputError, match="every customer needs two edges"):
        solver.routes(_indicator(7, (0, 1, 2, 3, 4, 5)))


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_bad_inputs(backend):
    solver = get(backend, 5, demands=[1, 2, 1, 2], capacity=3)
    check_bad_inputs(solver, np.arange(20.0).reshape(2, 10))
    with pytest.raises(SolverInputError, match=r"each instance of θ must have shape \(10,\)"):
        solver.solve(np.ones((2, 9)))
    bad_side = [
        (dict(demands=[1, 2, 1]), r"demands must have shape .* m = n_nodes - 1 = 4"),
        (dict(demands=[1, -2, 1, 2]), "demands must be >= 0"),
        (dict(demands=[1, 2.5, 1, 2]), "demands must be integers"),
        (dict(demands=[1, np.nan, 1, 2]), "demands contains NaN"),
        (dict(demands=np.ones((3, 4))), r"matching θ's batch axes \(2,\)"),
        (dict(capacity=-1), "capacity must be >= 0"),
        (dict(capacity=np.inf), "capacity contains inf"),
        (dict(capacity=[3, 3, 3]), r"capacity must be a scalar or \(\*batch,\)"),
    ]
    for side, match in bad_side:
        with pytest.raises(SolverInputError, match=match):
            solver.solve(np.zeros((2, 10)), **side)
    with pytest.raises(TypeError, match="demands must be real numbers"):
        solver.solve(np.zeros(10), demands=["a", "b", "c", "d"])
    with pytest.raises(TypeError, match="unexpected side input"):
        solver.solve(np.zeros(10), weights=[1, 2, 1, 2])
    with pytest.raises(SolverInputError, match="demands and capacity missing"):
        get(backend, 5).solve(np.zeros(10))
    with pytest.raises(SolverInputError, match="capacity missing"):
        get(backend, 5).solve(np.zeros(10), demands=[1, 1, 1, 1])
    with pytest.raises(SolverInputError, match="capacity must be a scalar"):
        get(backend, 5, capacity=[3, 3])
    for n in (5.0, "5", True, None):
        with pytest.raises(TypeError, match="n_nodes must be an int"):
            get(backend, n)
    for k, error in ((0, SolverInputError), (-1, SolverInputError), (1.0, TypeError)):
        with pytest.raises(error, match="num_vehicles must be"):
            get(backend, 5, num_vehicles=k)
    with pytest.raises(TypeError, match="n_nodes"):
        solvers.get(NAME, backend=backend)


def test_the_dp_refuses_more_customers_than_it_supports():
    solver = get(n_nodes=14, demands=np.ones(13), capacity=5)
    with pytest.raises(SolverInputError, match="max_customers=12 customers, got 13.*ortools"):
        solver.solve(np.zeros(91))
    for bad in (1, 17):
        with pytest.raises(SolverInputError, match="max_customers must lie in 2..16"):
            get(n_nodes=5, max_customers=bad)
    with pytest.raises(TypeError, match="max_customers must be an int"):
        get(n_nodes=5, max_customers=8.0)


def test_the_dp_refuses_scores_whose_sum_overflows():
    params = dict(demands=[1, 1, 1, 1], capacity=4)
    theta = np.full(10, 1e308)
    with pytest.raises(SolverInputError, match="vehicle_routing: .*overflow"):
        get(n_nodes=5, **params).solve(theta)
    y = get("ortools", 5, **params).solve(theta)  # scaled first
    assert get(n_nodes=5, **params).is_routes(y)


def test_cp_sat_options_are_checked():
    for bad in (0, -1.0, np.inf, np.nan, "1"):
        with pytest.raises(SolverInputError, match="vehicle_routing: time_limit must be"):
            get("ortools", 5, time_limit=bad)
    with pytest.raises(SolverInputError, match="vehicle_routing: num_workers must be >= 1"):
        get("ortools", 5, num_workers=0)
    with pytest.raises(SolverInputError, match="on_time_limit must be one of warn, raise"):
        get("ortools", 5, on_time_limit="ignore")


def test_cp_sat_time_limit_is_never_silent():
    """A time limit far too short for 40 customers: no routes (an error), or routes that are
    not proven optimal (a warning, or an error with on_time_limit='raise')."""
    rng = np.random.default_rng(0)
    theta = -rng.uniform(0, 1, size=820)
    params = dict(demands=rng.integers(1, 10, size=40), capacity=30, time_limit=1e-3)
    quick = get("ortools", 41, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            y = quick.solve(theta)
        except RuntimeError as exc:
            assert "vehicle_routing (CP-SAT): no solution for instance 0" in str(exc)
        else:
            assert quick.is_routes(y)
            assert any("time limit of 0.001 s stopped the search" in str(w.message) for w in caught)
    strict = get("ortools", 41, **params, on_time_limit="raise")
    with pytest.raises(RuntimeError, match="vehicle_routing \\(CP-SAT\\)"):
        strict.solve(theta)


# -- fractional demands: demand_scale -------------------------------------------------------

SCALES = [0.5, 3, 7, 10, 100, 1000]
"""Scales whose grid points ``d/s`` are not all exact binary fractions (3, 7, 10...) and
scales below 1."""


def _same_answer(solver, reference, theta, side=None, reference_side=None):
    """``solver`` on ``θ`` (with ``side``) gives exactly the routes of ``reference`` (with
    ``reference_side``), or both report the instance infeasible."""
    want = _solve_or_infeasible(reference, theta, **(reference_side or {}))
    got = _solve_or_infeasible(solver, theta, **(side or {}))
    assert (got is None) == (want is None)
    if want is not None:
        np.testing.assert_array_equal(got, want)


def _check_scaled_like_integer(backend, inst, scale, seed):
    """Demands ``d/s`` and capacity ``Q/s`` with ``demand_scale=s`` are the integer instance
    ``(d, Q)``: the same routes, fixed at construction and per call (per-instance demands)."""
    n, theta, demands, capacity, vehicles = inst
    fixed = dict(num_vehicles=vehicles)
    scaled = get(
        backend, n, demands=demands / scale, capacity=capacity / scale, demand_scale=scale, **fixed
    )
    _same_answer(scaled, get(backend, n, demands=demands, capacity=capacity, **fixed), theta)
    rng = np.random.default_rng(seed)
    rows = np.stack([rng.permutation(demands) for _ in range(theta.shape[0])])
    caps = capacity + rng.integers(0, 2, size=theta.shape[0])
    _same_answer(
        get(backend, n, demand_scale=scale, **fixed),
        get(backend, n, **fixed),
        theta,
        side=dict(demands=rows / scale, capacity=caps / scale),
        reference_side=dict(demands=rows, capacity=caps),
    )


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=80, deadline=None)
@given(inst=instances(), scale=st.sampled_from(SCALES), seed=st.integers(0, 2**32 - 1))
def test_demand_scale_gives_the_routes_of_the_integer_instance(backend, inst, scale, seed):
    _check_scaled_like_integer(backend, inst, scale, seed)


@settings(max_examples=12, deadline=None)
@given(inst=instances(max_m=5, max_batch=2), scale=st.sampled_from(SCALES), seed=st.integers(0, 9))
def test_demand_scale_gives_the_routes_of_the_integer_instance_lp(inst, scale, seed):
    _check_scaled_like_integer("lp", inst, scale, seed)


def _grid_up(x, s):
    """The smallest k with k/s >= x (float64 division), by enumeration."""
    return next(k for k in range(10**6) if k / s >= x)


def _grid_down(x, s):
    """The largest k with k/s <= x (float64 division), by enumeration."""
    return next(k for k in range(10**6, -1, -1) if k / s <= x)


def _check_true_feasibility_and_rounded_optimality(backend, m, seed, scale, digits, vehicles):
    """Random fractional demands and capacities (on a decimal grid or not): the routes fit
    the true demands, and are optimal for the demands rounded up and the capacity rounded
    down to multiples of 1/s (brute force over every set of routes)."""
    rng = np.random.default_rng(seed)
    theta = rng.integers(-3, 4, size=(3, (m + 1) * m // 2)).astype(np.float64)  # ties
    demands = rng.uniform(0, 1, size=(3, m))
    capacity = rng.uniform(0.5, 2.0, size=3) * demands.max(axis=1) * 2
    if digits is not None:
        demands, capacity = np.round(demands, digits), np.round(capacity, digits)
    solver = get(backend, m + 1, num_vehicles=vehicles, demand_scale=scale)
    q_int = np.array([[_grid_up(q, scale) for q in row] for row in demands])
    c_int = np.array([_grid_down(c, scale) for c in capacity])
    want = np.concatenate([SETS[m].best(theta[b], q_int[b], c_int[b], vehicles) for b in range(3)])
    y = _solve_or_infeasible(solver, theta, demands=demands, capacity=capacity)
    if y is None:
        assert np.isinf(want).any()
        return
    np.testing.assert_array_equal(solver.objective(theta, y), want)
    # each route within the true capacity, in exact arithmetic on the given floats, up to
    # the rounding of k/s (a relative 2^-52: 0.1 + 0.2 > 0.3 on the grid of tenths)
    slack = 1 + Fraction(1, 2**51)
    checker = getattr(solver, "base", solver)  # the lp backend wraps the numba solver
    for b in range(3):
        for route in checker.routes(y[b]):
            load = sum(Fraction(float(demands[b, v - 1])) for v in route)
            assert load <= Fraction(float(capacity[b])) * slack, (route, demands[b], capacity[b])
        assert checker.is_routes(y[b], demands=demands[b], capacity=capacity[b])


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(2, 7),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1, 4, 7, 10, 100]),
    digits=st.sampled_from([None, 1, 2, 3]),
    vehicles=st.sampled_from([None, 2, 3]),
)
def test_demand_scale_routes_fit_the_true_demands(backend, m, seed, scale, digits, vehicles):
    _check_true_feasibility_and_rounded_optimality(backend, m, seed, scale, digits, vehicles)


@settings(max_examples=10, deadline=None)
@given(
    m=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1, 7, 10, 100]),
    digits=st.sampled_from([None, 2]),
)
def test_demand_scale_routes_fit_the_true_demands_lp(m, seed, scale, digits):
    _check_true_feasibility_and_rounded_optimality("lp", m, seed, scale, digits, None)


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_demand_scale_compares_on_the_users_grid(backend):
    """0.29·100 = 28.999999999999996 and 0.07·100 = 7.000000000000001 in floating point:
    as demands and as capacities they are 29 and 7 hundredths; a capacity one ulp below
    0.29 is 28 hundredths and an off-grid demand 0.123 is 13."""
    solver = get(backend, 3, demand_scale=100)
    theta = np.array([1.0, 2.0, 3.0])
    checker = get("numba", 3, demand_scale=100)  # the lp backend has no is_routes
    for demands, capacity in (([0.29, 0.0], 0.29), ([0.07, 0.93], 1.0), ([0.7, 0.3], 1.0)):
        np.testing.assert_array_equal(solver.solve(theta, demands=demands, capacity=capacity), 1)
        assert checker.is_routes(np.ones(3), demands=demands, capacity=capacity)
    with pytest.raises(SolverInputError, match="infeasible: customer 1 .* 29/100 > 28/100"):
        solver.solve(theta, demands=[0.29, 0.0], capacity=np.nextafter(0.29, 0.0))
    assert not checker.is_routes(np.ones(3), demands=[0.29, 0.0], capacity=np.nextafter(0.29, 0))
    with pytest.raises(SolverInputError, match=_infeasible(backend)):  # 13 + 88 > 100
        solver.solve(theta, demands=[0.123, 0.875], capacity=1.0)
    assert not checker.is_routes(np.ones(3), demands=[0.123, 0.875], capacity=1.0)
    np.testing.assert_array_equal(solver.solve(theta, demands=[0.123, 0.87], capacity=1.0), 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_demand_scale_rounds_a_capacity_between_grid_points_down(backend):
    """Four demands of 0.5 and a capacity of 0.95 at s = 10: no two customers share a
    vehicle (10 > 9 tenths), although 1.0 > 0.95 only just."""
    solver = get(backend, 5, demands=[0.5] * 4, capacity=0.95, demand_scale=10)
    with pytest.raises(SolverInputError, match=r"cannot be split .*multiples of 1/10\)"):
        solver.solve(np.zeros(10))
    np.testing.assert_array_equal(
        solver.solve(np.zeros(10), capacity=1.0).sum(),
        6,  # two routes of two customers
    )


def test_demand_scale_in_the_lp_form():
    """The LP form states the rounded instance in units of 1/s: the form of the integer
    instance, fixed or given to lp_form."""
    demands, capacity = np.array([3, 0, 7, 2, 5, 4]), 9
    integer = get(n_nodes=7, demands=demands, capacity=capacity, num_vehicles=3).lp_form()
    scaled = get(
        n_nodes=7, demands=demands / 7, capacity=capacity / 7, num_vehicles=3, demand_scale=7
    )
    free = get(n_nodes=7, num_vehicles=3, demand_scale=7)
    for form in (scaled.lp_form(), free.lp_form(demands=demands / 7, capacity=capacity / 7)):
        for name in ("A_eq", "A_ub"):
            assert (getattr(form, name) != getattr(integer, name)).nnz == 0
        for name in ("b_eq", "b_ub", "lower", "upper", "integrality"):
            np.testing.assert_array_equal(getattr(form, name), getattr(integer, name))
    off_grid = free.lp_form(demands=[0.421, 0, 1, 0.28, 0.7, 0.57], capacity=1.2999)
    on_grid = get(n_nodes=7, num_vehicles=3).lp_form(demands=[3, 0, 7, 2, 5, 4], capacity=9)
    np.testing.assert_array_equal(off_grid.b_eq, on_grid.b_eq)  # ⌈q·7⌉ and ⌊1.2999·7⌋ = 9
    np.testing.assert_array_equal(off_grid.upper, on_grid.upper)


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_demand_scale_infeasible_instances_speak_the_users_units(backend):
    solver = get(backend, 5, demand_scale=100)
    with pytest.raises(
        SolverInputError,
        match=r"instance 1 is infeasible: customer 2 \(node 2\) has demand 0\.301 above the "
        r"capacity 0\.305 once rounded to multiples of 1/100 \(demand_scale=100\): 31/100 > "
        r"30/100",
    ):
        solver.solve(
            np.zeros((2, 10)), demands=[[0.1] * 4, [0.1, 0.301, 0, 0]], capacity=[0.4, 0.305]
        )
    fleet = get(backend, 5, num_vehicles=1, demand_scale=10)
    with pytest.raises(
        SolverInputError,
        match=r"instance 0 is infeasible: total demand 0\.84 exceeds num_vehicles × capacity = "
        r"1 × 0\.9 once rounded to multiples of 1/10 \(demand_scale=10\): 12/10 > 1 × 9/10",
    ):
        fleet.solve(np.zeros(10), demands=[0.21] * 4, capacity=0.9)


def test_demand_scale_side_data_checked_twice_is_rounded_once():
    """What the side-data check returns (the true demands) solves as the original does: a
    layer checks side data once, then passes it to solve."""
    solver = get(n_nodes=6, demand_scale=100)
    theta = np.random.default_rng(4).integers(-3, 4, size=(2, 15)).astype(np.float64)
    side = dict(demands=[[0.29, 0.07, 0.5, 0.123, 0.4], [0.1] * 5], capacity=[0.95, 0.3])
    checked = solver._check_side(side, (2,), (15,))
    np.testing.assert_array_equal(solver.solve(theta, **checked), solver.solve(theta, **side))
    np.testing.assert_array_equal(checked["demands"], side["demands"])


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_bad_demand_scales_and_fractional_demands_are_refused(backend):
    for scale in (0, -1.0, -np.inf, np.nan, np.inf, True, False, "100", [100]):
        with pytest.raises(
            SolverInputError, match="vehicle_routing: demand_scale must be a positive finite"
        ):
            get(backend, 5, demand_scale=scale)
    fractional = "demands must be integers .*pass demand_scale=s"
    with pytest.raises(SolverInputError, match=fractional):
        get(backend, 5, demands=[0.5, 1, 1, 1], capacity=2)
    with pytest.raises(SolverInputError, match=fractional):
        get(backend, 5, capacity=2).solve(np.zeros(10), demands=[1, 1, 1, 1.25])
    with pytest.raises(SolverInputError, match=fractional):
        get(backend, 5).lp_form(demands=[1, 1, 1, 1.25], capacity=2)
    solver = get(backend, 5, demand_scale=np.float32(4.0))  # NumPy scalars are numbers too
    base = getattr(solver, "base", solver)  # the lp backend wraps the numba solver
    assert base.demand_scale == 4.0 and type(base.demand_scale) is float
    y = solver.solve(np.zeros(10), demands=[0.25, 0.5, 0.25, 0.5], capacity=np.int64(1))
    assert base.is_routes(y, demands=[0.25, 0.5, 0.25, 0.5], capacity=1)
