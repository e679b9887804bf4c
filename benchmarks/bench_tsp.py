"""Travelling salesman: the batched Held–Karp DP (numba) against CP-SAT (ortools) and the
flow MIP of the lp backend (SCIP), both called per instance.

Instances: cities uniform in the unit square, ``θ = -d`` with Euclidean distances ``d``
(metric, as in PyEPO's TSP), and non-metric scores ``θ ~ U[-1, 0]`` per edge. A batch of
``BATCH`` instances, as a perturbed layer solves them, timed with one Numba thread (the
per-core comparison with CP-SAT's single worker, and what a shared machine gives) and with
all of them. Every backend must reach the same objective on every instance it solved
(to 1e-9).

    python benchmarks/solver_speed.py --only tsp [--quick]
"""

from __future__ import annotations

import time

import numba
import numpy as np
from _timing import best_time, print_table

import solvers
from solvers.tsp import edge_vector

BATCH = 16


def make_instances(n: int, kind: str, batch: int, seed: int = 0) -> np.ndarray:
    """``θ`` (batch, n(n-1)/2): Euclidean (``θ = -d``) or uniform non-metric scores."""
    rng = np.random.default_rng(seed)
    if kind == "euclidean":
        cities = rng.uniform(0, 1, size=(batch, n, 2))
        d = np.linalg.norm(cities[:, :, None] - cities[:, None, :], axis=-1)
        return -edge_vector(d)
    return -rng.uniform(0, 1, size=(batch, n * (n - 1) // 2))


def per_instance(solver, theta: np.ndarray, budget_s: float) -> tuple[float, np.ndarray]:
    """Seconds per instance of ``solver`` called on one instance at a time, over the first
    instances until ``budget_s`` is spent (at least one), and their tours."""
    out, start = [], time.perf_counter()
    for t in theta:
        out.append(solver.solve(t))
        if time.perf_counter() - start > budget_s:
            break
    return (time.perf_counter() - start) / len(out), np.array(out)


def one_thread(fn):
    """``fn()`` with Numba limited to one thread."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return fn()
    finally:
        numba.set_num_threads(before)


def measure(n: int, kind: str, repeat: int, budget_s: float) -> list:
    """One row: µs per instance of each backend and the ratios against the DP."""
    theta = make_instances(n, kind, BATCH, seed=n)
    dp = solvers.get("tsp", n_nodes=n)
    y = dp.solve(theta)
    t_threads = best_time(lambda: dp.solve(theta), repeat) / BATCH
    t_batch = one_thread(lambda: best_time(lambda: dp.solve(theta), repeat)) / BATCH
    cp = solvers.get("tsp", backend="ortools", n_nodes=n)
    t_cp, y_cp = per_instance(cp, theta, budget_s)
    k = len(y_cp)
    np.testing.assert_allclose(dp.objective(theta[:k], y_cp), dp.objective(theta[:k], y[:k]))
    row = [n, kind, 1e6 * t_batch, 1e6 * t_threads, 1e6 * t_cp, f"{k}/{BATCH}", t_cp / t_batch]
    if n <= 10:
        lp = solvers.get("tsp", backend="lp", n_nodes=n)
        t_lp, y_lp = per_instance(lp, theta, budget_s)
        j = len(y_lp)
        np.testing.assert_allclose(dp.objective(theta[:j], y_lp), dp.objective(theta[:j], y[:j]))
        row += [1e6 * t_lp, t_lp / t_batch]
    else:
        row += ["-", "-"]
    return row


def run(quick: bool = False) -> None:
    repeat = 2 if quick else 3
    budget_s = 2.0 if quick else 10.0
    sizes = [8, 12, 16] if quick else [6, 8, 10, 12, 14, 16, 18, 20]
    kinds = ["euclidean"] if quick else ["euclidean", "uniform"]
    rows = [measure(n, kind, repeat, budget_s) for kind in kinds for n in sizes]
    threads = f"numba {numba.get_num_threads()} threads"
    header = ["n", "scores", "numba 1 thread", threads, "CP-SAT", "CP-SAT ran"]
    print_table(
        f"travelling salesman, µs per instance (batch {BATCH}; CP-SAT and lp one instance "
        "per call)",
        [*header, "CP-SAT / numba", "lp (SCIP)", "lp / numba"],
        rows,
    )


if __name__ == "__main__":
    run()
