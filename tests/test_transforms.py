"""Every registered (problem, method) pair under ``torch.compile(fullgraph=True)`` and
``torch.func.vmap``: the values and gradients of the batched eager call.

Compiling with inductor takes 3 to 20 s per pair on two cores (about 100 pairs), so the
default run compiles the full matrix with ``backend="aot_eager"``: Dynamo's full-graph
trace and AOTAutograd's forward/backward split, the two steps that decide whether a layer
compiles at all (graph breaks, opaque objects, data-dependent branches, fake-tensor
rules of the custom operators). Inductor, which only generates kernels from that graph,
runs on a representative subset by default and on every pair under ``pytest -m slow``.
aot_eager runs the traced operations as eager does, so its values and gradients are
bitwise those of eager; inductor's fused kernels may round differently (a few ulps).

Random methods are reseeded before each call: the noise is drawn inside a custom
operator from the module's generator, so a compiled call draws exactly eager's noise,
and ``vmap(..., randomness="different")`` draws exactly the batched call's.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from problem_cases import CASES
from torch.func import grad, vmap

import diffsolvers
import solvers
from diffsolvers import registry

OPTIONS = {"sigma": 0.5, "n_samples": 3, "lambda_": 10.0, "step": 5.0}
PAIRS = [(r.problem, r.method) for r in diffsolvers.available()]
# One pair per kind of machinery: additive noise with a control-variate-free score
# estimator on grids, the FY loss with per-instance side data, blackbox's second solve,
# I-MLE's noise and second solve, SPO+'s stacked solve, and a projection.
INDUCTOR_SUBSET = [
    ("shortest_path", "perturbed"),
    ("knapsack", "fenchel_young"),
    ("assignment", "blackbox"),
    ("argmax", "frank_wolfe"),  # an operator with several outputs: their strides
    ("argmax", "nce"),  # the solution pool's operator
]
V, B = 2, 3  # vmapped axis, batch axis


def _module(problem: str, method: str):
    info = registry.method_info(method)
    opts = {k: v for k, v in OPTIONS.items() if k in info.options}
    if "seed" in info.options:
        opts["seed"] = 0
    if info.kind == "loss" and "reduction" in info.options:
        opts["reduction"] = "none"
    build = diffsolvers.layer if info.kind == "layer" else diffsolvers.loss
    return info, build(problem, method=method, **CASES[problem].params(), **opts)


def _reseed(module) -> None:
    """Restart the module's noise, and its adaptation where it adapts in backward
    (adaptive I-MLE's β), so that two passes start from the same state."""
    for m in module.modules():
        if hasattr(m, "reset_adaptation"):
            m.reset_adaptation()
        if hasattr(m, "manual_seed"):
            m.manual_seed(0)
            return


def _inputs(problem: str, info):
    """θ (V, B, *instance), per-instance side data (V, B, ...), and the loss's target; the
    pool losses on costs get the true solutions too (``y_true``, passed with the side data:
    see ``true_solutions_for`` in test_layer_registry.py)."""
    case = CASES[problem]
    theta, side = case.draw(seed=1, batch=V * B)
    side = {k: torch.as_tensor(np.asarray(v)) for k, v in side.items()}
    target = None
    if info.kind == "loss":
        other, _ = case.draw(seed=2, batch=V * B)
        target = case.target(other, side) if info.target == "solution" else -other
        target = target.reshape(V, B, *target.shape[1:])
        if info.target == "costs" and "pool" in info.options:
            side["y_true"] = case.target(other, side)
    theta = theta.reshape(V, B, *theta.shape[1:])
    side = {k: v.reshape(V, B, *v.shape[1:]) for k, v in side.items()}
    return theta, side, target


def _call(module, x, side, target):
    return module(x, **side) if target is None else module(x, target, **side)


def _weights(out: torch.Tensor) -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    return torch.randn(out.shape, generator=gen, dtype=out.dtype)


def _value_and_grad(fn, module, theta):
    """One reseeded forward and backward of ``fn`` (upstream gradient: fixed weights)."""
    _reseed(module)
    x = theta.clone().requires_grad_(True)
    out = fn(x)
    (out * _weights(out)).sum().backward()
    return out.detach(), x.grad


def _no_precompiled_headers(backend: str):
    """Inductor without its precompiled C++ header: the first compile on a fresh machine
    builds that header, and kernels compiled meanwhile failed with "'at::vec' has not been
    declared" (three tests of one CI run on a fresh clone; they passed when run again)."""
    config = torch._inductor.config
    if backend != "inductor" or not hasattr(config, "cpp_cache_precompile_headers"):
        return contextlib.nullcontext()
    return config.patch(cpp_cache_precompile_headers=False)


def _check_compiled(problem: str, method: str, backend: str) -> None:
    info, module = _module(problem, method)
    theta, side, target = _inputs(problem, info)

    def fn(x):
        return _call(module, x, side, target)

    torch._dynamo.reset()  # each pair compiles its own graph (no recompile limit)
    out, g = _value_and_grad(fn, module, theta)
    compiled = torch.compile(fn, fullgraph=True, backend=backend)
    with _no_precompiled_headers(backend):
        out_c, g_c = _value_and_grad(compiled, module, theta)
    assert g is not None and g.abs().sum() > 0, "the gradient does not reach θ"
    if backend == "aot_eager":
        torch.testing.assert_close(out_c, out, rtol=0, atol=0)
        torch.testing.assert_close(g_c, g, rtol=0, atol=0)
    else:
        torch.testing.assert_close(out_c, out, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(g_c, g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("problem", "method"), PAIRS)
def test_fullgraph_compile_gives_eager_values_and_gradients(problem, method):
    _check_compiled(problem, method, "aot_eager")


@pytest.mark.parametrize(("problem", "method"), INDUCTOR_SUBSET)
def test_inductor_gives_eager_values_and_gradients(problem, method):
    _check_compiled(problem, method, "inductor")


@pytest.mark.slow
@pytest.mark.parametrize(("problem", "method"), PAIRS)
def test_inductor_gives_eager_values_and_gradients_every_pair(problem, method):
    _check_compiled(problem, method, "inductor")


@pytest.mark.parametrize(("problem", "method"), PAIRS)
def test_vmap_is_the_batched_call(problem, method):
    info, module = _module(problem, method)
    theta, side, target = _inputs(problem, info)
    names = list(side)
    t_dim = None if target is None else 0

    def one(x, t, *values):
        return _call(module, x, dict(zip(names, values)), t)

    batched = vmap(one, in_dims=(0, t_dim, *[0] * len(names)), randomness="different")
    out, g = _value_and_grad(lambda x: _call(module, x, side, target), module, theta)
    out_v, g_v = _value_and_grad(lambda x: batched(x, target, *side.values()), module, theta)
    torch.testing.assert_close(out_v, out, rtol=0, atol=0)
    torch.testing.assert_close(g_v, g, rtol=0, atol=0)

    # Per-slice gradients (torch.func.grad inside vmap) are the batched call's gradient.
    def objective(x, w, t, *values):
        return (one(x, t, *values) * w).sum()

    per_slice = vmap(
        grad(objective), in_dims=(0, 0, t_dim, *[0] * len(names)), randomness="different"
    )
    _reseed(module)
    g_s = per_slice(theta, _weights(out), target, *side.values())
    torch.testing.assert_close(g_s, g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["perturbed", "fenchel_young", "blackbox", "imle"])
def test_vmap_with_shared_side_data(method):
    """Side data without the vmapped axis (shared weights, a capacity per vmapped slice)."""
    info, module = _module("knapsack", method)
    rng = np.random.default_rng(0)
    theta = torch.from_numpy(rng.uniform(0.1, 1.0, size=(V, B, 4)))
    weights = torch.tensor([3.0, 4.0, 5.0, 6.0])
    capacity = torch.tensor([10.0, 6.0])  # one per vmapped slice, shared by its batch
    target = torch.zeros(V, B, 4, dtype=torch.float64) if info.kind == "loss" else None

    def one(x, c, t):
        return _call(module, x, {"weights": weights, "capacity": c}, t)

    _reseed(module)
    out_v = vmap(one, in_dims=(0, 0, None if target is None else 0), randomness="different")(
        theta, capacity, target
    )
    _reseed(module)
    full = {"weights": weights, "capacity": capacity[:, None].expand(V, B)}
    torch.testing.assert_close(out_v, _call(module, theta, full, target), rtol=0, atol=0)


def test_vmap_of_a_random_layer_asks_for_randomness():
    layer = diffsolvers.layer("argmax", sigma=0.5, seed=0)
    with pytest.raises(RuntimeError, match="randomness='different'"):
        vmap(layer)(torch.randn(2, 3, 4))
    # a deterministic method needs no randomness argument
    blackbox = diffsolvers.layer("argmax", method="blackbox")
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(vmap(blackbox)(x), blackbox(x), rtol=0, atol=0)


def test_vmap_randomness_same_shares_one_draw():
    layer = diffsolvers.layer("argmax", method="perturbed_max", sigma=1.0, n_samples=2, seed=0)
    x = torch.zeros(3, 4, 5)  # identical slices: one shared draw gives identical values
    out = vmap(layer, randomness="same")(x)
    assert out.shape == (3, 4)
    torch.testing.assert_close(out[1], out[0], rtol=0, atol=0)
    torch.testing.assert_close(out[2], out[0], rtol=0, atol=0)
    different = vmap(layer, randomness="different")(x)
    assert not torch.equal(different[1], different[0])


def test_data_checks_hold_inside_a_compiled_graph():
    """NaN, overflow and the sign warning are checked on the values inside the operators,
    with the messages of eager execution, and without breaking the graph."""
    layer = diffsolvers.layer("argmax", "perturbed_multiplicative", sigma=1.0, seed=0)
    torch._dynamo.reset()
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    with pytest.raises(ValueError, match="argmax: the prediction contains NaN"):
        compiled(torch.tensor([[1.0, float("nan"), 0.0]]))
    with pytest.raises(ValueError, match="perturbed scores overflow torch.float32"):
        compiled(torch.tensor([[3e38, 1.0, 2.0]]))
    path = diffsolvers.layer("shortest_path", method="blackbox")
    compiled_path = torch.compile(path, fullgraph=True, backend="aot_eager")
    with pytest.warns(RuntimeWarning, match=r"2 of 2 instance.*inputs='costs'"):
        compiled_path(torch.rand(2, 4, 4) + 0.1)


def test_compiled_layer_outlives_nothing_it_needs():
    """A compiled seeded layer restarted by manual_seed draws the same noise again."""
    layer = diffsolvers.layer("top_k", k=2, sigma=0.5, n_samples=4, seed=5)
    torch._dynamo.reset()
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    x = torch.randn(3, 6)
    first = compiled(x)
    assert not torch.equal(compiled(x), first)  # the generator advanced
    layer.manual_seed(5)
    torch.testing.assert_close(compiled(x), first, rtol=0, atol=0)


@pytest.mark.parametrize("method", registry.methods())
def test_compiled_without_gradients_in_eval_mode(method):
    """Evaluation: no input requires grad, the module is in eval mode (I-MLE returns its
    noise-free solution); the compiled call gives eager's values. On the knapsack, or on
    the one problem of a method that has one (the closed-form projections)."""
    problem = (
        "knapsack" if ("knapsack", method) in PAIRS else next(p for p, m in PAIRS if m == method)
    )
    info, module = _module(problem, method)
    theta, side, target = _inputs(problem, info)
    module.eval()

    def fn(x):
        return _call(module, x, side, target)

    torch._dynamo.reset()
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        _reseed(module)
        expected = fn(theta)
        _reseed(module)
        torch.testing.assert_close(compiled(theta), expected, rtol=0, atol=0)


# -- the objects behind the operators: copies, pickles, lifetime ----------------------------
@pytest.mark.parametrize("method", ["perturbed", "imle", "blackbox"])
def test_copied_and_unpickled_modules_hold_their_own_objects(method):
    import copy
    import pickle

    from diffsolvers import _handles

    layer = (
        diffsolvers.layer("top_k", method=method, k=2, seed=3)
        if method != "blackbox"
        else (diffsolvers.layer("top_k", method=method, k=2))
    )
    x = torch.randn(4, 6, dtype=torch.float64)
    layer(x)  # advance the generator: copies continue from here
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert other.solver is not layer.solver
        assert _handles.get(other._solver_key) is other.solver
        if method != "blackbox":
            assert _handles.get(other._source_key) is other._source
            assert _handles.get(other._noise_key) is other.noise
        torch.testing.assert_close(other(x), copy.deepcopy(layer)(x), rtol=0, atol=0)
    layer.solver = solvers.get("top_k", k=3)  # replacing the solver moves the handle too
    assert _handles.get(layer._solver_key) is layer.solver
    torch.testing.assert_close(layer(x).sum(-1), torch.full((4,), 3.0, dtype=x.dtype))


def test_handles_go_with_their_modules():
    import gc

    from diffsolvers import _handles

    gc.collect()
    before = len(_handles._objects)
    for _ in range(50):
        diffsolvers.loss("argmax", "fenchel_young", seed=0)(torch.randn(2, 3), torch.eye(3)[:2])
    gc.collect()
    assert len(_handles._objects) <= before + 3


@pytest.mark.parametrize("method", ["perturbed", "fenchel_young", "blackbox", "imle"])
def test_second_derivatives_through_torch_func_are_refused(method):
    info, module = _module("argmax", method)
    x = torch.rand(2, 5, dtype=torch.float64)
    target = torch.eye(5, dtype=torch.float64)[:2]

    def f(t):
        out = module(t) if info.kind == "layer" else module(t, target)
        return (out * torch.arange(out.numel(), dtype=out.dtype).reshape(out.shape)).sum()

    assert grad(f)(x).shape == x.shape  # first derivatives are fine
    with pytest.raises(RuntimeError, match="gives first derivatives only"):
        grad(lambda t: grad(f)(t).pow(2).sum())(x)


@pytest.mark.parametrize("method", ["perturbed", "blackbox"])
def test_compiled_layers_follow_the_batch_size(method):
    """A new batch size recompiles with symbolic shapes (the last, smaller batch of an
    epoch): the fake rules of the operators follow, and values stay eager's."""
    seed = {"seed": 0} if method == "perturbed" else {}
    layer = diffsolvers.layer("shortest_path", method=method, inputs="costs", **seed)
    torch._dynamo.reset()
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    gen = torch.Generator().manual_seed(0)
    for batch in (4, 5, 6, 3):
        costs = torch.rand(batch, 5, 5, generator=gen) + 0.1
        _reseed(layer)
        expected = layer(costs)
        _reseed(layer)
        torch.testing.assert_close(compiled(costs), expected, rtol=0, atol=0)
