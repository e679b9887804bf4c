"""Travelling salesman: Held–Karp (numba) and CP-SAT (ortools) against brute force over all
tours, each other and the lp backend (single-commodity flow MIP)."""

from __future__ import annotations

import dataclasses
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
from solvers._cpsat import CpSatOptions, TimeLimitReport, solve_model
from solvers.lp import LPSolver
from solvers.tsp import complete_graph_edges, edge_vector

BACKENDS = ["numba", "ortools"]


def all_tours(n: int) -> np.ndarray:
    """The 0/1 edge vectors of all (n-1)!/2 tours on n cities, one per row (brute force)."""
    index = {tuple(e): k for k, e in enumerate(complete_graph_edges(n).tolist())}
    rows = []
    for rest in itertools.permutations(range(1, n)):
        if rest[0] > rest[-1]:  # each tour once: the reverse direction is the same tour
            continue
        cycle = (0, *rest, 0)
        y = np.zeros(len(index))
        for a, b in zip(cycle, cycle[1:]):
            y[index[(min(a, b), max(a, b))]] = 1.0
        rows.append(y)
    return np.array(rows)


TOURS = {n: all_tours(n) for n in range(3, 9)}


def assert_tours(solver, y: np.ndarray) -> None:
    assert_integral(y)
    for row in y.reshape(-1, y.shape[-1]):
        assert solver.is_tour(row), row


@st.composite
def integer_instances(draw, min_n: int = 3, max_n: int = 8, max_batch: int = 4):
    """Small integer scores (exact sums, many ties): n, θ (B, E)."""
    n = draw(st.integers(min_n, max_n))
    b = draw(st.integers(1, max_batch))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    span = draw(st.sampled_from([1, 3, 20]))
    theta = rng.integers(-span, span + 1, size=(b, n * (n - 1) // 2)).astype(np.float64)
    return n, theta


# -- against brute force, each other and the lp backend -------------------------------------


def test_tour_counts_and_edge_order():
    assert [len(TOURS[n]) for n in range(3, 9)] == [1, 3, 12, 60, 360, 2520]
    for n in range(3, 9):
        assert np.all(TOURS[n].sum(1) == n)
    np.testing.assert_array_equal(
        complete_graph_edges(4), list(itertools.combinations(range(4), 2))
    )


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150, deadline=None)
@given(inst=integer_instances())
def test_matches_brute_force_with_ties(backend, inst):
    n, theta = inst
    solver = solvers.get("tsp", backend=backend, n_nodes=n)
    y = solver.solve(theta)
    assert_tours(solver, y)
    np.testing.assert_array_equal(solver.objective(theta, y), (theta @ TOURS[n].T).max(1))


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 8), seed=st.integers(0, 2**32 - 1))
def test_matches_brute_force_on_float_scores(backend, n, seed):
    rng = np.random.default_rng(seed)
    theta = -rng.uniform(0, 10, size=(3, n * (n - 1) // 2))  # distances as θ = -d
    solver = solvers.get("tsp", backend=backend, n_nodes=n)
    y = solver.solve(theta)
    assert_tours(solver, y)
    best = (theta @ TOURS[n].T).max(1)
    np.testing.assert_allclose(solver.objective(theta, y), best, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(inst=integer_instances(min_n=9, max_n=13, max_batch=5))
def test_held_karp_matches_cp_sat_beyond_brute_force(inst):
    n, theta = inst
    dp = solvers.get("tsp", n_nodes=n)
    cp = solvers.get("tsp", backend="ortools", n_nodes=n)
    ya, yb = assert_same_objective(dp, cp, theta)
    assert_tours(dp, ya)
    assert_tours(dp, yb)


def test_held_karp_matches_cp_sat_on_euclidean_instances():
    """Metric instances (cities in the plane), as in PyEPO's TSP, up to the default limit."""
    rng = np.random.default_rng(5)
    for n in (12, 16, 20):
        cities = rng.uniform(0, 1, size=(4, n, 2))
        d = np.linalg.norm(cities[:, :, None] - cities[:, None, :], axis=-1)
        theta = solvers.costs_to_theta(edge_vector(np.round(d * 1000)))  # integer: exact sums
        dp = solvers.get("tsp", n_nodes=n)
        cp = solvers.get("tsp", backend="ortools", n_nodes=n)
        assert_same_objective(dp, cp, theta)


@settings(max_examples=25, deadline=None)
@given(inst=integer_instances(max_n=7, max_batch=2))
def test_matches_lp_backend(inst):
    n, theta = inst
    dp = solvers.get("tsp", n_nodes=n)
    lp = solvers.get("tsp", backend="lp", n_nodes=n)
    _, y = assert_same_objective(dp, lp, theta)
    assert_tours(dp, y)


def test_lp_backend_beyond_the_dp_limit():
    """The derived lp backend shares the numba solver's checks, not its size limit."""
    rng = np.random.default_rng(0)
    theta = rng.integers(-9, 1, size=(1, 66)).astype(np.float64)
    lp = solvers.get("tsp", backend="lp", n_nodes=12, max_nodes=10)
    cp = solvers.get("tsp", backend="ortools", n_nodes=12)
    assert_same_objective(lp, cp, theta)


# -- the LP form ------------------------------------------------------------------------------


def _fixed(form, y):
    """``form`` with its edge variables fixed to ``y``."""
    e = y.size
    lower, upper = form.lower.copy(), form.upper.copy()
    lower[:e] = upper[:e] = y
    return dataclasses.replace(form, lower=lower, upper=upper)


def test_lp_form_admits_tours_and_refuses_subtours():
    solver = solvers.get("tsp", n_nodes=6)
    form = solver.lp_form(shape=(15,))
    assert form.n_vars == 45 and form.integrality.all()  # flows along a tour are integral
    assert not form.integral_polytope
    edges = {tuple(e): k for k, e in enumerate(complete_graph_edges(6).tolist())}

    def indicator(*cycles):
        y = np.zeros(15)
        for cycle in cycles:
            for a, b in zip(cycle, cycle[1:] + cycle[:1]):
                y[edges[(min(a, b), max(a, b))]] = 1.0
        return y

    zero = np.zeros(15)
    # a tour admits the flow; two triangles (degree two everywhere) do not
    LPSolver(_fixed(form, indicator((0, 3, 1, 5, 2, 4)))).solve(zero)
    with pytest.raises(SolverInputError, match="INFEASIBLE|no optimal solution"):
        LPSolver(_fixed(form, indicator((0, 1, 2), (3, 4, 5)))).solve(zero)
    with pytest.raises(SolverInputError, match="tsp: lp_form shape"):
        solver.lp_form(shape=(10,))


# -- degenerate instances ------------------------------------------------------------------


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_three_cities_have_one_tour(backend):
    solver = solvers.get("tsp", backend=backend, n_nodes=3)
    theta = np.array([[1.0, 2.0, 3.0], [-5.0, 0.0, 7.0], [0.0, 0.0, 0.0], [-1e300, 1e300, 0.0]])
    np.testing.assert_array_equal(solver.solve(theta), np.ones((4, 3)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_equal_scores_give_a_tour(backend):
    for n in (4, 7, 10):
        solver = solvers.get("tsp", backend=backend, n_nodes=n)
        assert_tours(solver, solver.solve(np.full((2, n * (n - 1) // 2), -3.0)))


@settings(max_examples=50, deadline=None)
@given(inst=integer_instances(max_n=10), shift=st.integers(-50, 50), power=st.integers(-20, 20))
def test_held_karp_is_invariant_to_shifts_and_binary_scales(inst, shift, power):
    """Every tour has n edges: θ + t and θ·2^k rank tours alike; integer sums are exact, so
    the DP takes the same decisions and returns the same tour."""
    n, theta = inst
    solver = solvers.get("tsp", n_nodes=n)
    y = solver.solve(theta)
    np.testing.assert_array_equal(solver.solve(theta + shift), y)
    np.testing.assert_array_equal(solver.solve(np.ldexp(theta, power)), y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scores_of_every_magnitude(backend):
    rng = np.random.default_rng(3)
    theta = rng.integers(-20, 21, size=(6, 21)).astype(np.float64)
    want = (theta @ TOURS[7].T).max(1)
    solver = solvers.get("tsp", backend=backend, n_nodes=7)
    for scale in (1e-300, 1e-10, 1.0, 1e10, 1e300):
        np.testing.assert_array_equal(solver.objective(theta, solver.solve(theta * scale)), want)


def test_cp_sat_keeps_small_differences_on_a_large_offset():
    """The midrange is subtracted before scaling to integers: an offset of 1e9 does not
    swallow unit differences."""
    rng = np.random.default_rng(4)
    theta = rng.integers(-5, 6, size=(4, 28)).astype(np.float64)
    solver = solvers.get("tsp", backend="ortools", n_nodes=8)
    y = solver.solve(theta + 1e9)
    np.testing.assert_array_equal(solver.objective(theta, y), (theta @ TOURS[8].T).max(1))


# -- batching, dtypes, helpers ------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch", [1, 2, 3, 7])
def test_batched_equals_single(backend, batch):
    rng = np.random.default_rng(batch)
    theta = rng.integers(-3, 4, size=(batch, 28)).astype(np.float64)
    solver = solvers.get("tsp", backend=backend, n_nodes=8)
    assert_batched_equals_single(solver, theta)
    assert_dtype_rules(solver, theta)
    assert_empty_batch(solver, (28,))
    y = solver.solve(theta.reshape(1, batch, 1, 28))
    np.testing.assert_array_equal(y.reshape(batch, 28), solver.solve(theta))


def test_held_karp_chunks_do_not_change_the_answer():
    import numba

    rng = np.random.default_rng(9)
    theta = rng.normal(size=(9, 36))
    solver = solvers.get("tsp", n_nodes=9)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = solver.solve(theta)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(solver.solve(theta), one)


def test_tour_order_and_is_tour():
    # cities on a circle, labelled out of order: the best tour follows the circle
    around = [0, 3, 1, 4, 2]
    angle = np.empty(5)
    angle[around] = 2 * np.pi * np.arange(5) / 5
    cities = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    d = np.linalg.norm(cities[:, None] - cities[None, :], axis=-1)
    solver = solvers.get("tsp", n_nodes=5)
    y = solver.solve(-edge_vector(d))
    np.testing.assert_array_equal(solver.tour(y), [0, 2, 4, 1, 3])  # towards 2, not 3
    assert solver.is_tour(y)
    two_cycles = np.zeros(10)
    two_cycles[[0, 1, 4]] = 1.0  # edges (0,1) (0,2) (1,2): a triangle leaving 3 and 4 out
    assert not solver.is_tour(two_cycles)
    assert not solver.is_tour(np.ones(10))
    assert not solver.is_tour(np.full(10, 0.5))
    assert not solver.is_tour(np.zeros(9))
    with pytest.raises(SolverInputError, match="tsp: y is not a tour"):
        solver.tour(two_cycles)
    six = solvers.get("tsp", n_nodes=6)
    index = {tuple(e): k for k, e in enumerate(six.edges.tolist())}
    triangles = np.zeros(15)
    for e in [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)]:
        triangles[index[e]] = 1.0
    with pytest.raises(SolverInputError, match="several cycles"):
        six.tour(triangles)


def test_edge_vector():
    d = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]])
    np.testing.assert_array_equal(edge_vector(d), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(edge_vector(np.stack([d, 2 * d])), [[1, 2, 3], [2, 4, 6]])
    with pytest.raises(SolverInputError, match="not symmetric"):
        edge_vector([[0, 1], [2, 0]])
    with pytest.raises(SolverInputError, match=r"shape \(\.\.\., n, n\)"):
        edge_vector(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="real numbers"):
        edge_vector(np.array([["a", "b"], ["b", "a"]]))


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
def test_bad_inputs(backend):
    solver = solvers.get("tsp", backend=backend, n_nodes=5)
    check_bad_inputs(solver, np.arange(20.0).reshape(2, 10))
    with pytest.raises(SolverInputError, match=r"tsp: each instance of θ must have shape \(10,\)"):
        solver.solve(np.ones((2, 9)))
    with pytest.raises(SolverInputError, match="tsp"):
        solver.solve(np.ones((2, 5, 5)))  # a matrix is not an edge vector
    for n in (2, 1, 0, -3):
        with pytest.raises(SolverInputError, match="tsp: n_nodes must be >= 3"):
            solvers.get("tsp", backend=backend, n_nodes=n)
    for n in (5.0, "5", True, None):
        with pytest.raises(TypeError, match="tsp: n_nodes must be an int"):
            solvers.get("tsp", backend=backend, n_nodes=n)
    with pytest.raises(TypeError, match="n_nodes"):
        solvers.get("tsp", backend=backend)


def test_the_dp_refuses_more_cities_than_it_supports():
    solver = solvers.get("tsp", n_nodes=21)
    with pytest.raises(SolverInputError, match="max_nodes=20 cities, got n_nodes=21.*ortools"):
        solver.solve(np.zeros(210))
    small = solvers.get("tsp", n_nodes=9, max_nodes=8)
    with pytest.raises(SolverInputError, match="max_nodes=8"):
        small.solve(np.zeros(36))
    for bad in (2, 25, 100):
        with pytest.raises(SolverInputError, match="max_nodes must lie in 3..24"):
            solvers.get("tsp", n_nodes=5, max_nodes=bad)
    with pytest.raises(TypeError, match="max_nodes must be an int"):
        solvers.get("tsp", n_nodes=5, max_nodes=8.0)


def test_the_dp_refuses_scores_whose_tour_sum_overflows():
    theta = np.full(10, 1e308)
    with pytest.raises(SolverInputError, match="tsp: .*overflow"):
        solvers.get("tsp", n_nodes=5).solve(theta)
    y = solvers.get("tsp", backend="ortools", n_nodes=5).solve(theta)  # scaled first
    assert solvers.get("tsp", n_nodes=5).is_tour(y)


def test_cp_sat_options_are_checked():
    for bad in (0, -1.0, np.inf, np.nan, "1"):
        with pytest.raises(SolverInputError, match="tsp: time_limit must be"):
            solvers.get("tsp", backend="ortools", n_nodes=5, time_limit=bad)
    with pytest.raises(SolverInputError, match="tsp: num_workers must be >= 1"):
        solvers.get("tsp", backend="ortools", n_nodes=5, num_workers=0)
    with pytest.raises(TypeError, match="tsp: num_workers must be an int"):
        solvers.get("tsp", backend="ortools", n_nodes=5, num_workers=2.0)
    with pytest.raises(SolverInputError, match="on_time_limit must be one of warn, raise"):
        solvers.get("tsp", backend="ortools", n_nodes=5, on_time_limit="ignore")


def test_cp_sat_time_limit_is_never_silent():
    """A time limit far too short for 40 cities: either no tour (an error) or a tour that
    is not proven optimal (a warning, or an error with on_time_limit='raise')."""
    rng = np.random.default_rng(0)
    theta = -rng.uniform(0, 1, size=780)
    quick = solvers.get("tsp", backend="ortools", n_nodes=40, time_limit=1e-3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            y = quick.solve(theta)
        except RuntimeError as exc:
            assert "tsp (CP-SAT): no solution for instance 0" in str(exc)
        else:
            assert quick.is_tour(y)
            assert any("time limit of 0.001 s stopped the search" in str(w.message) for w in caught)
    strict = solvers.get(
        "tsp", backend="ortools", n_nodes=40, time_limit=1e-3, on_time_limit="raise"
    )
    with pytest.raises(RuntimeError, match="tsp \\(CP-SAT\\)"):
        strict.solve(theta)


class _StoppedSolver:
    """A CP-SAT solver stand-in whose search the time limit stopped (status FEASIBLE)."""

    objective_value, best_objective_bound = 3.0, 5.0

    def solve(self, model):
        from ortools.sat.python import cp_model

        return cp_model.FEASIBLE

    def status_name(self, status):
        return "FEASIBLE"


def test_time_limit_report_warns_once_per_call_and_raises_on_request():
    options = CpSatOptions.checked("tsp", 2.0, 1, "warn")
    report = TimeLimitReport("tsp", options)
    for instance in range(7):
        solve_model(None, _StoppedSolver(), report, instance)
    with pytest.warns(
        RuntimeWarning, match=r"on 7 instance\(s\) \(flat index 0, 1, 2, 3, 4, \.\.\.\)"
    ):
        report.warn()
    strict = TimeLimitReport("tsp", CpSatOptions.checked("tsp", 2.0, 1, "raise"))
    with pytest.raises(RuntimeError, match="instance 4 was not proven optimal.*bound 5"):
        solve_model(None, _StoppedSolver(), strict, 4)


def test_ortools_keeps_scores_far_below_the_largest():
    """Scores were scaled so that the largest was 2^40: the fuzz suite found a tour 0.078
    short of the optimum on scores spanning 2^-38 to 7e11 (the small ones rounded away).
    The sum of the |scores| now scales to 2^50."""
    theta = np.array([
        -8.05306368e08, -9.5367431640625e-06, -2.048e03, 1.46484375e-03, 3.584e03,
        3.637978807091713e-12, -8.192e03, -2.9802322387695312e-07, -7.8125e-02,
        -9.663676416e09, -3.072e03, 4.8428773880004883e-08, -2.0861625671386719e-07,
        -3.2768e04, -1.862645149230957e-09, 5.0e-01, 7.32421875e-04, 5.238689482212067e-10,
        -1.090519040e08, 2.13623046875e-04, 1.0e01, 4.3655745685100555e-11,
        -1.862645149230957e-09, 0.0, -7.152557373046875e-06, 6.8719476736e11,
        -5.24288e06, -1.220703125e-03,
    ])  # fmt: skip
    exact = solvers.get("tsp", n_nodes=8)
    ortools = solvers.get("tsp", backend="ortools", n_nodes=8)
    best = exact.objective(theta, exact.solve(theta))
    assert ortools.objective(theta, ortools.solve(theta)) == best
