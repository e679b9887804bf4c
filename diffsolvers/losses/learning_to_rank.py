r"""Learning-to-rank losses on a solution pool: pointwise, pairwise and listwise.

Reference: Mandi, Bucarey, Tchomba, Guns, "Decision-Focused Learning: Through the Lens of
Learning to Rank", ICML 2022; PyEPO's ``pointwiseLTR``, ``pairwiseLTR`` and
``listwiseLTR`` (Tang & Khalil), whose forms and normalisation these follow.

The prediction should rank the solutions of the pool ``S`` (:mod:`~diffsolvers.losses.pool`)
as the true costs do. With ``s_k = ⟨θ̂, w_k⟩`` the predicted and ``t_k = ⟨θ, w_k⟩`` the
true objective values of the pool's solutions ``w_k`` (θ = -c the true scores; larger is
better), per instance::

    pointwise:  L = (1/|S|) Σ_k (s_k - t_k)²
    pairwise:   L = Σ_k max(0, s_k - s_b) / max(|S| - 1, 1),     b = argmax_k t_k
    listwise:   L = -Σ_k softmax(t/τ)_k · log softmax(s/τ)_k

pointwise regresses the objective values; pairwise asks the truly best pool solution
``w_b`` (the first of the best on a tie) to score at least as high as every other one;
listwise matches the ranking distributions (a cross-entropy summed over the pool, with
temperature τ, option ``temperature``; PyEPO's τ = 1). In PyEPO's minimisation form
(``ĉᵀw``, smaller is better) these are the same values: ``((c - ĉ)ᵀw)²``,
``max(0, ĉᵀw_b - ĉᵀw)`` and the cross-entropy of ``softmax(-cᵀw)`` and
``softmax(-ĉᵀw)`` (PyEPO clamps the target probabilities at 1e-8; here they are exact).

On the pool of one call, each loss is a function of θ̂ that autograd differentiates
exactly: pointwise and listwise are smooth (their second derivatives are exact too),
pairwise is piecewise linear. The pool itself is a constant of the call: it grows
between calls.

**Targets.** The target is the TRUE COSTS ``c`` (``θ = -c``; pass ``c = -v`` for a
maximisation problem with values ``v``), as for SPO+. The true solution ``y*(θ)`` is not
needed, but it belongs in the pool: give the training solutions when the pool is built
(``pool=y_train``, as PyEPO's ``dataset``), or pass ``y_true=`` at each call.

Example::

    >>> import torch, solvers
    >>> loss = ListwiseLTRLoss(solvers.get("argmax"), pool=torch.eye(3), inputs="costs")
    >>> true_costs = torch.tensor([[1.0, 2.0, 3.0]])
    >>> bool(loss(true_costs, true_costs) < loss(true_costs.flip(-1), true_costs))
    True
"""

from __future__ import annotations

from typing import Any

import torch

from .._checks import as_target
from .._core import costs_to_theta
from .._options import OPTIONS
from ..registry import builder, clamp_negative_costs, register_method
from ._pooled import PoolLoss, PoolScores
from .pool import POOL_DEFAULTS, POOL_OPTIONS

__all__ = ["PointwiseLTRLoss", "PairwiseLTRLoss", "ListwiseLTRLoss"]

_O = OPTIONS
_MANDI = (
    'Mandi et al., "Decision-Focused Learning: Through the Lens of Learning to Rank", ICML 2022'
)


class _RankingLoss(PoolLoss):
    """A pool loss on the true costs: ``forward(x, costs, y_true=None, **side)``."""

    def forward(
        self,
        x: torch.Tensor,
        costs: torch.Tensor,
        y_true: torch.Tensor | None = None,
        **side: Any,
    ) -> torch.Tensor:
        theta_hat, batch_shape = self._prediction(x)
        problem = self.problem
        theta = costs_to_theta(as_target(costs, theta_hat, problem, "true costs"), "costs")
        if y_true is not None:
            y_true = as_target(y_true, theta_hat, problem, "true solution")
        s = self._pool_scores(theta_hat, batch_shape, y_true, side)
        return s.finish(self._values(s, theta), self.reduction, problem)

    def _values(self, s: PoolScores, theta: torch.Tensor) -> torch.Tensor:
        """Per-instance values (N,) from the pool's view and the true scores θ."""
        raise NotImplementedError


class PointwiseLTRLoss(_RankingLoss):
    """Pointwise learning to rank: ``(1/|S|) Σ_k (⟨θ̂, w_k⟩ - ⟨θ, w_k⟩)²`` per instance
    (module docstring).

    Args:
        solver: a :class:`~diffsolvers.losses.pool.SolutionPool`, or a solver with the
            pool options (``pool``, ``solve_ratio``, ``max_pool``, ``seed``,
            ``generator``), as :class:`~diffsolvers.losses.contrastive.NCELoss`.
        inputs: ``"scores"`` (θ̂) or ``"costs"`` (ĉ, θ̂ = -ĉ).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.

    ``forward(x, costs, y_true=None, **side)``: ``costs`` the true costs (θ = -c) of
    ``x``'s shape; ``y_true`` the true solutions, if known (they join the pool).

    Examples:
        >>> import torch, solvers
        >>> loss = PointwiseLTRLoss(solvers.get("argmax"), pool=torch.eye(2), inputs="costs")
        >>> loss(torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, 3.0]]))  # (0² + 2²) / 2
        tensor(2.)
    """

    def _values(self, s: PoolScores, theta: torch.Tensor) -> torch.Tensor:
        errors = s.of(s.flat - theta.to(s.flat.dtype).reshape(s.flat.shape))
        squared = s.masked(errors.square(), 0.0)  # ⟨θ̂ - θ, w_k⟩²: one product with the pool
        return squared.mean(-1) if s.mask is None else squared.sum(-1) / s.count.clamp(min=1)


class PairwiseLTRLoss(_RankingLoss):
    """Pairwise learning to rank: ``Σ_k max(0, ⟨θ̂, w_k - w_b⟩) / max(|S| - 1, 1)`` per
    instance, ``w_b`` the truly best pool solution (module docstring). Arguments and
    ``forward`` as :class:`PointwiseLTRLoss`.

    Examples:
        >>> import torch, solvers
        >>> loss = PairwiseLTRLoss(solvers.get("argmax"), pool=torch.eye(3))
        >>> theta_true = torch.tensor([[3.0, 2.0, 1.0]])  # e₁ is best
        >>> loss(torch.tensor([[1.0, 2.0, 4.0]]), -theta_true)  # (1 + 3) / 2
        tensor(2.)
    """

    def _values(self, s: PoolScores, theta: torch.Tensor) -> torch.Tensor:
        true_scores = s.of(theta)
        if s.mask is None:  # every instance uses the whole pool (K >= 1)
            best_scores = s.scores.gather(-1, true_scores.argmax(-1, keepdim=True))
            return torch.relu(s.scores - best_scores).sum(-1) / max(s.scores.shape[-1] - 1, 1)
        pad = true_scores.new_full((true_scores.shape[0], 1), float("-inf"))  # an empty pool
        best = torch.cat([s.masked(true_scores, float("-inf")), pad], dim=-1).argmax(-1)
        scores = torch.cat([s.scores, torch.zeros_like(pad)], dim=-1)
        best_scores = scores.gather(-1, best[:, None])
        hinge = s.masked(torch.relu(s.scores - best_scores), 0.0).sum(-1)
        return hinge / (s.count - 1).clamp(min=1)


class ListwiseLTRLoss(_RankingLoss):
    """Listwise learning to rank: the cross-entropy ``-Σ_k p_k log q_k`` of the ranking
    distributions ``p = softmax(t/τ)`` (true) and ``q = softmax(s/τ)`` (predicted) over the
    pool (module docstring).

    Args: as :class:`PointwiseLTRLoss`, and ``temperature`` τ > 0 (PyEPO's 1).

    Examples:
        >>> import torch, solvers
        >>> loss = ListwiseLTRLoss(solvers.get("argmax"), pool=torch.eye(2))
        >>> loss(torch.zeros(1, 2), torch.tensor([[0.0, 5.0]]))  # q uniform: log 2
        tensor(0.6931)
    """

    def __init__(
        self,
        solver: Any,
        temperature: float = _O["temperature"].default,
        pool: Any = _O["pool"].default,
        solve_ratio: float | None = POOL_DEFAULTS["solve_ratio"],
        max_pool: int = _O["max_pool"].default,
        seed: int | None = _O["seed"].default,
        generator: torch.Generator | None = _O["generator"].default,
        inputs: str = _O["inputs"].default,
        reduction: str = _O["reduction"].default,
    ) -> None:
        super().__init__(solver, pool, solve_ratio, max_pool, seed, generator, inputs, reduction)
        self.temperature = _O["temperature"].check(temperature)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, temperature={self.temperature}"

    def _values(self, s: PoolScores, theta: torch.Tensor) -> torch.Tensor:
        tau, scores, true_scores = self.temperature, s.scores, s.of(theta)
        if tau != 1.0:
            true_scores, scores = true_scores / tau, scores / tau
        p = torch.softmax(s.masked(true_scores, float("-inf")), dim=-1)
        log_q = torch.log_softmax(s.masked(scores, float("-inf")), dim=-1)
        return -(p * s.masked(log_q, 0.0)).sum(-1)


# -- registration -----------------------------------------------------------------------------
for _name, _cls, _what in [
    ("pointwise_ltr", PointwiseLTRLoss, "squared error of the pool's objective values"),
    ("pairwise_ltr", PairwiseLTRLoss, "hinge of the truly best pool solution against the rest"),
    ("listwise_ltr", ListwiseLTRLoss, "cross-entropy of the pool's ranking distributions"),
]:
    register_method(
        _name,
        "loss",
        builder(_cls),
        description=f"learning to rank on a solution pool: {_what}",
        options=(
            *POOL_OPTIONS,
            *(("temperature",) if _cls is ListwiseLTRLoss else ()),
            "inputs",
            "reduction",
        ),
        target="costs",
        solver_defaults=clamp_negative_costs,
        option_defaults=POOL_DEFAULTS,
        reference=_MANDI,
    )
