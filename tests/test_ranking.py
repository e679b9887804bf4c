"""The ranking family (argmax, top_k, ranking) against brute force and the lp backend.

Brute force enumerates the vertex set (one-hots, k-subsets, permutations of 1..n) for
n <= 6; small integer scores make ties frequent and keep every objective exact.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
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

FAST = settings(max_examples=200, deadline=None)
LP = settings(max_examples=40, deadline=None)


@st.composite
def int_batches(draw, min_n=1, max_n=6, max_batch=4, lo=-3, hi=3):
    """``(θ, k)``: an integer-valued float64 batch ``(B, n)`` and a valid k."""
    n = draw(st.integers(min_n, max_n))
    b = draw(st.integers(1, max_batch))
    theta = draw(hnp.arrays(np.int64, (b, n), elements=st.integers(lo, hi))).astype(float)
    k = draw(st.integers(1, max(n, 1)))
    return theta, k


def make(problem: str, k: int, backend: str | None = None) -> solvers.Solver:
    params = {"k": k} if problem == "top_k" else {}
    return solvers.get(problem, backend=backend, **params)


def vertices(problem: str, n: int, k: int) -> np.ndarray:
    """Every feasible y, enumerated."""
    if problem == "argmax":
        return np.eye(n)
    if problem == "top_k":
        out = []
        for idx in itertools.combinations(range(n), k):
            y = np.zeros(n)
            y[list(idx)] = 1.0
            out.append(y)
        return np.array(out)
    return np.array(list(itertools.permutations(range(1, n + 1))), dtype=float)


def is_vertex(problem: str, y: np.ndarray, k: int) -> bool:
    n = y.shape[0]
    if problem == "argmax":
        return set(np.unique(y)) <= {0.0, 1.0} and y.sum() == 1
    if problem == "top_k":
        return set(np.unique(y)) <= {0.0, 1.0} and y.sum() == k
    return sorted(y.tolist()) == list(range(1, n + 1))


def tie_reference(problem: str, t: np.ndarray, k: int) -> np.ndarray:
    """The documented tie-breaking, by Python's (stable) sorted."""
    n = t.shape[0]
    y = np.zeros(n)
    if problem == "argmax":
        y[max(range(n), key=lambda i: (t[i], -i))] = 1.0
    elif problem == "top_k":
        y[sorted(range(n), key=lambda i: (-t[i], i))[:k]] = 1.0
    else:
        for rank, i in enumerate(sorted(range(n), key=lambda i: (t[i], i)), start=1):
            y[i] = rank
    return y


PROBLEMS = ["argmax", "top_k", "ranking"]


@pytest.mark.parametrize("problem", PROBLEMS)
@FAST
@given(data=int_batches())
def test_optimal_vs_brute_force(problem, data):
    theta, k = data
    solver = make(problem, k)
    y = solver.solve(theta)
    assert_integral(y)
    best = (theta @ vertices(problem, theta.shape[1], k).T).max(axis=1)
    np.testing.assert_array_equal(solver.objective(theta, y), best)
    for t, yi in zip(theta, y):
        assert is_vertex(problem, yi, k), yi
        np.testing.assert_array_equal(yi, tie_reference(problem, t, k))


@pytest.mark.parametrize("problem", PROBLEMS)
@FAST
@given(
    theta=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=st.floats(-1e6, 1e6, allow_subnormal=False),
    ),
    k=st.integers(1, 6),
)
def test_float_scores_vs_brute_force(problem, theta, k):
    k = min(k, theta.shape[1])
    solver = make(problem, k)
    y = solver.solve(theta)
    best = (theta @ vertices(problem, theta.shape[1], k).T).max(axis=1)
    np.testing.assert_allclose(solver.objective(theta, y), best, rtol=1e-12, atol=1e-6)
    for yi in y:
        assert is_vertex(problem, yi, k)


@pytest.mark.parametrize("problem", PROBLEMS)
@LP
@given(data=int_batches(max_n=5, max_batch=3))
def test_agrees_with_lp_backend(problem, data):
    theta, k = data
    ya, yb = assert_same_objective(make(problem, k), make(problem, k, "lp"), theta)
    assert_integral(yb)
    for yi in yb:
        assert is_vertex(problem, yi, k), yi


@pytest.mark.parametrize("problem", PROBLEMS)
@FAST
@given(data=int_batches(max_n=5))
def test_lp_form_contains_the_answer(problem, data):
    theta, k = data
    solver = make(problem, k)
    n = theta.shape[1]
    form = solver.lp_form(shape=(n,))
    assert form.instance_shape == (n,)
    for t, y in zip(theta, solver.solve(theta)):
        x = np.zeros(form.n_vars)
        x[form.y_index] = y
        if problem == "ranking":  # permutation matrix P_ij = 1 when item i has rank j+1
            x[np.arange(n) * n + y.astype(int) - 1] = 1.0
        assert form.is_feasible(x)
        np.testing.assert_array_equal(form.objective_vector(t) @ x, t @ y)


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("batch_shape", [(), (3,), (2, 3), (2, 1, 2)])
def test_batched_equals_single(problem, batch_shape):
    rng = np.random.default_rng(len(batch_shape))
    theta = rng.integers(-2, 3, size=(*batch_shape, 5)).astype(float)
    solver = make(problem, 2)
    y = solver.solve(theta)
    assert y.shape == theta.shape
    flat = theta.reshape(-1, 5)
    expected = np.stack([solver.solve(t) for t in flat]).reshape(theta.shape)
    np.testing.assert_array_equal(y, expected)
    if batch_shape:
        assert_batched_equals_single(solver, theta.reshape(-1, 5))


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("backend", ["numpy", "lp"])
def test_dtypes_and_empty_batches(problem, backend):
    solver = make(problem, 2, backend)
    theta = np.random.default_rng(0).normal(size=(3, 4))
    assert_dtype_rules(solver, theta)
    for shape in [(4,), (2, 4)]:
        assert_empty_batch(solver, shape)  # (0, 4) and (0, 2, 4)
    y32 = solver.solve(theta.astype(np.float32))
    np.testing.assert_array_equal(y32, solver.solve(theta.astype(np.float32).astype(float)))


@pytest.mark.parametrize("backend", ["numpy", "lp"])
def test_degenerate_sizes(backend):
    one = np.array([[2.5], [-1.0]])
    for problem in PROBLEMS:
        np.testing.assert_array_equal(make(problem, 1, backend).solve(one), np.ones((2, 1)))
    # k = n selects everything; the empty ranking is empty
    theta = np.array([[3.0, -1.0, 0.0]])
    np.testing.assert_array_equal(make("top_k", 3, backend).solve(theta), np.ones((1, 3)))
    assert make("ranking", 1, backend).solve(np.zeros((2, 0))).shape == (2, 0)
    with pytest.raises(SolverInputError, match="argmax"):
        make("argmax", 1, backend).solve(np.zeros((2, 0)))


def test_all_ties():
    theta = np.zeros((1, 4))
    np.testing.assert_array_equal(make("argmax", 1).solve(theta), [[1, 0, 0, 0]])
    np.testing.assert_array_equal(make("top_k", 2).solve(theta), [[1, 1, 0, 0]])
    np.testing.assert_array_equal(make("ranking", 1).solve(theta), [[1, 2, 3, 4]])


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("backend", ["numpy", "lp"])
def test_bad_inputs(problem, backend):
    check_bad_inputs(make(problem, 2, backend), np.arange(8.0).reshape(2, 4))


@pytest.mark.parametrize("backend", ["numpy", "lp"])
def test_top_k_bad_k(backend):
    with pytest.raises(SolverInputError, match=r"top_k: k=5 exceeds"):
        make("top_k", 5, backend).solve(np.zeros((2, 4)))
    for k in [0, -1, 2.5, True, "2", None]:
        with pytest.raises(ValueError, match="top_k: k must be a positive integer"):
            solvers.get("top_k", backend=backend, k=k)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_lp_form_bad_size(problem):
    solver = make(problem, 1)
    for shape in [None, -1, 2.0, (2, 3)] + ([0] if problem != "ranking" else []):
        with pytest.raises(ValueError, match=problem):
            solver.lp_form(shape=shape)


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("backend", ["numpy", "lp"])
def test_unknown_option_is_named(problem, backend):
    accepted = "k" if problem == "top_k" else "none"
    with pytest.raises(TypeError, match=rf"{problem}: unknown option\(s\) 'temperature'") as info:
        solvers.get(problem, backend=backend, temperature=1.0)
    assert f"accepted options: {accepted}" in str(info.value)


@pytest.mark.parametrize("backend", ["numpy", "lp"])
def test_float32_ranking_beyond_2_24_entries_raises(backend):
    """float32 holds integers only up to 2^24: ranks of n = 2^24 + 1 entries would repeat
    (not a permutation). A zero-stride θ of that size costs no memory, and validation
    rejects it before anything of size n is allocated; float64 θ is the way out."""
    solver = make("ranking", 1, backend)
    zeros = np.broadcast_to(np.float32(0.0), (2**24 + 1,))
    # validate, which solve calls first: were the check lost, solve would allocate
    # hundreds of MB (numpy) or an n² LP (lp) instead of failing
    with pytest.raises(SolverInputError, match="ranking: float32 θ with n=16777217.*float64"):
        solver.validate(zeros)
    assert solver.validate(zeros[1:]).dtype == np.float32  # n = 2^24: every rank exact
    wide = np.broadcast_to(np.float64(0.0), zeros.shape)  # no copy: zero stride too
    assert solver.validate(wide).dtype == np.float64
    # argmax and top_k return 0/1, which float32 holds at any n
    assert make("top_k", 1, backend).validate(zeros).dtype == np.float32


def test_probe_cases_masked_nan_and_grad_tensor():
    """The probe's inputs: a NaN behind a mask was ranked, a tensor requiring grad gave
    torch's RuntimeError."""
    theta = np.ma.masked_invalid(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(SolverInputError, match="ranking: θ is a masked array"):
        make("ranking", 1).solve(theta)
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"ranking: θ is a tensor that requires grad.*detach"):
        make("ranking", 1).solve(torch.ones(3, requires_grad=True))
