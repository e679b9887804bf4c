"""The structured SVM loss with a Hamming margin: value and subgradient against brute force
over the enumerated feasible set, its zero set, finite differences, and the problems it
does not apply to."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import diffsolvers
import solvers
from diffsolvers import StructuredSVMLoss


def top_k_set(n: int, k: int) -> np.ndarray:
    rows = []
    for chosen in itertools.combinations(range(n), k):
        y = np.zeros(n)
        y[list(chosen)] = 1.0
        rows.append(y)
    return np.array(rows)


def knapsack_set(weights: np.ndarray, capacity: float) -> np.ndarray:
    rows = [np.array(b, dtype=float) for b in itertools.product((0, 1), repeat=len(weights))]
    return np.array([y for y in rows if y @ weights <= capacity])


def brute_force(theta: np.ndarray, target: np.ndarray, alpha: float, every: np.ndarray):
    """max_y [⟨θ, y⟩ + α Σ|y − ȳ|] − ⟨θ, ȳ⟩ and its maximiser, by enumeration."""
    augmented = every @ theta + alpha * np.abs(every - target).sum(-1)
    best = augmented.argmax()
    return augmented[best] - theta @ target, every[best]


@pytest.mark.parametrize("seed", range(6))
def test_top_k_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    every = top_k_set(6, 2)
    theta = rng.normal(size=(4, 6))
    targets = every[rng.integers(0, len(every), size=4)]
    alpha = float(rng.uniform(0.1, 2.0))
    loss = StructuredSVMLoss(solvers.get("top_k", k=2), margin=alpha, reduction="none")
    x = torch.tensor(theta, requires_grad=True)
    out = loss(x, torch.tensor(targets))
    out.sum().backward()
    for i in range(4):
        value, y_hat = brute_force(theta[i], targets[i], alpha, every)
        assert out[i].item() == pytest.approx(value, abs=1e-10)
        np.testing.assert_allclose(x.grad[i].numpy(), y_hat - targets[i])
    assert bool((out >= 0).all())


@pytest.mark.parametrize("seed", range(4))
def test_knapsack_with_per_call_weights_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    weights = rng.integers(1, 6, size=(3, 5)).astype(float)
    capacity = np.full(3, 9.0)
    theta = rng.uniform(-1, 1, size=(3, 5))
    solver = solvers.get("knapsack")
    targets = solver.solve(rng.uniform(size=(3, 5)), weights=weights, capacity=capacity)
    loss = StructuredSVMLoss(solver, margin=0.3, reduction="none")
    out = loss(torch.tensor(theta), torch.tensor(targets), weights=weights, capacity=capacity)
    for i in range(3):
        value, _ = brute_force(theta[i], targets[i], 0.3, knapsack_set(weights[i], 9.0))
        assert out[i].item() == pytest.approx(value, abs=1e-10)


def test_zero_exactly_when_the_target_wins_by_the_margin():
    loss = StructuredSVMLoss(solvers.get("argmax"), margin=1.0, reduction="none")
    y = torch.tensor([[1.0, 0.0, 0.0]])
    # the runner-up is 2 behind: Δ(e₂, e₁) = 2, so a lead of 2·α = 2 is needed
    assert loss(torch.tensor([[3.0, 0.5, 0.0]]), y).item() == 0.0
    assert loss(torch.tensor([[3.0, 1.5, 0.0]]), y).item() == pytest.approx(0.5)


def test_gradient_matches_finite_differences_and_costs_inputs():
    rng = np.random.default_rng(0)
    every = top_k_set(5, 2)
    y = torch.tensor(every[[0, 4, 9]])
    loss = StructuredSVMLoss(solvers.get("top_k", k=2), margin=0.7, reduction="sum")
    theta = torch.tensor(rng.normal(size=(3, 5)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: loss(t, y), (theta,), eps=1e-6)
    on_costs = StructuredSVMLoss(solvers.get("top_k", k=2), margin=0.7, inputs="costs")
    torch.testing.assert_close(on_costs(-theta.detach(), y), loss(theta.detach(), y) / 3)


def test_targets_must_be_binary_and_the_method_skips_non_binary_problems():
    loss = StructuredSVMLoss(solvers.get("argmax"))
    with pytest.raises(ValueError, match="must hold 0/1 entries"):
        loss(torch.zeros(1, 3), torch.tensor([[0.5, 0.5, 0.0]]))
    reasons = {p: r for p, m, r in diffsolvers.not_meaningful() if m == "structured_svm"}
    assert set(reasons) == {"ranking", "lp"}
    assert "not linear" in reasons["ranking"]
    with pytest.raises(ValueError, match="not meaningful for 'ranking'"):
        diffsolvers.loss("ranking", "structured_svm")
    with pytest.raises(ValueError, match="margin"):
        StructuredSVMLoss(solvers.get("argmax"), margin=-1.0)
