"""Capacitated vehicle routing: the batched subset DP (numba) against CP-SAT (ortools) and the
load-flow MIP of the lp backend (SCIP), both called per instance.

Instances: the depot and ``m`` customers uniform in the unit square, ``θ = -d`` with
Euclidean distances ``d`` (as PyEPO's TSP costs), integer demands ``U{1..9}`` and a
capacity of 20 (routes of about four customers), without a route limit. A batch of
``BATCH`` instances, as a perturbed layer solves them, timed with one Numba thread (the
per-core comparison with CP-SAT's single worker) and with all of them. Every backend must
reach the same objective on every instance it solved (to 1e-9).

    python benchmarks/solver_speed.py --only vehicle_routing [--quick]
"""

from __future__ import annotations

import time

import numpy as np
from _timing import best_time, print_table
from bench_tsp import one_thread

import solvers
from solvers.tsp import edge_vector

BATCH = 16
CAPACITY = 20.0


def make_instances(m: int, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``θ`` (batch, E) of Euclidean costs on ``m + 1`` nodes, and demands (batch, m)."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 1, size=(batch, m + 1, 2))
    d = np.linalg.norm(points[:, :, None] - points[:, None, :], axis=-1)
    demands = rng.integers(1, 10, size=(batch, m)).astype(np.float64)
    return -edge_vector(d), demands


def per_instance(
    backend: str, m: int, theta: np.ndarray, demands: np.ndarray, budget_s: float
) -> tuple[float, np.ndarray]:
    """Seconds per instance of ``backend`` called on one instance at a time, over the first
    instances until ``budget_s`` is spent (at least one), and their routes."""
    solver = solvers.get("vehicle_routing", backend=backend, n_nodes=m + 1, capacity=CAPACITY)
    out, start = [], time.perf_counter()
    for t, q in zip(theta, demands):
        out.append(solver.solve(t, demands=q))
        if time.perf_counter() - start > budget_s:
            break
    return (time.perf_counter() - start) / len(out), np.array(out)


def measure(m: int, repeat: int, budget_s: float) -> list:
    """One row: µs per instance of each backend and the ratios against the DP."""
    theta, demands = make_instances(m, BATCH, seed=m)
    side = dict(demands=demands, capacity=CAPACITY)
    dp = solvers.get("vehicle_routing", n_nodes=m + 1, max_customers=max(m, 2))
    y = dp.solve(theta, **side)
    t_threads = best_time(lambda: dp.solve(theta, **side), repeat) / BATCH
    t_batch = one_thread(lambda: best_time(lambda: dp.solve(theta, **side), repeat)) / BATCH
    row = [m, 1e6 * t_batch, 1e6 * t_threads]
    for backend, limit in (("ortools", 99), ("lp", 7)):
        if m > limit:
            row += ["-", "-", "-"]
            continue
        t, y_other = per_instance(backend, m, theta, demands, budget_s)
        k = len(y_other)
        np.testing.assert_allclose(
            dp.objective(theta[:k], y_other), dp.objective(theta[:k], y[:k]), rtol=1e-9
        )
        row += [1e6 * t, f"{k}/{BATCH}", t / t_batch]
    return row


def run(quick: bool = False) -> None:
    repeat = 2 if quick else 3
    budget_s = 2.0 if quick else 10.0
    sizes = [6, 9, 12] if quick else [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    rows = [measure(m, repeat, budget_s) for m in sizes]
    print_table(
        f"vehicle routing, µs per instance (batch {BATCH}; CP-SAT and lp one instance per "
        "call; demands 1..9, capacity 20)",
        [
            "customers",
            "numba 1 thread",
            "numba all threads",
            "CP-SAT",
            "CP-SAT ran",
            "CP-SAT / numba",
            "lp (SCIP)",
            "lp ran",
            "lp / numba",
        ],
        rows,
    )


if __name__ == "__main__":
    run()
