"""Every layer and loss refuses bad input with an error that names it (diffsolvers/_checks.py).

Run over every method of the registry on the argmax problem (small and fast; a method
meaningful for one other problem only runs on that one); the problem-specific shape checks
use problems with a fixed instance shape.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import diffsolvers
import solvers
from diffsolvers import PerturbedMax, PerturbedOptimizer, SumOfGamma, registry

METHODS = diffsolvers.methods()
LAYERS = [m for m in METHODS if registry.method_info(m).kind == "layer"]
LOSSES = [m for m in METHODS if registry.method_info(m).kind == "loss"]
SOLUTION_LOSSES = [m for m in LOSSES if registry.method_info(m).target == "solution"]
RANDOM = {"seed"}  # options given where a method takes them, for reproducible draws


def _home(method: str) -> str:
    """The argmax, or the one problem of a method that has one (the soft ranks: ranking)."""
    if registry.method_info(method).reason_not_meaningful("argmax") is None:
        return "argmax"
    return next(r.problem for r in diffsolvers.available() if r.method == method)


def _build(method: str, problem: str | None = None, **params):
    problem = problem or _home(method)
    info = registry.method_info(method)
    opts = {"seed": 0} if "seed" in info.options else {}
    if "lambda_" in info.options:
        opts["lambda_"] = 5.0
    build = diffsolvers.layer if info.kind == "layer" else diffsolvers.loss
    return info, build(problem, method=method, **params, **opts)


def _call(method: str, x: torch.Tensor, target=None, **params):
    info, module = _build(method, **params)
    if info.kind == "layer":
        return module(x)
    if target is None:
        target = torch.zeros_like(x.detach())
        target[..., 0] = 1.0
    return module(x, target)


# -- the prediction ---------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_nan_and_inf_predictions_are_named(method):
    for bad, word in ((float("nan"), "NaN"), (float("inf"), "inf")):
        x = torch.tensor([[1.0, bad, 0.0]])
        with pytest.raises(ValueError, match=f"{_home(method)}: the prediction contains {word}"):
            _call(method, x)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64])
def test_non_real_float_predictions_are_refused(method, dtype):
    x = torch.ones(2, 3).to(dtype)
    with pytest.raises(
        TypeError, match=f"{_home(method)}: the prediction must be a real floating-point"
    ):
        _call(method, x)


@pytest.mark.parametrize("method", METHODS)
def test_meta_predictions_are_refused(method):
    with pytest.raises(ValueError, match=f"{_home(method)}: the prediction is on the meta device"):
        _call(method, torch.empty(2, 3, device="meta"))


@pytest.mark.parametrize("method", METHODS)
def test_instances_without_entries_are_refused(method):
    with pytest.raises(ValueError, match=r"an instance has no entries \(instance shape \(0,\)"):
        _call(method, torch.zeros(2, 0), torch.zeros(2, 0))


@pytest.mark.parametrize("method", LAYERS)
def test_layers_map_an_empty_batch_to_an_empty_result(method):
    info, layer = _build(method)
    out = layer(torch.zeros(0, 3))
    expected = (0, 3) if info.output == "solution" else (0,)
    assert tuple(out.shape) == expected


@pytest.mark.parametrize("method", LOSSES)
def test_losses_refuse_the_mean_of_an_empty_batch_and_sum_it_to_zero(method):
    x, y = torch.zeros(0, 3, requires_grad=True), torch.zeros(0, 3)
    _, loss = _build(method)
    with pytest.raises(ValueError, match="argmax: reduction='mean' over an empty batch"):
        loss(x, y)
    loss.reduction = "sum"
    assert loss(x, y).item() == 0.0
    loss.reduction = "none"
    assert tuple(loss(x, y).shape) == (0,)


@pytest.mark.parametrize("method", ["perturbed", "fenchel_young", "spo_plus", "blackbox", "imle"])
def test_a_wrong_instance_shape_is_reported_in_the_callers_shape(method):
    # spanning tree on 5 nodes: 10 edges per instance; the stacked sample copies must not
    # show up in the message.
    info, module = _build(method, problem="spanning_tree", n_nodes=5)
    x = torch.rand(3, 9)
    with pytest.raises(
        solvers.SolverInputError, match=r"got trailing shape \(9,\) \(full shape \(3, 9\)\)"
    ):
        module(x) if info.kind == "layer" else module(x, torch.zeros(3, 9))


# -- targets ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", LOSSES)
def test_nan_targets_are_named(method):
    what = "target y" if method in SOLUTION_LOSSES else "true costs"
    target = torch.tensor([[1.0, float("nan"), 0.0]])
    with pytest.raises(ValueError, match=f"argmax: the {what} contains NaN"):
        _call(method, torch.randn(1, 3, requires_grad=True), target)


@pytest.mark.parametrize("method", LOSSES)
def test_targets_that_require_grad_are_refused_not_detached(method):
    target = torch.tensor([[1.0, 0.0, 0.0]], requires_grad=True)
    with pytest.raises(ValueError, match="requires grad; targets are constants of the loss"):
        _call(method, torch.randn(1, 3, requires_grad=True), target)


@pytest.mark.parametrize("method", LOSSES)
def test_complex_targets_are_refused(method):
    target = torch.tensor([[1.0, 0.0, 0.0]]) * (1 + 1j)
    with pytest.raises(TypeError, match="must hold real numbers, got torch.complex64"):
        _call(method, torch.randn(1, 3), target)


@pytest.mark.parametrize("method", LOSSES)
def test_integer_and_boolean_targets_are_accepted(method):
    x = torch.randn(2, 3, requires_grad=True)
    as_float = _call(method, x, torch.tensor([[1.0, 0, 0], [0, 1, 0]]))
    for target in (torch.tensor([[1, 0, 0], [0, 1, 0]]), np.array([[1, 0, 0], [0, 1, 0]], bool)):
        assert torch.equal(_call(method, x, target), as_float)


def test_spo_plus_checks_the_true_solution_too():
    loss = diffsolvers.loss("argmax", method="spo_plus")
    x, c = torch.randn(1, 3), torch.tensor([[0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="argmax: the true solution contains NaN"):
        loss(x, c, y_true=torch.tensor([[float("nan"), 0.0, 0.0]]))
    with pytest.raises(ValueError, match="true solution requires grad"):
        loss(x, c, y_true=torch.tensor([[1.0, 0.0, 0.0]], requires_grad=True))


# -- gradients ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "perturbed",
        "perturbed_multiplicative",
        "perturbed_max",
        "fenchel_young",
        "fenchel_young_multiplicative",
        "blackbox",
        "imle",
    ],
)
def test_double_backward_is_refused_rather_than_wrong(method):
    # The estimators give first derivatives only; a Hessian-vector product through them
    # would be silently zero or wrong (here the loss's upstream gradient is a constant, and
    # another term of the objective has a genuine second derivative).
    x = torch.rand(3, 5, dtype=torch.float64, requires_grad=True)
    out = _call(method, x + 0.5)
    objective = (out * torch.rand_like(out)).sum() + 0.5 * (x**2).sum()
    (grad,) = torch.autograd.grad(objective, x, create_graph=True)
    with pytest.raises(RuntimeError, match="gives first derivatives only"):
        torch.autograd.grad((grad * torch.randn_like(grad)).sum(), x)


@pytest.mark.parametrize("method", ["perturbed", "perturbed_multiplicative", "blackbox", "imle"])
def test_a_second_derivative_towards_a_later_parameter_is_refused_too(method):
    # w acts after the layer: the second derivative reaches w through ∂L/∂y.
    _, layer = _build(method)
    theta = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad((w * layer(theta)).sum(), theta, create_graph=True)
    with pytest.raises(RuntimeError, match="gives first derivatives only"):
        torch.autograd.grad(grad.pow(2).sum() + (w**2).sum(), w)


@pytest.mark.parametrize("method", ["perturbed", "fenchel_young", "blackbox", "imle"])
def test_the_guarded_gradient_is_an_ordinary_tensor(method):
    x = torch.rand(2, 4, requires_grad=True)
    out = _call(method, x + 0.5)
    (grad,) = torch.autograd.grad((out * torch.arange(4.0)).sum(), x, create_graph=True)
    assert grad.dtype == x.dtype and grad.shape == x.shape
    grad.clamp_(-0.1, 0.1)  # in place, as first-order meta-learning loops do


def test_the_guard_names_the_estimator():
    _, loss = _build("fenchel_young")
    x = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(
        loss(x, torch.eye(3, dtype=torch.float64)[:2]), x, create_graph=True
    )
    with pytest.raises(RuntimeError, match="the gradient estimate of a perturbed loss or max"):
        torch.autograd.grad(grad.sum(), x)


def test_spo_plus_keeps_its_exact_second_derivative():
    # SPO+ is piecewise linear and deterministic: its Hessian is 0 almost everywhere.
    spo = diffsolvers.loss("argmax", method="spo_plus", reduction="sum")
    gen = torch.Generator().manual_seed(0)
    c = torch.rand(3, 5, dtype=torch.float64, generator=gen)
    x = torch.rand(3, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda x: spo(x, c), (x,))
    v = torch.randn(3, 5, dtype=torch.float64, generator=gen)
    (grad,) = torch.autograd.grad(spo(x, c) + 0.5 * (x**2).sum(), x, create_graph=True)
    (hvp,) = torch.autograd.grad((grad * v).sum(), x)
    torch.testing.assert_close(hvp, v)


def test_an_spo_plus_overflow_names_the_scores_that_overflowed():
    spo = diffsolvers.loss("argmax", method="spo_plus")
    x = torch.tensor([[3e38, 1.0, 2.0]])
    with pytest.raises(ValueError, match="argmax: 2θ̂ - θ and the true θ contains inf"):
        spo(x, torch.tensor([[-3e38, 1.0, 2.0]]))
    # half precision is computed in float32: 2θ̂ - θ = 1.8e5 no longer overflows float16
    half = torch.tensor([[6e4, 1.0, 2.0]], dtype=torch.float16)
    value = spo(half, torch.tensor([[-6e4, 1.0, 2.0]], dtype=torch.float16))
    assert value.dtype == torch.float16 and value == 0


@pytest.mark.parametrize("method", ["blackbox", "imle"])
def test_a_nan_upstream_gradient_is_named_not_blamed_on_theta(method):
    _, layer = _build(method)
    x = torch.randn(3, 6, requires_grad=True)
    y = layer(x)
    upstream = torch.ones_like(y)
    upstream[0, 0] = float("nan")
    with pytest.raises(ValueError, match="argmax: the incoming gradient ∂L/∂y contains NaN"):
        y.backward(upstream)


def test_a_multiplicative_overflow_is_reported_as_such():
    layer = diffsolvers.layer("argmax", method="perturbed_multiplicative", sigma=1.0, seed=0)
    with pytest.raises(ValueError, match="perturbed scores overflow torch.float32"):
        layer(torch.tensor([[3e38, 1.0, 2.0]]))


# -- options --------------------------------------------------------------------------------


def test_numpy_scalars_are_accepted_as_hyperparameters():
    argmax = solvers.get("argmax")
    layer = PerturbedOptimizer(argmax, sigma=np.float32(0.5), n_samples=np.int64(3), seed=0)
    assert (layer.sigma, layer.n_samples) == (0.5, 3)
    assert type(layer.sigma) is float and type(layer.n_samples) is int
    imle = diffsolvers.layer(
        "argmax",
        "imle",
        lambda_=np.float64(2.0),
        kappa=np.int32(2),
        tau=np.float32(0.5),
        n_terms=np.int64(4),
        n_samples=np.int16(2),
    )
    assert (imle.lambda_, imle.noise.kappa, imle.noise.tau, imle.noise.n_terms) == (
        2.0,
        2.0,
        0.5,
        4,
    )
    assert imle.n_samples == 2
    assert diffsolvers.layer("argmax", "blackbox", lambda_=np.float32(3.0)).lambda_ == 3.0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: diffsolvers.layer("argmax", sigma=np.float32(-1.0)), "sigma must be a positive"),
        (
            lambda: diffsolvers.layer("argmax", n_samples=np.float64(2.0)),
            "n_samples must be a positive integer",
        ),
        (lambda: diffsolvers.layer("argmax", sigma=True), "sigma must be a positive number"),
    ],
)
def test_bad_numbers_are_still_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_flags_must_be_booleans():
    with pytest.raises(TypeError, match="control_variate must be True or False, got 'no'"):
        diffsolvers.layer("argmax", control_variate="no")
    with pytest.raises(TypeError, match="map_in_eval must be True or False, got 'false'"):
        diffsolvers.layer("argmax", "imle", map_in_eval="false")
    assert diffsolvers.layer("argmax", control_variate=np.bool_(True)).control_variate is True


def test_a_bad_generator_is_refused_when_the_layer_is_built():
    for method in ("perturbed", "imle"):
        with pytest.raises(TypeError, match="generator must be a torch.Generator or None"):
            diffsolvers.layer("argmax", method, generator="gen")


SEEDED = ["perturbed", "perturbed_max", "fenchel_young", "squared", "imle"]


@pytest.mark.parametrize("method", SEEDED)
@pytest.mark.parametrize(
    ("seed", "error", "message"),
    [
        ("0", TypeError, "seed must be an integer or None, got '0'"),
        (1.5, TypeError, "seed must be an integer or None, got 1.5"),
        (True, TypeError, "seed must be an integer or None, got True"),
        (2**64, ValueError, r"seed must be in \[-2\*\*63, 2\*\*64 - 1\]"),
        (-(2**63) - 1, ValueError, r"seed must be in \[-2\*\*63, 2\*\*64 - 1\]"),
    ],
)
def test_a_bad_seed_is_refused_when_the_module_is_built(method, seed, error, message):
    build = diffsolvers.layer if registry.method_info(method).kind == "layer" else diffsolvers.loss
    with pytest.raises(error, match=message):
        build("argmax", method=method, seed=seed)


@pytest.mark.parametrize("method", ["perturbed", "fenchel_young", "imle"])
def test_manual_seed_checks_the_seed_too(method):
    _, module = _build(method)
    for seed, error in (("x", TypeError), (None, TypeError), (0.5, TypeError), (2**70, ValueError)):
        with pytest.raises(error, match="seed must be"):
            module.manual_seed(seed)


@pytest.mark.parametrize("method", ["perturbed", "imle"])
def test_every_seed_in_torchs_range_works_and_numpy_integers_are_ints(method):
    x = torch.rand(2, 3)
    for seed in (np.int64(7), np.uint64(2**64 - 1), -(2**63), 2**64 - 1):
        layer = diffsolvers.layer("argmax", method, seed=seed)
        assert type(layer.seed) is int and layer.seed == int(seed)
        first = layer(x)
        torch.testing.assert_close(layer.manual_seed(seed)(x), first, rtol=0, atol=0)
    same = diffsolvers.layer("argmax", method, seed=np.int32(3))(x)
    torch.testing.assert_close(diffsolvers.layer("argmax", method, seed=3)(x), same)


def test_perturbed_max_refuses_a_control_variate_it_would_ignore():
    with pytest.raises(ValueError, match="PerturbedMax: control_variate does not apply"):
        PerturbedMax(solvers.get("argmax"), control_variate=True)


def test_sum_of_gamma_refuses_integer_dtypes_like_the_other_noises():
    with pytest.raises(TypeError, match="Sum-of-Gamma noise: dtype must be floating point"):
        SumOfGamma().sample((4,), dtype=torch.int64)


# -- regret helpers -------------------------------------------------------------------------


def test_decision_regret_needs_the_batch_axis_and_agrees_with_one_instance():
    grid = solvers.get("shortest_path")
    gen = torch.Generator().manual_seed(0)
    c_pred, c_true = torch.rand(4, 5, generator=gen) + 0.2, torch.rand(4, 5, generator=gen) + 0.2
    with pytest.raises(ValueError, match=r"one batch axis .* pass costs\[None\]"):
        diffsolvers.decision_regret(grid, c_pred, c_true, normalized=False)
    one = diffsolvers.decision_regret(grid, c_pred[None], c_true[None], normalized=False)
    y_pred = torch.from_numpy(grid.solve(-c_pred.numpy()))
    y_true = torch.from_numpy(grid.solve(-c_true.numpy()))
    assert one.shape == (1,)
    assert one.item() == pytest.approx(((y_pred - y_true) * c_true).sum().item(), abs=1e-6)
    assert one.item() >= 0


def test_decision_regret_is_a_metric_of_any_real_costs():
    argmax = solvers.get("argmax")
    c_pred = torch.tensor([[3, 1, 2], [0, 5, 1]])
    c_true = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.5]], dtype=torch.float64)
    # decisions: argmin of the predicted costs = items 1 and 0; true best: 0 and 2
    expected = torch.tensor([2.0 - 1.0, 4.0 - 0.5], dtype=torch.float64)
    got = diffsolvers.decision_regret(argmax, c_pred, c_true.requires_grad_(), normalized=False)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected)
    with pytest.raises(TypeError, match="decision_regret: costs_pred must hold real numbers"):
        diffsolvers.decision_regret(argmax, c_pred * (1 + 1j), c_true.detach())


def test_regret_helpers_refuse_nan_costs():
    y = torch.eye(3)[:2]
    costs = torch.tensor([[1.0, float("nan"), 0.0], [0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="regret: the costs contains NaN"):
        diffsolvers.regret(y, y.flip(1), costs)
    with pytest.raises(ValueError, match="regret: the costs contains NaN"):
        diffsolvers.normalized_regret(y, y.flip(1), costs)


def test_regret_of_an_empty_batch_is_empty_and_its_normalised_regret_is_refused():
    grid = solvers.get("shortest_path")
    empty = torch.rand(0, 3, 3)
    per = diffsolvers.decision_regret(grid, empty, empty, normalized=False)
    assert per.shape == (0,)
    assert diffsolvers.regret(empty, empty, empty).shape == (0,)
    assert diffsolvers.regret(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2))).shape == (0,)
    with pytest.raises(ValueError, match=r"normalized_regret: an empty batch \(no instances\)"):
        diffsolvers.normalized_regret(empty, empty, empty)
    with pytest.raises(ValueError, match="decision_regret: normalized=True over an empty batch"):
        diffsolvers.decision_regret(grid, empty, empty)


def test_regret_helpers_take_numpy_arrays_and_lists_like_tensors():
    y_pred = np.array([[0, 1, 0], [1, 0, 0]])
    y_true = np.array([[1, 0, 0], [1, 0, 0]], dtype=bool)
    costs = np.array([[1.0, 3.0, 2.0], [0.5, 2.0, 1.0]])
    expected = torch.tensor([2.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(diffsolvers.regret(y_pred, y_true, costs), expected)
    torch.testing.assert_close(
        diffsolvers.regret(torch.from_numpy(y_pred), y_true.tolist(), torch.from_numpy(costs)),
        expected,
    )
    ratio = diffsolvers.normalized_regret(y_pred, y_true, costs)
    assert ratio.item() == pytest.approx(2.0 / 1.5)
    argmax = solvers.get("argmax")
    np_regret = diffsolvers.decision_regret(argmax, costs[::-1].copy(), costs, normalized=False)
    torch.testing.assert_close(
        np_regret,
        diffsolvers.decision_regret(
            argmax, torch.from_numpy(costs[::-1].copy()), torch.from_numpy(costs), normalized=False
        ),
    )


def test_regret_helpers_name_the_argument_that_is_not_real_numbers():
    grid = solvers.get("shortest_path")
    c = torch.rand(2, 3, 3)
    with pytest.raises(TypeError, match="decision_regret: costs_pred must hold real numbers"):
        diffsolvers.decision_regret(grid, "a", c)
    with pytest.raises(TypeError, match="decision_regret: costs_true must hold real numbers"):
        diffsolvers.decision_regret(grid, c, [["a"]])
    y = torch.eye(3)[:2]
    with pytest.raises(TypeError, match="regret: y_true must hold real numbers"):
        diffsolvers.regret(y, "x", y)
    with pytest.raises(TypeError, match="regret: costs must hold real numbers, got torch.complex"):
        diffsolvers.normalized_regret(y, y, y * 1j)
    with pytest.raises(TypeError, match="regret: y_pred could not be read as an array"):
        diffsolvers.regret([[1.0, 2.0], [3.0]], y, y)
    with pytest.raises(ValueError, match=r"must have one shape, got y_pred \(2, 3\), y_true"):
        diffsolvers.regret(y, y, torch.ones(2, 4))


@pytest.mark.parametrize("method", ["perturbed", "blackbox", "identity", "imle"])
def test_costs_fed_as_scores_to_a_clamping_shortest_path_layer_warn(method):
    costs = torch.rand(3, 5, 5) + 0.1
    with pytest.warns(RuntimeWarning, match=r"3 of 3 instance.*inputs='costs'"):
        diffsolvers.layer("shortest_path", method=method)(costs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diffsolvers.layer("shortest_path", method=method, inputs="costs")(costs)
        # perturbation makes some costs negative, never all of them: no warning
        diffsolvers.layer("shortest_path", method=method, inputs="costs")(costs * 1e-3)


def test_no_sign_warning_where_positive_scores_are_meaningful():
    scores = torch.rand(3, 6) + 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diffsolvers.loss("top_k", "fenchel_young", k=2)(scores, torch.zeros(3, 6))
        dag = solvers.shortest_path_graph.grid_dag(3)  # any sign is solved exactly on a DAG
        n_edges = len(dag["edges"])
        diffsolvers.layer("shortest_path_graph", method="perturbed", **dag)(torch.rand(2, n_edges))
    with pytest.warns(RuntimeWarning, match="1 of 2 instance"):
        mixed = torch.stack([-torch.rand(5, 5) - 0.1, torch.rand(5, 5) + 0.1])
        diffsolvers.loss("shortest_path", "fenchel_young")(mixed, torch.zeros(2, 5, 5))
