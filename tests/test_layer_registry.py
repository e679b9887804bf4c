"""The registry of differentiable methods, and the contract every (problem, method) pair keeps."""

from __future__ import annotations

import pytest
import torch
from problem_cases import CASES

import diffsolvers
import solvers
from diffsolvers import registry

# Method options used in the contract test, for whichever methods declare them. Interpolation
# methods (blackbox, I-MLE) give a zero gradient until λ·∂L/∂y moves the solution, so λ is
# large here: the test checks that a gradient can reach θ, not a tuning.
CONTRACT_OPTIONS = {"sigma": 0.5, "n_samples": 3, "lambda_": 10.0}
PAIRS = [(r.problem, r.method) for r in diffsolvers.available()]


def test_every_problem_has_a_case():
    missing = sorted(set(solvers.problems()) - set(CASES))
    assert not missing, f"tests/problem_cases.py has no case for {missing}: add one"


def test_every_problem_has_the_perturbed_methods():
    listed = {(r.problem, r.method) for r in diffsolvers.available()}
    for p in solvers.problems():
        for m in ("perturbed", "perturbed_multiplicative", "perturbed_max", "fenchel_young"):
            assert (p, m) in listed


def _build(problem: str, method: str, seed: int = 0):
    info = registry.method_info(method)
    opts = {k: v for k, v in CONTRACT_OPTIONS.items() if k in info.options}
    if "seed" in info.options:
        opts["seed"] = seed
    build = diffsolvers.layer if info.kind == "layer" else diffsolvers.loss
    return info, build(problem, method=method, **CASES[problem].params(), **opts)


def _run(problem: str, method: str, seed: int = 0, reduction: str | None = None):
    """Output and θ-gradient of one forward/backward pass of the pair."""
    case = CASES[problem]
    theta, side = case.draw(seed=1)
    info, module = _build(problem, method, seed)
    x = theta.clone().requires_grad_(True)
    if info.kind == "layer":
        out = module(x, **side)
        # Random upstream gradient (an affine one such as linspace is constant on the
        # assignment polytope, so an exact method would rightly return zero).
        gen = torch.Generator().manual_seed(0)
        weights = torch.randn(out.shape, generator=gen, dtype=out.dtype)
        (out * weights).sum().backward()
    else:
        if reduction is not None:
            module.reduction = reduction
        target_theta, _ = case.draw(seed=2)
        if info.target == "solution":
            target = case.target(target_theta, side)
        else:
            target = -target_theta
        out = module(x, target, **side)
        out.sum().backward()
    return info, theta, out, x.grad


@pytest.mark.parametrize(("problem", "method"), PAIRS)
def test_contract(problem, method):
    info, theta, out, grad = _run(problem, method)
    batch = theta.shape[: theta.ndim - CASES[problem].solver().event_ndim]
    if info.kind == "layer":
        expected = theta.shape if info.output == "solution" else batch
    else:
        expected = torch.Size([])  # default reduction
    assert out.shape == expected
    assert out.dtype == theta.dtype
    assert torch.isfinite(out).all()
    assert grad is not None and grad.shape == theta.shape
    assert torch.isfinite(grad).all()
    assert grad.abs().sum() > 0, "the gradient does not reach θ"
    # Same seed, same output and gradient.
    _, _, out2, grad2 = _run(problem, method)
    torch.testing.assert_close(out2, out, rtol=0, atol=0)
    torch.testing.assert_close(grad2, grad, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("problem", "method"),
    [(p, m) for p, m in PAIRS if registry.method_info(m).kind == "loss"],
)
def test_loss_reductions(problem, method):
    _, theta, none, _ = _run(problem, method, reduction="none")
    batch = theta.shape[: theta.ndim - CASES[problem].solver().event_ndim]
    assert none.shape == batch
    _, _, mean, _ = _run(problem, method, reduction="mean")
    _, _, total, _ = _run(problem, method, reduction="sum")
    torch.testing.assert_close(mean, none.mean())
    torch.testing.assert_close(total, none.sum())


# A bad value for each option that is a choice among names, and the choices' message.
BAD_CHOICES = {
    "reduction": ("avg", "reduction must be one of mean, sum, none, got 'avg'"),
    "inputs": ("logits", "inputs must be one of scores, costs, got 'logits'"),
    "mode": ("both", "mode must be one of additive, multiplicative, got 'both'"),
}


@pytest.mark.parametrize(
    "method",
    [m for m in registry.methods() if set(BAD_CHOICES) & set(registry.method_info(m).options)],
)
def test_bad_choice_options_are_named(method):
    info = registry.method_info(method)
    declared = [name for name in BAD_CHOICES if name in info.options]
    problem = next(p for p, m in PAIRS if m == method)
    build = diffsolvers.layer if info.kind == "layer" else diffsolvers.loss
    for name in declared:
        value, message = BAD_CHOICES[name]
        with pytest.raises(ValueError, match=message):
            build(problem, method=method, **CASES[problem].params(), **{name: value})


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="available problems: .*shortest_path"):
        diffsolvers.layer("no_such_problem")
    with pytest.raises(ValueError, match="available layer methods: .*perturbed"):
        diffsolvers.layer("argmax", method="no_such_method")
    with pytest.raises(ValueError, match="available loss methods: .*fenchel_young"):
        diffsolvers.loss("argmax", method="no_such_method")
    with pytest.raises(ValueError, match="is a loss method"):
        diffsolvers.layer("argmax", method="fenchel_young")
    with pytest.raises(ValueError, match="unknown backend"):
        diffsolvers.layer("argmax", backend="no_such_backend")
    with pytest.raises(TypeError, match="options of method 'perturbed'"):
        diffsolvers.layer("argmax", sigmaa=0.5)


def test_options_split_between_method_and_solver():
    layer = diffsolvers.layer("top_k", k=3, sigma=0.25, n_samples=7, seed=1)
    assert layer.solver.k == 3 and layer.sigma == 0.25 and layer.n_samples == 7
    loss = diffsolvers.loss("knapsack", weights=[1, 2, 3], capacity=3, reduction="sum")
    assert loss.reduction == "sum" and loss.solver.capacity == 3
    ready = solvers.get("top_k", k=2)
    assert diffsolvers.layer("top_k", solver=ready).solver is ready
    with pytest.raises(ValueError, match="not both"):
        diffsolvers.layer("top_k", solver=ready, k=2)
    with pytest.raises(ValueError, match="solves 'top_k'"):
        diffsolvers.layer("argmax", solver=ready)
    lp_layer = diffsolvers.layer("argmax", backend="lp")
    assert lp_layer.solver.backend == "lp"


def test_shortest_paths_clamp_with_additive_noise_only():
    for problem in ("shortest_path", "shortest_path_graph"):
        params = CASES[problem].params()
        assert diffsolvers.layer(problem, **params).solver.negative_costs == "clamp"
        assert diffsolvers.loss(problem, **params).solver.negative_costs == "clamp"
        mult = diffsolvers.layer(problem, method="perturbed_multiplicative", **params)
        assert mult.solver.negative_costs == "raise"
        kept = diffsolvers.layer(problem, negative_costs="raise", **params)
        assert kept.solver.negative_costs == "raise"


def test_register_method_and_not_meaningful(monkeypatch):
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))

    def build(solver, problem, scale=1.0):
        return diffsolvers.PerturbedOptimizer(solver, sigma=scale)

    diffsolvers.register_method(
        "scaled",
        "layer",
        build,
        description="test method",
        options=("scale",),
        not_meaningful={"ranking": "ranks are not a test subject"},
    )
    assert diffsolvers.layer("argmax", method="scaled", scale=0.3).sigma == 0.3
    rows = {(r.problem, r.method) for r in diffsolvers.available()}
    assert ("argmax", "scaled") in rows and ("ranking", "scaled") not in rows
    assert ("ranking", "scaled", "ranks are not a test subject") in diffsolvers.not_meaningful()
    with pytest.raises(ValueError, match="not meaningful for 'ranking': ranks are not"):
        diffsolvers.layer("ranking", method="scaled")
    with pytest.raises(ValueError, match="already registered"):
        diffsolvers.register_method("scaled", "layer", build, description="again")
    with pytest.raises(ValueError, match="reserved"):
        diffsolvers.register_method("x", "layer", build, description="", options=("backend",))
    with pytest.raises(ValueError, match="kind must be"):
        diffsolvers.register_method("y", "metric", build, description="")
