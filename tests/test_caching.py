"""solvers.cached: solution caching (the inner approximation over a pool of solutions)."""

from __future__ import annotations

import numpy as np
import pytest

import solvers
from solvers import SolverInputError
from solvers.caching import CachedSolver

WEIGHTS = np.array([3, 4, 5, 2, 6, 1, 4, 2])
CAPACITY = 11


def knapsack(backend: str = "numba") -> solvers.Solver:
    return solvers.get("knapsack", backend=backend, weights=WEIGHTS, capacity=CAPACITY)


def grid_theta(rng: np.random.Generator, batch: int) -> np.ndarray:
    return -rng.integers(1, 6, size=(batch, 4, 5)).astype(np.float64)


@pytest.mark.parametrize(
    ("solver", "draw"),
    [
        (knapsack(), lambda rng, b: rng.integers(-2, 9, size=(b, 8)).astype(np.float64)),
        (solvers.get("shortest_path"), grid_theta),
        (solvers.get("ranking"), lambda rng, b: rng.normal(size=(b, 6))),
    ],
    ids=["knapsack", "shortest_path", "ranking"],
)
def test_solve_ratio_one_is_the_wrapped_solver(solver, draw):
    oracle = solvers.cached(solver, solve_ratio=1.0, seed=3)
    rng = np.random.default_rng(0)
    for _ in range(4):
        theta = draw(rng, 7)
        np.testing.assert_array_equal(oracle.solve(theta), solver.solve(theta))
    assert oracle.solved == 28 and oracle.from_pool == 0 and oracle.calls == 4


def test_cached_answers_are_pool_members_and_the_best_in_the_pool():
    """solve_ratio = 0: every answer comes from the pool; it is a member and maximises
    ⟨θ, y⟩ over the pool (checked against every member)."""
    exact = knapsack()
    rng = np.random.default_rng(1)
    pool = exact.solve(rng.integers(0, 9, size=(30, 8)).astype(np.float64))
    oracle = solvers.cached(exact, solve_ratio=0.0, pool=pool)
    distinct = np.unique(pool, axis=0)
    assert oracle.pool_size == distinct.shape[0]
    theta = rng.integers(-5, 6, size=(50, 8)).astype(np.float64)  # exact sums, ties
    y = oracle.solve(theta)
    for t, yb in zip(theta, y):
        assert any(np.array_equal(yb, p) for p in distinct)
        assert t @ yb == (distinct @ t).max()
    assert oracle.from_pool == 50 and oracle.solved == 0


def test_mixed_calls_solve_the_stated_share_and_never_beat_the_exact_solver():
    exact = solvers.get("shortest_path")
    oracle = solvers.cached(exact, solve_ratio=0.3, seed=0)
    rng = np.random.default_rng(2)
    first = grid_theta(rng, 10)
    np.testing.assert_array_equal(oracle.solve(first), exact.solve(first))  # empty pool
    for _ in range(5):
        theta = grid_theta(rng, 20)
        before = oracle.solved
        y = oracle.solve(theta)
        assert oracle.solved - before == 6  # ceil(0.3 · 20)
        best = exact.objective(theta, exact.solve(theta))
        got = exact.objective(theta, y)
        assert np.all(got <= best)  # the inner approximation
        assert np.sum(got == best) >= 6
        for yb in y:  # every answer is a path the exact solver returned at some point
            assert yb[0, 0] == 1 and yb[-1, -1] == 1
    assert oracle.pool_size <= oracle.solved


def test_the_same_seed_gives_the_same_answers():
    rng = np.random.default_rng(4)
    thetas = [rng.normal(size=(16, 8)) for _ in range(6)]

    def run(seed):
        oracle = solvers.cached(knapsack(), solve_ratio=0.25, seed=seed)
        return [oracle.solve(t) for t in thetas], oracle

    a, oracle_a = run(7)
    b, oracle_b = run(7)
    for ya, yb in zip(a, b):
        np.testing.assert_array_equal(ya, yb)
    assert oracle_a.pool_size == oracle_b.pool_size
    c, _ = run(8)
    assert any(not np.array_equal(ya, yc) for ya, yc in zip(a, c))


def test_per_call_side_data_is_refused_unless_declared_fixed():
    free = solvers.get("knapsack")
    theta = np.ones((3, 8))
    with pytest.raises(SolverInputError, match="knapsack \\(cached\\): per-call side data"):
        solvers.cached(free).solve(theta, weights=WEIGHTS, capacity=CAPACITY)
    declared = solvers.cached(free, fixed_feasible_set=True)
    y = declared.solve(theta, weights=WEIGHTS, capacity=CAPACITY)
    np.testing.assert_array_equal(y, knapsack().solve(theta))
    declared.solve(theta, weights=np.tile(WEIGHTS, (3, 1)), capacity=[CAPACITY] * 3)
    with pytest.raises(SolverInputError, match="'weights' differs between instances or calls"):
        declared.solve(theta, weights=WEIGHTS + 1, capacity=CAPACITY)
    with pytest.raises(SolverInputError, match="'capacity' differs"):
        declared.solve(theta, weights=WEIGHTS, capacity=[CAPACITY, 5, CAPACITY])


def test_the_pool_is_deduplicated_and_bounded():
    oracle = solvers.cached(solvers.get("argmax"), solve_ratio=1.0, max_pool=3)
    oracle.solve(np.eye(5)[[0, 0, 1, 1, 0]])
    assert oracle.pool_size == 2
    oracle.solve(np.eye(5))
    assert oracle.pool_size == 3
    pool = oracle.pools[(5,)]
    rows = {tuple(r) for r in pool.rows[: pool.count]}
    assert len(rows) == 3 and set(pool.index) == {np.array(r).tobytes() for r in rows}


def test_pool_from_known_solutions_and_shapes():
    exact = solvers.get("shortest_path")
    rng = np.random.default_rng(5)
    targets = exact.solve(grid_theta(rng, 12))
    oracle = solvers.cached(exact, solve_ratio=0.0, pool=targets)
    y = oracle.solve(grid_theta(rng, 4))
    assert y.shape == (4, 4, 5)
    one = oracle.solve(grid_theta(rng, 1)[0])  # one instance, unbatched
    assert one.shape == (4, 5)
    assert oracle.solve(np.zeros((0, 4, 5))).shape == (0, 4, 5)
    y32 = oracle.solve(grid_theta(rng, 2).astype(np.float32))
    assert y32.dtype == np.float32
    with pytest.raises(SolverInputError, match="the pool is empty"):
        solvers.cached(exact, solve_ratio=0.0).solve(grid_theta(rng, 2))


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="cached: expected a solvers.Solver"):
        solvers.cached(lambda t: t)
    for ratio in (-0.1, 1.5, float("nan"), "0.3", True):
        with pytest.raises(SolverInputError, match="solve_ratio must be a number in \\[0, 1\\]"):
            solvers.cached(knapsack(), solve_ratio=ratio)
    with pytest.raises(SolverInputError, match="max_pool must be >= 1"):
        solvers.cached(knapsack(), max_pool=0)
    with pytest.raises(
        SolverInputError, match="pool solutions have shape \\(3,\\).*weights have 8"
    ):
        solvers.cached(knapsack(), pool=np.ones((2, 3)))
    with pytest.raises(SolverInputError, match="finite solutions"):
        solvers.cached(knapsack(), pool=np.full((2, 8), np.nan))
    with pytest.raises(TypeError, match="seed must be an int or None"):
        solvers.cached(knapsack(), seed=1.5)
    oracle = solvers.cached(knapsack())
    with pytest.raises(SolverInputError, match="knapsack"):
        oracle.solve(np.full((2, 8), np.nan))  # the wrapped solver's own checks


def test_it_is_a_solver_with_the_wrapped_structure():
    exact = knapsack("ortools")
    oracle = CachedSolver(exact, 0.5)
    assert isinstance(oracle, solvers.Solver)
    assert (oracle.problem, oracle.event_ndim, oracle.side_inputs) == (
        "knapsack",
        1,
        ("weights", "capacity"),
    )
    assert oracle.lp_form(shape=(8,)).n_vars == 8
    assert "solve_ratio=0.5" in repr(oracle)


@pytest.mark.parametrize("no_blas", [0, 2**25])
def test_both_look_up_paths_find_the_best_pool_solution(monkeypatch, no_blas):
    """Small look-ups run in a Numba loop, large ones through BLAS: same answers."""
    monkeypatch.setattr("solvers.caching._NO_BLAS", no_blas)
    rng = np.random.default_rng(9)
    pool = rng.integers(0, 2, size=(300, 12)).astype(np.float64)
    oracle = solvers.cached(solvers.get("top_k", k=3), solve_ratio=0.0, pool=pool)
    theta = rng.integers(-9, 10, size=(40, 12)).astype(np.float64)
    y = oracle.solve(theta)
    distinct = np.unique(pool, axis=0)
    np.testing.assert_array_equal((theta * y).sum(1), (theta @ distinct.T).max(1))
