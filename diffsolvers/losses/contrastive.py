r"""Contrastive losses on a solution pool: noise-contrastive estimation (NCE) and
contrastive MAP.

Reference: Mulamba, Mandi, Diligenti, Lombardi, Bucarey, Guns, "Contrastive Losses and
Solution Caching for Predict-and-Optimize", IJCAI 2021; PyEPO's ``NCE`` and
``contrastiveMAP`` (Tang & Khalil), whose forms and normalisation these follow.

The target solution ``ȳ`` should score at least as high as every other solution of the
pool ``S`` (:mod:`~diffsolvers.losses.pool`: the targets seen, the given solutions and
the solutions found by solving a share of the predictions). In our maximisation form
(θ̂ the predicted scores; for predicted costs ``θ̂ = -ĉ``)::

    NCE:   L(θ̂; ȳ) = (1/|S|) Σ_{w ∈ S} ⟨θ̂, w - ȳ⟩,        ∇_θ̂ L = w̄_S - ȳ,
    CMAP:  L(θ̂; ȳ) = max_{w ∈ S} ⟨θ̂, w - ȳ⟩ >= 0,        ∇_θ̂ L = w_max - ȳ,

with ``w̄_S`` the mean of the pool and ``w_max`` its best solution under θ̂. In PyEPO's
minimisation form these are ``(1/|Γ|) Σ_w (ĉᵀw*(c) - ĉᵀw)`` and
``max_w (ĉᵀw*(c) - ĉᵀw)``: the same values. ``ȳ`` is in ``S`` (the target joins the pool
first), so its own term is 0: the NCE mean runs over ``S`` with ``ȳ`` (PyEPO's |Γ|; the
paper sums over ``S \ {ȳ}``, the same loss up to the factor ``|S| - 1`` and the batch
mean). NCE's gradient is an exact linear expression in the pool, and its second
derivative is 0; CMAP is piecewise linear (a tie between best solutions gets the mean of
their subgradients). With ``S = Y`` (every feasible solution), CMAP is the structured
perceptron loss ``max_y ⟨θ̂, y⟩ - ⟨θ̂, ȳ⟩``.

**Scale.** Both losses are positively homogeneous in θ̂: CMAP reaches 0 once ``ȳ`` wins
and stays there; NCE keeps falling as θ̂ grows once ``ȳ`` beats the pool's mean, so a
model whose output scale is free is pushed to larger outputs (regularise it or stop
early, as PyEPO's experiments do with few epochs).

**Per instance.** Each instance uses the pool solutions of its own feasible set
(:mod:`~diffsolvers.losses.pool`), so per-instance knapsack capacities are contrasted
with feasible packings only.

Example::

    >>> import torch, solvers
    >>> loss = NCELoss(solvers.get("argmax"), pool=torch.eye(3))  # S = Y: all 3 vertices
    >>> theta = torch.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
    >>> loss(theta, torch.tensor([[0.0, 1.0, 0.0]])).backward()
    >>> theta.grad  # w̄_S - ȳ = (1/3, 1/3, 1/3) - e₂
    tensor([[ 0.3333, -0.6667,  0.3333]])
"""

from __future__ import annotations

from typing import Any

import torch

from .._checks import as_target
from ..registry import builder, clamp_negative_costs, register_method
from ._pooled import PoolLoss, PoolScores
from .pool import POOL_DEFAULTS, POOL_OPTIONS

__all__ = ["NCELoss", "ContrastiveMAPLoss"]

_MULAMBA = (
    'Mulamba et al., "Contrastive Losses and Solution Caching for Predict-and-Optimize", IJCAI 2021'
)


class _ContrastiveLoss(PoolLoss):
    """A pool loss whose target is a solution ``ȳ``: ``forward(x, y, **side)``."""

    def forward(self, x: torch.Tensor, y: torch.Tensor, **side: Any) -> torch.Tensor:
        theta_hat, batch_shape = self._prediction(x)
        target = as_target(y, theta_hat, self.problem)
        s = self._pool_scores(theta_hat, batch_shape, target, side)
        flat_target = target.to(s.flat.dtype).reshape(s.flat.shape)
        return s.finish(self._values(s, flat_target), self.reduction, self.problem)

    def _values(self, s: PoolScores, target: torch.Tensor) -> torch.Tensor:
        """Per-instance values (N,) from the pool's view and the targets ȳ (N, D)."""
        raise NotImplementedError


class NCELoss(_ContrastiveLoss):
    """Noise-contrastive estimation on a solution pool: ``(1/|S|) Σ_{w∈S} ⟨θ̂, w - ȳ⟩`` per
    instance (module docstring: the maths and PyEPO's form).

    Args:
        solver: a :class:`~diffsolvers.losses.pool.SolutionPool` (shared with other
            losses), or a solver with the pool options: ``pool`` (solutions the pool
            starts from, e.g. the training targets), ``solve_ratio`` (share of each call's
            instances solved; 1 by default, PyEPO's 0.05 saves 95% of the solves),
            ``max_pool``, ``seed``, ``generator``.
        inputs: ``"scores"`` (θ̂) or ``"costs"`` (ĉ, θ̂ = -ĉ).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.

    ``forward(x, y, **side)``: ``y`` the target solution of ``x``'s shape (it joins the
    pool), ``side`` the solver's per-call side data.

    Examples:
        >>> import torch, solvers
        >>> loss = NCELoss(solvers.get("top_k", k=1), solve_ratio=0.5, seed=0)
        >>> theta = torch.tensor([[2.0, 0.0, 1.0], [0.0, 1.0, 3.0]], requires_grad=True)
        >>> value = loss(theta, torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
        >>> value.backward()
        >>> len(loss.pool), theta.grad.shape
        (2, torch.Size([2, 3]))
    """

    def _values(self, s: PoolScores, target: torch.Tensor) -> torch.Tensor:
        # the mean gap (1/|S|) Σ_w ⟨θ̂, w - ȳ⟩ is ⟨θ̂, w̄ - ȳ⟩: one product with a constant
        if s.mask is not None:
            target = target * (s.count > 0).to(target.dtype)[:, None]  # no solution: 0
        return (s.flat * (s.mean_solution() - target)).sum(-1)


class ContrastiveMAPLoss(_ContrastiveLoss):
    """Contrastive MAP on a solution pool: ``max_{w∈S} ⟨θ̂, w - ȳ⟩ >= 0`` per instance
    (module docstring). Arguments and ``forward`` as :class:`NCELoss`.

    Examples:
        >>> import torch, solvers
        >>> loss = ContrastiveMAPLoss(solvers.get("argmax"), pool=torch.eye(3))
        >>> loss(torch.tensor([[2.0, 0.5, -1.0]]), torch.tensor([[0.0, 1.0, 0.0]]))
        tensor(1.5000)
    """

    def _values(self, s: PoolScores, target: torch.Tensor) -> torch.Tensor:
        gaps = s.scores - (s.flat * target).sum(-1, keepdim=True)  # ⟨θ̂, w - ȳ⟩, (N, K)
        zero = gaps.new_zeros(gaps.shape[0], 1)  # ȳ's own gap: the value is never below 0
        return torch.cat([s.masked(gaps, float("-inf")), zero], dim=-1).amax(-1)


# -- registration -----------------------------------------------------------------------------
register_method(
    "nce",
    "loss",
    builder(NCELoss),
    description="noise-contrastive estimation: mean over a solution pool of ⟨θ̂, w - ȳ⟩",
    options=(*POOL_OPTIONS, "inputs", "reduction"),
    solver_defaults=clamp_negative_costs,
    option_defaults=POOL_DEFAULTS,
    reference=_MULAMBA,
)
register_method(
    "contrastive_map",
    "loss",
    builder(ContrastiveMAPLoss),
    description="contrastive MAP: max over a solution pool of ⟨θ̂, w - ȳ⟩",
    options=(*POOL_OPTIONS, "inputs", "reduction"),
    solver_defaults=clamp_negative_costs,
    option_defaults=POOL_DEFAULTS,
    reference=_MULAMBA,
)
