"""Bring your own oracle: a user's NumPy or torch function (or Solver) as a solver for every
method, with its output checked, and a linear model trained through a plain function."""

from __future__ import annotations

import copy
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import diffsolvers
import solvers
from diffsolvers import registry
from diffsolvers.datasets import make_synthetic

F64 = torch.float64


def top2(theta: np.ndarray) -> np.ndarray:
    """(B, n) -> (B, n): the two best items of each instance."""
    y = np.zeros_like(theta)
    np.put_along_axis(y, np.argsort(-theta, axis=-1, kind="stable")[:, :2], 1.0, axis=-1)
    return y


def top2_torch(theta: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(theta).scatter(-1, theta.topk(2, dim=-1).indices, 1.0)


# -- the NumPy wrapper ------------------------------------------------------------------------
def test_a_batched_function_is_a_solver():
    solver = solvers.from_function(top2, problem="top2")
    assert isinstance(solver, solvers.Solver) and solver.problem == "top2"
    theta = np.random.default_rng(0).normal(size=(2, 3, 6))  # any batch axes
    np.testing.assert_array_equal(solver.solve(theta), solvers.get("top_k", k=2).solve(theta))
    np.testing.assert_array_equal(solver.solve(theta[0, 0]), top2(theta[0, :1])[0])
    assert "top2" in repr(solver) and "batched" in repr(solver)


@pytest.mark.parametrize("threads", [None, 1, 3])
def test_a_per_instance_function_is_looped_maybe_on_threads(threads):
    seen = set()

    def best(theta):  # one instance (n,) -> its one-hot argmax
        seen.add(threading.get_ident())
        return np.eye(theta.shape[0])[np.argmax(theta)]

    solver = solvers.from_function(best, batched=False, threads=threads, problem="best")
    theta = np.random.default_rng(1).normal(size=(40, 5))
    np.testing.assert_array_equal(solver.solve(theta), solvers.get("argmax").solve(theta))
    if threads == 3:
        assert threading.get_ident() not in seen  # solved by the worker threads
    else:
        assert seen == {threading.get_ident()}


def test_grids_and_side_inputs():
    def grid_best(theta, bonus):  # (B, 2, 3) grids; bonus (B,) added to the first cell
        t = theta.copy()
        t[:, 0, 0] += bonus
        flat = t.reshape(len(t), -1)
        return np.eye(6)[flat.argmax(-1)].reshape(t.shape)

    solver = solvers.from_function(
        grid_best, event_ndim=2, instance_shape=(2, 3), side_inputs=("bonus",), problem="grid"
    )
    theta = np.zeros((2, 2, 3))
    theta[:, 1, 2] = 1.0
    y = solver.solve(theta, bonus=np.array([0.0, 5.0]))
    assert y[0, 1, 2] == 1 and y[1, 0, 0] == 1
    with pytest.raises(solvers.SolverInputError, match=r"must lead with θ's batch shape \(2,\)"):
        solver.solve(theta, bonus=np.array([1.0]))
    with pytest.raises(TypeError, match="unexpected side input"):
        solver.solve(theta, malus=np.zeros(2))
    with pytest.raises(solvers.SolverInputError, match=r"each instance of θ must have shape"):
        solver.solve(np.zeros((2, 3, 3)), bonus=np.zeros(2))


@pytest.mark.parametrize(
    ("fn", "error", "message"),
    [
        (lambda t: t[:, :-1], solvers.SolverInputError, r"returned shape \(4, 2\) for the batch"),
        (lambda t: np.full(t.shape, np.nan), solvers.SolverInputError, "returned NaN"),
        (lambda t: np.full(t.shape, np.inf), solvers.SolverInputError, "returned inf"),
        (lambda t: t.astype(str), TypeError, "dtype <U"),
        (lambda t: None, TypeError, "returned NoneType"),
    ],
)
def test_bad_output_is_named_with_the_function(fn, error, message):
    solver = solvers.from_function(fn, problem="mine")
    with pytest.raises(error, match=f"mine: the function .*<lambda>.* {message}"):
        solver.solve(np.zeros((4, 3)))


def test_bad_output_of_a_per_instance_function_names_the_instance():
    def fn(theta):
        return theta if theta[0] < 1 else theta[:2]

    solver = solvers.from_function(fn, batched=False, problem="mine")
    theta = np.zeros((3, 3))
    theta[2, 0] = 5.0
    with pytest.raises(solvers.SolverInputError, match=r"returned shape \(2,\) for instance 2"):
        solver.solve(theta)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"event_ndim": 0}, ValueError, "event_ndim must be an integer >= 1"),
        ({"event_ndim": 1.5}, TypeError, "event_ndim must be an integer"),
        ({"batched": "yes"}, TypeError, "batched must be True or False"),
        ({"threads": 0}, ValueError, "threads must be None or an integer >= 1"),
        ({"problem": ""}, TypeError, "problem must be a non-empty string"),
        ({"instance_shape": (2, 3)}, ValueError, "must have event_ndim=1 axes"),
    ],
)
def test_bad_wrapper_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        solvers.from_function(top2, **kwargs)
    with pytest.raises(TypeError, match="fn must be callable"):
        solvers.from_function("top2")


def test_function_solvers_copy_and_pickle_with_their_pool():
    solver = solvers.from_function(_module_level_best, batched=False, threads=2, problem="best")
    theta = np.random.default_rng(2).normal(size=(6, 4))
    expected = solver.solve(theta)  # starts the pool
    for other in (copy.deepcopy(solver), pickle.loads(pickle.dumps(solver))):
        np.testing.assert_array_equal(other.solve(theta), expected)


def _module_level_best(theta):
    return np.eye(theta.shape[0])[np.argmax(theta)]


# -- the torch wrapper ------------------------------------------------------------------------
def test_a_torch_function_stays_a_tensor_on_its_device():
    seen = []

    def fn(theta):
        seen.append(type(theta))
        return top2_torch(theta)

    solver = diffsolvers.from_torch_function(fn, problem="top2")
    layer = diffsolvers.PerturbedOptimizer(solver, sigma=0.5, n_samples=4, seed=0)
    x = torch.randn(3, 6, dtype=F64, requires_grad=True)
    y = layer(x)
    assert set(seen) == {torch.Tensor}  # never a NumPy array
    ref = diffsolvers.PerturbedOptimizer(solvers.get("top_k", k=2), sigma=0.5, n_samples=4, seed=0)
    torch.testing.assert_close(y, ref(x), rtol=0, atol=0)
    y.sum().backward()
    assert x.grad is not None


def test_a_torch_function_per_instance_and_its_checks():
    solver = diffsolvers.from_torch_function(
        lambda t: torch.zeros_like(t).scatter(-1, t.argmax(-1, keepdim=True), 1.0),
        batched=False,
        problem="best",
    )
    theta = torch.randn(2, 3, 5)
    torch.testing.assert_close(
        solver.solve(theta), torch.from_numpy(solvers.get("argmax").solve(theta.numpy()))
    )
    bad = {
        "numpy": (lambda t: t.numpy(), TypeError, "returned ndarray"),
        "shape": (lambda t: t[..., :2], solvers.SolverInputError, r"returned shape \(4, 2\)"),
        "device": (lambda t: t.to("meta"), solvers.SolverInputError, "on meta for θ on cpu"),
        "nan": (lambda t: t * float("nan"), solvers.SolverInputError, "returned NaN"),
        "complex": (lambda t: t * 1j, TypeError, "dtype torch.complex64"),
    }
    for name, (fn, error, message) in bad.items():
        wrapped = diffsolvers.from_torch_function(fn, problem=name)
        with pytest.raises(error, match=f"{name}: the function .*<lambda>.* {message}"):
            diffsolvers.layer(wrapped, method="blackbox")(torch.randn(4, 3))


# -- accepted wherever a problem name or solver is ---------------------------------------------
class Perm4(solvers.Solver):
    """A Solver subclass: the best assignment of 4×4 scores by brute force."""

    problem = "perm4"
    backend = "brute"
    event_ndim = 2

    def _solve_batch(self, theta, **side):
        import itertools

        perms = np.array(list(itertools.permutations(range(4))))
        eye = np.eye(4)[perms]  # (24, 4, 4)
        best = np.einsum("bij,pij->bp", theta, eye).argmax(-1)
        return eye[best]


def _solution_and_cost_targets(problem_solver, theta):
    solution = torch.as_tensor(np.asarray(problem_solver.solve(theta.numpy())))
    return solution, -theta


# Methods that read the solver's LP form: a function or a Solver without one is refused.
NEEDS_LP_FORM = {"cave"}


# Methods that apply to any problem; the closed-form projections (sparse argmax, soft ranks)
# apply to one problem each and are checked below.
ANY_PROBLEM = [
    m for m in registry.methods() if registry.method_info(m).reason_not_meaningful("mine") is None
]


@pytest.mark.parametrize("method", ANY_PROBLEM)
@pytest.mark.parametrize("given", ["function", "class", "instance", "torch"])
def test_every_method_accepts_a_ready_solver_or_function(method, given):
    make = {
        "function": lambda: top2,
        "class": lambda: Perm4,
        "instance": lambda: Perm4(),
        "torch": lambda: diffsolvers.from_torch_function(top2_torch, problem="top2_torch"),
    }[given]
    info = registry.method_info(method)
    reference = {"function": solvers.get("top_k", k=2), "torch": solvers.get("top_k", k=2)}.get(
        given, solvers.get("assignment")
    )
    gen = torch.Generator().manual_seed(0)
    shape = (3, 4, 4) if given in ("class", "instance") else (3, 6)
    theta = torch.randn(shape, generator=gen, dtype=F64)
    opts = {"seed": 0} if "seed" in info.options else {}
    build = diffsolvers.layer if info.kind == "layer" else diffsolvers.loss
    if method in NEEDS_LP_FORM:
        with pytest.raises(ValueError, match=f"'{method}' is not meaningful .* states no LP form"):
            build(make(), method=method, **opts)
        return
    module = build(make(), method=method, **opts)
    x = theta.clone().requires_grad_(True)
    if info.kind == "layer":
        out = module(x)
        (out * torch.randn(out.shape, generator=gen, dtype=F64)).sum().backward()
    else:
        solution, costs = _solution_and_cost_targets(reference, theta.flip(0))
        out = module(x, solution if info.target == "solution" else costs)
        out.backward()
    assert torch.isfinite(out).all() and x.grad is not None and torch.isfinite(x.grad).all()
    # the same method on the zoo's own solver gives the same values
    ref_module = build(reference, method=method, **opts)
    if info.kind == "layer":
        torch.testing.assert_close(out, ref_module(theta), rtol=0, atol=0)
    else:
        target = solution if info.target == "solution" else costs
        torch.testing.assert_close(out, ref_module(theta, target), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("method", "problem"),
    [(r.method, r.problem) for r in registry.available() if r.method not in ANY_PROBLEM],
)
def test_one_problem_methods_take_its_ready_solver_and_refuse_others(method, problem):
    ready = solvers.get(problem)
    x = torch.randn(2, 5, generator=torch.Generator().manual_seed(0), dtype=F64)
    torch.testing.assert_close(
        diffsolvers.layer(ready, method=method)(x), diffsolvers.layer(problem, method=method)(x)
    )
    for other in (top2, Perm4(), solvers.get("top_k", k=2)):
        with pytest.raises(ValueError, match=f"'{method}' is not meaningful for .*polytope"):
            diffsolvers.layer(other, method=method)


@pytest.mark.parametrize(
    "cls",
    [
        diffsolvers.AdaptiveIMLELayer,
        diffsolvers.RegularizedFrankWolfe,
        diffsolvers.PerturbedOptimizer,
        diffsolvers.PerturbedMax,
        diffsolvers.BlackboxLayer,
        diffsolvers.IdentityLayer,
        diffsolvers.IMLELayer,
        diffsolvers.FenchelYoungLoss,
        diffsolvers.SquaredLoss,
        diffsolvers.HammingLoss,
        diffsolvers.SPOPlusLoss,
        diffsolvers.TwoStageLoss,
        diffsolvers.NCELoss,
        diffsolvers.ContrastiveMAPLoss,
        diffsolvers.PointwiseLTRLoss,
        diffsolvers.PairwiseLTRLoss,
        diffsolvers.ListwiseLTRLoss,
        diffsolvers.PerturbationGradientLoss,
        diffsolvers.StructuredSVMLoss,
        diffsolvers.SolutionPool,
    ],
)
def test_every_class_takes_a_function(cls):
    module = cls(top2)
    assert isinstance(module.solver, solvers.FunctionSolver) and module.solver.fn is top2


class Perm4LP(Perm4):
    """Perm4 stating its LP form (the Birkhoff polytope of the zoo's assignment)."""

    def lp_form(self, shape=None, **side):
        return solvers.get("assignment").lp_form((4, 4))


def test_a_solver_with_an_lp_form_takes_the_methods_that_need_one():
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(3, 4, 4, generator=gen, dtype=F64)
    solution = torch.as_tensor(solvers.get("assignment").solve(theta.flip(0).numpy()))
    for method in sorted(NEEDS_LP_FORM):
        mine = diffsolvers.loss(Perm4LP(), method=method)(theta, solution)
        zoo = diffsolvers.loss("assignment", method=method)(theta, solution)
        torch.testing.assert_close(mine, zoo, rtol=0, atol=0)
        assert mine > 0
    with pytest.raises(ValueError, match="'cave' is not meaningful for 'top2'"):
        diffsolvers.CaVELoss(top2)


def test_what_does_not_apply_to_a_ready_solver_is_refused_with_the_reason():
    raising = solvers.get("shortest_path", negative_costs="raise")
    for method in ("perturbed", "blackbox", "imle", "identity"):
        with pytest.raises(ValueError, match="needs negative_costs='clamp'.*build it with"):
            diffsolvers.layer(raising, method=method)
    for method in ("fenchel_young", "spo_plus", "squared", "hamming"):
        with pytest.raises(ValueError, match="needs negative_costs='clamp'"):
            diffsolvers.loss(raising, method=method)
    # the multiplicative methods keep costs non-negative: no clamp needed
    diffsolvers.layer(raising, method="perturbed_multiplicative")
    clamping = solvers.get("shortest_path", negative_costs="clamp")
    assert diffsolvers.layer(clamping).solver is clamping
    with pytest.raises(TypeError, match=r"option\(s\) 'neighbourhood' do not apply to a ready"):
        diffsolvers.layer(clamping, neighbourhood=4)
    with pytest.raises(ValueError, match="'hamming' is not meaningful for 'ranking'"):
        diffsolvers.loss(solvers.get("ranking"), method="hamming")
    with pytest.raises(ValueError, match="needs negative_costs='clamp'"):
        diffsolvers.layer("shortest_path", solver=raising)
    with pytest.raises(TypeError, match="got the name 'argmax'"):
        diffsolvers.PerturbedOptimizer("argmax")
    with pytest.raises(TypeError, match="must be a solvers.Solver"):
        diffsolvers.BlackboxLayer(42)


def test_available_lists_each_methods_options_with_defaults():
    rows = {(r.problem, r.method): r for r in diffsolvers.available()}
    perturbed = rows["argmax", "perturbed"].options
    assert perturbed["sigma"] == 1.0 and perturbed["n_samples"] == 3
    assert perturbed["noise"] == "normal" and perturbed["control_variate"] is False
    assert rows["argmax", "imle"].options["n_samples"] == 1
    assert rows["argmax", "blackbox"].options == {
        "lambda_": 10.0,
        "inputs": "scores",
        "solve_ratio": None,
    }
    assert rows["argmax", "fenchel_young"].options["reduction"] == "mean"


# One class per registered method, with the class whose signature carries its defaults (a
# pair where the method's options are split between a layer and its wrapper).
METHOD_CLASSES = {
    "perturbed": diffsolvers.PerturbedOptimizer,
    "perturbed_multiplicative": diffsolvers.PerturbedOptimizer,
    "perturbed_max": diffsolvers.PerturbedOptimizer,
    "blackbox": diffsolvers.BlackboxLayer,
    "identity": diffsolvers.IdentityLayer,
    "imle": diffsolvers.IMLELayer,
    "adaptive_imle": diffsolvers.AdaptiveIMLELayer,
    "sparse_argmax": diffsolvers.SparseArgmax,
    "soft_rank": diffsolvers.SoftRank,
    "frank_wolfe": diffsolvers.RegularizedFrankWolfe,
    "pushforward": (diffsolvers.PerturbedOptimizer, diffsolvers.Pushforward),
    "fenchel_young": diffsolvers.PerturbedOptimizer,
    "fenchel_young_multiplicative": diffsolvers.PerturbedOptimizer,
    "squared": diffsolvers.PerturbedOptimizer,
    "hamming": diffsolvers.BlackboxLayer,
    "spo_plus": diffsolvers.SPOPlusLoss,
    "two_stage": diffsolvers.TwoStageLoss,
    "cave": diffsolvers.CaVELoss,
    "nce": diffsolvers.NCELoss,
    "contrastive_map": diffsolvers.ContrastiveMAPLoss,
    "pointwise_ltr": diffsolvers.PointwiseLTRLoss,
    "pairwise_ltr": diffsolvers.PairwiseLTRLoss,
    "listwise_ltr": diffsolvers.ListwiseLTRLoss,
    "perturbation_gradient": diffsolvers.PerturbationGradientLoss,
    "structured_svm": diffsolvers.StructuredSVMLoss,
}


@pytest.mark.parametrize("method", registry.methods())
def test_the_classes_and_the_registry_share_the_option_defaults(method):
    import inspect

    defaults = registry.method_info(method).defaults
    classes = METHOD_CLASSES[method]
    params = {}
    for cls in classes if isinstance(classes, tuple) else (classes,):
        params.update(inspect.signature(cls).parameters)
    for name, value in defaults.items():
        if name == "reduction":
            continue  # a loss option, checked below
        if name == "mode":
            continue  # perturbed_max's mode: the layer's own default
        if name == "solve_ratio" and not registry.method_info(method).own_solve_ratio:
            assert value is None  # the registry wraps the solver; classes take solvers.cached
            continue
        assert params[name].default == value, (method, name)
    if "reduction" in defaults:
        assert defaults["reduction"] == "mean"


# -- composition ------------------------------------------------------------------------------
def test_losses_built_from_layers_are_the_registry_losses():
    solver = solvers.get("top_k", k=2)
    theta = torch.randn(4, 6, dtype=F64)
    y = torch.from_numpy(solver.solve(torch.randn(4, 6, dtype=F64).numpy()))
    pairs = [
        (
            diffsolvers.FenchelYoungLoss(
                diffsolvers.PerturbedOptimizer(solver, sigma=0.3, n_samples=5, seed=1), "sum"
            ),
            diffsolvers.loss(
                "top_k", "fenchel_young", k=2, sigma=0.3, n_samples=5, seed=1, reduction="sum"
            ),
        ),
        (
            diffsolvers.SquaredLoss(diffsolvers.PerturbedOptimizer(solver, sigma=0.3, seed=1)),
            diffsolvers.loss("top_k", "squared", k=2, sigma=0.3, seed=1),
        ),
        (
            diffsolvers.HammingLoss(diffsolvers.BlackboxLayer(solver, lambda_=3.0)),
            diffsolvers.loss("top_k", "hamming", k=2, lambda_=3.0),
        ),
        (
            diffsolvers.FenchelYoungLoss(solver, sigma=0.3, n_samples=5, seed=1),
            diffsolvers.loss("top_k", "fenchel_young", k=2, sigma=0.3, n_samples=5, seed=1),
        ),
    ]
    for built, named in pairs:
        grads = []
        for module in (built, named):
            x = theta.clone().requires_grad_(True)
            value = module(x, y)
            value.backward()
            grads.append((value.detach(), x.grad))
        torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)


def test_composition_errors():
    solver = solvers.get("argmax")
    layer = diffsolvers.PerturbedOptimizer(solver)
    with pytest.raises(TypeError, match="options \\['sigma'\\] belong to the layer"):
        diffsolvers.FenchelYoungLoss(layer, sigma=0.5)
    with pytest.raises(TypeError, match="FenchelYoungLoss takes a layer of type"):
        diffsolvers.FenchelYoungLoss(diffsolvers.BlackboxLayer(solver))
    with pytest.raises(TypeError, match="PerturbedMax returns values"):
        diffsolvers.SquaredLoss(diffsolvers.PerturbedMax(solver))
    # Hamming through I-MLE or a perturbed layer: any layer that returns solutions
    imle = diffsolvers.HammingLoss(diffsolvers.IMLELayer(solver, lambda_=2.0, seed=0))
    assert imle.lambda_ == 2.0
    perturbed = diffsolvers.HammingLoss(diffsolvers.PerturbedOptimizer(solver, seed=0))
    assert perturbed.lambda_ is None
    x = torch.randn(2, 3, requires_grad=True)
    perturbed(x, torch.eye(3)[:2]).backward()
    assert x.grad is not None


# -- a model trained through a user's plain function --------------------------------------
def test_a_linear_model_trains_through_a_plain_function_with_four_methods():
    """The guide's example: a per-instance NumPy shortest path on PyEPO's 5×5 grid DAG, as
    a user would write it, trained with FY, blackbox, I-MLE and SPO+ (blackbox and I-MLE
    under the Hamming loss); the lines between the markers are the user's code, fewer than
    30 (``test_the_user_code_is_short``)."""
    # --- user code ---
    data = make_synthetic("shortest_path_graph", n=400, deg=2, seed=0)
    edges, n_nodes = np.array(data.solver_params["edges"]), data.solver_params["n_nodes"]

    def shortest_path(theta):  # one instance: θ = -(edge costs) -> 0/1 edges of the best path
        best, via = np.r_[0.0, np.full(n_nodes - 1, -np.inf)], np.zeros(n_nodes, dtype=int)
        for e, (u, v) in enumerate(edges):  # PyEPO's edge order is a topological order
            if best[u] + theta[e] > best[v]:
                best[v], via[v] = best[u] + theta[e], e
        y, v = np.zeros_like(theta), n_nodes - 1
        while v != 0:
            y[via[v]], v = 1.0, edges[via[v], 0]
        return y

    oracle = solvers.from_function(shortest_path, batched=False, problem="my_paths")
    x, c, y = (torch.tensor(a).float() for a in (data.x, data.costs, oracle.solve(-data.costs)))
    losses = {
        "fenchel_young": diffsolvers.FenchelYoungLoss(oracle, sigma=0.5, inputs="costs"),
        "blackbox": diffsolvers.HammingLoss(oracle, lambda_=5.0, inputs="costs"),
        "imle": diffsolvers.HammingLoss(diffsolvers.IMLELayer(oracle, 5.0, 8.0, inputs="costs")),
        "spo_plus": diffsolvers.SPOPlusLoss(oracle, inputs="costs"),
    }
    regrets = {}
    for name, loss_fn in losses.items():
        torch.manual_seed(0)
        model = torch.nn.Linear(5, 40)
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        for idx in torch.randperm(300).repeat(4).split(32):
            opt.zero_grad()
            loss_fn(model(x[idx]), c[idx] if name == "spo_plus" else y[idx]).backward()
            opt.step()
        regrets[name] = diffsolvers.decision_regret(oracle, model(x[300:]), c[300:])
    # --- end of user code ---
    native = solvers.get("shortest_path_graph", **data.solver_params)
    np.testing.assert_array_equal(y.numpy(), native.solve(-data.costs))  # the DP is right
    torch.manual_seed(0)
    before = diffsolvers.decision_regret(oracle, torch.nn.Linear(5, 40)(x[300:]), c[300:])
    assert before > 0.25  # the untrained model (each model's start) decides badly
    for name, after in regrets.items():
        assert after < 0.75 * before, (name, before.item(), after.item())


def test_the_user_code_is_short():
    source = open(__file__, encoding="utf-8").read()
    user = source.split("# --- user" + " code ---")[1].split("# --- end of user" + " code ---")[0]
    lines = [line for line in user.splitlines() if line.strip()]
    assert len(lines) < 30, len(lines)


# -- the guide ------------------------------------------------------------------------------
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "own-oracle.md"


def _guide_blocks() -> list[str]:
    lines, blocks, i = GUIDE.read_text(encoding="utf-8").splitlines(), [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            end = lines.index("```", i + 1)
            blocks.append("\n".join(lines[i + 1 : end]))
            i = end
        i += 1
    return blocks


def test_the_guides_first_example_runs():
    (first, _) = _guide_blocks()
    namespace: dict = {"__name__": "guide"}
    exec(compile(first, "docs/own-oracle.md (1)", "exec"), namespace)
    assert namespace["y_soft"].shape == (8, 5)
    torch.testing.assert_close(
        namespace["y_soft"].sum(-1), torch.full((8,), 2.0), rtol=0, atol=1e-6
    )


def test_the_guides_ortools_routing_example_trains_three_ways(capsys):
    (_, routing) = _guide_blocks()
    namespace: dict = {"__name__": "guide"}
    exec(compile(routing, "docs/own-oracle.md (2)", "exec"), namespace)
    assert "fenchel_young" in capsys.readouterr().out
    tours = namespace["tours"]
    assert torch.all(tours.sum(-1) == 1) and torch.all(tours.sum(-2) == 1)  # one arc out, one in
    x, c, n = namespace["x"], namespace["c"], namespace["N"]
    torch.manual_seed(0)
    untrained = torch.nn.Linear(5, n * n)(x[160:]).reshape(-1, n, n)
    before = diffsolvers.decision_regret(namespace["oracle"], untrained, c[160:]).item()
    for name, after in namespace["regrets"].items():
        assert after < 0.7 * before, (name, before, after)
