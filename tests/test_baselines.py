"""Baseline methods: blackbox, identity, I-MLE, SPO+, two-stage, squared and Hamming losses.

Formula tests on tiny instances, by hand or against brute force.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
import torch
from problem_cases import CASES

import diffsolvers
import solvers
from diffsolvers import (
    BlackboxLayer,
    HammingLoss,
    IdentityLayer,
    IMLELayer,
    PerturbedOptimizer,
    SPOPlusLoss,
    SquaredLoss,
    SumOfGamma,
    TwoStageLoss,
)
from diffsolvers.layers.identity import PROJECTIONS

F64 = torch.float64
NEW = ("blackbox", "identity", "imle", "spo_plus", "two_stage", "squared", "hamming")


def _grad(module, x, g=None, *args, **side):
    x = x.clone().requires_grad_(True)
    out = module(x, *args, **side)
    out.backward(torch.ones_like(out) if g is None else g)
    return out.detach(), x.grad


class _Counting:
    """Wraps a solver's ``solve`` and counts the calls."""

    def __init__(self, solver):
        self.calls = 0
        self.inner = solver.solve
        solver.solve = self

    def __call__(self, theta, **side):
        self.calls += 1
        return self.inner(theta, **side)


# -- registry -------------------------------------------------------------------------------


def test_registry_lists_the_baselines_with_kinds_targets_and_reasons():
    rows = {(r.problem, r.method): r.kind for r in diffsolvers.available()}
    for problem in solvers.problems():
        for name in NEW:
            info = diffsolvers.method_info(name)
            if name == "hamming" and problem in ("ranking", "lp"):
                assert (problem, name) not in rows
            else:
                assert rows[(problem, name)] == info.kind
    kinds = {n: diffsolvers.method_info(n).kind for n in NEW}
    assert kinds == {
        "blackbox": "layer",
        "identity": "layer",
        "imle": "layer",
        "spo_plus": "loss",
        "two_stage": "loss",
        "squared": "loss",
        "hamming": "loss",
    }
    targets = {n: diffsolvers.method_info(n).target for n in NEW if kinds[n] == "loss"}
    assert targets == {
        "spo_plus": "costs",
        "two_stage": "costs",
        "squared": "solution",
        "hamming": "solution",
    }
    reasons = {(p, m): r for p, m, r in diffsolvers.not_meaningful() if m == "hamming"}
    assert set(reasons) == {("ranking", "hamming"), ("lp", "hamming")}
    assert "0/1" in reasons[("ranking", "hamming")]
    with pytest.raises(ValueError, match="not meaningful for 'ranking'"):
        diffsolvers.loss("ranking", method="hamming")
    for name in NEW:
        assert "inputs" in diffsolvers.method_info(name).options
        if kinds[name] == "loss":
            assert "reduction" in diffsolvers.method_info(name).options


def test_registry_builds_with_options_and_clamps_shortest_paths():
    layer = diffsolvers.layer("top_k", method="imle", k=2, lambda_=3.0, kappa=2, seed=1)
    assert isinstance(layer, IMLELayer) and layer.lambda_ == 3.0 and layer.noise.kappa == 2
    assert layer.solver.k == 2
    bb = diffsolvers.layer("shortest_path", method="blackbox", lambda_=2.0, inputs="costs")
    assert bb.solver.negative_costs == "clamp" and bb.inputs == "costs"
    ident = diffsolvers.layer("argmax", method="identity", projection="normalize")
    assert ident.projection == "normalize"
    spo = diffsolvers.loss("knapsack", method="spo_plus", weights=[1, 2], capacity=2)
    assert isinstance(spo, SPOPlusLoss) and spo.solver.capacity == 2
    assert diffsolvers.loss("shortest_path", method="spo_plus").solver.negative_costs == "clamp"
    with pytest.raises(ValueError, match="projection must be one of"):
        diffsolvers.layer("argmax", method="identity", projection="sphere")
    with pytest.raises(ValueError, match="lambda_ must be a positive"):
        diffsolvers.layer("argmax", method="blackbox", lambda_=0.0)
    with pytest.raises(ValueError, match="inputs must be one of"):
        diffsolvers.loss("argmax", method="two_stage", inputs="values")


# -- blackbox -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("g", "expected"), [((2.0, -1.0, 0.0), (2 / 3, -2 / 3, 0.0)), ((-1.0, 2.0, 0.0), (0, 0, 0))]
)
def test_blackbox_three_item_argmax_by_hand(g, expected):
    layer = BlackboxLayer(solvers.get("argmax"), lambda_=1.5)
    y, grad = _grad(layer, torch.tensor([1.0, 0.0, 0.0], dtype=F64), torch.tensor(g, dtype=F64))
    torch.testing.assert_close(y, torch.tensor([1.0, 0.0, 0.0], dtype=F64))
    torch.testing.assert_close(grad, torch.tensor(expected, dtype=F64), rtol=0, atol=1e-15)


def test_blackbox_costs_inputs_is_the_papers_minimisation_formula():
    """ĉ' = ĉ + λg, gradient (y(ĉ') - y(ĉ)) / λ with y(c) = argmin ⟨c, y⟩."""
    case = CASES["shortest_path_graph"]
    theta, _ = case.draw(0, batch=4)
    costs = -theta
    g = torch.from_numpy(np.random.default_rng(1).normal(size=costs.shape))
    lam = 0.7
    layer = BlackboxLayer(case.solver(), lambda_=lam, inputs="costs")
    y, grad = _grad(layer, costs, g)
    solver = case.solver()
    argmin = lambda c: torch.from_numpy(solver.solve(-c.numpy()))  # noqa: E731
    torch.testing.assert_close(y, argmin(costs))
    torch.testing.assert_close(grad, (argmin(costs + lam * g) - argmin(costs)) / lam)
    assert grad.abs().sum() > 0


def test_blackbox_is_not_linear_in_the_incoming_gradient():
    """∇f_λ(c·g) = c·∇f_{cλ}(g): rescaling the loss rescales the effective λ."""
    case = CASES["assignment"]
    theta, _ = case.draw(0, batch=5)
    g = torch.from_numpy(np.random.default_rng(2).normal(size=theta.shape))
    solver = case.solver()
    _, scaled = _grad(BlackboxLayer(solver, lambda_=0.5), theta, 4.0 * g)
    _, base = _grad(BlackboxLayer(solver, lambda_=2.0), theta, g)
    torch.testing.assert_close(scaled, 4.0 * base, rtol=0, atol=1e-14)
    _, small = _grad(BlackboxLayer(solver, lambda_=0.5), theta, g)
    assert base.abs().sum() > 0 and not torch.allclose(4.0 * small, scaled)


@pytest.mark.parametrize("problem", ["shortest_path_graph", "assignment", "knapsack"])
def test_small_noise_fenchel_young_and_large_lambda_blackbox_give_the_perceptron_update(problem):
    """ε → 0: the FY gradient ``y_ε(θ) - y`` becomes ``y*(θ) - y`` (the structured
    perceptron); λ → ∞ with the Hamming loss: ``θ' = θ - λ(1 - 2y)`` selects the target, so
    blackbox returns ``(y*(θ) - y) / λ``, the same direction."""
    case = CASES[problem]
    theta, side = case.draw(0, batch=6)
    y = case.target(case.draw(1, batch=6)[0], side)
    solver = case.solver()
    y_star = torch.from_numpy(solver.solve(theta.numpy(), **side)).to(F64)
    perceptron = y_star - y
    assert perceptron.abs().sum() > 0
    fy = diffsolvers.FenchelYoungLoss(solver, sigma=1e-9, n_samples=3, seed=0, reduction="sum")
    x = theta.clone().requires_grad_(True)
    fy(x, y, **side).backward()
    torch.testing.assert_close(x.grad, perceptron, rtol=0, atol=0)
    lam = 1e6
    _, grad = _grad(BlackboxLayer(solver, lambda_=lam), theta, 1 - 2 * y, **side)
    torch.testing.assert_close(grad * lam, perceptron, rtol=0, atol=1e-9)


def test_blackbox_batch_axes_side_data_and_one_solve_per_pass():
    case = CASES["knapsack"]
    theta, side = case.draw(0, batch=6)
    theta = theta.reshape(2, 3, 6)
    side = {k: np.asarray(v).reshape(2, 3, *np.asarray(v).shape[1:]) for k, v in side.items()}
    solver = case.solver()
    counter = _Counting(solver)
    layer = BlackboxLayer(solver, lambda_=3.0)
    g = torch.from_numpy(np.random.default_rng(3).normal(size=theta.shape))
    y, grad = _grad(layer, theta, g, **side)
    assert counter.calls == 2 and y.shape == theta.shape and grad.shape == theta.shape
    flat_side = {k: v.reshape(6, *v.shape[2:]) for k, v in side.items()}
    ref = solvers.get("knapsack")
    t = theta.reshape(6, 6)
    y_ref = torch.from_numpy(ref.solve(t.numpy(), **flat_side))
    y_p = torch.from_numpy(ref.solve((t - 3.0 * g.reshape(6, 6)).numpy(), **flat_side))
    torch.testing.assert_close(y.reshape(6, 6), y_ref)
    torch.testing.assert_close(grad.reshape(6, 6), (y_ref - y_p) / 3.0)


# -- identity -------------------------------------------------------------------------------


def _projection_vjp(theta, g, projection):
    """J_Pᵀ g written out by hand, row by row."""
    out = []
    for t, v in zip(theta, g):
        d = t.numel()
        jac = torch.eye(d, dtype=F64)
        if projection in ("mean", "mean_normalize"):
            jac = torch.eye(d, dtype=F64) - torch.full((d, d), 1.0 / d, dtype=F64)
            t = t - t.mean()
        if projection in ("normalize", "mean_normalize"):
            u = t / t.norm()
            jac = ((torch.eye(d, dtype=F64) - torch.outer(u, u)) / t.norm()) @ jac
        out.append(jac.T @ v)
    return torch.stack(out)


@pytest.mark.parametrize("projection", PROJECTIONS)
@pytest.mark.parametrize("inputs", ["scores", "costs"])
def test_identity_backward_with_each_projection_and_the_costs_sign(projection, inputs):
    case = CASES["top_k"]  # every solution has Σy = k: all projections keep y*
    theta, _ = case.draw(0, batch=4)
    g = torch.from_numpy(np.random.default_rng(4).normal(size=theta.shape))
    layer = IdentityLayer(case.solver(), projection=projection, inputs=inputs)
    x = theta if inputs == "scores" else -theta
    y, grad = _grad(layer, x, g)
    torch.testing.assert_close(y, case.target(theta, {}))
    expected = _projection_vjp(theta, g, projection)
    if inputs == "costs":
        expected = -expected  # PyEPO's negative identity
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-12)
    if projection is None:
        assert torch.equal(grad, g if inputs == "scores" else -g)


def test_identity_normalize_keeps_every_solution():
    for problem in ("knapsack", "shortest_path", "spanning_tree"):
        case = CASES[problem]
        theta, side = case.draw(0, batch=3)
        layer = IdentityLayer(
            case.solver(negative_costs="clamp") if "path" in problem else case.solver(),
            projection="normalize",
        )
        torch.testing.assert_close(layer(theta, **side), case.target(theta, side))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("projection", ["normalize", "mean_normalize"])
def test_identity_projections_give_the_float32_solution_in_every_float_dtype(projection, dtype):
    # Rows: all zeros (θ/‖θ‖ was 0/0 in float16), constant (0 after the mean), a norm whose
    # square overflows float16, and distinct scores that P(θ) rounded to half precision
    # tied (the solver's tie-breaking then reordered them).
    rows = [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [1.0, 1.0, 1.0, 1.0, 1.0],
        [3e4, 1.0, -2.0, -3e4, 5.0],
        [255.0, 254.0, 300.0, 0.0, 0.0],
        [255.0, 254.0, 300.0, 2047.0, 2046.0],
        [-0.59765625, 0.181640625, -0.85546875, 1.1015625, -1072.0],
    ]
    theta = torch.tensor(rows).to(dtype)
    layer = diffsolvers.layer("ranking", method="identity", projection=projection)
    x = theta.clone().requires_grad_(True)
    y = layer(x)
    assert y.dtype == dtype
    torch.testing.assert_close(y.float(), layer(theta.float()), rtol=0, atol=0)
    y.backward(torch.ones_like(y))
    assert x.grad.dtype == dtype
    grid = diffsolvers.layer(
        "shortest_path", method="identity", projection=projection, inputs="costs"
    )
    costs = torch.stack(
        [torch.zeros(4, 4), torch.rand(4, 4, generator=torch.Generator().manual_seed(0))]
    )
    costs = costs.to(dtype)
    torch.testing.assert_close(grid(costs).float(), grid(costs.float()), rtol=0, atol=0)


def test_identity_normalize_at_zero_has_the_documented_gradient():
    # θ/max(‖θ‖, 1e-12) at θ = 0: the solver sees zeros and J_P = I/1e-12 (module docstring).
    layer = diffsolvers.layer("ranking", method="identity", projection="normalize")
    x = torch.zeros(1, 3, dtype=F64, requires_grad=True)
    g = torch.tensor([[1.0, -2.0, 0.5]], dtype=F64)
    layer(x).backward(g)
    torch.testing.assert_close(x.grad, g * 1e12)


# -- Sum-of-Gamma noise and I-MLE -----------------------------------------------------------


@pytest.mark.parametrize(("kappa", "tau", "s"), [(1.0, 1.0, 10), (5.0, 0.5, 10), (3.0, 2.0, 3)])
def test_sum_of_gamma_mean_and_variance_match_the_closed_form(kappa, tau, s):
    noise = SumOfGamma(kappa, tau, s)
    h1 = sum(1 / i for i in range(1, s + 1))
    h2 = sum(1 / i**2 for i in range(1, s + 1))
    assert noise.mean == pytest.approx(tau / kappa * (h1 - math.log(s)), rel=1e-12)
    assert noise.variance == pytest.approx(tau**2 / kappa * h2, rel=1e-12)
    n = 200_000
    z = noise.sample((n,), generator=torch.Generator().manual_seed(0), dtype=F64)
    se_mean = math.sqrt(noise.variance / n)
    assert abs(z.mean().item() - noise.mean) < 5 * se_mean
    centred2 = (z - z.mean()) ** 2
    se_var = centred2.std().item() / math.sqrt(n)
    assert abs(centred2.mean().item() - noise.variance) < 5 * se_var


def test_sum_of_gamma_reproducible_and_gumbel_limit():
    noise = SumOfGamma(4.0, 1.0, 10)
    a = noise.sample((3, 5), generator=torch.Generator().manual_seed(7), dtype=torch.float32)
    b = noise.sample((3, 5), generator=torch.Generator().manual_seed(7), dtype=torch.float32)
    assert torch.equal(a, b) and a.dtype == torch.float32
    # κ = 1, s large: (Σ Exp(mean 1/i)) - log s tends to a standard Gumbel (mean γ, variance
    # π²/6); with s = 100 both are within 0.01 of the limit, far below the tolerance (> 4 SE).
    z = SumOfGamma(1.0, 1.0, 100).sample(
        (20_000,), generator=torch.Generator().manual_seed(1), dtype=F64
    )
    assert abs(z.mean().item() - 0.5772156649) < 0.05
    assert abs(z.var().item() - math.pi**2 / 6) < 0.12
    with pytest.raises(ValueError, match="kappa"):
        SumOfGamma(0.0)
    with pytest.raises(ValueError, match="n_terms"):
        SumOfGamma(1.0, 1.0, 0)


@pytest.mark.parametrize("n_samples", [1, 4])
def test_imle_is_blackbox_at_the_same_noise(n_samples):
    case = CASES["top_k"]
    theta, _ = case.draw(0, batch=3)
    g = torch.from_numpy(np.random.default_rng(5).normal(size=theta.shape))
    layer = IMLELayer(case.solver(), lambda_=2.0, kappa=2.0, tau=0.7, n_samples=n_samples, seed=9)
    y, grad = _grad(layer, theta, g)
    eps = SumOfGamma(2.0, 0.7, 10).sample(
        (n_samples, *theta.shape), generator=torch.Generator().manual_seed(9), dtype=F64
    )
    bb = BlackboxLayer(case.solver(), lambda_=2.0)
    ys, grads = zip(*(_grad(bb, theta + e, g) for e in eps))
    torch.testing.assert_close(y, torch.stack(ys).mean(0), rtol=0, atol=1e-15)
    torch.testing.assert_close(grad, torch.stack(grads).mean(0), rtol=0, atol=1e-15)
    assert grad.abs().sum() > 0


def test_imle_eval_mode_returns_the_map_state_and_one_solve_per_pass():
    case = CASES["knapsack"]
    theta, side = case.draw(0, batch=3)
    solver = case.solver()
    counter = _Counting(solver)
    layer = IMLELayer(solver, n_samples=5, seed=0, tau=0.5)
    _grad(layer, theta, None, **side)
    assert counter.calls == 2
    layer.eval()
    torch.testing.assert_close(layer(theta, **side), case.target(theta, side))
    layer.map_in_eval = False
    assert not torch.equal(layer(theta, **side), case.target(theta, side))


# -- SPO+ ----------------------------------------------------------------------------------


def _dag_paths():
    params = CASES["shortest_path_graph"].params()
    g = nx.DiGraph()
    g.add_edges_from((u, v, {"i": i}) for i, (u, v) in enumerate(params["edges"]))
    paths = []
    for nodes in nx.all_simple_paths(g, 0, params["n_nodes"] - 1):
        w = np.zeros(len(params["edges"]))
        for u, v in itertools.pairwise(nodes):
            w[g[u][v]["i"]] = 1.0
        paths.append(w)
    return np.array(paths)


def _knapsack_sets(weights, capacity):
    sets = np.array(list(itertools.product([0.0, 1.0], repeat=len(weights))))
    return sets[sets @ weights <= capacity]


def _spo_brute(feasible, c_hat, c):
    """The paper's minimisation form on an enumerated feasible set."""
    w_star = feasible[np.argmin(feasible @ c)]
    value = np.max(feasible @ (c - 2 * c_hat)) + 2 * c_hat @ w_star - c @ w_star
    w_q = feasible[np.argmin(feasible @ (2 * c_hat - c))]
    return value, 2 * (w_star - w_q)


def test_spo_plus_matches_brute_force_on_a_minimisation_problem():
    case = CASES["shortest_path_graph"]
    paths = _dag_paths()
    rng = np.random.default_rng(6)
    c = rng.uniform(0.2, 2.0, size=(8, paths.shape[1]))
    c_hat = rng.uniform(0.0, 2.0, size=c.shape)
    loss = SPOPlusLoss(case.solver(), inputs="costs", reduction="none")
    value, grad = _grad(loss, torch.from_numpy(c_hat), None, torch.from_numpy(c))
    for b in range(len(c)):
        v, sub = _spo_brute(paths, c_hat[b], c[b])
        assert value[b].item() == pytest.approx(v, abs=1e-12)
        np.testing.assert_allclose(grad[b].numpy(), sub, atol=1e-12)
    assert (value >= 0).all() and (value > 0).any()
    same = loss(torch.from_numpy(c), torch.from_numpy(c))
    torch.testing.assert_close(same, torch.zeros(8, dtype=F64))


def test_spo_plus_matches_brute_force_on_a_maximisation_problem():
    """Knapsack values v enter as costs c = -v; the prediction is the scores v̂ (θ̂ = v̂)."""
    rng = np.random.default_rng(7)
    weights = rng.integers(1, 6, size=(6, 7)).astype(np.float64)
    capacity = np.full(6, 9.0)
    v = rng.uniform(0.5, 3.0, size=(6, 7))
    v_hat = rng.uniform(-1.0, 3.0, size=(6, 7))
    loss = SPOPlusLoss(solvers.get("knapsack"), inputs="scores", reduction="none")
    side = {"weights": weights, "capacity": capacity}
    value, grad = _grad(loss, torch.from_numpy(v_hat), None, torch.from_numpy(-v), **side)
    for b in range(6):
        feasible = _knapsack_sets(weights[b], capacity[b])
        val, sub_c = _spo_brute(feasible, -v_hat[b], -v[b])
        assert value[b].item() == pytest.approx(val, abs=1e-12)
        np.testing.assert_allclose(grad[b].numpy(), -sub_c, atol=1e-12)  # ∂/∂v̂ = -∂/∂ĉ
    assert (value >= 0).all()
    zero = loss(torch.from_numpy(v), torch.from_numpy(-v), **side)
    torch.testing.assert_close(zero, torch.zeros(6, dtype=F64))


def test_spo_plus_one_batched_solve_or_given_true_solution():
    case = CASES["assignment"]
    theta_hat, _ = case.draw(0, batch=4)
    theta, _ = case.draw(1, batch=4)
    solver = case.solver()
    counter = _Counting(solver)
    loss = SPOPlusLoss(solver, reduction="sum")
    v1, g1 = _grad(loss, theta_hat, None, -theta)
    assert counter.calls == 1
    y_true = case.target(theta, {})
    v2, g2 = _grad(loss, theta_hat, None, -theta, y_true=y_true)
    assert counter.calls == 2
    torch.testing.assert_close(v1, v2)
    torch.testing.assert_close(g1, g2)


# -- two-stage, squared, Hamming -------------------------------------------------------------


def test_two_stage_is_the_mse_of_costs_without_a_solve():
    case = CASES["shortest_path"]
    theta, _ = case.draw(0, batch=3)
    c_hat = torch.rand(theta.shape, dtype=F64, generator=torch.Generator().manual_seed(0))
    c = -theta
    solver = case.solver()
    counter = _Counting(solver)
    loss = TwoStageLoss(solver, inputs="costs", reduction="none")
    value, grad = _grad(loss, c_hat, None, c)
    assert counter.calls == 0
    torch.testing.assert_close(value, ((c_hat - c) ** 2).mean((-2, -1)))
    torch.testing.assert_close(grad, 2 * (c_hat - c) / 20)
    scores = TwoStageLoss(solver, inputs="scores", reduction="none")
    torch.testing.assert_close(scores(-c_hat, c), value)


def test_squared_loss_goes_through_the_perturbed_optimizer():
    case = CASES["top_k"]
    theta, _ = case.draw(0, batch=4)
    y = case.target(case.draw(1, batch=4)[0], {})
    loss = SquaredLoss(case.solver(), sigma=0.5, n_samples=5, seed=2, reduction="none")
    value, grad = _grad(loss, theta, None, y)
    ref = PerturbedOptimizer(case.solver(), sigma=0.5, n_samples=5, seed=2)
    x = theta.clone().requires_grad_(True)
    expected = ((ref(x) - y) ** 2).sum(-1)
    expected.sum().backward()
    torch.testing.assert_close(value, expected.detach(), rtol=0, atol=1e-14)
    torch.testing.assert_close(grad, x.grad, rtol=0, atol=1e-14)


def test_hamming_loss_value_and_gradient_scale():
    theta = torch.tensor([[3.0, 2.0, 0.0, -1.0]], dtype=F64)
    y = torch.tensor([[0.0, 1.0, 1.0, 0.0]], dtype=F64)
    solver = solvers.get("top_k", k=2)
    value, grad = _grad(HammingLoss(solver, lambda_=2.0, reduction="sum"), theta, None, y)
    assert value.item() == pytest.approx(2 / 4)  # ŷ = (1, 1, 0, 0): two of four entries wrong
    # The reference sums the errors: θ' = θ - λ(1 - 2y) = (1, 4, 2, -3) → y' = (0, 1, 1, 0);
    # its gradient (ŷ - y')/λ, divided by D = 4 for the mean.
    expected = torch.tensor([[1.0, 0.0, -1.0, 0.0]], dtype=F64) / (2.0 * 4)
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-15)
    # λ = 1: θ' = (2, 3, 1, -2) still selects ŷ, so the gradient vanishes.
    _, flat = _grad(HammingLoss(solver, lambda_=1.0, reduction="sum"), theta, None, y)
    assert torch.equal(flat, torch.zeros_like(flat))


def test_one_hamming_loss_shared_by_two_threads():
    """Issue #26, item 4: forward changes no module state, so one loss serves two threads
    at once (a 12×12 and a 3×3 grid: each thread's λ·D must stay its own). The thread
    switch interval is shortened so that calls interleave often."""
    import sys
    import threading

    loss = diffsolvers.loss("shortest_path", "hamming", lambda_=20.0, inputs="costs")
    gen = torch.Generator().manual_seed(0)
    big = torch.rand(2, 12, 12, generator=gen, dtype=F64) + 0.1
    big_target = torch.from_numpy(solvers.get("shortest_path").solve((big - 1.2).numpy()))
    small = torch.rand(2, 3, 3, generator=gen, dtype=F64) + 0.1
    small_target = torch.zeros(2, 3, 3, dtype=F64)  # (0,0) (0,1) (1,2) (2,2), not the diagonal
    small_target[:, 0, :2] = small_target[:, 1, 2] = small_target[:, 2, 2] = 1.0
    cases = [(big, big_target), (small, small_target)]

    def gradient(costs, target):
        x = costs.clone().requires_grad_(True)
        loss(x, target).backward()
        return x.grad

    expected = [gradient(*case) for case in cases]
    assert all(g.abs().sum() > 0 for g in expected)
    wrong = [0, 0]

    def run(i):
        for _ in range(150):
            if not torch.equal(gradient(*cases[i]), expected[i]):
                wrong[i] += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == [0, 0], f"wrong gradients out of 150 per thread: {wrong}"
    assert loss.layer.lambda_ == 20.0


@pytest.mark.parametrize("method", ["blackbox", "identity", "imle"])
def test_layers_take_costs_and_side_data(method):
    case = CASES["knapsack"]
    theta, side = case.draw(0, batch=3)
    layer = diffsolvers.layer("knapsack", method=method, inputs="scores", **case.params())
    assert torch.isfinite(layer(theta, **side)).all()
    with pytest.raises(ValueError, match="knapsack: weights must have shape"):
        layer(theta, weights=side["weights"][:2], capacity=side["capacity"])
    sp = diffsolvers.layer("shortest_path", method=method, inputs="costs")
    c = -CASES["shortest_path"].draw(0, batch=2)[0]
    y = sp(c)
    assert y.shape == c.shape and (y.sum((-2, -1)) >= 4).all()
