"""Perturbed optimizers against closed forms, finite differences and their own samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from problem_cases import CASES

import solvers
from diffsolvers import PerturbedMax, PerturbedOptimizer

EULER_GAMMA = 0.5772156649015329
F64 = torch.float64


def _se(terms: torch.Tensor) -> torch.Tensor:
    """Standard error of the mean over the first axis."""
    return terms.std(0) / math.sqrt(terms.shape[0])


# -- closed forms: Gumbel argmax is the softmax ---------------------------------------------
def test_gumbel_perturbed_argmax_is_softmax():
    theta = torch.tensor([0.6, 0.1, -0.4, 0.3], dtype=F64)
    eps, m = 0.5, 40_000
    layer = PerturbedOptimizer(solvers.get("argmax"), eps, m, noise="gumbel", seed=0)
    p = torch.softmax(theta / eps, -1)
    tol = 5 * torch.sqrt(p * (1 - p) / m)
    assert ((layer(theta) - p).abs() < tol).all()


@pytest.mark.parametrize("control_variate", [False, True])
def test_gumbel_jacobian_is_softmax_jacobian(control_variate):
    theta = torch.tensor([0.6, 0.1, -0.4, 0.3], dtype=F64)
    eps, m, n = 0.5, 40_000, 4
    layer = PerturbedOptimizer(
        solvers.get("argmax"), eps, m, "gumbel", control_variate=control_variate, seed=0
    )
    x = theta.clone().requires_grad_(True)
    y = layer(x)
    jac = torch.stack([torch.autograd.grad(y[i], x, retain_graph=True)[0] for i in range(n)])
    # The backward pass is the mean of the per-sample score-function terms...
    s = layer.manual_seed(0).sample(theta)
    diff = s.y[:, 0] - (s.y_base[0] if control_variate else 0)
    terms = diff[:, :, None] * layer.noise.score(s.z[:, 0])[:, None, :] / eps
    torch.testing.assert_close(jac, terms.mean(0), rtol=1e-10, atol=1e-12)
    # ... which matches the softmax Jacobian (diag(p) - p pᵀ)/ε within Monte Carlo error.
    p = torch.softmax(theta / eps, -1)
    exact = (torch.diag(p) - torch.outer(p, p)) / eps
    assert ((jac - exact).abs() < 5 * _se(terms) + 1e-3).all()


# -- Jacobian-vector products against central finite differences (common random numbers) ----
@pytest.mark.parametrize(
    ("mode", "theta"),
    [
        ("additive", [0.3, -0.2, 0.5, 0.0, 0.1]),
        ("multiplicative", [0.9, 0.6, 1.4, 0.7, 1.1]),
    ],
)
def test_jvp_matches_central_finite_differences(mode, theta):
    theta = torch.tensor(theta, dtype=F64)
    eps, m, h = 0.4, 50_000, 0.05
    layer = PerturbedOptimizer(solvers.get("top_k", k=2), eps, m, mode=mode, seed=0)
    layer.control_variate = True
    gen = torch.Generator().manual_seed(1)
    u = torch.randn(5, generator=gen, dtype=F64)
    v = torch.randn(5, generator=gen, dtype=F64)
    x = theta.clone().requires_grad_(True)
    (layer.manual_seed(3)(x) @ u).backward()
    analytic = x.grad @ v
    plus = layer.manual_seed(3).sample(theta + h * v).y[:, 0] @ u
    minus = layer.manual_seed(3).sample(theta - h * v).y[:, 0] @ u
    fd_terms = (plus - minus) / (2 * h)
    s = layer.manual_seed(3).sample(theta)
    scale = v if mode == "additive" else v / theta
    sf_terms = ((s.y[:, 0] - s.y_base[0]) @ u) * (layer.noise.score(s.z[:, 0]) @ scale) / eps
    torch.testing.assert_close(analytic, sf_terms.mean())
    tol = 5 * math.hypot(_se(fd_terms).item(), _se(sf_terms).item())
    assert abs(analytic.item()) > tol, "test too weak: the directional derivative is noise"
    assert abs(analytic.item() - fd_terms.mean().item()) < tol


def test_control_variate_reduces_variance():
    """400 independent copies of one instance (independent noise) give 400 estimates.

    The control variate helps where y*(θ) is the most frequent perturbed solution (noise
    small against the score gaps), the usual regime in training.
    """
    theta = torch.tensor([1.0, 0.5, 0.0, -0.5, -1.0], dtype=F64).repeat(400, 1)
    g = torch.tensor([1.0, -0.3, 0.5, 0.2, -0.4], dtype=F64).repeat(400, 1)
    grads = {}
    for cv in (False, True):
        layer = PerturbedOptimizer(solvers.get("argmax"), 0.3, 10, control_variate=cv, seed=7)
        x = theta.clone().requires_grad_(True)
        (layer(x) * g).sum().backward()
        grads[cv] = x.grad
    var_plain = grads[False].var(0).sum()
    var_cv = grads[True].var(0).sum()
    print(f"gradient variance: plain {var_plain:.4f}, control variate {var_cv:.4f}")
    assert var_cv < 0.5 * var_plain
    # Both are unbiased: their means agree within Monte Carlo error.
    se = torch.sqrt(grads[False].var(0) / 400 + grads[True].var(0) / 400)
    assert ((grads[False].mean(0) - grads[True].mean(0)).abs() < 5 * se + 1e-12).all()


@pytest.mark.parametrize("noise", ["normal", "gumbel"])
def test_multiplicative_perturbation_has_mean_theta(noise):
    theta = torch.tensor([[2.0, -0.5, 1.0]], dtype=F64)
    layer = PerturbedOptimizer(solvers.get("argmax"), 0.3, 100_000, noise, "multiplicative", seed=0)
    s = layer.sample(theta)
    assert s.weights is not None
    torch.testing.assert_close(s.theta_p, s.theta * s.weights)
    assert ((s.theta_p.mean(0) - s.theta).abs() < 5 * _se(s.theta_p)).all()


def test_multiplicative_gradient_is_zero_where_theta_is_zero():
    layer = PerturbedOptimizer(solvers.get("argmax"), 0.5, 50, mode="multiplicative", seed=0)
    x = torch.tensor([1.0, 0.0, 0.8], dtype=F64, requires_grad=True)
    (layer(x) @ torch.tensor([1.0, -1.0, 2.0], dtype=F64)).backward()
    assert x.grad[1] == 0 and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


# -- perturbed max ----------------------------------------------------------------------------
def test_gumbel_perturbed_max_is_logsumexp():
    theta = torch.tensor([0.6, 0.1, -0.4, 0.3], dtype=F64)
    eps, m = 0.5, 40_000
    pmax = PerturbedMax(solvers.get("argmax"), eps, m, noise="gumbel", seed=0)
    values = pmax.sample(theta).theta_p.max(-1).values[:, 0]
    exact = eps * torch.logsumexp(theta / eps, -1) + eps * EULER_GAMMA
    torch.testing.assert_close(pmax.manual_seed(0)(theta), values.mean())
    assert abs(values.mean() - exact) < 5 * _se(values)


@pytest.mark.parametrize("problem", ["assignment", "shortest_path_graph", "knapsack", "ranking"])
def test_perturbed_max_is_at_least_max(problem):
    case = CASES[problem]
    theta, side = case.draw(seed=0, batch=4)
    eps = 0.5
    pmax = PerturbedMax(case.solver(), eps, 500, seed=0)
    f = pmax(theta, **side)
    best = case.solver().objective(theta.numpy(), case.target(theta, side).numpy())
    # For every draw, max ⟨θ_m, y⟩ >= ⟨θ_m, y*(θ)⟩, so F̂ >= max⟨θ, y⟩ + ε⟨mean Z, y*(θ)⟩ ...
    s = pmax.manual_seed(0).sample(theta, **side)
    y_star = case.target(theta, side).reshape(s.theta.shape)
    shift = eps * (s.z.mean(0) * y_star).sum(-1)
    assert (f.flatten() >= torch.from_numpy(best).flatten() + shift - 1e-9).all()
    # ... and E[F̂] >= max⟨θ, y⟩ (Jensen): the mean is above up to Monte Carlo error.
    se = _se((s.theta_p * s.y).sum(-1))
    assert (f.flatten() >= torch.from_numpy(best).flatten() - 5 * se).all()


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_perturbed_max_gradient_is_perturbed_argmax(mode):
    theta = torch.tensor([[0.9, 0.6, 1.4, 0.7, 1.1], [0.3, 0.2, 0.5, 0.4, 0.1]], dtype=F64)
    solver = solvers.get("top_k", k=2)
    pmax = PerturbedMax(solver, 0.4, 50, mode=mode, seed=5)
    x = theta.clone().requires_grad_(True)
    pmax(x).sum().backward()
    s = pmax.manual_seed(5).sample(theta)
    expected = s.y.mean(0) if mode == "additive" else (s.weights * s.y).mean(0)
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=1e-14)
    if mode == "additive":  # ∇F_ε == y_ε with the same samples
        layer = PerturbedOptimizer(solver, 0.4, 50, mode=mode, seed=5)
        torch.testing.assert_close(x.grad, layer(theta), rtol=0, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_half_precision_perturbed_argmax_is_not_biased_towards_low_indices(dtype):
    """Issue #26, item 5: θ = 30·1₈, ε = 1. Formed in bfloat16, θ + εZ rounds to a grid of
    step 0.125 near 30 and its ties go to the lowest index (frequencies 0.136 ... 0.114 at
    M = 400,000); the scores are now perturbed and solved in float32. With M = 200,000 the
    standard error of each frequency is 7.4e-4: the bound of 5 of them is crossed by an
    unbiased layer with probability below 5e-6, and the bias (about 15 of them) never
    fits under it."""
    m = 200_000
    layer = PerturbedOptimizer(solvers.get("argmax"), sigma=1.0, n_samples=m, seed=0)
    y = layer(torch.full((8,), 30.0, dtype=dtype))
    assert y.dtype == dtype
    freq = layer.manual_seed(0).sample(torch.full((8,), 30.0, dtype=dtype)).y.mean(0)[0]
    se = math.sqrt(0.125 * 0.875 / m)
    assert (freq - 0.125).abs().max() < 5 * se, freq
    torch.testing.assert_close(y.float(), freq.float(), rtol=0, atol=float(torch.finfo(dtype).eps))


# -- mechanics: one solver call, side data, seeds, dtypes, errors ---------------------------
class _Counting:
    def __init__(self, solver):
        self.solver, self.calls = solver, []
        self.problem, self.event_ndim = solver.problem, solver.event_ndim

    def solve(self, theta, **side):
        self.calls.append((theta.shape, {k: v.shape for k, v in side.items()}))
        return self.solver.solve(theta, **side)


def test_one_solver_call_with_tiled_side_data():
    case = CASES["knapsack"]
    rng = np.random.default_rng(0)
    theta = torch.from_numpy(case.theta(rng, 6)).reshape(2, 3, 6)
    side = {k: v.reshape(2, 3, *v.shape[1:]) for k, v in case.side(rng, 6).items()}
    counting = _Counting(case.solver())
    layer = PerturbedOptimizer(counting, 0.5, 4, control_variate=True, seed=0)
    y = layer(theta, **side)
    assert y.shape == (2, 3, 6)
    assert counting.calls == [((5 * 6, 6), {"weights": (30, 6), "capacity": (30,)})]
    s = layer.manual_seed(0).sample(theta, **side)
    w, c = side["weights"].reshape(6, 6), side["capacity"].reshape(6)
    solver = case.solver()
    for m in range(4):
        for i in range(6):
            ref = solver.solve(s.theta_p[m, i].numpy(), weights=w[i], capacity=c[i])
            np.testing.assert_array_equal(s.y[m, i].numpy(), ref)
        np.testing.assert_array_equal(
            s.y_base.numpy(), solver.solve(s.theta.numpy(), weights=w, capacity=c)
        )


def test_seed_reproducibility_and_fresh_noise():
    theta = torch.randn(3, 5, dtype=F64, generator=torch.Generator().manual_seed(0))
    make = lambda **kw: PerturbedOptimizer(solvers.get("argmax"), 1.0, 5, **kw)  # noqa: E731
    a, b = make(seed=1), make(seed=1)
    first = a(theta)
    assert torch.equal(first, b(theta))
    assert not torch.equal(first, a(theta)), "successive calls must draw fresh noise"
    assert torch.equal(first, a.manual_seed(1)(theta))
    gen = torch.Generator().manual_seed(1)
    assert torch.equal(first, make(generator=gen)(theta))
    assert not torch.equal(first, make(seed=2)(theta))


def test_costs_inputs_flip_the_sign_once():
    case = CASES["shortest_path"]
    theta, _ = case.draw(0)
    costs = -theta
    solver = case.solver(negative_costs="clamp")
    by_costs = PerturbedOptimizer(solver, 0.3, 4, seed=0, inputs="costs")
    by_scores = PerturbedOptimizer(solver, 0.3, 4, seed=0)
    xc = costs.clone().requires_grad_(True)
    xs = theta.clone().requires_grad_(True)
    yc, ys = by_costs(xc), by_scores(xs)
    torch.testing.assert_close(yc, ys, rtol=0, atol=0)
    g = torch.randn(yc.shape, dtype=F64, generator=torch.Generator().manual_seed(0))
    (yc * g).sum().backward()
    (ys * g).sum().backward()
    torch.testing.assert_close(xc.grad, -xs.grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_output_keeps_dtype(dtype):
    theta = torch.randn(2, 4).to(dtype).requires_grad_(True)
    y = PerturbedOptimizer(solvers.get("argmax"), 0.5, 3, seed=0)(theta)
    assert y.dtype == dtype and y.shape == (2, 4)
    y.sum().backward()
    assert theta.grad.dtype == dtype


def test_bad_input_raises_clear_errors():
    argmax = solvers.get("argmax")
    with pytest.raises(ValueError, match="sigma must be a positive"):
        PerturbedOptimizer(argmax, sigma=0.0)
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        PerturbedOptimizer(argmax, n_samples=0)
    with pytest.raises(ValueError, match="mode must be one of additive, multiplicative"):
        PerturbedOptimizer(argmax, mode="both")
    with pytest.raises(ValueError, match="inputs must be one of"):
        PerturbedOptimizer(argmax, inputs="logits")
    with pytest.raises(ValueError, match="either seed or generator"):
        PerturbedOptimizer(argmax, seed=0, generator=torch.Generator())
    with pytest.raises(ValueError, match="σ < 1"):
        PerturbedOptimizer(argmax, sigma=1.5, noise="gumbel", mode="multiplicative")
    with pytest.raises(TypeError, match="must be a solvers.Solver"):
        PerturbedOptimizer(object())
    layer = PerturbedOptimizer(argmax)
    with pytest.raises(ValueError, match="argmax: the prediction contains NaN"):
        layer(torch.tensor([1.0, float("nan")]))
    with pytest.raises(TypeError, match="argmax: the prediction must be a real floating-point"):
        layer(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="assignment: the prediction must have at least 2 axes"):
        PerturbedOptimizer(solvers.get("assignment"))(torch.zeros(3))
    knap = PerturbedOptimizer(solvers.get("knapsack"))
    with pytest.raises(
        ValueError, match=r"knapsack: weights must have shape \(n,\) or \(\*batch, n\) = \(2, 3\)"
    ):
        knap(torch.ones(2, 3), weights=np.ones((3, 3)), capacity=np.ones(2))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_input_gives_cuda_output_and_gradient():
    theta = torch.randn(4, 6, device="cuda", requires_grad=True)
    layer = PerturbedOptimizer(solvers.get("top_k", k=2), 0.5, 5, seed=0, control_variate=True)
    y = layer(theta)
    assert y.device.type == "cuda" and y.dtype == torch.float32
    y.sum().backward()
    assert theta.grad.device.type == "cuda" and torch.isfinite(theta.grad).all()
