"""Linear assignment: the batched Numba kernel against SciPy and OR-Tools called per instance.

Square instances with Gaussian scores, batch sizes as in training (256, 64, 8 for n = 10,
50, 200). SciPy gets the float scores; OR-Tools gets int64 costs scaled beforehand (the
scaling is not timed, building the arcs is). All solvers must reach the same objective.

    python benchmarks/solver_speed.py --only assignment [--quick]
"""

from __future__ import annotations

import sys

import numpy as np
from _timing import best_time, numba_note, print_table
from ortools.graph.python.linear_sum_assignment import SimpleLinearSumAssignment
from scipy.optimize import linear_sum_assignment

import solvers
from solvers import runtime

SIZES = [(10, 256), (50, 64), (200, 8)]


def scipy_per_instance(theta: np.ndarray):
    def run() -> list:
        return [linear_sum_assignment(t, maximize=True) for t in theta]

    return run


def ortools_per_instance(theta: np.ndarray):
    from solvers.assignment import ortools_scale

    n = theta.shape[1]
    tails, heads = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    costs = [(-np.rint(t * ortools_scale(t, n))).astype(np.int64).ravel() for t in theta]

    def run() -> list:
        out = []
        for c in costs:
            lsa = SimpleLinearSumAssignment()
            lsa.add_arcs_with_cost(tails, heads, c)
            lsa.solve()
            out.append([lsa.right_mate(i) for i in range(n)])
        return out

    return run


def run(quick: bool = False) -> None:
    numba = solvers.get("assignment")
    repeat = 2 if quick else 5
    rows = []
    for n, batch in SIZES[:2] if quick else SIZES:
        theta = np.random.default_rng(n).normal(size=(batch, n, n))
        y = numba.solve(theta)
        opt = np.array([t[linear_sum_assignment(t, maximize=True)].sum() for t in theta])
        np.testing.assert_allclose(numba.objective(theta, y), opt, rtol=1e-12)
        t_nb = best_time(lambda theta=theta: numba.solve(theta), repeat) / batch * 1e6
        t_nb1 = _one_thread(lambda theta=theta: numba.solve(theta), repeat) / batch * 1e6
        t_one = best_time(lambda theta=theta: numba.solve(theta[0]), repeat) * 1e6
        t_sp = best_time(scipy_per_instance(theta), repeat) / batch * 1e6
        t_or = best_time(ortools_per_instance(theta), repeat) / batch * 1e6
        rows.append([n, batch, t_nb, t_nb1, t_one, t_sp, t_or, t_sp / t_nb, t_or / t_nb])
    print_table(
        "assignment: µs per instance (n × n, Gaussian scores)",
        [
            "n",
            "batch",
            "numba batched",
            "batched 1 thread",
            "numba 1 inst",
            "scipy",
            "ortools",
            "scipy/numba",
            "ortools/numba",
        ],
        rows,
    )
    print("\n" + numba_note())


def _one_thread(fn, repeat: int) -> float:
    """``best_time`` with the solvers limited to one thread (the algorithm without the pool)."""
    runtime.set_threads(1)
    try:
        return best_time(fn, repeat)
    finally:
        runtime.set_threads(None)


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
