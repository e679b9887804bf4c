"""train_synthetic on a given data set, its training times, and layers trained on regret."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import diffsolvers
import solvers
from diffsolvers.datasets.synthetic import make_synthetic
from diffsolvers.experiments.objectives import make_objective, regret_loss
from diffsolvers.experiments.synthetic import SyntheticConfig, train_synthetic

CONFIG = SyntheticConfig(deg=2, n_train=120, n_test=80, epochs=2, seed=3)


def test_given_data_is_the_data_used():
    """The same rows as make_synthetic would draw give the same run; other rows another."""
    drawn = make_synthetic("shortest_path_graph", n=200, deg=2, noise_width=0.5, seed=3)
    own = train_synthetic(CONFIG)
    given = train_synthetic(CONFIG, data=drawn)
    assert given["final_regret"] == own["final_regret"]
    assert given["regret_curve"] == own["regret_curve"]
    other = make_synthetic("shortest_path_graph", n=200, deg=2, noise_width=0.5, seed=4)
    assert train_synthetic(CONFIG, data=other)["initial_regret"] != own["initial_regret"]


def test_given_data_must_fit_the_config():
    data = make_synthetic("shortest_path_graph", n=150, seed=0)
    with pytest.raises(ValueError, match="150 rows, config needs n_train \\+ n_test = 200"):
        train_synthetic(CONFIG, data=data)
    knapsack = make_synthetic("knapsack", n=200, seed=0)
    with pytest.raises(ValueError, match="'knapsack' problem"):
        train_synthetic(CONFIG, data=knapsack)
    wide = make_synthetic("shortest_path_graph", n=200, p=7, seed=0)
    with pytest.raises(ValueError, match="features of shape"):
        train_synthetic(CONFIG, data=wide)


def test_times_and_curve_option():
    res = train_synthetic(CONFIG, curve=False)
    assert len(res["regret_curve"]) == 1 and res["final_regret"] == res["regret_curve"][0]
    assert res["train_seconds"] > 0 and res["train_cpu_seconds"] > 0
    assert res["final_regret"] == train_synthetic(CONFIG)["final_regret"]  # same training


def test_regret_loss_value_and_gradient():
    y_pred = torch.tensor([[0.0, 1.0, 1.0], [0.5, 0.5, 0.0]], requires_grad=True)
    y_true = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    costs = torch.tensor([[1.0, 2.0, 4.0], [2.0, 3.0, 1.0]])
    loss = regret_loss(y_pred, y_true, costs)
    # instance 1: 6 − 3 = 3; instance 2: 2.5 − 2 = 0.5; mean 1.75
    assert float(loss.detach()) == pytest.approx(1.75)
    loss.backward()
    expected = costs * torch.tensor([[1.0], [1.0]]) / 2  # sign(+) · c / B
    torch.testing.assert_close(y_pred.grad, expected)


def test_layer_loss_choice():
    params = make_synthetic("shortest_path_graph", n=1).solver_params
    with pytest.raises(ValueError, match="layer_loss must be one of hamming, regret"):
        make_objective("shortest_path_graph", "blackbox", solver_params=params, layer_loss="l2")
    regret = make_objective(
        "shortest_path_graph", "blackbox", solver_params=params, layer_loss="regret"
    )
    hamming = make_objective("shortest_path_graph", "blackbox", solver_params=params)
    data = make_synthetic("shortest_path_graph", n=4, seed=1)
    c = torch.from_numpy(data.costs).double()
    solver = solvers.get("shortest_path_graph", **params)
    y = torch.from_numpy(solver.solve(-data.costs)).double()
    c_hat = c.flip(1)  # predictions whose paths differ from the true ones
    y_hat = torch.from_numpy(solver.solve(-c_hat.numpy())).double()
    expected = ((y_hat - y) * c).sum(1).abs().mean()
    assert float(regret(c_hat, costs_true=c, y_true=y)) == pytest.approx(float(expected))
    assert float(hamming(c_hat, costs_true=c, y_true=y)) == pytest.approx(
        float((y_hat != y).double().sum(1).mean())
    )
    assert float(expected) > 0


def test_regret_loss_trains_blackbox():
    config = dataclasses.replace(
        CONFIG, method="blackbox", epochs=3, lr=0.1, method_options={"lambda_": 20.0}
    )
    res = train_synthetic(config, layer_loss="regret")
    assert res["layer_loss"] == "regret"
    assert np.isfinite(res["final_regret"]) and res["final_regret"] < res["initial_regret"]


def test_spo_plus_objective_uses_the_data_solution_on_ties():
    """Two optimal solutions (costs 1, 1, 2): SPO+'s gradient 2·y − 2·y(2ĉ − c) follows the
    label given, not the solver's tie-break."""
    objective = make_objective("argmax", "spo_plus")
    loss = diffsolvers.loss("argmax", "spo_plus", inputs="costs")
    c = torch.tensor([[1.0, 1.0, 2.0]], dtype=torch.float64)
    for label in (0, 1):
        y = torch.eye(3, dtype=torch.float64)[[label]]
        grads = []
        for fn in (objective, None):
            c_hat = torch.tensor([[3.0, 2.0, 0.5]], dtype=torch.float64, requires_grad=True)
            value = fn(c_hat, costs_true=c, y_true=y) if fn else loss(c_hat, c, y_true=y)
            value.backward()
            grads.append(c_hat.grad)
        torch.testing.assert_close(grads[0], grads[1])
        assert float(grads[0][0, label]) > 0
