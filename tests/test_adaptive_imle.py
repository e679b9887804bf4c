"""Adaptive I-MLE (Minervini et al., AAAI 2023): the gradient at the same noise is the
blackbox / I-MLE gradient with ``λ_i = β‖θ_i‖/‖g_i‖``, the central difference by hand, the
adaptation of β by the paper's rule, and its state (eval mode, threads, state_dict, copies)."""

from __future__ import annotations

import copy
import pickle
import threading

import numpy as np
import pytest
import torch
from problem_cases import CASES
from torch.func import grad

import diffsolvers
import solvers
from diffsolvers import AdaptiveIMLELayer, BlackboxLayer, SumOfGamma
from diffsolvers.layers.aimle import AdaptiveLambda

F64 = torch.float64


def _grad(layer, theta, g, **side):
    x = theta.clone().requires_grad_(True)
    y = layer(x, **side)
    y.backward(g)
    return y.detach(), x.grad


def _noise(n_samples, shape, seed, kappa=2.0, tau=0.7):
    return SumOfGamma(kappa, tau, 10).sample(
        (n_samples, *shape), generator=torch.Generator().manual_seed(seed), dtype=F64
    )


@pytest.mark.parametrize("n_samples", [1, 3])
def test_forward_difference_is_blackbox_with_lambda_per_instance(n_samples):
    case = CASES["top_k"]
    theta, _ = case.draw(0, batch=3)
    g = torch.from_numpy(np.random.default_rng(5).normal(size=theta.shape))
    g[1] *= 40.0  # λ follows each instance's own ‖g‖
    beta = 0.8
    layer = AdaptiveIMLELayer(
        case.solver(), beta=beta, kappa=2.0, tau=0.7, n_samples=n_samples, seed=9
    )
    y, got = _grad(layer, theta, g)
    eps = _noise(n_samples, theta.shape, seed=9)
    for i in range(3):
        lam = beta * float(theta[i].norm() / g[i].norm())
        bb = BlackboxLayer(case.solver(), lambda_=lam)
        ys, grads = zip(*(_grad(bb, theta[i] + e[i], g[i]) for e in eps))
        torch.testing.assert_close(y[i], torch.stack(ys).mean(0), rtol=0, atol=1e-15)
        torch.testing.assert_close(got[i], torch.stack(grads).mean(0), rtol=0, atol=1e-12)
    assert got.abs().sum() > 0


def test_central_difference_by_hand():
    case = CASES["knapsack"]
    theta, side = case.draw(1, batch=4)
    g = torch.from_numpy(np.random.default_rng(2).normal(size=theta.shape))
    layer = AdaptiveIMLELayer(
        case.solver(), beta=0.5, symmetric=True, kappa=2.0, tau=0.7, n_samples=2, seed=3
    )
    _, got = _grad(layer, theta, g, **side)
    eps = _noise(2, theta.shape, seed=3)
    lam = 0.5 * theta.norm(dim=-1, keepdim=True) / g.norm(dim=-1, keepdim=True)
    solver = case.solver()
    plus = [torch.as_tensor(solver.solve((theta + e + lam * g).numpy(), **side)) for e in eps]
    minus = [torch.as_tensor(solver.solve((theta + e - lam * g).numpy(), **side)) for e in eps]
    expected = (torch.stack(plus) - torch.stack(minus)).mean(0) / (2 * lam)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    assert got.abs().sum() > 0


def test_the_gradient_is_homogeneous_in_g_and_zero_where_g_is():
    case = CASES["assignment"]
    theta, _ = case.draw(0, batch=3)
    g = torch.from_numpy(np.random.default_rng(1).normal(size=theta.shape))
    g[2] = 0.0
    layer = AdaptiveIMLELayer(case.solver(), seed=0, tau=0.5)
    _, one = _grad(layer, theta, g)
    layer.manual_seed(0).reset_adaptation()
    _, five = _grad(layer, theta, 5 * g)
    torch.testing.assert_close(five, 5 * one, rtol=1e-12, atol=1e-12)
    assert (one[2] == 0).all() and one[:2].abs().sum() > 0


def test_beta_follows_the_papers_rule():
    # the state on its own: c̄ ← δ c̄ + (1 - δ) c; β moves by the step towards the target
    state = AdaptiveLambda(beta=1.0, step=0.25, target=1.0, decay=0.5)
    state.update(changed=12, samples=4)  # c = 3: c̄ = 2 > 1, β down
    assert (state.beta, state.running_norm, state.n_updates) == (0.75, 2.0, 1)
    state.update(changed=0, samples=4)  # c̄ = 1, not below the target: β down
    assert (state.beta, state.running_norm) == (0.5, 1.0)
    state.update(changed=0, samples=4)  # c̄ = 0.5 < 1: β up
    assert (state.beta, state.running_norm) == (0.75, 0.5)
    for _ in range(5):
        state.update(changed=40, samples=1)
    assert state.beta == 0.0  # never below 0
    state.update(changed=1, samples=0)  # nothing to count: no update
    assert state.n_updates == 8
    state.reset()
    assert (state.beta, state.running_norm, state.n_updates) == (1.0, 1.0, 0)


def test_the_layer_counts_changed_entries_per_sample_in_its_backward():
    # argmax: a changed sample differs in 2 entries. Huge β moves every target: c = 2 > 1.
    theta = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 1.0]], dtype=F64)
    g = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=F64)
    layer = AdaptiveIMLELayer(
        solvers.get("argmax"), beta=100.0, beta_step=0.5, norm_decay=0.0, tau=1e-9, seed=0
    )
    _grad(layer, theta, g)
    assert (layer.running_norm, layer.beta, layer.n_updates) == (2.0, 99.5, 1)
    # tiny β moves nothing: c = 0 < 1, β goes up; forward alone changes nothing
    layer = AdaptiveIMLELayer(
        solvers.get("argmax"), beta=1e-6, beta_step=0.5, norm_decay=0.0, tau=1e-9, seed=0
    )
    layer(theta.clone().requires_grad_(True))
    assert layer.n_updates == 0
    _grad(layer, theta, g)
    assert (layer.running_norm, layer.beta, layer.n_updates) == (0.0, 0.5 + 1e-6, 1)


def test_eval_mode_neither_adapts_nor_draws_noise():
    case = CASES["top_k"]
    theta, _ = case.draw(0, batch=3)
    layer = AdaptiveIMLELayer(case.solver(), seed=0).eval()
    torch.testing.assert_close(layer(theta), case.target(theta, {}))
    layer.map_in_eval = False
    _grad(layer, theta, torch.ones_like(theta))
    assert layer.n_updates == 0


def test_threads_sharing_a_layer_lose_no_update():
    case = CASES["top_k"]
    theta, _ = case.draw(0, batch=4)
    layer = AdaptiveIMLELayer(case.solver(), seed=0)
    g = torch.from_numpy(np.random.default_rng(1).normal(size=theta.shape))

    def work():
        for _ in range(10):
            _grad(layer, theta, g)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert layer.n_updates == 30


def test_state_dict_copies_and_pickles_carry_the_adapted_state():
    case = CASES["top_k"]
    theta, _ = case.draw(0, batch=3)
    layer = AdaptiveIMLELayer(case.solver(), beta_step=0.1, seed=0)
    for _ in range(3):
        _grad(layer, theta, torch.ones_like(theta))
    state = layer.state_dict()["_extra_state"]
    assert state["n_updates"] == 3 and state["beta"] != 1.0
    fresh = AdaptiveIMLELayer(case.solver(), beta_step=0.1, seed=0)
    fresh.load_state_dict(layer.state_dict())
    assert (fresh.beta, fresh.running_norm, fresh.n_updates) == (
        layer.beta,
        layer.running_norm,
        3,
    )
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert other.beta == layer.beta
        _grad(other, theta, torch.ones_like(theta))
        assert other.n_updates == 4 and layer.n_updates == 3  # each adapts on its own


def test_registry_options_checks_and_second_derivatives():
    layer = diffsolvers.layer("top_k", method="adaptive_imle", k=2, beta=0.3, symmetric=True)
    assert isinstance(layer, AdaptiveIMLELayer) and layer.beta == 0.3 and layer.symmetric
    path = diffsolvers.layer("shortest_path", method="adaptive_imle")
    assert path.solver.negative_costs == "clamp"
    for bad, message in [
        ({"beta": -1.0}, "beta must be a non-negative"),
        ({"beta": float("nan")}, "beta must be a non-negative finite"),
        ({"beta_step": 0.0}, "beta_step"),
        ({"norm_decay": 1.0}, r"norm_decay must be in \[0, 1\)"),
        ({"target_norm": -1.0}, "target_norm"),
        ({"symmetric": "yes"}, "symmetric"),
    ]:
        with pytest.raises((ValueError, TypeError), match=message):
            AdaptiveIMLELayer(solvers.get("argmax"), **bad)
    module = AdaptiveIMLELayer(solvers.get("argmax"), seed=0)
    x = torch.rand(2, 5, dtype=F64)

    def f(t):
        return (module(t) * torch.arange(10, dtype=F64).reshape(2, 5)).sum()

    assert grad(f)(x).shape == x.shape
    with pytest.raises(RuntimeError, match="gives first derivatives only"):
        grad(lambda t: grad(f)(t).pow(2).sum())(x)
