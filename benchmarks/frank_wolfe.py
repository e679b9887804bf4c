"""Time of the Frank-Wolfe regularised layer's forward + backward pass, against the
perturbed layer's on the same batch.

    python benchmarks/frank_wolfe.py                       # B = 70, 12×12, torch's threads
    python benchmarks/frank_wolfe.py --threads 1 --reps 7

Both layers are built as the Warcraft lab builds them (``diffsolvers.layer("shortest_path",
method=..., inputs="costs")`` with the registry's default options, on the 12×12 grid with 8
neighbours): ``frank_wolfe`` (:class:`diffsolvers.layers.frank_wolfe.RegularizedFrankWolfe`,
pairwise Frank-Wolfe over the shortest-path solver) and ``perturbed``
(:class:`diffsolvers.PerturbedOptimizer`, one batched solver call on the M·B perturbed
grids). The input is a batch of ``--batch`` Warcraft cost grids (costs drawn from the five
terrain values), the backward pass takes a fixed random incoming gradient.

Each of ``--reps`` rounds times both layers in turn (each call looped for at least 0.2 s),
so that drifting background load hits them alike; the script prints the median time of
each in wall and CPU time of the process (steadier when other work shares the cores) and
the median of the per-round ratios Frank-Wolfe / perturbed, with the Frank-Wolfe solution's
number of active atoms and its certified bound as context.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]  # checkout first

from _timing import CLOCKS, numba_note, print_paired  # noqa: E402

import diffsolvers  # noqa: E402

K = 12
TERRAIN = (0.8, 1.2, 5.3, 7.7, 9.2)


def step_of(layer: torch.nn.Module, costs: torch.Tensor, grad: torch.Tensor) -> Callable[[], None]:
    """One forward + backward pass of ``layer`` on ``costs`` with incoming gradient ``grad``."""
    x = costs.clone().requires_grad_(True)

    def step() -> None:
        x.grad = None
        layer(x).backward(grad)

    return step


def seconds_per_call(step: Callable[[], None], min_time: float = 0.2) -> dict[str, float]:
    """Wall and CPU seconds per call of ``step``, looped for at least ``min_time``."""
    start = {c: clock() for c, clock in CLOCKS.items()}
    n = 0
    while True:
        step()
        n += 1
        if time.perf_counter() - start["wall"] >= min_time:
            break
    return {c: (clock() - start[c]) / n for c, clock in CLOCKS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--batch", type=int, default=70, help="instances (default 70)")
    parser.add_argument("--reps", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the costs (default 0)")
    args = parser.parse_args()
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    if args.reps < 1:
        parser.error(f"--reps must be >= 1, got {args.reps}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(args.seed)
    costs = torch.from_numpy(rng.choice(TERRAIN, size=(args.batch, K, K))).float()
    grad = torch.from_numpy(rng.standard_normal((args.batch, K, K))).float()
    layers = {
        name: diffsolvers.layer("shortest_path", method=name, inputs="costs")
        for name in ("frank_wolfe", "perturbed")
    }
    steps = {name: step_of(layer, costs, grad) for name, layer in layers.items()}
    for step in steps.values():  # compile the kernels, warm up
        step()

    print(
        f"forward + backward, B = {args.batch}, {K}×{K} Warcraft costs; torch "
        f"{torch.__version__}, {torch.get_num_threads()} torch threads"
    )
    for name, layer in layers.items():
        print(f"  {name}: {layer}")
    result = layers["frank_wolfe"].run(costs)
    active = (result.weights > 0).sum(0).double()
    print(
        f"  Frank-Wolfe solution: {active.mean():.1f} active atoms per instance (max "
        f"{int(active.max())}), certified ‖y - ŷ‖₂ <= {float(result.bound.max()):.2g}"
    )

    times = {(c, name): [] for c in CLOCKS for name in steps}
    for _ in range(args.reps):
        for name, step in steps.items():
            for c, t in seconds_per_call(step).items():
                times[c, name].append(t)
    print(f"\n  ms per forward + backward, median of {args.reps} rounds")
    print_paired(times, "frank_wolfe", "perturbed", digits=1)
    print(f"\n  {numba_note()}")


if __name__ == "__main__":
    main()
