"""Time of one perturbed Fenchel-Young forward + backward pass, against PyEPO's.

    python benchmarks/perturbed.py            # B = 70, 12×12, M = 1, 3, 10

Ours: ``diffsolvers.loss(..., method="fenchel_young")`` on a Warcraft-sized batch (B = 70),
split into noise sampling, the one batched solver call on the (M·B, …) array, the rest of
the forward pass, and the backward pass. Two problems of the same size:

* ``shortest_path``: the Warcraft 12×12 grid, costs on the cells, 8 neighbours;
* ``shortest_path_graph`` on ``grid_dag(12, 12)``: PyEPO's own problem, a 12×12 grid of nodes
  with costs on its 264 right/down edges.

PyEPO (``pip install pyepo``, the ``bench`` extra): ``pyepo.func.perturbedFenchelYoung`` with
``shortestPathModel((12, 12), backend="ortools")`` and ``processes=1``, on the same inputs as
our ``grid_dag`` run (PyEPO has no vertex-cost grid). Without PyEPO the script says so and
times ours only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]  # checkout first: benchmarks/solver_speed.py

from _timing import best_time, print_table  # noqa: E402

import diffsolvers  # noqa: E402
from solvers.shortest_path_graph import grid_dag  # noqa: E402

B, K, SIGMA = 70, 12, 1.0
SAMPLES = (1, 3, 10)


def _inputs(problem: str, rng: np.random.Generator) -> tuple[dict, torch.Tensor]:
    if problem == "shortest_path":
        params = {}
        costs = rng.choice([0.8, 1.2, 5.3, 7.7, 9.2], size=(B, K, K))
    else:
        params = grid_dag(K, K)
        costs = rng.uniform(0.1, 2.0, size=(B, len(params["edges"])))
    return params, torch.from_numpy(costs).float()


def time_ours(problem: str, m: int) -> dict[str, float]:
    params, costs = _inputs(problem, np.random.default_rng(0))
    loss = diffsolvers.loss(problem, sigma=SIGMA, n_samples=m, seed=0, inputs="costs", **params)
    solver = loss.solver
    y_true = torch.from_numpy(solver.solve(-costs.numpy()))
    noise = loss.layer.noise
    shape = (m, B, costs[0].numel())
    gen = torch.Generator().manual_seed(0)
    t_noise = best_time(lambda: noise.sample(shape, generator=gen, dtype=costs.dtype))
    perturbed = (-costs).numpy()[None] + SIGMA * noise.sample(
        (m, *costs.shape), generator=gen
    ).numpy()
    flat = perturbed.reshape(m * B, *costs.shape[1:])
    t_solve = best_time(lambda: solver.solve(flat))
    x = costs.clone().requires_grad_(True)
    t_forward = best_time(lambda: loss(x, y_true))

    def step() -> None:
        x.grad = None
        loss(x, y_true).backward()

    t_total = best_time(step)
    return {
        "noise": t_noise,
        "solve": t_solve,
        "other forward": max(t_forward - t_noise - t_solve, 0.0),
        "backward": max(t_total - t_forward, 0.0),
        "total": t_total,
    }


def time_pyepo(m: int, repeat: int) -> float | None:
    try:
        import pyepo  # noqa: F401
        from pyepo.func import perturbedFenchelYoung
        from pyepo.model import shortestPathModel
    except ImportError:
        return None
    model = shortestPathModel((K, K), backend="ortools")
    _, costs = _inputs("shortest_path_graph", np.random.default_rng(0))
    sols = []
    for c in costs.numpy():
        model.setObj(c)
        sol, _ = model.solve()
        sols.append(np.asarray(sol, dtype=np.float32))
    y_true = torch.from_numpy(np.stack(sols))
    pfy = perturbedFenchelYoung(model, n_samples=m, sigma=SIGMA, processes=1, seed=0)
    x = costs.clone().requires_grad_(True)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        x.grad = None
        pfy(x, y_true).backward()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    torch.set_num_threads(1)  # torch and Numba share 2 cores here; Numba gets the parallel part
    print(f"perturbed Fenchel-Young, forward + backward, B = {B}, {K}×{K}, σ = {SIGMA}")
    print(f"torch threads: {torch.get_num_threads()}")
    rows, totals = [], {}
    for problem in ("shortest_path", "shortest_path_graph"):
        for m in SAMPLES:
            t = time_ours(problem, m)
            totals[problem, m] = t["total"]
            rows.append([problem, m, *(1e3 * t[k] for k in t)])
    print_table(
        "diffsolvers (ms per forward + backward)",
        ["problem", "M", "noise", "solve", "other fwd", "backward", "total"],
        rows,
    )
    repeat = 2
    pyepo_rows = []
    for m in SAMPLES:
        t = time_pyepo(m, repeat)
        if t is None:
            print("\nPyEPO was not found (pip install pyepo): no comparison.")
            return
        ours = totals["shortest_path_graph", m]
        pyepo_rows.append([m, 1e3 * t, 1e3 * ours, t / ours, t / totals["shortest_path", m]])
    print_table(
        "PyEPO perturbedFenchelYoung (OR-Tools, processes=1) vs diffsolvers, same 12×12 "
        "right/down edge-cost grid and inputs",
        ["M", "PyEPO ms", "ours ms (grid_dag)", "ratio", "ratio vs ours Warcraft grid"],
        pyepo_rows,
    )


if __name__ == "__main__":
    main()
