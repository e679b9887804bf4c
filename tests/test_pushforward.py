"""The pushforward ``E[g(y*(θ + εZ))]``: with ``g`` the identity it is the perturbed optimizer;
for a linear ``g`` its gradients are the optimizer's Jacobian products; for Gumbel noise on
the argmax the distribution is ``softmax(θ/ε)`` exactly, which gives the value and gradient
of any ``g`` in closed form."""

from __future__ import annotations

import pytest
import torch
from problem_cases import CASES
from torch.func import grad

import diffsolvers
import solvers
from diffsolvers import PerturbedMax, PerturbedOptimizer, Pushforward

F64 = torch.float64


def _value_and_grad(module, theta, *args, upstream=None, **side):
    x = theta.clone().requires_grad_(True)
    out = module(x, *args, **side)
    w = torch.ones_like(out) if upstream is None else upstream
    (out * w).sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize(
    ("mode", "control_variate", "noise"),
    [
        ("additive", False, "normal"),
        ("additive", True, "gumbel"),
        ("multiplicative", True, "normal"),
    ],
)
def test_with_the_identity_it_is_the_perturbed_optimizer(mode, control_variate, noise):
    case = CASES["knapsack"]
    theta, side = case.draw(0, batch=3)
    opts = dict(sigma=0.3, n_samples=7, mode=mode, control_variate=control_variate, noise=noise)
    upstream = torch.randn(theta.shape, generator=torch.Generator().manual_seed(1), dtype=F64)
    y, g = _value_and_grad(
        PerturbedOptimizer(case.solver(), seed=4, **opts), theta, upstream=upstream, **side
    )
    push = Pushforward(PerturbedOptimizer(case.solver(), seed=4, **opts))
    y_p, g_p = _value_and_grad(push, theta, upstream=upstream, **side)
    torch.testing.assert_close(y_p, y, rtol=0, atol=0)
    torch.testing.assert_close(g_p, g, rtol=1e-12, atol=1e-12)
    assert g.abs().sum() > 0


def test_a_linear_function_gives_the_optimizers_jacobian_products_and_the_exact_cost_gradient():
    case = CASES["shortest_path"]
    theta, _ = case.draw(1, batch=2)
    costs = torch.rand(theta.shape, generator=torch.Generator().manual_seed(0), dtype=F64)
    costs.requires_grad_(True)
    solver = case.solver(negative_costs="clamp")
    layer = PerturbedOptimizer(solver, sigma=0.2, n_samples=5, seed=0)
    y, g = _value_and_grad(layer, theta, upstream=costs.detach())
    push = Pushforward(
        PerturbedOptimizer(solver, sigma=0.2, n_samples=5, seed=0),
        lambda y, c: (y * c).sum(dim=(-1, -2)),
    )
    x = theta.clone().requires_grad_(True)
    value = push(x, costs)
    value.sum().backward()
    torch.testing.assert_close(value.detach(), (y * costs.detach()).sum(dim=(-1, -2)))
    torch.testing.assert_close(x.grad, g, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(costs.grad, y)  # exact: the mean of the sampled paths


def test_gumbel_argmax_matches_the_softmax_closed_form():
    """Y = y*(θ + εG) for Gumbel G is e_i with probability softmax(θ/ε)_i, so for any g
    E[g(Y)] = Σ_i p_i g(e_i) and ∂/∂θ_j = p_j (g(e_j) - E[g(Y)]) / ε."""
    sigma, a = 0.7, torch.tensor([2.0, -1.0, 0.5, 3.0], dtype=F64)

    def g(y):  # not affine in y: g(e_i) = a_i², and 0 at the mean
        return (y * a).sum(-1, keepdim=True) ** 2

    theta = torch.tensor([[0.3, 0.9, -0.2, 0.1]], dtype=F64)
    layer = PerturbedOptimizer(
        solvers.get("argmax"), sigma=sigma, n_samples=40_000, noise="gumbel", seed=0
    )
    value, grad_theta = _value_and_grad(Pushforward(layer, g), theta)
    p = torch.softmax(theta / sigma, -1)
    expected = (p * a**2).sum(-1, keepdim=True)
    torch.testing.assert_close(value, expected, rtol=0.02, atol=0)
    expected_grad = p * (a**2 - expected) / sigma
    torch.testing.assert_close(grad_theta, expected_grad, rtol=0, atol=0.06)
    assert (grad_theta.sign() == expected_grad.sign()).all()


def test_registry_costs_and_bad_use():
    layer = diffsolvers.layer("top_k", method="pushforward", k=2, sigma=0.5, seed=0)
    assert isinstance(layer, Pushforward) and layer.function is None
    assert layer.problem == "top_k" and layer.solver.k == 2
    theta = torch.randn(3, 6, dtype=F64)
    costs = diffsolvers.layer("top_k", method="pushforward", k=2, sigma=0.5, seed=0, inputs="costs")
    torch.testing.assert_close(costs(-theta), layer(theta))  # same seed, first call
    with pytest.raises(TypeError, match="function must be a callable"):
        diffsolvers.layer("top_k", method="pushforward", k=2, function=3)
    with pytest.raises(TypeError, match="must be a PerturbedOptimizer"):
        Pushforward(PerturbedMax(solvers.get("argmax")))
    with pytest.raises(TypeError, match="must be a PerturbedOptimizer"):
        Pushforward(diffsolvers.IMLELayer(solvers.get("argmax")))
    with pytest.raises(TypeError, match="takes no arguments"):
        layer(theta, theta)
    bad = Pushforward(layer.layer, lambda y: y.sum())
    with pytest.raises(ValueError, match=r"shape \(M, \*batch, ...\)"):
        bad(theta)
    with pytest.raises(ValueError, match="NaN"):
        layer(torch.full((2, 6), float("nan")))


def test_second_derivatives_are_refused():
    push = Pushforward(PerturbedOptimizer(solvers.get("argmax"), seed=0), lambda y: (y**2).sum(-1))
    x = torch.rand(2, 5, dtype=F64)

    def f(t):
        return push(t).sum()

    assert grad(f)(x).shape == x.shape
    with pytest.raises(RuntimeError, match="gives first derivatives only"):
        grad(lambda t: grad(f)(t).pow(2).sum())(x)
