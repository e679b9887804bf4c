"""Multi-dimensional 0-1 knapsack: the batched Numba DP over the capacity lattice against
CP-SAT (ortools) and the MIP of the lp backend (SCIP), both called per instance.

Instances: PyEPO's benchmark shape (32 items, 2 resources of capacity 20, integer weights
3..7, values ``⌈5c⌉`` from :func:`make_synthetic`), and random ones with integer weights
``U[1, R]``, values ``U[1, 100]`` and each capacity half its resource's total weight, per
instance, as a layer passes them. The DP is timed on the batch with one Numba thread (the
per-core comparison with CP-SAT's single worker, and what a shared machine gives) and with
all of them. Every backend must reach the same objective on every instance it solved.

    python benchmarks/solvers.py --only multi_knapsack [--quick]
"""

from __future__ import annotations

import time

import numba
import numpy as np
from _timing import best_time, print_table

import solvers
from diffsolvers.datasets.synthetic import make_synthetic

BATCH = 64


def pyepo_instances(batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = make_synthetic("multi_knapsack", n=batch, deg=4, seed=0)
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


def measure(name: str, instances, repeat: int, budget_s: float) -> list:
    theta, w, c = instances
    dp = solvers.get("multi_knapsack")
    y = dp.solve(theta, weights=w, capacity=c)
    t_threads = best_time(lambda: dp.solve(theta, weights=w, capacity=c), repeat) / BATCH
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        t_batch = best_time(lambda: dp.solve(theta, weights=w, capacity=c), repeat) / BATCH
    finally:
        numba.set_num_threads(before)
    row = [name, theta.shape[1], w.shape[1], 1e6 * t_batch, 1e6 * t_threads]
    for backend in ("ortools", "lp"):
        solver = solvers.get("multi_knapsack", backend=backend)
        t, y_other = per_instance(solver, theta, w, c, budget_s)
        k = len(y_other)
        np.testing.assert_array_equal(
            dp.objective(theta[:k], y_other), dp.objective(theta[:k], y[:k])
        )
        row += [1e6 * t, t / t_batch]
    return row


def run(quick: bool = False) -> None:
    repeat = 2 if quick else 5
    budget_s = 2.0 if quick else 5.0
    cases = [("PyEPO 2-D", pyepo_instances(BATCH))]
    shapes = [(50, 2, 20)] if quick else [(50, 2, 20), (100, 2, 10), (30, 3, 5), (20, 4, 3)]
    cases += [(f"random R={r}", random_instances(n, m, r, BATCH)) for n, m, r in shapes]
    rows = [measure(name, inst, repeat, budget_s) for name, inst in cases]
    print_table(
        f"multi-dimensional knapsack, µs per instance (batch {BATCH}; CP-SAT and lp one "
        "instance per call)",
        ["instances", "n", "m", "numba 1 thread", f"numba {numba.get_num_threads()} threads"]
        + ["CP-SAT", "CP-SAT / numba", "lp (SCIP)", "lp / numba"],
        rows,
    )


if __name__ == "__main__":
    run()
