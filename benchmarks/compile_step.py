"""One Fenchel-Young training step on Warcraft, eager against ``torch.compile`` (inductor).

    python benchmarks/compile_step.py                 # B = 70, 12×12, σ = 0.1, M = 3
    python benchmarks/compile_step.py --rounds 9

Goal (issue #23): the compiled step is no slower than eager. The step is the lab's: the
Warcraft CNN (:class:`diffsolvers.experiments.models.WarcraftCNN`, ResNet18 stem) predicts
costs from ``(70, 3, 96, 96)`` images, ``FenchelYoungLoss(PerturbedOptimizer(shortest
path, σ = 0.1, M = 3, inputs="costs"))`` compares the perturbed paths with the true ones,
backward, Adam step. The compiled variant wraps the forward (CNN and loss) in
``torch.compile(..., fullgraph=True)`` (the default inductor backend); the solver call and
the noise stay custom operators inside the graph, and the backward is AOTAutograd's.

Both variants start from the same weights and seed, are warmed up (compilation happens
there), then timed alternately for several rounds of a few steps; the script prints the
median step time of each and the median of the per-round ratios compiled / eager, in wall
time and in CPU time of the process (steadier when other work shares the cores), and the
losses of both on their first step. Images are random (timing does
not depend on them); the true paths are the shortest paths of random Warcraft costs.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import CLOCKS, print_paired  # noqa: E402

import diffsolvers  # noqa: E402
import solvers  # noqa: E402
from diffsolvers.experiments.models import WarcraftCNN  # noqa: E402

B, K, SIGMA, M = 70, 12, 0.1, 3


def make_step(model, loss_fn, compiled: bool):
    """One training step ``(images, paths) -> loss`` of ``model`` with Adam."""
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)

    def forward(images, paths):
        return loss_fn(model(images), paths)

    if compiled:
        forward = torch.compile(forward, fullgraph=True)

    def step(images, paths):
        opt.zero_grad(set_to_none=True)
        loss = forward(images, paths)
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--steps", type=int, default=3, help="steps per round (default 3)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up steps (default 3)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    costs = rng.choice([0.8, 1.2, 5.3, 7.7, 9.2], size=(B, K, K))
    solver = solvers.get("shortest_path", negative_costs="clamp")
    paths = torch.from_numpy(solver.solve(-costs)).float()
    images = torch.from_numpy(rng.normal(size=(B, 3, 8 * K, 8 * K))).float()

    torch.manual_seed(0)
    base = WarcraftCNN(K)
    variants = {}
    for name in ("eager", "compiled"):
        layer = diffsolvers.PerturbedOptimizer(
            solver, sigma=SIGMA, n_samples=M, seed=0, inputs="costs"
        )
        loss_fn = diffsolvers.FenchelYoungLoss(layer)
        variants[name] = make_step(copy.deepcopy(base), loss_fn, name == "compiled")

    print(
        f"FY training step on Warcraft: B = {B}, {K}×{K}, σ = {SIGMA}, M = {M}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads"
    )
    first = {}
    for name, step in variants.items():
        start = time.perf_counter()
        first[name] = step(images, paths).item()
        for _ in range(args.warmup - 1):
            step(images, paths)
        print(f"  {name}: warm-up ({args.warmup} steps) {time.perf_counter() - start:.1f} s")
    print(f"  first-step loss: eager {first['eager']:.6f}, compiled {first['compiled']:.6f}")

    times = {(c, name): [] for c in CLOCKS for name in variants}
    for _ in range(args.rounds):
        for name, step in variants.items():
            start = {c: clock() for c, clock in CLOCKS.items()}
            for _ in range(args.steps):
                step(images, paths)
            for c, clock in CLOCKS.items():
                times[c, name].append((clock() - start[c]) / args.steps)
    print(f"\n  ms per step, median of {args.rounds} rounds of {args.steps} steps")
    print_paired(times, "compiled", "eager", digits=3)


if __name__ == "__main__":
    main()
