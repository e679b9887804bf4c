"""The generic lp backend (solvers.lp) and the LPForm dataclass, against brute force."""

from __future__ import annotations

import itertools
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from solver_checks import assert_batched_equals_single, assert_integral, check_bad_inputs

import solvers
from solvers import LPForm, Solver, SolverInputError
from solvers.lp import LPBackedSolver, LPSolver, solve_lp_form

LP = settings(max_examples=40, deadline=None)


def int_theta(shape, lo=-3, hi=3, max_batch=3):
    """Integer-valued float batches ``(B, *shape)``: exact sums, many ties."""
    return (
        st.integers(1, max_batch)
        .flatmap(lambda b: hnp.arrays(np.int64, (b, *shape), elements=st.integers(lo, hi)))
        .map(lambda a: a.astype(float))
    )


def assignment_form(n: int) -> LPForm:
    """The Birkhoff polytope: rows and columns of the n×n matrix y sum to 1."""
    rows = [np.kron(np.eye(n)[i], np.ones(n)) for i in range(n)]
    cols = [np.kron(np.ones(n), np.eye(n)[j]) for j in range(n)]
    return LPForm(
        n_vars=n * n,
        y_index=np.arange(n * n).reshape(n, n),
        A_eq=sp.csr_matrix(np.array(rows + cols)),
        b_eq=np.ones(2 * n),
        upper=np.ones(n * n),
        integral_polytope=True,
    )


WEIGHTS = np.array([3.0, 4.0, 5.0, 2.0, 6.0])
CAPACITY = 9.0


def knapsack_solver() -> LPSolver:
    n = WEIGHTS.size
    return solvers.get(
        "lp", A_ub=WEIGHTS[None], b_ub=[CAPACITY], upper=np.ones(n), integrality=np.ones(n, bool)
    )


# -- correctness against brute force ------------------------------------------------------


@LP
@given(theta=int_theta((3, 3)))
def test_assignment_polytope_vs_permutations(theta):
    solver = LPSolver(assignment_form(3))
    assert solver.event_ndim == 2 and solver.instance_shape == (3, 3)
    y = solver.solve(theta)
    assert_integral(y)
    perms = [np.eye(3)[list(p)] for p in itertools.permutations(range(3))]
    for t, yi in zip(theta, y):
        assert any(np.array_equal(yi, p) for p in perms), yi
        assert (t * yi).sum() == max((t * p).sum() for p in perms)


@LP
@given(theta=int_theta((5,), lo=-4, hi=6))
def test_knapsack_mip_vs_subsets(theta):
    y = knapsack_solver().solve(theta)
    assert_integral(y)
    subsets = np.array(list(itertools.product((0.0, 1.0), repeat=5)))
    subsets = subsets[subsets @ WEIGHTS <= CAPACITY]
    for t, yi in zip(theta, y):
        assert set(np.unique(yi)) <= {0.0, 1.0} and yi @ WEIGHTS <= CAPACITY
        assert t @ yi == (subsets @ t).max()


@LP
@given(theta=int_theta((2,), lo=-5, hi=5))
def test_general_integers_with_auxiliary_slack(theta):
    """max θ·y, 2 y0 + 3 y1 + s = 7, y ∈ {0..3}², s >= 0 continuous (not part of y)."""
    solver = solvers.get(
        "lp",
        A_eq=[[2.0, 3.0, 1.0]],
        b_eq=[7.0],
        upper=[3.0, 3.0, np.inf],
        integrality=[True, True, False],
        y_shape=2,
    )
    y = solver.solve(theta)
    assert_integral(y)
    grid = [np.array(p, float) for p in itertools.product(range(4), repeat=2)]
    grid = [p for p in grid if 2 * p[0] + 3 * p[1] <= 7]
    for t, yi in zip(theta, y):
        assert any(np.array_equal(yi, p) for p in grid), yi
        assert t @ yi == max(t @ p for p in grid)


def test_plain_lp_keeps_fractional_vertex():
    """Without integrality a plain LP answer is returned as is (here the vertex (2/3, 2/3))."""
    pieces = dict(A_ub=[[2.0, 1.0], [1.0, 2.0]], b_ub=[2.0, 2.0])
    y = solvers.get("lp", **pieces).solve(np.array([1.0, 1.0]))
    np.testing.assert_allclose(y, [2 / 3, 2 / 3], atol=1e-9)
    # declaring that polytope integral is a bug in the form, and is reported
    with pytest.raises(SolverInputError, match="non-integral"):
        solvers.get("lp", integral_polytope=True, **pieces).solve(np.array([1.0, 1.0]))


def test_free_variables_and_negative_bounds():
    """y ∈ [-2, 1], z free with z = y0 - y1; y is only (y0, y1)."""
    solver = solvers.get(
        "lp",
        A_eq=[[1.0, -1.0, -1.0]],
        b_eq=[0.0],
        lower=[-2.0, -2.0, -np.inf],
        upper=[1.0, 1.0, np.inf],
        y_shape=(2,),
        integral_polytope=True,
    )
    np.testing.assert_array_equal(
        solver.solve(np.array([[1.0, -1.0], [-1.0, -1.0]])),
        [
            [1.0, -2.0],
            [-2.0, -2.0],
        ],
    )


def test_solve_lp_form_direct():
    form = assignment_form(2)
    y = solve_lp_form(form, np.array([[0.0, 5.0], [1.0, 0.0]]))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(TypeError, match="LPForm"):
        solve_lp_form({"A_eq": None}, np.zeros((2, 2)))
    with pytest.raises(SolverInputError, match="NaN"):
        solve_lp_form(form, np.array([[np.nan, 0.0], [0.0, 0.0]]))
    with pytest.raises(SolverInputError, match="shape"):
        solve_lp_form(form, np.zeros(4))


# -- batching, dtypes, bad input ----------------------------------------------------------


def test_batched_equals_single_and_dtypes():
    rng = np.random.default_rng(1)
    solver = LPSolver(assignment_form(3))
    theta = rng.integers(-2, 3, size=(4, 3, 3)).astype(float)
    assert_batched_equals_single(solver, theta)
    assert solver.solve(theta[None, None]).shape == (1, 1, 4, 3, 3)
    assert solver.solve(theta.astype(np.float32)).dtype == np.float32
    assert solver.solve(theta.astype(np.int64)).dtype == np.float64
    assert solver.solve(np.zeros((0, 3, 3))).shape == (0, 3, 3)
    y = knapsack_solver().solve(rng.integers(-3, 4, size=(2, 3, 5)))
    assert y.shape == (2, 3, 5) and y.dtype == np.float64


def test_bad_theta():
    solver = LPSolver(assignment_form(3))
    check_bad_inputs(solver, np.zeros((2, 3, 3)))
    with pytest.raises(SolverInputError, match=r"lp: each instance of θ must have shape \(3, 3\)"):
        solver.solve(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("integer", [False, True])
def test_infeasible_and_unbounded(integer):
    integrality = [integer, integer]
    infeasible = solvers.get(
        "lp", A_eq=[[1.0, 1.0]], b_eq=[3.0], upper=[1.0, 1.0], integrality=integrality
    )
    with pytest.raises(SolverInputError, match="lp: .*INFEASIBLE"):
        infeasible.solve(np.ones((2, 2)))
    unbounded = solvers.get("lp", A_eq=[[1.0, -1.0]], b_eq=[0.0], integrality=integrality)
    with pytest.raises(SolverInputError, match="lp: .*UNBOUNDED"):
        unbounded.solve(np.ones(2))
    # bounded direction: the same form is fine for θ that does not push along the ray
    np.testing.assert_array_equal(unbounded.solve(-np.ones(2)), [0.0, 0.0])


def test_constructor_errors():
    form = assignment_form(2)
    with pytest.raises(ValueError, match="either form or its pieces"):
        LPSolver(form, upper=np.ones(4))
    with pytest.raises(TypeError, match="LPForm"):
        LPSolver("not a form")
    with pytest.raises(ValueError, match="A_eq and b_eq must be given together"):
        solvers.get("lp", A_eq=[[1.0, 1.0]])
    with pytest.raises(ValueError, match="disagrees"):
        solvers.get("lp", A_eq=[[1.0, 1.0]], b_eq=[1.0], upper=np.ones(3))
    with pytest.raises(ValueError, match="n_vars"):
        solvers.get("lp")
    with pytest.raises(ValueError, match="y_shape"):
        solvers.get("lp", upper=np.ones(3), y_shape=(2, 2))
    with pytest.raises(ValueError, match="y_index"):
        solvers.get("lp", upper=np.ones(3), y_index=[0, 1], y_shape=(3,))
    with pytest.raises(ValueError, match="2-D"):
        solvers.get("lp", A_ub=[1.0, 2.0], b_ub=[1.0])


# -- LPForm itself --------------------------------------------------------------------------


def test_lpform_validation():
    with pytest.raises(ValueError, match="y_index refers to variables outside"):
        LPForm(n_vars=3, y_index=[0, 3])
    with pytest.raises(ValueError, match="y_index refers to variables outside"):
        LPForm(n_vars=3, y_index=[-1, 0])
    with pytest.raises(ValueError, match="A_eq has shape"):
        LPForm(n_vars=3, y_index=[0], A_eq=np.ones((2, 3)), b_eq=np.ones(3))
    with pytest.raises(ValueError, match="A_ub has shape"):
        LPForm(n_vars=3, y_index=[0], A_ub=np.ones((1, 4)), b_ub=np.ones(1))
    with pytest.raises(ValueError, match="upper must have shape"):
        LPForm(n_vars=3, y_index=[0], upper=np.ones(2))
    with pytest.raises(ValueError, match="integrality must have shape"):
        LPForm(n_vars=3, y_index=[0], integrality=[True])


def test_lpform_defaults_objective_and_feasibility():
    form = LPForm(
        n_vars=3,
        y_index=[[0, 2], [2, 1]],
        A_eq=np.array([[1.0, 1.0, 0.0]]),
        b_eq=[1.0],
        A_ub=np.array([[0.0, 0.0, 1.0]]),
        b_ub=[2.0],
        integrality=[False, False, True],
    )
    assert form.instance_shape == (2, 2)
    assert isinstance(form.A_eq, sp.csr_matrix) and form.A_eq.dtype == np.float64
    np.testing.assert_array_equal(form.lower, 0.0)
    assert np.isposinf(form.upper).all()
    # θ entries that share a variable add up
    np.testing.assert_array_equal(
        form.objective_vector(np.array([[1.0, 2.0], [3.0, 4.0]])),
        [
            1.0,
            4.0,
            5.0,
        ],
    )
    with pytest.raises(SolverInputError, match="expects"):
        form.objective_vector(np.zeros(4))
    assert form.is_feasible([0.5, 0.5, 2.0])
    assert not form.is_feasible([0.5, 0.6, 2.0])  # equality
    assert not form.is_feasible([0.5, 0.5, 3.0])  # inequality
    assert not form.is_feasible([0.5, 0.5, 1.5])  # integrality
    assert not form.is_feasible([1.5, -0.5, 1.0])  # lower bound
    assert form.is_feasible([0.5, 0.5 + 1e-9, 2.0])  # within tolerance
    empty = LPForm(n_vars=2, y_index=[0, 1])
    assert empty.A_eq.shape == (0, 2) and empty.b_ub.shape == (0,)


# -- LPBackedSolver: delegation and per-instance side data ------------------------------


class ToyKnapsack(Solver):
    """0-1 knapsack with per-instance weights (side data), solved by enumeration."""

    problem = "toy_knapsack"
    backend = "brute"
    event_ndim = 1
    side_inputs = ("weights",)

    def validate(self, theta):
        arr = super().validate(theta)
        if (np.abs(arr) > 100).any():
            raise SolverInputError("toy_knapsack: |θ| must be <= 100")
        return arr

    def _solve_batch(self, theta, weights):
        n = theta.shape[1]
        subsets = np.array(list(itertools.product((0.0, 1.0), repeat=n)))
        out = []
        for t, w in zip(theta, weights):
            ok = subsets[subsets @ w <= 1.0]
            out.append(ok[np.argmax(ok @ t)])
        return np.array(out)

    def lp_form(self, shape=None, weights=None):
        n = shape[0]
        return LPForm(
            n_vars=n,
            y_index=np.arange(n),
            A_ub=sp.csr_matrix(np.asarray(weights, float)[None]),
            b_ub=[1.0],
            upper=np.ones(n),
            integrality=np.ones(n, bool),
        )


@LP
@given(
    theta=hnp.arrays(np.int64, (2, 3, 4), elements=st.integers(-3, 5)),
    weights=hnp.arrays(np.int64, (2, 3, 4), elements=st.integers(0, 4)),
)
def test_lp_backed_with_side_data(theta, weights):
    base = ToyKnapsack()
    lp = LPBackedSolver(base)
    assert (lp.problem, lp.backend, lp.event_ndim, lp.side_inputs) == (
        "toy_knapsack",
        "lp",
        1,
        ("weights",),
    )
    w = weights / 4.0
    y = lp.solve(theta, weights=w)
    assert_integral(y)
    assert ((y * w).sum(-1) <= 1.0).all()
    np.testing.assert_array_equal(
        base.objective(theta, y), base.objective(theta, base.solve(theta, weights=w))
    )


def test_lp_backed_delegates_validation_and_checks_forms():
    lp = LPBackedSolver(ToyKnapsack())
    with pytest.raises(SolverInputError, match=re.escape("toy_knapsack: |θ| must be <= 100")):
        lp.solve(np.full((1, 3), 200.0), weights=np.ones((1, 3)))
    with pytest.raises(TypeError, match="toy_knapsack: unexpected side input"):
        lp.solve(np.zeros((1, 3)), weights=np.ones((1, 3)), costs=np.ones((1, 3)))
    with pytest.raises(TypeError, match="wraps a Solver"):
        LPBackedSolver("argmax")

    class WrongShape(ToyKnapsack):
        def lp_form(self, shape=None, weights=None):
            return LPForm(n_vars=1, y_index=[0])

    with pytest.raises(SolverInputError, match="lp_form returned y of shape"):
        LPBackedSolver(WrongShape()).solve(np.zeros((1, 3)), weights=np.ones((1, 3)))


def test_lp_backed_caches_form_per_shape():
    lp = solvers.get("top_k", backend="lp", k=2)
    assert isinstance(lp, LPBackedSolver)
    lp.solve(np.zeros((2, 4)))
    lp.solve(np.ones((3, 4)))
    lp.solve(np.ones((1, 5)))
    assert sorted(lp._forms) == [(4,), (5,)]


# -- objective scaling: absolute solver tolerances must not see the magnitude of θ ------


SCALES = [1e-300, 1e-12, 1e-6, 1.0, 1e6, 1e12, 1e30, 1e200]


def _grid_dag():
    from solvers.shortest_path_graph import grid_dag

    return grid_dag(3, 3)


#: problem -> (solver parameters, instance shape, sign of θ: -1 where θ = -costs <= 0)
SCALE_CASES = {
    "argmax": (dict, (5,), 1),
    "top_k": (lambda: {"k": 2}, (6,), 1),
    "ranking": (dict, (5,), 1),
    "assignment": (dict, (3, 4), 1),
    "spanning_tree": (lambda: {"n_nodes": 4}, (6,), 1),
    "knapsack": (lambda: {"weights": WEIGHTS, "capacity": CAPACITY}, (5,), 1),
    "shortest_path": (dict, (3, 4), -1),
    "shortest_path_graph": (_grid_dag, (len(_grid_dag()["edges"]),), -1),
}


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("problem", sorted(SCALE_CASES))
def test_lp_backend_is_scale_invariant(problem, scale):
    """y*(σθ) = y*(θ) for σ > 0: the lp backend reaches the default backend's optimum."""
    params, shape, sign = SCALE_CASES[problem]
    reference = solvers.get(problem, **params())
    lp = solvers.get(problem, backend="lp", **params())
    theta = np.random.default_rng(7).normal(size=(3, *shape))
    if sign < 0:
        theta = -(np.abs(theta) + 0.1)
    theta = theta * scale
    y = lp.solve(theta)
    assert_integral(y)
    best = reference.objective(theta, reference.solve(theta))
    np.testing.assert_allclose(lp.objective(theta, y), best, rtol=1e-9, atol=0)


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
@pytest.mark.parametrize("problem", sorted(SCALE_CASES))
def test_lp_backend_at_the_range_of_the_dtype(problem, dtype):
    """int64 θ up to ±2^62 and float32 θ up to ±3e38 (its largest value is 3.4e38)."""
    params, shape, sign = SCALE_CASES[problem]
    reference = solvers.get(problem, **params())
    lp = solvers.get(problem, backend="lp", **params())
    rng = np.random.default_rng(11)
    if dtype == np.int64:
        theta = rng.integers(-(2**62), 2**62, size=(3, *shape), dtype=np.int64)
    else:
        theta = (rng.uniform(-1.0, 1.0, size=(3, *shape)) * 3e38).astype(np.float32)
    if sign < 0:
        theta = -np.abs(theta)
    y = lp.solve(theta)
    best = reference.objective(theta, reference.solve(theta))
    np.testing.assert_allclose(lp.objective(theta, y), best, rtol=1e-9, atol=0)


@pytest.mark.parametrize(
    ("problem", "params", "theta", "expected"),
    [
        ("argmax", {}, np.array([1.0, 3.0, 2.0]) * 1e-12, [0, 1, 0]),
        ("argmax", {}, np.array([1.0, 3.0, 2.0]) * 1e30, [0, 1, 0]),
        ("ranking", {}, np.array([1, 3, 2], dtype=np.int64) * 2**61, [1, 3, 2]),
        ("argmax", {}, np.array([1, 3, 2], dtype=np.float32) * np.float32(1e38), [0, 1, 0]),
        ("top_k", {"k": 1}, np.array([1e-9, 3e-9, 2e-9]), [0, 1, 0]),
        ("spanning_tree", {"n_nodes": 3}, np.array([1e-9, -1e-9, 2e-9]), [1, 0, 1]),
    ],
)
def test_lp_backend_tiny_and_huge_theta(problem, params, theta, expected):
    y = solvers.get(problem, backend="lp", **params).solve(theta)
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("scale", SCALES)
def test_user_lp_and_mip_are_scale_invariant(scale):
    """A user's MIP (knapsack, SCIP) and integral LP (Birkhoff, GLOP) against brute force."""
    rng = np.random.default_rng(3)
    theta = rng.uniform(0.2, 2.0, size=(3, 5)) * scale
    subsets = np.array(list(itertools.product((0.0, 1.0), repeat=5)))
    subsets = subsets[subsets @ WEIGHTS <= CAPACITY]
    y = knapsack_solver().solve(theta)
    np.testing.assert_allclose((theta * y).sum(-1), (theta @ subsets.T).max(-1), rtol=1e-12)
    theta = rng.normal(size=(3, 3, 3)) * scale
    perms = np.array([np.eye(3)[list(p)] for p in itertools.permutations(range(3))])
    y = LPSolver(assignment_form(3)).solve(theta)
    best = np.einsum("bij,pij->bp", theta, perms).max(-1)
    np.testing.assert_allclose((theta * y).sum((-2, -1)), best, rtol=1e-12)


def test_all_zero_theta_gives_a_feasible_point():
    y = solvers.get("argmax", backend="lp").solve(np.zeros((2, 4)))
    assert_integral(y)
    np.testing.assert_array_equal(y.sum(-1), [1.0, 1.0])
    y = knapsack_solver().solve(np.zeros(5))
    assert y @ WEIGHTS <= CAPACITY


# -- constraint data: dtypes, NaN and infinities ------------------------------------------


BASE_PIECES = dict(A_eq=[[1.0, 1.0]], b_eq=[1.0], A_ub=[[1.0, 0.0]], b_ub=[1.0], upper=[1, 1])


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("A_eq", [[1.0, np.nan]], "A_eq contains NaN"),
        ("A_eq", sp.csr_matrix(np.array([[1.0, np.nan]])), "A_eq contains NaN"),
        ("b_eq", [np.nan], "b_eq contains NaN"),
        ("A_ub", [[np.nan, 0.0]], "A_ub contains NaN"),
        ("b_ub", [np.nan], "b_ub contains NaN"),
        ("lower", [0.0, np.nan], "lower contains NaN"),
        ("upper", [np.nan, 1.0], "upper contains NaN"),
        ("A_eq", [[1.0, np.inf]], r"A_eq contains \+inf; it must be finite"),
        ("A_ub", [[-np.inf, 0.0]], "A_ub contains -inf; it must be finite"),
        ("b_eq", [np.inf], r"b_eq contains \+inf; it must be finite"),
        ("b_ub", [-np.inf], r"b_ub contains -inf; only \+inf"),
        ("lower", [np.inf, 0.0], r"lower contains \+inf; only -inf"),
        ("upper", [1.0, -np.inf], r"upper contains -inf; only \+inf"),
    ],
)
def test_nan_and_meaningless_infinities_are_rejected(name, value, message):
    with pytest.raises(ValueError, match=f"lp: LPForm: {message}"):
        solvers.get("lp", **{**BASE_PIECES, name: value})
    with pytest.raises(ValueError, match=f"^LPForm: {message}"):
        LPForm(n_vars=2, y_index=[0, 1], **{**BASE_PIECES, name: value})


@pytest.mark.parametrize(
    ("name", "value", "dtype"),
    [
        ("A_eq", [["a", "b"]], "<U1"),
        ("A_ub", [[1.0, None]], "object"),
        ("b_eq", [1j], "complex128"),
        ("upper", ["1", "1"], "<U1"),
    ],
)
def test_non_numeric_constraint_data_is_a_type_error(name, value, dtype):
    with pytest.raises(TypeError, match=f"lp: LPForm: {name} must hold real numbers.*{dtype}"):
        solvers.get("lp", **{**BASE_PIECES, name: value})


def test_meaningful_infinities_stay_allowed():
    """``lower = -inf`` / ``upper = +inf`` (free variables) and ``b_ub = +inf`` (idle row)."""
    solver = solvers.get(
        "lp",
        A_eq=[[1.0, -1.0, 0.0]],
        b_eq=[0.0],
        A_ub=[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
        b_ub=[2.0, np.inf],
        lower=[-np.inf, -np.inf, 0.0],
        upper=[np.inf, np.inf, 3.0],
    )
    np.testing.assert_array_equal(solver.solve(np.array([1.0, 1.0, 1.0])), [2.0, 2.0, 3.0])
    np.testing.assert_array_equal(solver.form.b_ub, [2.0, np.inf])


def test_ragged_constraint_rows_are_named():
    with pytest.raises(ValueError, match="lp: A_eq must be a 2-D matrix with rows of equal length"):
        solvers.get("lp", A_eq=[[1.0, 1.0], [1.0]], b_eq=[1.0, 1.0], upper=[1, 1])


# -- pieces: integrality flags, indices and shapes are not coerced --------------------------


@pytest.mark.parametrize(
    ("pieces", "error", "message"),
    [
        ({"integrality": ["no", "no", "no"]}, TypeError, "integrality must hold booleans or 0/1"),
        ({"integrality": [2, 0, 1]}, ValueError, "integrality must hold booleans or 0/1.*got 2"),
        ({"integrality": [0.5, 0, 1]}, ValueError, "integrality must hold booleans or 0/1"),
        ({"y_index": [1.9, 2.9]}, ValueError, "y_index must hold integer indices, got 1.9"),
        ({"y_index": [np.nan]}, ValueError, "y_index must hold integer indices"),
        ({"y_index": [True, False]}, TypeError, "y_index must hold integer indices"),
        ({"y_index": ["0"]}, TypeError, "y_index must hold integer indices"),
        ({"y_shape": -1}, ValueError, "y_shape must have sizes >= 0"),
        ({"y_shape": (1, -1)}, ValueError, "y_shape must have sizes >= 0"),
        ({"y_shape": 2.5}, TypeError, "y_shape must be an integer or a tuple of integers"),
        ({"y_shape": 2.0}, TypeError, "y_shape must be an integer or a tuple of integers"),
        ({"y_shape": "2"}, TypeError, "y_shape must be an integer or a tuple of integers"),
        ({"y_shape": True}, TypeError, "y_shape must be an integer or a tuple of integers"),
        ({"y_shape": (2.0,)}, TypeError, "y_shape must be an integer or a tuple of integers"),
    ],
)
def test_pieces_are_validated_not_coerced(pieces, error, message):
    """Strings used to be true flags, 1.9 an index 1, -1 and 2.5 shapes (0,) and (2,)."""
    with pytest.raises(error, match=f"^lp: .*{message}"):
        solvers.get("lp", upper=np.ones(3), **pieces)


def test_lpform_checks_its_counts_indices_and_flags():
    with pytest.raises(TypeError, match="LPForm: n_vars must be an integer"):
        LPForm(n_vars=2.5, y_index=[0])
    with pytest.raises(ValueError, match="LPForm: n_vars must be >= 0"):
        LPForm(n_vars=-1, y_index=[])
    with pytest.raises(ValueError, match="LPForm: y_index must hold integer indices"):
        LPForm(n_vars=3, y_index=[0.5])
    with pytest.raises(TypeError, match="LPForm: integrality must hold booleans or 0/1"):
        LPForm(n_vars=1, y_index=[0], integrality=["yes"])


def test_well_formed_pieces_of_other_types_still_work():
    """0/1 numbers as flags, whole floats as indices, NumPy integers and arrays as shapes,
    and an empty y (y_shape 0) as before."""
    solver = solvers.get("lp", upper=np.ones(3), integrality=[1, 0, 1.0], y_index=[2.0, 0.0])
    np.testing.assert_array_equal(solver.form.integrality, [True, False, True])
    np.testing.assert_array_equal(solver.form.y_index, [2, 0])
    for y_shape in (np.int64(2), (2,), [2], np.array([2]), np.array(2)):
        assert solvers.get("lp", upper=np.ones(3), y_shape=y_shape).instance_shape == (2,)
    empty = solvers.get("lp", upper=np.ones(3), y_shape=0)
    assert empty.solve(np.zeros((2, 0))).shape == (2, 0)


def test_torch_pieces():
    """Tensors used to fail obscurely (np.size of a tensor is its size method); without grad
    they are read as arrays, with grad the error names the piece and says to detach."""
    torch = pytest.importorskip("torch")
    pieces = dict(A_ub=[[1.0, 1.0, 1.0]], b_ub=[2.0])
    plain = solvers.get("lp", lower=np.zeros(3), upper=np.ones(3), integrality=[True] * 3, **pieces)
    tensors = solvers.get(
        "lp",
        lower=torch.zeros(3),
        upper=torch.ones(3),
        integrality=torch.ones(3, dtype=torch.bool),
        **pieces,
    )
    theta = np.array([3.0, 1.0, 2.0])
    np.testing.assert_array_equal(tensors.solve(theta), plain.solve(theta))
    np.testing.assert_array_equal(tensors.form.integrality, plain.form.integrality)
    for name in ("lower", "upper", "integrality", "b_ub"):
        value = {"b_ub": torch.tensor([2.0])}.get(name, torch.ones(3)).requires_grad_()
        kwargs = {"upper": np.ones(3), **pieces, name: value}
        with pytest.raises(TypeError, match=f"lp: {name} is a tensor that requires grad.*detach"):
            solvers.get("lp", **kwargs)
    with pytest.raises(TypeError, match="lp: LPForm: A_ub is a tensor that requires grad"):
        solvers.get("lp", A_ub=torch.ones(1, 3, requires_grad=True), b_ub=[2.0])


# -- exactness, and the dynamic-range limit of the floating-point path ---------------------


def _dynamic_range_warnings(record) -> list:
    return [w for w in record if "dynamic range" in str(w.message)]


def simplex_lp(n: int = 3) -> LPSolver:
    """The simplex {y >= 0, Σ y = 1} as a plain LP (not declared integral): no exact engine
    covers it, so it goes through the floating-point path."""
    return solvers.get("lp", A_eq=np.ones((1, n)), b_eq=[1.0], upper=np.ones(n))


def test_dynamic_range_warning_once_per_call():
    """On the floating-point path, above max|θ| / min nonzero |θ| = 1e4 the answer may be
    suboptimal: one RuntimeWarning per call, however many instances are affected, pointing
    at the caller."""
    theta = np.array([[1e5, 1.0, 0.0], [1e12, -1.0, 3.0], [1.0, 2.0, 3.0]])
    with pytest.warns(RuntimeWarning, match="lp \\(lp backend\\): θ spans") as record:
        simplex_lp().solve(theta)
    assert len(_dynamic_range_warnings(record)) == 1
    assert record[0].filename == __file__
    with pytest.warns(RuntimeWarning, match="dynamic range"):
        form = simplex_lp(2).form
        solve_lp_form(form, np.array([1e-300, 1.0]))


def test_no_dynamic_range_warning_within_the_limit_or_on_the_exact_path():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        simplex_lp().solve(np.array([[1e4, 1.0, 0.0], [1e-300, 5e-300, 0.0]]))  # zeros do not count
        simplex_lp().solve(np.zeros((2, 3)))
        simplex_lp().solve(np.zeros((0, 3)))
        solvers.get("ranking", backend="lp").solve(np.zeros((2, 0)))
        # exact engines: any range
        lp = solvers.get("top_k", backend="lp", k=1)
        np.testing.assert_array_equal(lp.solve(np.array([1e12, 1.0, 0.0])), [1.0, 0.0, 0.0])
        np.testing.assert_array_equal(knapsack_solver().solve([1e10, 1, 1, 1, 1]), [1, 1, 0, 1, 0])
        y = solve_lp_form(assignment_form(2), np.array([[1e-300, 0.0], [0.0, 1.0]]))
        np.testing.assert_array_equal(y, np.eye(2))


# -- the exact engines (issue 26, item 3) ----------------------------------------------------


def test_the_issue_instances_are_solved_exactly():
    """A path of cost 2.00000001 against 2.0 used to come back without a warning (GLOP's
    tolerances, after scaling max|θ| to 1, hid the 1e-8)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sp_lp = solvers.get("shortest_path", backend="lp")
        theta = -np.array([[1.0, 1e-8], [1.0, 1.0]])
        np.testing.assert_array_equal(sp_lp.solve(theta), [[1.0, 0.0], [0.0, 1.0]])
        theta = -np.array([[1.0, 1.0 + 2.0**-40], [1.0, 1.0]])  # a near-tie, range 1
        four = solvers.get("shortest_path", backend="lp", neighbourhood=4)
        np.testing.assert_array_equal(four.solve(theta), [[1.0, 0.0], [1.0, 1.0]])
        np.testing.assert_array_equal(four.solve(theta.T), [[1.0, 1.0], [0.0, 1.0]])
        ks = solvers.get("knapsack", backend="lp", weights=[1, 1, 1], capacity=2)
        np.testing.assert_array_equal(ks.solve([1e10, 1.0, 2.0]), [1.0, 0.0, 1.0])
        ranking = solvers.get("ranking", backend="lp")
        theta = np.array([1e300, 1e-300, 2e-300, -1e-300, 0.0])
        np.testing.assert_array_equal(ranking.solve(theta), [5.0, 3.0, 4.0, 1.0, 2.0])
        tree = solvers.get("spanning_tree", backend="lp", n_nodes=3)
        np.testing.assert_array_equal(tree.solve([1e300, 1e-300, 2e-300]), [1.0, 0.0, 1.0])
        assignment = solvers.get("assignment", backend="lp")
        np.testing.assert_array_equal(assignment.solve([[1.0, -1.0, -1e299]]), [[1, 0, 0]])


@pytest.mark.parametrize("decades", [8, 12, 40, 300])
@pytest.mark.parametrize("problem", sorted(SCALE_CASES))
def test_lp_backend_is_exact_on_a_wide_range(problem, decades):
    """log-uniform |θ| over many decades, and near-ties of integers plus 10^-d: the lp
    backend reaches the exact optimum (the fast backends' float sums agree to the last
    bits), certified, without a warning."""
    params, shape, sign = SCALE_CASES[problem]
    reference = solvers.get(problem, **params())
    lp = solvers.get(problem, backend="lp", **params())
    rng = np.random.default_rng(decades)
    spread = 10.0 ** rng.uniform(-decades / 2, decades / 2, size=(4, *shape))
    ties = rng.integers(1, 4, size=(4, *shape)) + 10.0 ** -min(decades, 15) * rng.uniform(
        1, 2, size=(4, *shape)
    )
    for theta in (spread, ties):
        theta = theta * (sign if sign < 0 else rng.choice([-1.0, 1.0], size=theta.shape))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = lp.solve(theta)
        assert_integral(y)
        best = reference.objective(theta, reference.solve(theta))
        got = lp.objective(theta, y)
        np.testing.assert_allclose(got, best, rtol=1e-13, atol=0)
