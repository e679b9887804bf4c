"""The perturbation-gradient loss (Gupta & Huang, NeurIPS 2024): values and gradients
against the optimal value ``V(c) = min_w cᵀw`` computed by enumerating the feasible set,
its limit ``cᵀw*(ĉ)`` as the step shrinks, and finite differences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import diffsolvers
import solvers
from diffsolvers import PerturbationGradientLoss

N, K = 6, 3


def feasible() -> np.ndarray:
    rows = []
    for chosen in itertools.combinations(range(N), K):
        y = np.zeros(N)
        y[list(chosen)] = 1.0
        rows.append(y)
    return np.array(rows)


def value_min(c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """V(c) = min_w cᵀw per row of ``c`` (B, N) and the minimiser."""
    obj = c @ w.T
    return obj.min(-1), w[obj.argmin(-1)]


@pytest.mark.parametrize("central", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_value_and_gradient_match_the_enumerated_optimum(central, seed):
    """PGB = (V(ĉ) − V(ĉ − hc)) / h, PGC = (V(ĉ + hc) − V(ĉ − hc)) / 2h in PyEPO's form;
    ∂/∂ĉ = (w*(ĉ) − w*(ĉ − hc)) / h and (w*(ĉ + hc) − w*(ĉ − hc)) / 2h."""
    rng = np.random.default_rng(seed)
    w = feasible()
    c_hat, c = rng.normal(size=(4, N)), rng.normal(size=(4, N))
    h = float(rng.uniform(0.2, 2.0))
    loss = PerturbationGradientLoss(
        solvers.get("top_k", k=K),
        step=h,
        central_difference=central,
        inputs="costs",
        reduction="none",
    )
    x = torch.tensor(c_hat, requires_grad=True)
    out = loss(x, torch.tensor(c))
    out.sum().backward()
    v_low, w_low = value_min(c_hat - h * c, w)
    if central:
        v_high, w_high = value_min(c_hat + h * c, w)
        expected, grad = (v_high - v_low) / (2 * h), (w_high - w_low) / (2 * h)
    else:
        v_mid, w_mid = value_min(c_hat, w)
        expected, grad = (v_mid - v_low) / h, (w_mid - w_low) / h
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-10, atol=1e-10)


def test_a_small_step_gives_the_true_cost_of_the_decision():
    rng = np.random.default_rng(0)
    w = feasible()
    c_hat, c = rng.normal(size=(5, N)), rng.normal(size=(5, N))
    _, decision = value_min(c_hat, w)
    for central in (False, True):
        loss = PerturbationGradientLoss(
            solvers.get("top_k", k=K), step=1e-7, central_difference=central, inputs="costs"
        )
        loss.reduction = "none"
        out = loss(torch.tensor(c_hat), torch.tensor(c)).numpy()
        np.testing.assert_allclose(out, (c * decision).sum(-1), atol=1e-6)


@pytest.mark.parametrize("central", [False, True])
def test_gradient_matches_finite_differences(central):
    rng = np.random.default_rng(1)
    c = torch.tensor(rng.normal(size=(3, N)))
    loss = PerturbationGradientLoss(
        solvers.get("top_k", k=K), step=0.7, central_difference=central, reduction="sum"
    )
    theta = torch.tensor(rng.normal(size=(3, N)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: loss(t, c), (theta,), eps=1e-6)


def test_scores_and_costs_inputs_agree():
    rng = np.random.default_rng(2)
    c_hat, c = torch.tensor(rng.normal(size=(3, N))), torch.tensor(rng.normal(size=(3, N)))
    solver = solvers.get("top_k", k=K)
    on_costs = PerturbationGradientLoss(solver, inputs="costs")(c_hat, c)
    on_scores = PerturbationGradientLoss(solver)(-c_hat, c)
    torch.testing.assert_close(on_costs, on_scores)


def test_knapsack_with_per_call_side_data():
    """A maximisation problem (values v, c = −v): with a small step the loss is the negated
    value of the packing chosen on the prediction, which respects each instance's weights."""
    rng = np.random.default_rng(3)
    weights = rng.integers(1, 6, size=(4, 5)).astype(float)
    capacity = np.full(4, 8.0)
    v_hat, v = rng.uniform(size=(4, 5)), rng.uniform(size=(4, 5))
    solver = solvers.get("knapsack")
    loss = PerturbationGradientLoss(solver, step=1e-6, reduction="none")
    out = loss(torch.tensor(v_hat), torch.tensor(-v), weights=weights, capacity=capacity)
    chosen = solver.solve(v_hat, weights=weights, capacity=capacity)
    np.testing.assert_allclose(out.numpy(), -(v * chosen).sum(-1), atol=1e-5)


def test_registry_name_and_bad_options():
    loss = diffsolvers.loss("top_k", "perturbation_gradient", k=2, step=0.5)
    assert isinstance(loss, PerturbationGradientLoss) and loss.step == 0.5
    assert diffsolvers.method_info("perturbation_gradient").target == "costs"
    with pytest.raises(ValueError, match="step"):
        PerturbationGradientLoss(solvers.get("argmax"), step=0.0)
    with pytest.raises(TypeError, match="central_difference must be True or False"):
        PerturbationGradientLoss(solvers.get("argmax"), central_difference="yes")
    with pytest.raises(ValueError, match="true costs"):
        PerturbationGradientLoss(solvers.get("argmax"))(torch.zeros(2, 3), torch.zeros(2, 4))
