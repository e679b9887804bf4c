"""Solution caching: solver time saved against regret, on knapsack with OR-Tools and lp.

A linear model learns knapsack values from features (``diffsolvers.datasets.make_synthetic
("knapsack")``: 32 items, integer weights fixed by the seed, capacity 30% of the total)
with SPO+ (or the perturbed Fenchel-Young loss, ``--method fenchel_young``) built by
``diffsolvers.loss("knapsack", method=..., solver=oracle)``, where the oracle is
``solvers.cached(exact, solve_ratio=r, seed=0, pool=training targets)`` around the exact
back end (``ortools`` branch and bound, or the exact ``lp`` reference). For each back end
and ``r`` in 1.0 / 0.3 / 0.1 (1.0 is the exact solver: nothing answered from the pool), the
same model initialisation and batches are used, and the script prints

* solver time per epoch (everything inside the oracle's ``solve``: exact solves and pool
  look-ups) and its ratio against ``r = 1`` measured in the same run;
* the final normalised regret on held-out data (predictions solved exactly), and its
  difference from ``r = 1``.

Caching pays when an exact solve costs more than looking through the pool (a few
nanoseconds per pool entry and item): the ``lp`` back end (tens of milliseconds per
instance) gains about ``1/r``; OR-Tools' branch and bound on 32 items (about 0.1 ms per
instance) much less, its per-call overheads and the look-ups taking a larger share.

    python benchmarks/caching.py                       # both back ends, SPO+
    python benchmarks/caching.py --backends ortools --epochs 5 --method fenchel_young
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent)]  # this checkout, not an installed copy

import diffsolvers  # noqa: E402
import solvers  # noqa: E402
from diffsolvers.datasets import make_synthetic  # noqa: E402
from diffsolvers.metrics import normalized_regret  # noqa: E402


class TimedSolver(solvers.Solver):
    """Delegates to ``inner`` and adds up the seconds spent in its ``solve``."""

    def __init__(self, inner: solvers.Solver) -> None:
        self.inner = inner
        self.problem = inner.problem
        self.backend = inner.backend
        self.event_ndim = inner.event_ndim
        self.instance_shape = inner.instance_shape
        self.side_inputs = inner.side_inputs
        self.seconds = 0.0

    def solve(self, theta, **side):
        start = time.perf_counter()
        try:
            return self.inner.solve(theta, **side)
        finally:
            self.seconds += time.perf_counter() - start

    __call__ = solve

    def _solve_batch(self, theta, **side):  # solve() is overridden; never called
        raise NotImplementedError


def train(args, data, exact: solvers.Solver, ratio: float, y_train: np.ndarray) -> dict:
    """Train one linear model with the cached oracle; returns timings and test regret."""
    n_train = args.n_train
    x = torch.from_numpy(data.x)
    costs = torch.from_numpy(-data.theta.astype(np.float32))  # SPO+ takes costs c = -θ
    oracle = TimedSolver(solvers.cached(exact, solve_ratio=ratio, seed=0, pool=y_train))
    options = {"solver": oracle}
    if args.method == "fenchel_young":
        options.update(sigma=args.sigma, n_samples=args.samples, seed=0)
    loss_fn = diffsolvers.loss("knapsack", method=args.method, **options)
    torch.manual_seed(args.seed)
    model = torch.nn.Linear(x.shape[1], data.theta.shape[1])
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    order = np.random.default_rng(args.seed)
    targets = torch.from_numpy(y_train.astype(np.float32))
    epoch_seconds = []
    for _ in range(args.epochs):
        before = oracle.seconds
        for batch in np.array_split(order.permutation(n_train), n_train // args.batch):
            theta_hat = model(x[batch])
            if args.method == "spo_plus":
                loss = loss_fn(theta_hat, costs[batch], y_true=targets[batch])
            else:
                loss = loss_fn(theta_hat, targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        epoch_seconds.append(oracle.seconds - before)
    with torch.no_grad():
        theta_test = model(x[n_train:]).numpy().astype(np.float64)
    y_pred = exact.solve(theta_test)
    test_costs = costs[n_train:].numpy().astype(np.float64)
    y_true = exact.solve(-test_costs)
    regret = float(normalized_regret(y_pred, y_true, test_costs))
    cache = oracle.inner
    return {
        "seconds": float(np.mean(epoch_seconds)),
        "regret": regret,
        "solved": cache.solved,
        "pooled": cache.from_pool,
        "pool": cache.pool_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["ortools", "lp"])
    parser.add_argument("--ratios", nargs="+", type=float, default=[1.0, 0.3, 0.1])
    parser.add_argument("--method", choices=["spo_plus", "fenchel_young"], default="spo_plus")
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--deg", type=int, default=4)
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--sigma", type=float, default=1.0)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = make_synthetic(
        "knapsack", n=args.n_train + args.n_test, deg=args.deg, seed=args.seed, n_items=args.items
    )
    print(
        f"knapsack: {data.theta.shape[1]} items, {args.n_train} train / {args.n_test} test, "
        f"deg {args.deg}, {args.method}, {args.epochs} epochs of batch {args.batch}"
    )
    for backend in args.backends:
        exact = solvers.get("knapsack", backend=backend, **data.solver_params)
        y_train = exact.solve(data.theta[: args.n_train].astype(np.float64))
        # load the pool look-up kernel (Numba) before any timing
        solvers.cached(exact, solve_ratio=0.0, pool=y_train).solve(data.theta[:2])
        rows = [(r, train(args, data, exact, r, y_train)) for r in args.ratios]
        base = dict(rows)[1.0] if 1.0 in dict(rows) else rows[0][1]
        per_instance = base["seconds"] / (base["solved"] / args.epochs) * 1e3
        print(f"\n## back end {backend!r} (ratios against solve_ratio = 1.0, same run)")
        print(f"exact oracle: {per_instance:.3f} ms per instance at solve_ratio = 1.0\n")
        print(
            f"{'solve_ratio':>11} {'solver s/epoch':>14} {'time ratio':>10} {'speed-up':>8} "
            f"{'test regret':>11} {'Δ regret':>9} {'solved':>7} {'pooled':>7} {'pool':>5}"
        )
        for ratio, res in rows:
            print(
                f"{ratio:>11.2f} {res['seconds']:>14.3f} {res['seconds'] / base['seconds']:>10.2f} "
                f"{base['seconds'] / res['seconds']:>8.2f} {res['regret']:>11.4f} "
                f"{res['regret'] - base['regret']:>+9.4f} {res['solved']:>7} {res['pooled']:>7} "
                f"{res['pool']:>5}"
            )


if __name__ == "__main__":
    main()
