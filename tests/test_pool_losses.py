"""The losses on a solution pool (NCE, contrastive MAP, pointwise / pairwise / listwise
learning to rank) and the pool itself.

Values are checked against independent NumPy formulas written in PyEPO's minimisation form
(ĉ, c; smaller is better), gradients against their closed forms and against finite
differences (the pool is a constant of a call), and with the whole feasible set as the pool
(enumerated by brute force) contrastive MAP is the structured perceptron loss.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import diffsolvers
import solvers
from diffsolvers import (
    ContrastiveMAPLoss,
    ListwiseLTRLoss,
    NCELoss,
    PairwiseLTRLoss,
    PointwiseLTRLoss,
    SolutionPool,
)

N, K = 5, 2
POOL_LOSSES = [NCELoss, ContrastiveMAPLoss, PointwiseLTRLoss, PairwiseLTRLoss, ListwiseLTRLoss]
RANKING = [PointwiseLTRLoss, PairwiseLTRLoss, ListwiseLTRLoss]


def top_k_set(n: int = N, k: int = K) -> torch.Tensor:
    """Every k-subset of n items as 0/1 rows (the feasible set of top-k)."""
    rows = []
    for chosen in itertools.combinations(range(n), k):
        y = np.zeros(n)
        y[list(chosen)] = 1.0
        rows.append(y)
    return torch.tensor(np.array(rows))


def knapsack_set(weights: np.ndarray, capacity: float) -> np.ndarray:
    """Every feasible 0/1 packing, by enumeration."""
    rows = [np.array(bits, dtype=float) for bits in itertools.product((0, 1), repeat=len(weights))]
    return np.array([y for y in rows if y @ weights <= capacity])


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def reference(name: str, c_hat: np.ndarray, c: np.ndarray, y: np.ndarray, w: np.ndarray):
    """The per-instance loss in PyEPO's minimisation form, on the pool ``w`` (K, D)."""
    pred, true = c_hat @ w.T, c @ w.T  # (B, K) objective values, smaller is better
    if name == "NCELoss":
        return ((c_hat * y).sum(-1)[:, None] - pred).mean(-1)
    if name == "ContrastiveMAPLoss":
        return ((c_hat * y).sum(-1)[:, None] - pred).max(-1)
    if name == "PointwiseLTRLoss":
        return ((c - c_hat) @ w.T) ** 2 @ np.ones(len(w)) / len(w)
    if name == "PairwiseLTRLoss":
        best = true.argmin(-1)
        gap = pred[np.arange(len(pred)), best][:, None] - pred
        return np.maximum(gap, 0).sum(-1) / max(len(w) - 1, 1)
    if name == "ListwiseLTRLoss":
        return -(np.exp(log_softmax(-true)) * log_softmax(-pred)).sum(-1)
    raise AssertionError(name)


def _call(loss, c_hat, c, y):
    if isinstance(loss, (NCELoss, ContrastiveMAPLoss)):
        return loss(c_hat, y)
    return loss(c_hat, c)


@pytest.mark.parametrize("cls", POOL_LOSSES)
@pytest.mark.parametrize("seed", range(5))
def test_values_match_pyepo_formulas_on_a_fixed_pool(cls, seed):
    rng = np.random.default_rng(seed)
    every = top_k_set()
    pool = every[rng.choice(len(every), size=6, replace=False)]
    c_hat, c = rng.normal(size=(4, N)), rng.normal(size=(4, N))
    y = pool[rng.integers(0, len(pool), size=4)].numpy()  # targets already in the pool
    loss = cls(solvers.get("top_k", k=K), pool=pool, solve_ratio=0.0, inputs="costs")
    loss.reduction = "none"
    out = _call(loss, torch.tensor(c_hat), torch.tensor(c), torch.tensor(y))
    assert len(loss.pool) == 6  # nothing solved: ρ = 0 and the pool is not empty
    expected = reference(cls.__name__, c_hat, c, y, pool.numpy())
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_contrastive_gradients_are_the_closed_forms(seed):
    """NCE: ∇θ̂ = w̄_S − ȳ; CMAP on S = Y: ∇θ̂ = y*(θ̂) − ȳ and the value is the structured
    perceptron loss max_y ⟨θ̂, y⟩ − ⟨θ̂, ȳ⟩."""
    rng = np.random.default_rng(seed)
    every = top_k_set()
    solver = solvers.get("top_k", k=K)
    theta = torch.tensor(rng.normal(size=(3, N)), requires_grad=True)
    y = every[rng.integers(0, len(every), size=3)]
    nce = NCELoss(solver, pool=every, solve_ratio=0.0, reduction="sum")
    nce(theta, y).backward()
    torch.testing.assert_close(theta.grad, every.mean(0).expand(3, N) - y)
    theta.grad = None
    cmap = ContrastiveMAPLoss(solver, pool=every, solve_ratio=0.0, reduction="none")
    value = cmap(theta, y)
    value.sum().backward()
    best = torch.from_numpy(solver.solve(theta.detach().numpy()))
    torch.testing.assert_close(theta.grad, best - y)
    perceptron = (theta * best).sum(-1) - (theta * y).sum(-1)
    torch.testing.assert_close(value, perceptron.detach())
    assert bool((value >= 0).all())


@pytest.mark.parametrize("cls", POOL_LOSSES)
def test_gradients_match_finite_differences(cls):
    rng = np.random.default_rng(3)
    every = top_k_set()
    loss = cls(solvers.get("top_k", k=K), pool=every, solve_ratio=0.0, reduction="sum")
    c = torch.tensor(rng.normal(size=(2, N)))
    y = every[[1, 7]]
    theta = torch.tensor(rng.normal(size=(2, N)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: _call(loss, t, c, y), (theta,), eps=1e-6)


@pytest.mark.parametrize("cls", [PointwiseLTRLoss, ListwiseLTRLoss])
def test_smooth_ranking_losses_have_exact_second_derivatives(cls):
    every = top_k_set()
    loss = cls(solvers.get("top_k", k=K), pool=every, solve_ratio=0.0, reduction="sum")
    c = torch.randn(2, N, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    theta = torch.randn(2, N, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: loss(t, c), (theta,))


def test_listwise_temperature_scales_both_distributions():
    every = top_k_set()
    rng = np.random.default_rng(0)
    c_hat, c = torch.tensor(rng.normal(size=(3, N))), torch.tensor(rng.normal(size=(3, N)))
    solver = solvers.get("top_k", k=K)
    hot = ListwiseLTRLoss(solver, temperature=0.5, pool=every, solve_ratio=0.0)
    plain = ListwiseLTRLoss(solver, pool=every, solve_ratio=0.0)
    torch.testing.assert_close(hot(c_hat, c), plain(c_hat / 0.5, c / 0.5))


def test_pairwise_ranks_against_the_truly_best_solution():
    """A prediction that ranks the pool as the truth does costs nothing; one that puts the
    truly best solution last costs the mean of its gaps."""
    pool = torch.eye(3)
    loss = PairwiseLTRLoss(solvers.get("argmax"), pool=pool, solve_ratio=0.0, inputs="costs")
    c = torch.tensor([[1.0, 2.0, 3.0]])  # e₁ cheapest
    assert loss(c, c).item() == 0.0
    assert loss(torch.tensor([[3.0, 2.0, 1.0]]), c).item() == pytest.approx((2.0 + 1.0) / 2)


# -- the pool -------------------------------------------------------------------------------


class CountingSolver:
    """top-k that records the size of each batch it solves."""

    problem = "top_k"
    event_ndim = 1

    def __init__(self) -> None:
        self.inner = solvers.get("top_k", k=K)
        self.calls: list[int] = []

    def solve(self, theta, **side):
        self.calls.append(len(theta))
        return self.inner.solve(theta, **side)


def test_a_share_of_the_instances_is_solved_and_joins_the_pool():
    solver = CountingSolver()
    pool = SolutionPool(solver, solutions=top_k_set()[:1], solve_ratio=0.25, seed=0)
    for _ in range(3):
        pool.step(torch.randn(10, N, dtype=torch.float64))
    assert solver.calls == [3, 3, 3]  # ⌈0.25 · 10⌉ each call, in one batched solve
    assert 2 <= len(pool) <= 10


def test_an_empty_pool_solves_every_instance_then_only_the_share():
    solver = CountingSolver()
    pool = SolutionPool(solver, solve_ratio=0.0)
    rows, mask = pool.step(torch.randn(4, N, dtype=torch.float64))
    assert solver.calls == [4]
    assert bool(mask.all()) and rows.shape == (len(pool), N)
    pool.step(torch.randn(4, N, dtype=torch.float64))
    assert solver.calls == [4]  # ρ = 0: nothing more once the pool holds a solution


def test_the_same_seed_gives_the_same_pool():
    def grow(seed):
        pool = SolutionPool(solvers.get("top_k", k=K), solve_ratio=0.3, seed=seed)
        gen = torch.Generator().manual_seed(1)
        for _ in range(4):
            pool.step(torch.randn(8, N, dtype=torch.float64, generator=gen))
        return pool.solutions

    torch.testing.assert_close(grow(5), grow(5))


def test_solutions_are_deduplicated_and_targets_join():
    loss = NCELoss(solvers.get("argmax"), solve_ratio=0.0)
    y = torch.eye(3)[[0, 0, 1]]
    loss(torch.randn(3, 3), y)
    assert len(loss.pool) == 2
    loss(torch.randn(3, 3), y)
    assert len(loss.pool) == 2


def test_a_full_pool_replaces_the_oldest_but_keeps_the_calls_own_solutions():
    every = torch.eye(6)
    loss = NCELoss(solvers.get("argmax"), pool=every[:3], max_pool=3, solve_ratio=0.0)
    rows = loss.pool.step(torch.zeros(2, 6), targets=every[[4, 5]])[0]
    assert len(loss.pool) == 3
    kept = {int(r.argmax()) for r in rows}
    assert {4, 5} <= kept and len(kept) == 3
    with pytest.raises(ValueError, match="max_pool=3 cannot hold"):
        loss.pool.step(torch.zeros(4, 6), targets=every[:4])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_calls_solutions_keep_their_values_after_later_calls(dtype):
    """The rows a call returns are views of the pool's storage (no copy per call): later
    calls that add, grow the storage or replace the oldest must leave them unchanged."""
    every = torch.eye(8, dtype=dtype)
    pool = SolutionPool(solvers.get("argmax"), solutions=every[:2], max_pool=4, solve_ratio=0.0)
    held = []
    for first in range(0, 8, 2):
        rows, mask = pool.step(torch.zeros(2, 8, dtype=dtype), targets=every[first : first + 2])
        assert rows.dtype == dtype and mask.all()
        held.append((rows, rows.clone()))
    for rows, values in held:
        assert torch.equal(rows, values)
    assert {int(r.argmax()) for r in pool.solutions} == {4, 5, 6, 7}
    assert pool.solutions.data_ptr() != pool.solutions.data_ptr()  # a copy each time


def test_instances_with_their_own_side_data_see_only_feasible_solutions():
    """Per-call knapsack weights: each instance is contrasted with packings found for the
    same weights and capacity only, so with the full feasible set as reference CMAP is the
    structured perceptron loss of each instance's own knapsack."""
    rng = np.random.default_rng(0)
    weights = rng.integers(1, 6, size=(4, 5)).astype(float)
    capacity = np.full(4, 7.0)
    theta = torch.tensor(rng.normal(size=(4, 5)), requires_grad=True)
    solver = solvers.get("knapsack")
    y = torch.from_numpy(solver.solve(theta.detach().numpy(), weights=weights, capacity=capacity))
    loss = ContrastiveMAPLoss(solver, reduction="none")
    for _ in range(5):  # grow the pool with solutions of other scores, same weights
        other = torch.tensor(rng.normal(size=(4, 5)))
        loss(other, y, weights=weights, capacity=capacity)
    rows, mask = loss.pool.step(theta.detach(), side={"weights": weights, "capacity": capacity})
    for i in range(4):
        used = rows[mask[i]].numpy()
        assert (used @ weights[i] <= capacity[i] + 1e-9).all()
    value = loss(theta, y, weights=weights, capacity=capacity)
    assert bool((value >= 0).all())
    for i in range(4):
        feasible = knapsack_set(weights[i], capacity[i])
        best = (feasible @ theta[i].detach().numpy()).max()
        assert value[i].item() <= best - float(theta[i].detach() @ y[i]) + 1e-9


@pytest.mark.parametrize("cls", POOL_LOSSES)
def test_values_and_gradients_with_several_feasible_sets_use_each_instances_own(cls):
    """Two knapsacks (per-call weights) share one pool: each instance's value is the
    reference formula on the solutions found for its own weights only (the masked path;
    one feasible set takes another), and NCE's gradient is the mean of those minus ȳ."""
    rng = np.random.default_rng(1)
    solver = solvers.get("knapsack")
    weights = np.repeat(np.array([[1.0, 2.0, 3.0, 1.0, 2.0], [3.0, 1.0, 1.0, 2.0, 1.0]]), 2, 0)
    capacity = np.full(4, 4.0)
    side = {"weights": weights, "capacity": capacity}
    c = torch.tensor(rng.normal(size=(4, 5)))
    y = torch.from_numpy(solver.solve(-c.numpy(), **side))
    loss = cls(solver, solve_ratio=1.0, inputs="costs", reduction="none")
    for _ in range(4):  # grow both feasible sets with the solutions of other predictions
        _call_side(loss, torch.tensor(rng.normal(size=(4, 5))), c, y, side)
    c_hat = torch.tensor(rng.normal(size=(4, 5)), requires_grad=True)
    rows, mask = loss.pool.step(-c_hat.detach(), side=side)
    assert not bool(mask.all()) and len(loss.pool) > int(mask.sum(-1).max())
    loss.pool.solve_ratio = 0.0  # the values below use exactly the pool of the step above
    value = _call_side(loss, c_hat, c, y, side)
    for i in range(4):
        w = rows[mask[i]].numpy()
        expected = reference(
            cls.__name__, *(t[i : i + 1].detach().numpy() for t in (c_hat, c, y)), w
        )
        np.testing.assert_allclose(value[i].item(), expected[0], rtol=1e-12, atol=1e-12)
    if cls is NCELoss:
        value.sum().backward()
        own_mean = torch.stack([rows[mask[i]].mean(0) for i in range(4)])
        torch.testing.assert_close(c_hat.grad, -(own_mean - y))  # ĉ = -θ̂


def _call_side(loss, c_hat, c, y, side):
    if isinstance(loss, (NCELoss, ContrastiveMAPLoss)):
        return loss(c_hat, y, **side)
    return loss(c_hat, c, y_true=y, **side)


def test_losses_share_one_pool():
    pool = SolutionPool(solvers.get("argmax"), solve_ratio=1.0)
    nce, cmap = NCELoss(pool), ContrastiveMAPLoss(pool)
    nce(torch.tensor([[1.0, 0.0, 0.0]]), torch.eye(3)[[1]])
    cmap(torch.tensor([[0.0, 0.0, 1.0]]), torch.eye(3)[[1]])
    assert len(pool) == 3 and nce.pool is cmap.pool


def test_registry_builds_the_pool_losses_with_their_options():
    loss = diffsolvers.loss("top_k", "listwise_ltr", k=2, solve_ratio=0.05, temperature=2.0)
    assert isinstance(loss, ListwiseLTRLoss)
    assert loss.pool.solve_ratio == 0.05 and loss.temperature == 2.0
    info = diffsolvers.method_info("pairwise_ltr")
    assert info.target == "costs" and info.defaults["solve_ratio"] == 1.0
    assert diffsolvers.method_info("nce").target == "solution"


def test_ranking_losses_add_the_true_solutions_to_the_pool():
    """The targets join first: with ρ = 0 the pool then holds a solution and nothing is
    solved; with ρ = 1 the prediction's solution joins too."""
    theta, y_true = torch.tensor([[0.0, 1.0, 0.0]]), torch.eye(3)[[2]]
    for ratio, expected in [(0.0, {2}), (1.0, {1, 2})]:
        loss = PointwiseLTRLoss(solvers.get("argmax"), solve_ratio=ratio)
        loss(theta, torch.ones(1, 3), y_true=y_true)
        assert {int(r.argmax()) for r in loss.pool.solutions} == expected


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"solve_ratio": 1.5}, ValueError, r"solve_ratio must be a number in \[0, 1\]"),
        ({"solve_ratio": True}, ValueError, "solve_ratio must be a number"),
        ({"pool": [[0.0, float("nan"), 1.0]]}, ValueError, "pool contains NaN"),
        ({"pool": "abc"}, TypeError, "pool could not be read"),
        ({"max_pool": 0}, ValueError, "max_pool"),
        ({"temperature": 0.0}, ValueError, "temperature"),
    ],
)
def test_bad_options_are_refused(options, error, match):
    with pytest.raises(error, match=match):
        ListwiseLTRLoss(solvers.get("argmax"), **options)


def test_bad_pools_and_shapes_are_refused():
    solver = solvers.get("shortest_path", negative_costs="clamp")
    with pytest.raises(ValueError, match="pool must hold solutions"):
        NCELoss(solver, pool=torch.zeros(4))
    loss = NCELoss(solvers.get("argmax"))
    loss(torch.randn(2, 3), torch.eye(3)[[0, 1]])
    with pytest.raises(ValueError, match="one pool serves one instance shape"):
        loss(torch.randn(2, 4), torch.eye(4)[[0, 1]])
    with pytest.raises(TypeError, match="belong to the pool"):
        NCELoss(SolutionPool(solvers.get("argmax")), solve_ratio=0.5)
    with pytest.raises(ValueError, match="NaN"):
        loss(torch.tensor([[0.0, float("nan"), 1.0]]), torch.eye(3)[[0]])
