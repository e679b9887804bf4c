"""Processor time per training step of the losses on a solution pool, against PyEPO's.

On PyEPO's 5×5 shortest path (40 edges, ``pyepo.model.ort.shortestPathModel((5, 5))``,
features of degree 4 drawn by ``pyepo.data.shortestpath.genData``), with 100 training
instances, batch 32 and ``solve_ratio = 0.05`` (PyEPO's notebook settings), each pair

    nce / NCE, contrastive_map / CMAP, pointwise_ltr / ptLTR, pairwise_ltr / prLTR,
    listwise_ltr / lsLTR

trains ``nn.Linear(5, 40)`` with Adam on the same batches; a step is the prediction, the
loss, its backward pass and the optimiser step. Both pools start from the training
solutions (PyEPO's ``optDataset``; ``pool=`` here). The libraries take turns, one epoch
(4 steps) each, for ``--reps`` repetitions; the script prints the mean processor time
per step (``time.process_time``, one torch thread: all the steps, what training costs) of
each and their ratio, measured in the same run, and the median epoch's (which leaves out
most of PyEPO's solving steps: it solves a whole batch in 5% of its steps, nothing in the
others). Processor time is far less disturbed than wall-clock time by other work on
a shared machine, but not immune to it: report the load with the figures.

    python benchmarks/pool_losses.py                 # all five pairs, 100 repetitions
    python benchmarks/pool_losses.py --losses nce --reps 60
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent)]  # this checkout, not an installed copy

import diffsolvers  # noqa: E402
from solvers.shortest_path_graph import grid_dag  # noqa: E402

PAIRS = {
    "nce": ("NCE", "solution"),
    "contrastive_map": ("CMAP", "solution"),
    "pointwise_ltr": ("ptLTR", "costs"),
    "pairwise_ltr": ("prLTR", "costs"),
    "listwise_ltr": ("lsLTR", "costs"),
}
GRID = (5, 5)
BATCH = 32


def make_data(n: int, seed: int):
    """PyEPO's shortest-path data and its ``optDataset`` (every instance solved once)."""
    import pyepo

    x, c = pyepo.data.shortestpath.genData(n, 5, GRID, deg=4, noise_width=0.5, seed=seed)
    optmodel = pyepo.model.ort.shortestPathModel(GRID)
    dataset = pyepo.data.dataset.optDataset(optmodel, x, c)
    return optmodel, dataset


class Side:
    """One library's training loop for one loss, advanced an epoch at a time."""

    def __init__(self, name: str, module, target: str, lr: float, seed: int) -> None:
        torch.manual_seed(seed)
        self.name, self.module, self.target = name, module, target
        self.model = torch.nn.Linear(5, 40)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.seconds: list[float] = []

    def epoch(self, batches) -> None:
        start = time.process_time()
        for x, c, w in batches:
            cp = self.model(x)
            loss = self.module(cp, w if self.target == "solution" else c)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.seconds.append((time.process_time() - start) / len(batches))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--losses", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    p.add_argument("--reps", type=int, default=100, help="epochs per library (interleaved)")
    p.add_argument("--n-train", type=int, default=100)
    p.add_argument("--solve-ratio", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.reps < 1 or args.n_train < BATCH:
        p.error(f"--reps must be >= 1 and --n-train >= {BATCH}")
    torch.set_num_threads(1)
    import pyepo

    optmodel, dataset = make_data(args.n_train, args.seed)
    x = torch.as_tensor(np.asarray(dataset.feats), dtype=torch.float32)
    c = torch.as_tensor(np.asarray(dataset.costs), dtype=torch.float32)
    w = torch.as_tensor(np.asarray(dataset.sols), dtype=torch.float32)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(args.seed))
    batches = [
        (x[i], c[i], w[i]) for i in order.split(BATCH) if len(i) == BATCH
    ]  # PyEPO's DataLoader also yields a last short batch; full ones keep shapes fixed
    rows = []
    for name in args.losses:
        theirs_name, target = PAIRS[name]
        ours = diffsolvers.loss(
            "shortest_path_graph",
            method=name,
            solve_ratio=args.solve_ratio,
            pool=w.double(),
            seed=args.seed,
            inputs="costs",
            **grid_dag(*GRID),
        )
        theirs = getattr(pyepo.func, theirs_name)(
            optmodel, processes=1, solve_ratio=args.solve_ratio, dataset=dataset
        )
        sides = [
            Side("diffsolvers", ours, target, 1e-2, args.seed),
            Side("pyepo", theirs, target, 1e-2, args.seed),
        ]
        for side in sides:  # warm-up: first solves, first dispatches
            side.epoch(batches)
            side.seconds.clear()
        for _ in range(args.reps):
            for side in sides:
                side.epoch(batches)
        mean = [statistics.fmean(s.seconds) * 1e3 for s in sides]
        median = [statistics.median(s.seconds) * 1e3 for s in sides]
        rows.append([name, theirs_name, *mean, mean[0] / mean[1], *median, len(ours.pool)])
    print(
        f"\n## Processor time per training step (ms over {args.reps} epochs of "
        f"{len(batches)} steps; batch {BATCH}, {args.n_train} instances, solve_ratio "
        f"{args.solve_ratio}, one thread): the mean (all the steps' time, what training "
        "costs) and the median epoch (which leaves out most of PyEPO's steps that solve)\n"
    )
    header = ["ours", "PyEPO", "ours mean", "PyEPO mean", "ratio", "ours median"]
    header += ["PyEPO median", "pool size"]
    table = [header] + [
        [a, b, *(f"{v:.3f}" for v in (m0, m1)), f"{r:.2f}", *(f"{v:.3f}" for v in (d0, d1)), str(k)]
        for a, b, m0, m1, r, d0, d1, k in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for k, row in enumerate(table):
        print("  ".join(cell.rjust(wd) if k else cell.ljust(wd) for cell, wd in zip(row, widths)))
        if k == 0:
            print("  ".join("-" * wd for wd in widths))


if __name__ == "__main__":
    main()
