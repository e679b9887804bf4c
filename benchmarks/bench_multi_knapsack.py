"""Multi-dimensional 0-1 knapsack: the batched Numba DP over the capacity lattice and the Numba
branch and bound against CP-SAT (ortools) and the MIP of the lp backend (SCIP), both called
per instance.

Instances: PyEPO's benchmark shape (32 items, 2 resources of capacity 20, integer weights
3..7, values ``⌈5c⌉`` from :func:`make_synthetic`), and random ones with integer weights
``U[1, R]``, values ``U[1, 100]`` and each capacity half its resource's total weight, per
instance, as a layer passes them; and PyEPO's own two-decimal weights 3.00-7.99
(``weight_scale=100``: a lattice of 2001² points, beyond the DP's table). The DP and the
branch and bound are timed on the batch with one Numba thread (the per-core comparison with
CP-SAT's single worker). Every backend must reach the same objective on every instance it
solved.

    python benchmarks/solver_speed.py --only multi_knapsack [--quick]
"""

from __future__ import annotations

import time

import numpy as np
from _timing import best_time, print_table

import solvers
from diffsolvers.datasets.synthetic import make_synthetic
from solvers import runtime

BATCH = 64


def pyepo_instances(batch: int, decimals: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = make_synthetic("multi_knapsack", n=batch, deg=4, seed=0, weight_decimals=decimals)
    weights = np.broadcast_to(data.solver_params["weights"], (batch, 2, 32))
    capacity = np.broadcast_to(data.solver_params["capacity"], (batch, 2))
    return data.theta.astype(np.float64), weights, capacity


def random_instances(n: int, m: int, r: int, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    weights = rng.integers(1, r + 1, size=(batch, m, n)).astype(np.float64)
    values = rng.integers(1, 101, size=(batch, n)).astype(np.float64)
    return values, weights, np.floor(weights.sum(2) / 2)


def per_instance(solver, theta, weights, capacity, budget_s: float):
    """Seconds per instance of ``solver`` called one instance at a time, over the first
    instances until ``budget_s`` is spent (at least one), and their packings."""
    out, start = [], time.perf_counter()
    for t, w, c in zip(theta, weights, capacity):
        out.append(solver.solve(t, weights=w, capacity=c))
        if time.perf_counter() - start > budget_s:
            break
    return (time.perf_counter() - start) / len(out), np.array(out)


def _one_thread(fn):
    """Run ``fn`` with the solvers on one thread."""
    runtime.set_threads(1)
    try:
        return fn()
    finally:
        runtime.set_threads(None)


def measure(name: str, instances, repeat: int, budget_s: float, scale=None) -> list:
    theta, w, c = instances
    params = {} if scale is None else {"weight_scale": scale}
    bnb = solvers.get("multi_knapsack", backend="branch_and_bound", **params)
    y = bnb.solve(theta, weights=w, capacity=c)
    row = [name, theta.shape[1], w.shape[1]]
    dp = solvers.get("multi_knapsack", **params)
    try:
        y_dp = dp.solve(theta, weights=w, capacity=c)
    except solvers.SolverInputError:  # the lattice is beyond the DP's table
        row += ["–"]
        t_dp = None
    else:
        np.testing.assert_array_equal(dp.objective(theta, y_dp), dp.objective(theta, y))
        t_dp = _one_thread(
            lambda: best_time(lambda: dp.solve(theta, weights=w, capacity=c), repeat)
        )
        t_dp /= BATCH
        row += [1e6 * t_dp]
    t_bnb = _one_thread(lambda: best_time(lambda: bnb.solve(theta, weights=w, capacity=c), repeat))
    t_bnb /= BATCH
    row += [1e6 * t_bnb]
    for backend in ("ortools", "lp"):
        solver = solvers.get("multi_knapsack", backend=backend, **params)
        t, y_other = per_instance(solver, theta, w, c, budget_s)
        k = len(y_other)
        np.testing.assert_array_equal(
            bnb.objective(theta[:k], y_other), bnb.objective(theta[:k], y[:k])
        )
        row += [1e6 * t, t / t_bnb]
        if backend == "ortools":
            row += ["–" if t_dp is None else t / t_dp]
    return row


def run(quick: bool = False) -> None:
    repeat = 2 if quick else 5
    budget_s = 2.0 if quick else 5.0
    cases = [
        ("PyEPO 2-D, integer weights", pyepo_instances(BATCH), None),
        ("PyEPO 2-D, weights 3.00-7.99", pyepo_instances(BATCH, decimals=2), 100),
    ]
    shapes = [(50, 2, 20)] if quick else [(50, 2, 20), (100, 2, 10), (30, 3, 5), (20, 4, 3)]
    cases += [(f"random R={r}", random_instances(n, m, r, BATCH), None) for n, m, r in shapes]
    rows = [measure(name, inst, repeat, budget_s, scale) for name, inst, scale in cases]
    print_table(
        f"multi-dimensional knapsack, µs per instance on one thread (batch {BATCH}; CP-SAT and "
        "lp one instance per call)",
        ["instances", "n", "m", "DP (numba)", "branch and bound", "CP-SAT", "CP-SAT / B&B"]
        + ["CP-SAT / DP", "lp (SCIP)", "lp / B&B"],
        rows,
    )


if __name__ == "__main__":
    run()
