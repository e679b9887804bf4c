"""The ``solve_ratio`` option of ``diffsolvers.layer`` / ``diffsolvers.loss``: the method's
solver wrapped with solution caching (``solvers.cached``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import diffsolvers
import solvers
from diffsolvers import registry
from solvers.caching import CachedSolver

WEIGHTS = [3, 4, 5, 6, 2, 7]
CAPACITY = 12
N_ITEMS = len(WEIGHTS)
# (method, options) over layers and losses, including backward solves (blackbox, I-MLE)
# and a loss on costs (SPO+).
RUNS = {
    "perturbed": {"sigma": 0.5, "n_samples": 3, "seed": 0},
    "blackbox": {"lambda_": 3.0},
    "imle": {"lambda_": 3.0, "seed": 0},
    "fenchel_young": {"sigma": 0.5, "n_samples": 3, "seed": 0},
    "spo_plus": {},
}


def _build(method: str, **extra):
    info = registry.method_info(method)
    build = diffsolvers.layer if info.kind == "layer" else diffsolvers.loss
    return info, build(
        "knapsack", method=method, weights=WEIGHTS, capacity=CAPACITY, **RUNS[method], **extra
    )


def _cache_of(module) -> CachedSolver:
    found = [
        m.solver for m in module.modules() if isinstance(getattr(m, "solver", None), CachedSolver)
    ]
    assert found, "no cached solver in the module"
    return found[0]


def _step(info, module, theta: torch.Tensor, target: torch.Tensor):
    """Output and θ-gradient of one forward/backward pass."""
    x = theta.clone().requires_grad_(True)
    if info.kind == "layer":
        out = module(x)
        (out * torch.linspace(-1.0, 1.0, out.numel()).reshape(out.shape)).sum().backward()
    else:
        out = module(x, target)
        out.backward()
    return out.detach(), x.grad


def _target(info, rng: np.random.Generator) -> torch.Tensor:
    if info.target == "costs":
        return torch.from_numpy(rng.uniform(0.0, 1.0, size=(16, N_ITEMS)))
    exact = solvers.get("knapsack", weights=WEIGHTS, capacity=CAPACITY)
    return torch.from_numpy(exact.solve(rng.uniform(0.0, 1.0, size=(16, N_ITEMS))))


@pytest.mark.parametrize("method", list(RUNS))
def test_solve_ratio_one_equals_the_uncached_method(method):
    rng = np.random.default_rng(0)
    info, plain = _build(method)
    _, cached = _build(method, solve_ratio=1.0)
    assert isinstance(_cache_of(cached), CachedSolver)
    target = _target(info, rng)
    for _ in range(3):  # later calls have a pool, which ratio 1 must not use
        theta = torch.from_numpy(rng.normal(size=(16, N_ITEMS)))
        out_plain, grad_plain = _step(info, plain, theta, target)
        out_cached, grad_cached = _step(info, cached, theta, target)
        torch.testing.assert_close(out_cached, out_plain, rtol=0, atol=0)
        torch.testing.assert_close(grad_cached, grad_plain, rtol=0, atol=0)
    assert _cache_of(cached).from_pool == 0


class CountingKnapsack(solvers.Solver):
    """The Numba knapsack, counting the instances it is asked to solve (an independent
    count of the exact solves, not the cache's own counters)."""

    problem, backend, event_ndim = "counted_knapsack", "numba", 1

    def __init__(self) -> None:
        self.exact = solvers.get("knapsack", weights=WEIGHTS, capacity=CAPACITY)
        self.instances = 0
        self.calls = 0

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        self.instances += theta.shape[0]
        self.calls += 1
        return self.exact.solve(theta)


@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.5])
def test_the_share_of_exact_solves_is_honoured(ratio):
    """Fenchel-Young on a ready solver, B = 20 and M = 3 (60 instances per call): the first
    call solves all (the pool is empty), every later one ⌈ρ·60⌉."""
    inner = CountingKnapsack()
    loss = diffsolvers.loss(inner, method="fenchel_young", sigma=0.5, seed=1, solve_ratio=ratio)
    rng = np.random.default_rng(1)
    target = torch.from_numpy(inner.exact.solve(rng.uniform(size=(20, N_ITEMS))))
    calls = 6
    for _ in range(calls):
        theta = torch.from_numpy(rng.normal(size=(20, N_ITEMS))).requires_grad_(True)
        loss(theta, target).backward()
    per_call = math.ceil(ratio * 60)
    assert inner.calls == calls
    assert inner.instances == 60 + (calls - 1) * per_call
    cache = _cache_of(loss)
    assert (cache.solved, cache.from_pool) == (inner.instances, calls * 60 - inner.instances)


def test_answers_not_solved_come_from_the_pool_and_are_its_best():
    """Every perturbed sample is a pool member; it is exact (best of all packings) or the
    pool's best for its perturbed θ; and some samples are answered from the pool."""
    layer = diffsolvers.layer(
        "knapsack", weights=WEIGHTS, capacity=CAPACITY, sigma=1.0, n_samples=4, seed=2,
        solve_ratio=0.25,
    )  # fmt: skip
    cache = _cache_of(layer)
    exact = solvers.get("knapsack", weights=WEIGHTS, capacity=CAPACITY)
    rng = np.random.default_rng(2)
    layer(torch.from_numpy(rng.normal(size=(2, N_ITEMS))))  # starts the pool: 8 solutions
    s = layer.sample(torch.from_numpy(rng.normal(size=(30, N_ITEMS))))
    pool = next(iter(cache.pools.values()))
    members = pool.rows[: pool.count]
    theta_p = s.theta_p.reshape(-1, N_ITEMS).numpy()
    y = s.y.reshape(-1, N_ITEMS).numpy()
    best_in_pool = (theta_p @ members.T).max(axis=1)
    optimum = (theta_p * exact.solve(theta_p)).sum(axis=1)
    value = (theta_p * y).sum(axis=1)
    for b in range(y.shape[0]):
        assert any(np.array_equal(y[b], m) for m in members), f"sample {b} not in the pool"
        assert value[b] >= best_in_pool[b] - 1e-12
        assert value[b] <= optimum[b] + 1e-12
    assert (value < optimum - 1e-12).any(), "no answer differs from the exact one"
    assert cache.from_pool == 120 - math.ceil(0.25 * 120)  # second call: 30 of 120 solved


def test_the_same_seed_gives_the_same_answers():
    rng = np.random.default_rng(3)
    thetas = [torch.from_numpy(rng.normal(size=(10, N_ITEMS))) for _ in range(3)]
    runs = []
    for _ in range(2):
        _, layer = _build("perturbed", solve_ratio=0.3)
        runs.append([layer(t) for t in thetas])
    for a, b in zip(*runs):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_solve_ratio_is_listed_for_every_method_that_calls_a_solver():
    for name in registry.methods():
        info = registry.method_info(name)
        if name == "two_stage":
            assert "solve_ratio" not in info.options
        elif info.own_solve_ratio:  # a loss on its own solution pool: PyEPO's default, 1
            assert info.defaults["solve_ratio"] == 1.0, name
        else:
            assert info.defaults["solve_ratio"] is None, name


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.5, float("nan"), float("inf"), True, "0.3"])
def test_values_outside_zero_one_are_refused(bad):
    with pytest.raises(ValueError, match=r"solve_ratio must be a number in \(0, 1\]"):
        diffsolvers.layer("knapsack", weights=WEIGHTS, capacity=CAPACITY, solve_ratio=bad)
    with pytest.raises(ValueError, match=r"solve_ratio must be a number in \(0, 1\]"):
        diffsolvers.loss(CountingKnapsack(), method="spo_plus", solve_ratio=bad)


def test_none_builds_no_cache():
    layer = diffsolvers.layer("knapsack", weights=WEIGHTS, capacity=CAPACITY, solve_ratio=None)
    assert not isinstance(layer.solver, CachedSolver)


def test_solve_ratio_where_it_cannot_apply_is_refused():
    with pytest.raises(ValueError, match="'two_stage' calls no solver"):
        diffsolvers.loss("knapsack", method="two_stage", solve_ratio=0.3)
    ready = solvers.cached(solvers.get("argmax"), solve_ratio=0.5)
    with pytest.raises(ValueError, match="already caches its solutions"):
        diffsolvers.layer(ready, method="blackbox", solve_ratio=0.5)
    on_device = diffsolvers.from_torch_function(
        lambda t: torch.nn.functional.one_hot(t.argmax(-1), t.shape[-1]).to(t.dtype),
        problem="argmax_torch",
    )
    with pytest.raises(TypeError, match="solve_ratio caches the solutions of a solvers.Solver"):
        diffsolvers.layer(on_device, method="blackbox", solve_ratio=0.5)


def test_per_call_side_data_is_refused_with_the_reason():
    layer = diffsolvers.layer("knapsack", sigma=0.5, seed=0, solve_ratio=0.5)
    with pytest.raises(solvers.SolverInputError, match="can change the feasible set"):
        layer(torch.rand(2, N_ITEMS), weights=torch.tensor(WEIGHTS), capacity=torch.tensor(12.0))


def test_settings_of_the_wrapped_solver_are_kept():
    """The shortest-path solver keeps negative_costs='clamp' under the cache, so the sign
    warning of costs fed as scores still fires."""
    layer = diffsolvers.layer("shortest_path", method="blackbox", solve_ratio=0.5)
    assert layer.solver.negative_costs == "clamp"
    with pytest.warns(RuntimeWarning, match="every cost of 1 of 1 instance"):
        layer(torch.rand(1, 4, 4) + 1.0)


def test_a_loss_on_a_solution_pool_takes_solve_ratio_itself():
    """The pool losses apply solve_ratio to their pool: the solver is not wrapped twice."""
    loss = diffsolvers.loss("top_k", "nce", k=2, solve_ratio=0.25)
    assert loss.pool.solve_ratio == 0.25
    assert not isinstance(loss.pool.solver, CachedSolver)
    assert diffsolvers.loss("top_k", "nce", k=2).pool.solve_ratio == 1.0
    with pytest.raises(ValueError, match=r"solve_ratio must be a number in \[0, 1\]"):
        diffsolvers.loss("top_k", "nce", k=2, solve_ratio=1.5)
