"""Pairwise Frank-Wolfe on the whole batch (:mod:`solvers.frank_wolfe`: one oracle call per
iteration, the active sets in Numba kernels) against a plain reference that runs one
instance at a time and computes every score ``⟨d, a_k⟩`` from ``d``; the Jacobian's basis
against an SVD; the checks of the public functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import solvers
from solvers.base import SolverInputError
from solvers.frank_wolfe import LOCAL_STEPS, RANK_RTOL, active_basis, pairwise_frank_wolfe


def reference(theta, solve, strength, n_iterations, tolerance):
    """Pairwise Frank-Wolfe on one instance ``theta`` (D,), as the module docstring states
    it, with ``solve(d)`` the oracle: (y, {atom: weight}, bound, exhausted)."""
    atoms, weights = [solve(theta)], [1.0]
    threshold = strength * tolerance**2 / 2

    def y_of():
        return sum(w * a for w, a in zip(weights, atoms))

    def scores():
        d = theta - strength * y_of()
        return np.array([d @ a for a in atoms])

    def extremes(score):
        active = [k for k, w in enumerate(weights) if w > 0]
        return max(active, key=lambda k: score[k]), min(active, key=lambda k: score[k])

    def pairwise(towards, away, score):
        p = atoms[towards] - atoms[away]
        norm2, room = p @ p, weights[away]
        gamma = max((score[towards] - score[away]) / (strength * norm2), 0.0) if norm2 else 0.0
        weights[away] = 0.0 if gamma >= room and gamma > 0 else room - min(gamma, room)
        weights[towards] += min(gamma, room)

    y = atoms[0]
    for step in range(n_iterations + 1):
        d = theta - strength * y
        s = solve(d)
        gap = max(d @ (s - y), 0.0)
        bound = math.sqrt(2 * gap / strength)
        noise = 1e-14 * (np.abs(d) @ (np.abs(s) + np.abs(y)))
        moving = gap > threshold and gap > noise
        if step == n_iterations or not moving:
            return y, _mix(atoms, weights), bound, moving
        slot = next((k for k, a in enumerate(atoms) if np.array_equal(a, s)), None)
        if slot is None:
            atoms.append(s)
            weights.append(0.0)
            slot = len(atoms) - 1
        score = scores()
        pairwise(slot, extremes(score)[1], score)
        for _ in range(LOCAL_STEPS):
            score = scores()
            best, worst = extremes(score)
            if not score[best] - score[worst] > threshold:
                break
            pairwise(best, worst, score)
        y = y_of()


def _mix(atoms, weights) -> dict[tuple, float]:
    return {tuple(a): w for a, w in zip(atoms, weights) if w > 0}


# The oracles: (problem, solver parameters, per-instance side data, entries).
CASES = {
    "argmax": ({}, {}, 6),
    "top_k": ({"k": 3}, {}, 7),
    "ranking": ({}, {}, 5),
    "knapsack": ({}, {"weights": (1, 5), "capacity": (3, 9)}, 6),
    "spanning_tree": ({"n_nodes": 5}, {}, 10),
}


def _instances(problem: str, seed: int, ties: bool):
    """θ (B, D), ``oracle(d, rows)`` for the batch and ``solve(i)(d)`` for instance ``i``."""
    params, side_ranges, dim = CASES[problem]
    rng = np.random.default_rng(seed)
    batch = 6
    theta = rng.normal(size=(batch, dim))
    if ties:
        theta = np.round(theta * 2) / 2
    solver = solvers.get(problem, **params)
    shapes = {"weights": (batch, dim), "capacity": (batch,)}
    side = {name: rng.integers(*bounds, size=shapes[name]) for name, bounds in side_ranges.items()}

    def oracle(d, rows):
        return solver.solve(d, **{k: v[rows] for k, v in side.items()}).astype(np.float64)

    def solve(i):
        return lambda d: oracle(d[None], np.array([i]))[0]

    return theta, oracle, solve


@pytest.mark.parametrize("problem", sorted(CASES))
@pytest.mark.parametrize("seed", range(4))
def test_the_first_iteration_is_the_references(problem, seed):
    """The first oracle step and its local steps give the reference's iterate up to
    rounding. Later ones need not: an exact line search leaves the two atoms it moved with
    equal scores, and which of the two a later step takes as the best or the worst is then
    decided by the rounding of the scores (here computed from the atoms' inner products,
    in the reference from ``d``); both runs still converge to the one projection (below)."""
    theta, oracle, solve = _instances(problem, seed, ties=False)
    strength = [0.3, 1.0][seed % 2]
    run = pairwise_frank_wolfe(theta, oracle, strength, 1, 1e-12)
    for i in range(len(theta)):
        y, mix, bound, exhausted = reference(theta[i], solve(i), strength, 1, 1e-12)
        np.testing.assert_allclose(run.y[i], y, rtol=0, atol=1e-12)
        assert math.isclose(run.bound[i], bound, rel_tol=1e-6, abs_tol=1e-6)
        if bound > 1e-6:  # above the rounding floor, where the noise guard decides
            assert run.exhausted[i] == exhausted
        got = _mix(run.atoms[i], run.weights[i])
        assert got.keys() == mix.keys()
        np.testing.assert_allclose([got[a] for a in mix], list(mix.values()), atol=1e-12)


@pytest.mark.parametrize("problem", sorted(CASES))
@pytest.mark.parametrize("seed", range(6))
def test_converged_solutions_agree_with_the_reference_with_ties(problem, seed):
    """To convergence, with tied scores in half the cases: both solutions are certified
    close to the one projection, so they are close to each other."""
    theta, oracle, solve = _instances(problem, seed, ties=seed % 2 == 0)
    strength, tolerance = [0.2, 1.0, 3.0][seed % 3], 1e-7
    run = pairwise_frank_wolfe(theta, oracle, strength, 300, tolerance)
    assert not run.exhausted.any()
    for i in range(len(theta)):
        y, _, bound, exhausted = reference(theta[i], solve(i), strength, 300, tolerance)
        assert not exhausted
        assert np.linalg.norm(run.y[i] - y) <= run.bound[i] + bound + 1e-12
        active = run.weights[i] > 0
        assert math.isclose(run.weights[i].sum(), 1.0, abs_tol=1e-12)
        np.testing.assert_allclose(
            run.weights[i, active] @ run.atoms[i, active], run.y[i], atol=1e-12
        )
        for atom in run.atoms[i, active]:  # a solution: the oracle's answer along itself
            assert np.array_equal(solve(i)(atom - atom.mean()), atom)


@pytest.mark.parametrize("problem", sorted(CASES))
def test_a_batch_gives_each_instance_its_own_run(problem):
    """Stopped instances leave the batch and running ones do not see each other: the batch
    and the instances one at a time give the same bits."""
    theta, oracle, _ = _instances(problem, 11, ties=True)
    run = pairwise_frank_wolfe(theta, oracle, 0.5, 40, 1e-6)
    for i in range(len(theta)):
        one = pairwise_frank_wolfe(
            theta[i : i + 1], lambda d, rows, i=i: oracle(d, rows * 0 + i), 0.5, 40, 1e-6
        )
        for got, alone in zip(run, one):
            assert np.array_equal(got[i], alone[0])


def _svd_projector(atoms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``P_V`` from an SVD of the differences of the active atoms to the first one."""
    active = atoms[weights > 0]
    diff = active[1:] - active[0]
    if not len(diff):
        return np.zeros((atoms.shape[1], atoms.shape[1]))
    _, sv, vh = np.linalg.svd(diff, full_matrices=False)
    keep = vh[sv > sv.max() * RANK_RTOL]
    return keep.T @ keep


@pytest.mark.parametrize("seed", range(12))
def test_active_basis_is_orthonormal_and_spans_the_svds_subspace(seed):
    """Random 0/1 and real atoms, some repeated or affinely dependent (the midpoint of two
    others), inactive slots in between, one instance with a single active atom."""
    rng = np.random.default_rng(seed)
    n, slots, dim = 4, 9, 7
    atoms = rng.integers(0, 2, size=(n, slots, dim)).astype(np.float64)
    if seed % 3 == 1:
        atoms = rng.normal(size=(n, slots, dim))
    atoms[:, 3] = atoms[:, 1]
    atoms[:, 4] = (atoms[:, 0] + atoms[:, 2]) / 2
    weights = rng.uniform(0.1, 1.0, size=(n, slots)) * (rng.uniform(size=(n, slots)) < 0.7)
    weights[0] = 0.0
    weights[0, 5] = 1.0
    basis = active_basis(atoms, weights)
    assert basis.shape == atoms.shape
    for i in range(n):
        rows = basis[i][np.abs(basis[i]).sum(-1) > 0]
        np.testing.assert_allclose(rows @ rows.T, np.eye(len(rows)), atol=1e-12)
        np.testing.assert_allclose(rows.T @ rows, _svd_projector(atoms[i], weights[i]), atol=1e-12)


def test_active_basis_drops_the_rounding_left_by_dependent_differences():
    """Permutations of (1..5) as atoms: from the fifth on, the differences depend on the
    earlier ones (they span 4 dimensions), and Gram-Schmidt leaves rounding noise of
    about 1e-16 behind, not zero. The basis must stay orthonormal and span the SVD's
    subspace whatever the atoms' order (the first case was found by review)."""
    rng = np.random.default_rng(0)
    first = np.array(
        [[4, 5, 2, 1, 3], [4, 3, 5, 2, 1], [3, 5, 4, 1, 2], [2, 5, 4, 1, 3],
         [4, 5, 3, 1, 2], [5, 1, 2, 4, 3], [1, 3, 5, 4, 2], [5, 3, 2, 1, 4]]
    )  # fmt: skip
    cases = [first] + [
        np.array([rng.permutation(5) + 1 for _ in range(rng.integers(5, 13))]) for _ in range(300)
    ]
    for perms in cases:
        atoms = perms[None].astype(np.float64)
        weights = np.full((1, len(perms)), 1.0 / len(perms))
        rows = active_basis(atoms, weights)[0]
        rows = rows[np.abs(rows).sum(-1) > 0]
        np.testing.assert_allclose(rows @ rows.T, np.eye(len(rows)), atol=1e-12)
        np.testing.assert_allclose(rows.T @ rows, _svd_projector(atoms[0], weights[0]), atol=1e-12)


def test_bad_input_is_named():
    argmax = lambda d, rows: np.eye(d.shape[1])[d.argmax(1)]  # noqa: E731
    theta = np.zeros((2, 3))
    for args, message in [
        ((np.zeros(3), argmax, 1.0, 5, 1e-6), "must be \\(instances, entries\\)"),
        ((np.full((1, 3), np.nan), argmax, 1.0, 5, 1e-6), "θ contains NaN"),
        ((theta, argmax, 0.0, 5, 1e-6), "strength must be positive"),
        ((theta, argmax, 1.0, 0, 1e-6), "n_iterations must be >= 1"),
        ((theta, argmax, 1.0, 2.5, 1e-6), "n_iterations must be >= 1"),
        ((theta, argmax, 1.0, 2.0, 1e-6), "n_iterations must be >= 1 \\(an int\\)"),
        ((theta, argmax, 1.0, 5, -1.0), "tolerance must be positive"),
        ((theta, lambda d, rows: d[:, :2], 1.0, 5, 1e-6), "returned shape \\(2, 2\\)"),
        ((theta, lambda d, rows: d * np.nan, 1.0, 5, 1e-6), "returned NaN or inf"),
    ]:
        with pytest.raises(SolverInputError, match=message):
            pairwise_frank_wolfe(*args)
    with pytest.raises(SolverInputError, match="atoms \\(N, K, D\\) and weights"):
        active_basis(np.zeros((2, 3, 4)), np.zeros((2, 4)))


def test_an_empty_batch_gives_empty_results():
    run = pairwise_frank_wolfe(np.zeros((0, 3)), None, 1.0, 4, 1e-6)
    assert run.y.shape == (0, 3) and run.atoms.shape == (0, 5, 3) and run.bound.shape == (0,)
