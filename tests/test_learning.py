"""A linear model learns shortest-path costs through the Fenchel-Young loss.

Synthetic data in the style of PyEPO's shortest-path generator (Elmachtoub & Grigas, "Smart
'Predict, then Optimize'", 2022): a 5×5 grid DAG (40 edges, moves right/down), features
``x ~ N(0, I_5)``, costs ``c = ((Bx/√p + 3)^deg + 1) / 3.5^deg`` with a fixed 0/1 matrix
``B``, times multiplicative noise ``U[1 - 0.5, 1 + 0.5]``. The model predicts costs; the loss
compares perturbed paths with the true shortest paths; decisions are scored by normalised
regret on held-out data.
"""

from __future__ import annotations

import torch

import diffsolvers
from solvers.shortest_path_graph import grid_dag


def _data(n: int, gen: torch.Generator, b: torch.Tensor, deg: int = 2) -> tuple:
    p = b.shape[1]
    x = torch.randn(n, p, generator=gen, dtype=torch.float64)
    c = ((x @ b.T) / p**0.5 + 3) ** deg + 1
    c = c / 3.5**deg * (1 + 0.5 * (2 * torch.rand(c.shape, generator=gen, dtype=c.dtype) - 1))
    return x, c


def test_fenchel_young_learns_shortest_path_costs():
    graph = grid_dag(5, 5)
    n_edges, p = len(graph["edges"]), 5
    gen = torch.Generator().manual_seed(0)
    b = torch.bernoulli(torch.full((n_edges, p), 0.5, dtype=torch.float64), generator=gen)
    x_train, c_train = _data(200, gen, b)
    x_test, c_test = _data(200, gen, b)
    loss_fn = diffsolvers.loss(
        "shortest_path_graph", sigma=0.5, n_samples=3, seed=0, inputs="costs", **graph
    )
    solver = loss_fn.solver
    y_train = torch.from_numpy(solver.solve(-c_train.numpy()))
    model = torch.nn.Linear(p, n_edges).double()
    torch.manual_seed(0)
    with torch.no_grad():
        model.weight.normal_(0, 0.1)
        model.bias.fill_(0.1)

    def test_regret() -> float:
        with torch.no_grad():
            return diffsolvers.decision_regret(solver, model(x_test), c_test).item()

    before = test_regret()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _epoch in range(15):
        perm = torch.randperm(200, generator=gen)
        for i in range(0, 200, 32):
            idx = perm[i : i + 32]
            opt.zero_grad()
            loss_fn(model(x_train[idx]), y_train[idx]).backward()
            opt.step()
    after = test_regret()
    print(f"normalised test regret: before {before:.3f}, after {after:.3f}")
    assert after < 0.5 * before
    assert after < 0.15
