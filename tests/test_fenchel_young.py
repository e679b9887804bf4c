"""The Fenchel-Young loss: exact sample gradient, value properties, regret metrics."""

from __future__ import annotations

import math

import pytest
import torch
from problem_cases import CASES

import solvers
from diffsolvers import (
    FenchelYoungLoss,
    PerturbedMax,
    PerturbedOptimizer,
    decision_regret,
    normalized_regret,
    regret,
)

F64 = torch.float64
NO_CLAMP = ["argmax", "top_k", "ranking", "assignment", "shortest_path_graph", "knapsack"]


def _loss_and_grad(loss, theta, y, side=None):
    x = theta.clone().requires_grad_(True)
    value = loss(x, y, **(side or {}))
    value.sum().backward()
    return value.detach(), x.grad


@pytest.mark.parametrize("problem", ["top_k", "assignment", "knapsack"])
def test_gradient_is_perturbed_argmax_minus_target(problem):
    case = CASES[problem]
    theta, side = case.draw(0, batch=4)
    y = case.target(case.draw(1, batch=4)[0], side)
    loss = FenchelYoungLoss(case.solver(), sigma=0.5, n_samples=7, seed=3, reduction="sum")
    _, grad = _loss_and_grad(loss, theta, y, side)
    y_eps = PerturbedOptimizer(case.solver(), 0.5, 7, seed=3)(theta, **side)
    torch.testing.assert_close(grad, y_eps - y, rtol=0, atol=1e-14)


def test_multiplicative_gradient_is_weighted_average():
    case = CASES["shortest_path_graph"]
    theta, _ = case.draw(0, batch=4)
    y = case.target(case.draw(1, batch=4)[0], {})
    loss = FenchelYoungLoss(
        case.solver(), sigma=0.5, n_samples=7, mode="multiplicative", seed=3, reduction="sum"
    )
    _, grad = _loss_and_grad(loss, theta, y)
    s = loss.layer.manual_seed(3).sample(theta)
    expected = (s.weights * (s.y - y.reshape(s.theta.shape))).mean(0).reshape(theta.shape)
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-14)


def test_multiplicative_value_is_positively_homogeneous():
    """``V(tθ) = t·V(θ)`` with the same draws: the multiplicative loss falls as θ shrinks
    (the pitfall documented in :mod:`diffsolvers.losses.fenchel_young`)."""
    case = CASES["shortest_path_graph"]
    theta, _ = case.draw(0, batch=4)
    y = case.target(case.draw(1, batch=4)[0], {})
    loss = FenchelYoungLoss(
        case.solver(), sigma=0.5, n_samples=7, mode="multiplicative", seed=3, reduction="sum"
    )
    value = loss.manual_seed(3)(theta, y)
    assert value > 0
    for t in (0.5, 1e-3):
        torch.testing.assert_close(loss.manual_seed(3)(t * theta, y), t * value, rtol=1e-12, atol=0)


@pytest.mark.parametrize("problem", NO_CLAMP)
@pytest.mark.parametrize(
    ("mode", "noise"),
    [("additive", "normal"), ("additive", "gumbel"), ("multiplicative", "normal")],
)
def test_value_is_nonnegative_for_every_draw(problem, mode, noise):
    case = CASES[problem]
    theta, side = case.draw(0, batch=5)
    y = case.target(case.draw(1, batch=5)[0], side)
    loss = FenchelYoungLoss(
        case.solver(), sigma=0.8, n_samples=1, noise=noise, mode=mode, seed=0, reduction="none"
    )
    for _ in range(5):
        assert (loss(theta, y, **side) >= -1e-12).all()


def test_value_vanishes_when_theta_strongly_favours_target():
    case = CASES["assignment"]
    theta, _ = case.draw(0)
    y = case.target(theta, {})
    loss = FenchelYoungLoss(case.solver(), sigma=1.0, n_samples=20, seed=0, reduction="none")
    values = [loss(lam * (2 * y - 1), y).max().item() for lam in (0.05, 0.3, 50.0)]
    assert values[0] > values[1] >= values[2] and values[2] == 0.0


def test_gumbel_argmax_value_is_the_exact_fenchel_young_loss():
    """For Gumbel noise and argmax, Ω_ε is ε·negentropy (0 on vertices): the FY loss is
    -ε log softmax(θ/ε)_y, and the returned value estimates it without bias."""
    theta = torch.tensor([[0.6, 0.1, -0.4, 0.3]], dtype=F64)
    y = torch.tensor([[0.0, 1.0, 0.0, 0.0]], dtype=F64)
    eps, m = 0.5, 40_000
    loss = FenchelYoungLoss(
        solvers.get("argmax"), sigma=eps, n_samples=m, noise="gumbel", seed=0, reduction="none"
    )
    value = loss(theta, y)
    s = loss.layer.manual_seed(0).sample(theta)
    terms = ((s.theta_p * (s.y - y)).sum(-1))[:, 0]
    torch.testing.assert_close(value[0], terms.mean())
    exact = -eps * torch.log_softmax(theta / eps, -1)[0, 1]
    assert abs(value[0] - exact) < 5 * terms.std() / math.sqrt(m)


def test_value_estimates_perturbed_max_minus_linear_term():
    """Normal noise: V = F̂_ε(θ) - ⟨θ, y⟩ - ε⟨Z̄, y⟩ exactly with the same samples, so
    E[V] = F_ε(θ) - ⟨θ, y⟩ = L_FY(θ; y) - Ω_ε(y) >= max⟨θ, ·⟩ - ⟨θ, y⟩."""
    case = CASES["top_k"]
    theta, _ = case.draw(0, batch=3)
    y = case.target(case.draw(1, batch=3)[0], {})
    eps, m = 0.7, 20_000
    v = FenchelYoungLoss(case.solver(), sigma=eps, n_samples=m, seed=0, reduction="none")(theta, y)
    f = PerturbedMax(case.solver(), eps, m, seed=0)(theta)
    s = PerturbedMax(case.solver(), eps, m, seed=0).sample(theta)
    linear = (theta * y).sum(-1)
    torch.testing.assert_close(v, f - linear - eps * (s.z.mean(0) * y).sum(-1))
    gap = (theta * case.target(theta, {})).sum(-1) - linear
    se = (s.theta_p * (s.y - y)).sum(-1).std(0) / math.sqrt(m)
    assert (v > gap - 5 * se).all()
    assert (v - gap > 5 * se).all(), "the Jensen gap is large at ε = 0.7"


def test_reductions_and_costs_inputs():
    case = CASES["shortest_path_graph"]
    theta, _ = case.draw(0, batch=4)
    y = case.target(case.draw(1, batch=4)[0], {})
    make = lambda **kw: FenchelYoungLoss(case.solver(), sigma=0.5, n_samples=3, seed=0, **kw)  # noqa: E731
    none = make(reduction="none")(theta, y)
    assert none.shape == (4,)
    torch.testing.assert_close(make()(theta, y), none.mean())
    torch.testing.assert_close(make(reduction="sum")(theta, y), none.sum())
    v_s, g_s = _loss_and_grad(make(), theta, y)
    v_c, g_c = _loss_and_grad(make(inputs="costs"), -theta, y)
    torch.testing.assert_close(v_c, v_s, rtol=0, atol=0)
    torch.testing.assert_close(g_c, -g_s, rtol=0, atol=0)


def test_bad_input_raises():
    solver = solvers.get("argmax")
    with pytest.raises(ValueError, match="reduction must be one of mean, sum, none"):
        FenchelYoungLoss(solver, reduction="avg")
    with pytest.raises(ValueError, match="argmax: the target y has shape"):
        FenchelYoungLoss(solver)(torch.zeros(2, 3), torch.zeros(2, 4))


def test_regret_metrics():
    case = CASES["shortest_path"]
    theta, _ = case.draw(0, batch=6)
    costs = -theta
    solver = case.solver()
    y_true = case.target(theta, {})
    assert (regret(y_true, y_true, costs) == 0).all()
    assert decision_regret(solver, costs, costs) == 0
    bad = costs.flip(0)  # other instances' costs: worse decisions
    per = decision_regret(solver, bad, costs, normalized=False)
    assert per.shape == (6,) and (per >= -1e-12).all() and per.sum() > 0
    y_bad = torch.from_numpy(solver.solve(-bad.numpy()))
    expected = per.sum() / (costs * y_true).sum()
    torch.testing.assert_close(normalized_regret(y_bad, y_true, costs), expected)
    torch.testing.assert_close(decision_regret(solver, bad, costs), expected)
