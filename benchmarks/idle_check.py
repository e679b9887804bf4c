"""The defaults on a quiet machine against the figures before the runtime and the thread
budget: the 12×12 grid Dijkstra at B = 70 and the Warcraft CNN's training step.

    python -m benchmarks.idle_check [--rounds 15]

In one process, in rotating order (so that drifting background work hits them alike):

* solver: the parallel kernel called directly (Numba's defaults, as before the runtime)
  against the solver as users call it (``solvers.get("shortest_path").solve``: the runtime's
  choice of threads, input checks included) and the serial kernel, µs per instance;
* CNN step (B = 70, forward, backward, Adam): torch's default threads against the thread
  budget the training commands apply (``apply_thread_budget()``), ms per step.

Prints medians, their ratios and the load average. Run it with nothing else running:
"within 10% of the figures before" is a claim about a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]  # this checkout

import solvers  # noqa: E402
from diffsolvers.experiments.models import WarcraftCNN  # noqa: E402
from diffsolvers.threads import apply_thread_budget  # noqa: E402
from solvers import _shortest_path_kernels as sk  # noqa: E402
from solvers import runtime  # noqa: E402
from solvers.shortest_path import CHUNKS_PER_THREAD  # noqa: E402

B = 70


def _load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    print(f"load average before: {_load()}")
    rng = np.random.default_rng(0)
    theta = -rng.choice([0.8, 1.2, 5.3, 7.7, 9.2], size=(B, 12, 12))
    grid = solvers.get("shortest_path")
    chunks = CHUNKS_PER_THREAD * runtime.budget()  # what the solver passes
    ways = {
        "Numba defaults (parallel kernel)": lambda: sk.grid_dijkstra_batch.parallel(
            theta, sk.MOVES_8, chunks
        ),
        "solver with the runtime": lambda: grid.solve(theta),
        "one thread (serial kernel)": lambda: sk.grid_dijkstra_batch.serial(
            theta, sk.MOVES_8, chunks
        ),
    }
    for fn in ways.values():
        for _ in range(50):
            fn()
    solve_us: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for r in range(args.rounds):
        for name in names[r % 3 :] + names[: r % 3]:
            calls, start = 0, time.perf_counter()
            while time.perf_counter() - start < 0.2:
                ways[name]()
                calls += 1
            solve_us[name].append((time.perf_counter() - start) / (calls * B) * 1e6)

    torch.manual_seed(0)
    model = WarcraftCNN(12, channels_last=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    images = torch.randn(B, 3, 96, 96)

    def step() -> None:
        loss = model(images).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    default_threads = torch.get_num_threads()
    budget = apply_thread_budget()
    settings = {f"torch default ({default_threads} threads)": default_threads}
    settings[f"thread budget ({budget} threads)"] = budget
    step_ms: dict[str, list[float]] = {name: [] for name in settings}
    for threads in settings.values():
        torch.set_num_threads(threads)
        step()
    for r in range(max(3, args.rounds // 3)):
        for name, threads in list(settings.items())[r % 2 :] + list(settings.items())[: r % 2]:
            torch.set_num_threads(threads)
            start = time.perf_counter()
            for _ in range(3):
                step()
            step_ms[name].append((time.perf_counter() - start) / 3 * 1e3)

    print(f"\n## Grid Dijkstra 12x12, B = {B}: µs per instance, median of {args.rounds} rounds")
    base = statistics.median(solve_us[names[0]])
    for name in names:
        med = statistics.median(solve_us[name])
        print(f"{name:36s} {med:8.2f}   ratio to Numba defaults {med / base:.3f}")
    print("\n## CNN step (B = 70, forward + backward + Adam): ms per step, median")
    first = statistics.median(next(iter(step_ms.values())))
    for name, values in step_ms.items():
        med = statistics.median(values)
        print(f"{name:36s} {med:8.1f}   ratio {med / first:.3f}")
    print(f"\nload average after: {_load()}")


if __name__ == "__main__":
    main()
