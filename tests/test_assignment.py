"""Linear assignment: Numba vs SciPy vs OR-Tools vs LP vs brute force, feasibility, errors."""

from __future__ import annotations

import itertools
import math
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

import solvers
from solvers import assignment
from solvers.base import SolverInputError

NUMBA = solvers.get("assignment")
SCIPY = solvers.get("assignment", "scipy")
ORTOOLS = solvers.get("assignment", "ortools")
LP = solvers.get("assignment", "lp")


@st.composite
def int_batches(draw, max_n=6, max_extra=3, max_batch=4, low=-3, high=3):
    """Integer scores (B, n, m), n <= m: small ranges give many ties."""
    n = draw(st.integers(1, max_n))
    m = n + draw(st.integers(0, max_extra))
    b = draw(st.integers(1, max_batch))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return rng.integers(low, high + 1, size=(b, n, m)).astype(np.float64)


def assert_feasible(y: np.ndarray) -> None:
    """Each instance is a partial permutation matrix: one 1 per row, at most one per column."""
    assert_integral(y)
    assert np.all((y == 0) | (y == 1))
    assert np.all(y.sum(axis=-1) == 1), "a row is not assigned exactly once"
    assert np.all(y.sum(axis=-2) <= 1), "a column is used twice"


def brute_force_best(theta: np.ndarray) -> float:
    n, m = theta.shape
    return max(
        theta[np.arange(n), list(cols)].sum() for cols in itertools.permutations(range(m), n)
    )


@settings(max_examples=250, deadline=None)
@given(int_batches())
def test_numba_scipy_ortools_agree_on_integer_scores(theta):
    y_numba, _ = assert_same_objective(NUMBA, SCIPY, theta)
    y_ortools, _ = assert_same_objective(ORTOOLS, SCIPY, theta)  # exact for integer θ
    assert_feasible(y_numba)
    assert_feasible(y_ortools)
    form = NUMBA.lp_form(theta.shape[1:])
    assert all(form.is_feasible(y.ravel()) for y in y_numba)


@settings(max_examples=150, deadline=None)
@given(int_batches(max_n=5, max_extra=2, max_batch=2, low=-2, high=2))
def test_numba_matches_brute_force(theta):
    y = NUMBA.solve(theta)
    assert_feasible(y)
    best = np.array([brute_force_best(t) for t in theta])
    np.testing.assert_array_equal(NUMBA.objective(theta, y), best)


@settings(max_examples=25, deadline=None)
@given(int_batches(max_n=4, max_extra=2, max_batch=2))
def test_numba_matches_lp_backend(theta):
    lp = solvers.get("assignment", "lp")
    y_numba, y_lp = assert_same_objective(NUMBA, lp, theta)
    assert_feasible(y_lp)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(0, 4),
    st.integers(0, 2**32 - 1),
    st.sampled_from([np.float32, np.float64]),
    st.sampled_from([1e-3, 1.0, 1e6]),
)
def test_float_scores(n, extra, seed, dtype, magnitude):
    """Continuous scores: Numba and SciPy agree to rounding; OR-Tools within n / scale."""
    rng = np.random.default_rng(seed)
    theta = (rng.normal(size=(3, n, n + extra)) * magnitude).astype(dtype)
    y = NUMBA.solve(theta)
    assert y.dtype == dtype
    assert_feasible(y)
    opt = SCIPY.objective(theta, SCIPY.solve(theta))
    tol = 1e-12 * magnitude * n
    np.testing.assert_allclose(NUMBA.objective(theta, y), opt, rtol=0, atol=tol)
    got = ORTOOLS.objective(theta, ORTOOLS.solve(theta))
    for b in range(theta.shape[0]):
        step = 1.0 / assignment.ortools_scale(theta[b].astype(np.float64), n + extra)
        assert got[b] >= opt[b] - n * step - tol
        assert got[b] <= opt[b] + tol


def test_ortools_precision_bound_is_used():
    """Scores that differ below the rounding step may be confused, but only by n·step."""
    rng = np.random.default_rng(0)
    n = 20
    theta = 1e9 + rng.random((n, n)) * 1e-4  # differences ~1e-4, far above the step
    step = 1.0 / assignment.ortools_scale(theta, n)
    assert step < 1e-5
    opt = SCIPY.objective(theta, SCIPY.solve(theta))
    got = ORTOOLS.objective(theta, ORTOOLS.solve(theta))
    assert opt - n * step <= got <= opt


def test_ortools_scale_is_exact_power_of_two_for_integers():
    theta = np.array([[3.0, -7.0, 2.0], [1.0, 0.0, 5.0]])
    scale = assignment.ortools_scale(theta, 3)
    assert scale >= 1 and np.log2(scale) == int(np.log2(scale))
    assert np.array_equal(np.rint(theta * scale), theta * scale)
    assert assignment.ortools_scale(np.zeros((2, 3)), 3) == 1.0


@pytest.mark.parametrize("size", [1, 3, 10, 100, 300, 2**20])
def test_ortools_scale_is_the_largest_admissible_power_of_two(size):
    """``s = 2^k`` is the largest with ``max|θ|·s <= L`` (exact rational check), capped at
    ``2^1023``, for ``max|θ|`` from the smallest subnormal to the largest float."""
    bound = Fraction(min(2.0**52, 2.0**58 / float(size + 1) ** 2))
    rng = np.random.default_rng(size)
    tops = [math.ldexp(rng.uniform(0.5, 1.0), int(e)) for e in rng.integers(-1073, 1025, 300)]
    tops += [5e-324, 1e-300, 2.0**-971, float(bound), float(bound) * (1 + 2**-52), 1.7e308]
    for top in tops:
        scale = assignment.ortools_scale(np.array([[-top, top / 3]]), size)
        assert math.isfinite(scale) and math.frexp(scale)[0] == 0.5, (top, scale)
        assert Fraction(top) * Fraction(scale) <= bound, (top, scale)
        assert scale == 2.0**1023 or Fraction(top) * Fraction(2 * scale) > bound, (top, scale)


@pytest.mark.parametrize("magnitude", [1e-300, 2.0**-1000, 1e-295, 1e-290, 1e-250])
def test_ortools_tiny_scores(magnitude):
    """Scores far below 1e-292 used to overflow ``L / max|θ|`` in the scale computation."""
    y = ORTOOLS.solve(np.array([[1.0, 0.0], [0.0, 1.0]]) * magnitude)
    np.testing.assert_array_equal(y, np.eye(2))
    theta = np.random.default_rng(4).normal(size=(3, 4, 5)) * magnitude
    y = ORTOOLS.solve(theta)
    assert_feasible(y)
    opt = SCIPY.objective(theta, SCIPY.solve(theta))
    got = ORTOOLS.objective(theta, y)
    tol = 1e-12 * magnitude  # summation order
    for b in range(theta.shape[0]):
        step = 1.0 / assignment.ortools_scale(theta[b], 5)
        assert opt[b] - 4 * step - tol <= got[b] <= opt[b] + tol


def test_ortools_subnormal_scores_are_solved_exactly():
    """Integer multiples of the smallest subnormal, scaled with ``ldexp`` (``k > 1023``),
    become exact integers: the OR-Tools optimum equals SciPy's exactly."""
    rng = np.random.default_rng(5)
    theta = rng.integers(-1000, 1000, size=(6, 5, 7)) * 5e-324
    assert assignment.ortools_exponent(theta[0], 7) > 1023
    assert_same_objective(ORTOOLS, SCIPY, theta)


def test_ortools_large_integers_exact():
    """Integers up to the documented bound L = 2^58/(N+1)² are solved exactly."""
    rng = np.random.default_rng(1)
    n = 30
    bound = 2.0**58 / (n + 1) ** 2
    theta = rng.integers(-int(bound), int(bound), size=(4, n, n)).astype(np.float64)
    assert_same_objective(ORTOOLS, SCIPY, theta)


def test_ortools_overflow_status_raises(monkeypatch):
    """Scaled beyond what OR-Tools accepts, the POSSIBLE_OVERFLOW status becomes a clear error."""
    monkeypatch.setattr(assignment, "_ORTOOLS_BUDGET", 2.0**80)
    theta = np.random.default_rng(2).normal(size=(64, 64))
    with pytest.raises(SolverInputError, match="assignment \\(ortools\\).*overflow"):
        ORTOOLS.solve(theta)


@pytest.mark.parametrize("solver", [NUMBA, SCIPY, ORTOOLS], ids=lambda s: s.backend)
def test_contract(solver):
    rng = np.random.default_rng(3)
    theta = rng.integers(-3, 4, size=(5, 3, 4)).astype(np.float64)
    assert_batched_equals_single(solver, theta)
    assert_dtype_rules(solver, theta)
    assert_empty_batch(solver, (3, 4))
    check_bad_inputs(solver, theta)


@pytest.mark.parametrize("solver", [NUMBA, SCIPY, ORTOOLS, LP], ids=lambda s: s.backend)
def test_degenerate_shapes(solver):
    assert np.array_equal(solver.solve(np.array([[5.0]])), [[1.0]])
    theta = np.array([[[1.0, 4.0, 4.0, -2.0]]])  # 1 × m: best column (a tie)
    y = solver.solve(theta)
    assert_feasible(y)
    assert solver.objective(theta, y)[0] == 4.0
    y = solver.solve(np.zeros((2, 0, 3)))  # no rows: the empty assignment
    assert y.shape == (2, 0, 3)
    assert solver.solve(np.zeros((0, 3))).shape == (0, 3)  # one instance without rows
    assert solver.solve(np.zeros((0, 0))).shape == (0, 0)
    y = solver.solve(np.zeros((2, 2, 2)))  # all ties
    assert_feasible(y)


@pytest.mark.parametrize("solver", [NUMBA, SCIPY, ORTOOLS, LP], ids=lambda s: s.backend)
def test_bad_shapes(solver):
    with pytest.raises(SolverInputError, match="assignment.*n <= m"):
        solver.solve(np.zeros((2, 4, 3)))
    with pytest.raises(SolverInputError, match="assignment"):
        solver.solve(np.zeros(4))
    with pytest.raises(SolverInputError, match="assignment.*overflow"):
        solver.solve(np.full((3, 3), 1e305))


def test_costs_enter_as_negative_scores():
    costs = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    y = NUMBA.solve(solvers.costs_to_theta(costs))
    assert (costs * y).sum() == 5.0  # the classic minimum-cost assignment


def test_lp_form():
    form = NUMBA.lp_form((2, 3))
    assert form.integral_polytope and form.n_vars == 6
    assert form.instance_shape == (2, 3)
    assert form.is_feasible(np.array([0, 1, 0, 0, 0, 1.0]))
    assert not form.is_feasible(np.array([0, 1, 0, 0, 1, 0.0]))  # column used twice
    assert not form.is_feasible(np.array([0, 1, 0, 0, 0, 0.0]))  # row unassigned
    with pytest.raises(ValueError, match="assignment"):
        NUMBA.lp_form()
    with pytest.raises(SolverInputError, match="assignment"):
        NUMBA.lp_form((3, 2))


# -- exact on wide-range scores (issue 26, item 6) -------------------------------------------


def exact_value(theta: np.ndarray, y: np.ndarray) -> Fraction:
    """``⟨θ, y⟩`` in exact rational arithmetic (float sums would round off small entries)."""
    return sum((Fraction(float(t)) for t in theta[y == 1]), Fraction(0))


def exact_best(theta: np.ndarray) -> Fraction:
    n, m = theta.shape
    return max(
        sum((Fraction(float(theta[i, j])) for i, j in enumerate(cols)), Fraction(0))
        for cols in itertools.permutations(range(m), n)
    )


def test_ortools_is_exact_on_wide_range_scores():
    """[[1, -1, -1e299]] used to give value -1 against an optimum of 1: the rounding to
    int64 erased the small entries. The refinement makes every answer exact."""
    np.testing.assert_array_equal(ORTOOLS.solve([[1.0, -1.0, -1e299]]), [[1.0, 0.0, 0.0]])
    rng = np.random.default_rng(26)
    for decades in (8, 40, 300):
        theta = 10.0 ** rng.uniform(-decades / 2, decades / 2, size=(20, 5, 6))
        theta *= rng.choice([-1.0, 1.0], size=theta.shape)
        y = ORTOOLS.solve(theta)
        assert_feasible(y)
        for t, yb in zip(theta, y):
            assert exact_value(t, yb) == exact_best(t)


def test_ortools_near_ties_below_the_rounding_step():
    """Large integer scores with many ties, and tiny scores on the other cells: the first
    level's rounding erases the tiny ones, the refinement lets them decide."""
    rng = np.random.default_rng(6)
    big = rng.integers(0, 3, size=(30, 4, 4)) * 2.0**30
    tiny = rng.integers(1, 4, size=(30, 4, 4)) * 2.0**-30
    theta = np.where(rng.random((30, 4, 4)) < 0.5, big, tiny)
    y = ORTOOLS.solve(theta)
    for t, yb in zip(theta, y):
        assert exact_value(t, yb) == exact_best(t)
    rough = solvers.get("assignment", "ortools", exact=False)
    assert rough.exact is False
    y = rough.solve(theta)
    assert any(exact_value(t, yb) < exact_best(t) for t, yb in zip(theta, y))
    with pytest.raises(TypeError, match="exact must be True or False"):
        solvers.get("assignment", "ortools", exact="yes")
