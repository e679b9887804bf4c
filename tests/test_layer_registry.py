"""The registry of differentiable methods, and the contract every (problem, method) pair keeps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from problem_cases import CASES

import diffsolvers
import solvers
from diffsolvers import registry

# Method options used in the contract test, for whichever methods declare them. Interpolation
# methods (blackbox, I-MLE) give a zero gradient until λ·∂L/∂y moves the solution, so λ is
# large here: the test checks that a gradient can reach θ, not a tuning. The perturbation
# gradient likewise until a step h·θ moves it (θ̂ and θ are unrelated draws here).
CONTRACT_OPTIONS = {"sigma": 0.5, "n_samples": 3, "lambda_": 10.0, "step": 5.0}


def true_solutions_for(info) -> bool:
    """Whether a loss on costs also takes the true solutions (``y_true=``): the pool losses
    rank the solutions of their pool, which PyEPO always seeds with them; with per-instance
    side data (knapsack) an instance's pool would otherwise hold its own solution only."""
    return info.kind == "loss" and info.target == "costs" and "pool" in info.options


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
        extra = {"y_true": case.target(target_theta, side)} if true_solutions_for(info) else {}
        out = module(x, target, **extra, **side)
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


# -- per-call side data: what solver.solve takes, shared or per instance --------------------
N_ITEMS = 4
# Near-zero noise keeps every perturbed solution at y*(θ) (θ's packings differ in value by
# far more), so each method's output can be checked against solving instance by instance.
SIDE_METHODS = {
    "perturbed": {"sigma": 1e-9, "seed": 0},
    "fenchel_young": {"sigma": 1e-9, "seed": 0, "reduction": "none"},
    "blackbox": {"lambda_": 3.0},
    "identity": {},
    "imle": {"tau": 1e-9, "lambda_": 3.0, "seed": 0},
    "spo_plus": {"reduction": "none"},
}
SIDE_KINDS = ("shared", "per_instance", "shared_weights", "shared_capacity")
# (method, M): the sampling methods with one and with several samples per instance.
SIDE_RUNS = [
    (m, k)
    for m in SIDE_METHODS
    for k in ((1, 3) if "n_samples" in registry.method_info(m).options else (None,))
]


def _knapsack_side(kind: str, batch: int, rng) -> dict:
    shared = {"weights": torch.tensor([3.0, 4.0, 5.0, 6.0]), "capacity": 10.0}
    own = {
        "weights": torch.from_numpy(rng.integers(1, 7, size=(batch, N_ITEMS)).astype(float)),
        "capacity": torch.from_numpy(rng.integers(3, 15, size=batch).astype(float)),
    }
    pick = {
        "shared": ("weights", "capacity"),
        "per_instance": (),
        "shared_weights": ("weights",),
        "shared_capacity": ("capacity",),
    }[kind]
    return {k: shared[k] if k in pick else own[k] for k in ("weights", "capacity")}


def _instance(side: dict, b: int) -> dict:
    """Instance ``b``'s weights (n,) and capacity (a scalar) from shared or per-instance data."""
    w, c = torch.as_tensor(side["weights"]), torch.as_tensor(side["capacity"])
    return {"weights": w if w.ndim == 1 else w[b], "capacity": c if c.ndim == 0 else c[b]}


def _one_by_one(theta: torch.Tensor, side: dict) -> torch.Tensor:
    """y*(θ_b) by a knapsack solver built with instance b's weights and capacity."""
    rows = [
        solvers.get("knapsack", **{k: v.numpy() for k, v in _instance(side, b).items()}).solve(
            theta[b].numpy()
        )
        for b in range(theta.shape[0])
    ]
    return torch.from_numpy(np.stack(rows))


@pytest.mark.parametrize(("method", "n_samples"), SIDE_RUNS)
@pytest.mark.parametrize("batch", [N_ITEMS, 3])  # B == n (ambiguous (n,) weights) and B != n
@pytest.mark.parametrize("kind", SIDE_KINDS)
def test_knapsack_side_data_shared_or_per_instance(method, n_samples, batch, kind):
    rng = np.random.default_rng(batch)
    info = registry.method_info(method)
    opts = dict(SIDE_METHODS[method])
    if n_samples is not None:
        opts["n_samples"] = n_samples
    build = diffsolvers.layer if info.kind == "layer" else diffsolvers.loss
    module = build("knapsack", method=method, **opts)
    theta = torch.from_numpy(rng.uniform(0.1, 1.0, size=(batch, N_ITEMS)))
    side = _knapsack_side(kind, batch, rng)
    expected = _one_by_one(theta, side)
    x = theta.clone().requires_grad_(True)
    g = torch.from_numpy(rng.normal(size=theta.shape))
    if info.kind == "layer":
        out = module(x, **side)
        torch.testing.assert_close(out, expected, rtol=0, atol=0)
        (out * g).sum().backward()  # the backward solves tile the side data too
        assert x.grad.shape == theta.shape and torch.isfinite(x.grad).all()
        if method in ("blackbox", "imle"):  # (y*(θ) - y*(θ - λg)) / λ, instance by instance
            moved = _one_by_one(theta - 3.0 * g, side)
            torch.testing.assert_close(x.grad, (expected - moved) / 3.0, rtol=0, atol=1e-12)
    else:  # the target is y*(θ) (or θ's costs): the loss and its gradient vanish
        out = module(x, -theta if info.target == "costs" else expected, **side)
        assert out.shape == (batch,)
        torch.testing.assert_close(out, torch.zeros(batch, dtype=out.dtype), rtol=0, atol=1e-6)
        out.sum().backward()
        torch.testing.assert_close(x.grad, torch.zeros_like(theta), rtol=0, atol=0)


@pytest.mark.parametrize("n_samples", [1, 3])
@pytest.mark.parametrize("kind", SIDE_KINDS)
def test_perturbed_knapsack_samples_are_feasible_for_their_own_instance(n_samples, kind):
    # Real noise: each sample m of instance b must be the packing of θ_m,b under instance
    # b's own weights and capacity, whichever copy of the batch it sits in.
    rng = np.random.default_rng(1)
    side = _knapsack_side(kind, N_ITEMS, rng)
    layer = diffsolvers.layer("knapsack", sigma=0.5, n_samples=n_samples, seed=0)
    s = layer.sample(torch.from_numpy(rng.uniform(0.1, 1.0, size=(N_ITEMS, N_ITEMS))), **side)
    assert s.y.shape == (n_samples, N_ITEMS, N_ITEMS)
    for b in range(N_ITEMS):
        inst = _instance(side, b)
        for m in range(n_samples):
            ref = solvers.get("knapsack", **{k: v.numpy() for k, v in inst.items()})
            np.testing.assert_array_equal(s.y[m, b].numpy(), ref.solve(s.theta_p[m, b].numpy()))


def test_knapsack_side_data_with_two_batch_axes():
    rng = np.random.default_rng(2)
    theta = torch.from_numpy(rng.uniform(0.1, 1.0, size=(2, 3, N_ITEMS)))
    capacity = torch.from_numpy(rng.integers(3, 15, size=(2, 3)).astype(float))
    side = {"weights": torch.tensor([3.0, 4.0, 5.0, 6.0]), "capacity": capacity}
    layer = diffsolvers.layer("knapsack", method="perturbed", sigma=1e-9, n_samples=3, seed=0)
    flat = {"weights": side["weights"], "capacity": capacity.reshape(6)}
    expected = _one_by_one(theta.reshape(6, N_ITEMS), flat).reshape(theta.shape)
    torch.testing.assert_close(layer(theta, **side), expected, rtol=0, atol=0)


@pytest.mark.parametrize("method", list(SIDE_METHODS))
def test_knapsack_side_data_the_solver_refuses_is_named(method):
    info = registry.method_info(method)
    build = diffsolvers.layer if info.kind == "layer" else diffsolvers.loss
    module = build("knapsack", method=method, **SIDE_METHODS[method])
    x = torch.rand(3, N_ITEMS, dtype=torch.float64)
    args = () if info.kind == "layer" else (torch.zeros(3, N_ITEMS),)
    bad = [
        (
            {"weights": torch.ones(2, N_ITEMS), "capacity": 10.0},
            r"weights must have shape \(n,\) or \(\*batch, n\) = \(3, 4\)",
        ),
        (
            {"weights": torch.ones(N_ITEMS + 1), "capacity": 10.0},
            "θ has 4 items per instance but weights have 5",
        ),
        (
            {"weights": torch.ones(N_ITEMS), "capacity": torch.ones(N_ITEMS)},
            r"capacity must be a scalar or have θ's batch shape \(3,\), got \(4,\)",
        ),
        ({"weights": torch.ones(N_ITEMS)}, "capacity missing"),
        ({"weights": -torch.ones(N_ITEMS), "capacity": 1.0}, "weights must be >= 0"),
    ]
    for side, message in bad:
        with pytest.raises(ValueError, match=f"knapsack: {message}"):
            module(x, *args, **side)
