"""CaVE against PyEPO's ``coneAlignedCosine`` on PyEPO's 5×5 shortest-path data: the same
linear model trained by diffsolvers' ``cave`` (exact projection, SciPy's NNLS), by PyEPO's
loss with its projection run to convergence (``max_iter=200``) and with its default
``max_iter=3`` (the paper's CaVE+: three interior-point steps, the target stays inside the
cone), and by ``spo_plus``; normalised test regret and training time, one process, one
thread.

PyEPO reads the binding constraints from Gurobi models only (``optDatasetConstrs``); here
they are read from the OR-Tools (pywraplp) model PyEPO builds, oriented as PyEPO orients
them (:func:`pyepo_tight_normals`). Needs ``pip install pyepo clarabel``.

    python -m benchmarks.cave_vs_pyepo [--deg 1,6] [--epochs 10]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

import diffsolvers
import solvers
from solvers.shortest_path_graph import grid_dag

N_TRAIN, N_TEST, BATCH, LR = 1000, 1000, 32, 0.01


def pyepo_tight_normals(model, sol: np.ndarray) -> np.ndarray:
    """Binding-constraint normals of PyEPO's OR-Tools (pywraplp) model at ``sol``, oriented
    as PyEPO's ``optDatasetConstrs`` orients them: ``<=`` rows kept, ``>=`` negated, ``==``
    as ± pairs, ``-e_k`` where ``sol_k = 0`` and ``+e_k`` where ``sol_k = 1``."""
    cost_vars = [model.x[e] for e in model.arcs]
    rows = []
    for con in model._model.constraints():
        coefs = np.array([con.GetCoefficient(v) for v in cost_vars])
        lhs = coefs @ sol
        lo, hi = con.Lb(), con.Ub()
        if lo == hi:
            if abs(lhs - hi) < 1e-5:
                rows += [coefs, -coefs]
        elif abs(lhs - hi) < 1e-5:
            rows.append(coefs)
        elif abs(lhs - lo) < 1e-5:
            rows.append(-coefs)
    eye = np.eye(len(cost_vars))
    rows += [-eye[k] for k in np.flatnonzero(sol <= 1e-5)]
    rows += [eye[k] for k in np.flatnonzero(sol >= 1 - 1e-5)]
    return np.array(rows)


def padded_normals(model, sols: np.ndarray) -> torch.Tensor:
    """The normals of every solution, zero-padded to one ``(N, rows, D)`` tensor."""
    normals = [pyepo_tight_normals(model, s) for s in sols]
    out = np.zeros((len(sols), max(len(t) for t in normals), sols.shape[1]), np.float32)
    for i, t in enumerate(normals):
        out[i, : len(t)] = t
    return torch.from_numpy(out)


def run(deg: int, epochs: int) -> None:
    import pyepo
    from pyepo.func import coneAlignedCosine
    from pyepo.model.ort import shortestPathModel

    x, c = pyepo.data.shortestpath.genData(
        N_TRAIN + N_TEST, 5, (5, 5), deg=deg, noise_width=0.5, seed=0
    )
    graph = grid_dag(5)
    solver = solvers.get("shortest_path_graph", **graph)
    y = solver.solve(-c)
    train_x, train_c, train_y = (torch.tensor(a[:N_TRAIN], dtype=torch.float32) for a in (x, c, y))
    test_x, test_c, test_y = x[N_TRAIN:], c[N_TRAIN:], y[N_TRAIN:]
    model_p = shortestPathModel(grid=(5, 5))
    normals = padded_normals(model_p, y[:N_TRAIN])

    def regret(model: torch.nn.Module) -> float:
        with torch.no_grad():
            pred = model(torch.tensor(test_x, dtype=torch.float32)).double().numpy()
        return float(((solver.solve(-pred) - test_y) * test_c).sum() / (test_y * test_c).sum())

    def train(name: str, loss_fn: Callable[..., torch.Tensor]) -> None:
        torch.manual_seed(0)
        model = torch.nn.Linear(x.shape[1], c.shape[1])
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        order = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        for _ in range(epochs):
            perm = torch.randperm(N_TRAIN, generator=order)
            for s in range(0, N_TRAIN, BATCH):
                idx = perm[s : s + BATCH]
                opt.zero_grad()
                loss_fn(model(train_x[idx]), idx).backward()
                opt.step()
        seconds = time.perf_counter() - start
        print(f"| {deg} | {name} | {100 * regret(model):.2f} | {seconds:.1f} |", flush=True)

    cave = diffsolvers.loss("shortest_path_graph", "cave", **graph, inputs="costs")
    spo = diffsolvers.loss("shortest_path_graph", "spo_plus", **graph, inputs="costs")
    exact = coneAlignedCosine(model_p, max_iter=200)
    plus = coneAlignedCosine(model_p, max_iter=3)
    train("diffsolvers cave", lambda p, i: cave(p, train_y[i]))
    train("PyEPO CaVE, max_iter=200", lambda p, i: exact(p, normals[i]))
    train("PyEPO CaVE+, max_iter=3", lambda p, i: plus(p, normals[i]))
    train("diffsolvers spo_plus", lambda p, i: spo(p, train_c[i], y_true=train_y[i]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deg", default="1,6", help="polynomial degrees (default 1,6)")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| deg | loss | test regret % | train s |\n|---|---|---|---|")
    for deg in (int(d) for d in args.deg.split(",")):
        run(deg, args.epochs)


if __name__ == "__main__":
    main()
