"""Overhead of bringing one's own oracle: the same solver as a native ``Solver`` and as a
user's function, in one perturbed Fenchel-Young training step.

    python benchmarks/own_oracle.py          # B = 70, M = 3, the Warcraft 12×12 grid

Goal (issue #23): a user function costs under 10% more than the same oracle as a native
``Solver`` at B = 70, M = 3. The oracle is the zoo's 12×12 shortest path
(``solvers.get("shortest_path", negative_costs="clamp")``), wrapped three ways:

* **batched NumPy function**: ``solvers.from_function(native.solve, event_ndim=2)`` against
  the native solver itself;
* **per-instance NumPy function**: ``from_function(f, batched=False)`` with ``f`` solving one
  grid, against a ``Solver`` subclass whose ``_solve_batch`` loops over the same ``f``;
* **torch function** (``diffsolvers.from_torch_function``) calling the same batched oracle,
  against the native solver: the wrapper's own cost on the tensor path.

One step is ``FenchelYoungLoss(x, y).backward()`` with σ = 0.1 (the Warcraft setting). The
two sides of each pair are timed alternately, several rounds; the script prints the median
time per step of each and the median of the per-round ratios (user / native).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]

from _timing import print_table  # noqa: E402

import diffsolvers  # noqa: E402
import solvers  # noqa: E402

B, K, M, SIGMA = 70, 12, 3, 0.1
ROUNDS, STEPS = 15, 20


class LoopedSolver(solvers.Solver):
    """The native form of a per-instance oracle: a Solver subclass looping over it."""

    problem = "shortest_path"
    backend = "looped"
    event_ndim = 2

    def __init__(self, one):
        self.one = one

    def _solve_batch(self, theta, **side):
        return np.stack([self.one(t) for t in theta])


def step_time(loss, x, y) -> float:
    """Seconds per training step (forward and backward), over ``STEPS`` steps."""
    start = time.perf_counter()
    for _ in range(STEPS):
        x.grad = None
        loss(x, y).backward()
    return (time.perf_counter() - start) / STEPS


def compare(native, user, x, y) -> tuple[float, float, float]:
    """Median step time of each side and median per-round ratio user / native."""
    losses = [
        diffsolvers.FenchelYoungLoss(s, sigma=SIGMA, n_samples=M, seed=0, inputs="costs")
        for s in (native, user)
    ]
    for loss in losses:  # warm up (Numba, allocations)
        step_time(loss, x, y)
    times: list[list[float]] = [[], []]
    for _ in range(ROUNDS):
        for i, loss in enumerate(losses):
            loss.manual_seed(0)
            times[i].append(step_time(loss, x, y))
    ratios = [u / n for n, u in zip(*times)]
    return statistics.median(times[0]), statistics.median(times[1]), statistics.median(ratios)


def main() -> None:
    torch.set_num_threads(1)  # torch and Numba share the cores; Numba gets the parallel part
    rng = np.random.default_rng(0)
    costs = rng.choice([0.8, 1.2, 5.3, 7.7, 9.2], size=(B, K, K))
    native = solvers.get("shortest_path", negative_costs="clamp")
    x = torch.from_numpy(costs).float().requires_grad_(True)
    y = torch.from_numpy(native.solve(-costs)).float()

    def one(theta):
        return native.solve(theta)

    def on_tensors(theta):
        return torch.from_numpy(native.solve(theta.numpy()))

    pairs = {
        "batched NumPy function": (
            native,
            solvers.from_function(native.solve, event_ndim=2, problem="shortest_path"),
        ),
        "per-instance NumPy function": (
            LoopedSolver(one),
            solvers.from_function(one, event_ndim=2, batched=False, problem="shortest_path"),
        ),
        "torch function": (
            native,
            diffsolvers.from_torch_function(on_tensors, event_ndim=2, problem="shortest_path"),
        ),
    }
    print(f"FY training step, B = {B}, {K}×{K} grid, M = {M}, σ = {SIGMA}; {ROUNDS} rounds")
    rows = []
    for name, (nat, user) in pairs.items():
        t_native, t_user, ratio = compare(nat, user, x, y)
        rows.append([name, 1e3 * t_native, 1e3 * t_user, f"{ratio:.3f}"])
    print_table(
        "ms per step (median); ratio = median of the per-round ratios user / native",
        ["oracle given as", "native ms", "user ms", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
