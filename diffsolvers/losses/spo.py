r"""Predict-then-optimise losses on true costs: SPO+ and two-stage regression.

Both losses take the prediction ``x`` (θ̂, or ĉ with ``inputs="costs"``) and the TRUE COSTS
``c`` as target (the registry's ``target="costs"``), whatever ``inputs`` is: the true scores
are ``θ = -c``. For a maximisation problem (knapsack values ``v``, ranking scores) pass
``c = -v``.

**SPO+** (Elmachtoub & Grigas, "Smart 'Predict, then Optimize'", Management Science 2022).
Minimisation form, ``w*(c) = argmin_w cᵀw``::

    L(ĉ, c) = max_w {(c - 2ĉ)ᵀw} + 2ĉᵀw*(c) - cᵀw*(c),     ∂L/∂ĉ ∋ 2(w*(c) - w*(2ĉ - c)).

With ``θ̂ = -ĉ``, ``θ = -c`` and our maximiser ``y*``: ``(c - 2ĉ)ᵀw = ⟨2θ̂ - θ, w⟩``,
``w*(c) = y*(θ)`` and ``w*(2ĉ - c) = y*(2θ̂ - θ)``, so with ``q = 2θ̂ - θ``::

    L(θ̂, θ) = max_y ⟨q, y⟩ - ⟨q, y*(θ)⟩ = ⟨q, y*(q) - y*(θ)⟩ >= 0,
    ∇_θ̂ L = 2 (y*(q) - y*(θ)),

(and ``∇_ĉ L = -∇_θ̂ L = 2(w*(c) - w*(2ĉ - c))``, the paper's subgradient). The same θ-form
serves minimisation and maximisation problems alike; ``L = 0`` when ``θ̂ = θ`` and, more
generally, whenever ``y*(θ)`` is optimal for ``2θ̂ - θ``. ``y*(θ)`` and ``y*(q)`` are solved
in ONE batched call, unless the caller passes the true solution (``y_true=``).

Shortest-path solvers clamp negative costs at zero (``negative_costs="clamp"``): ``2ĉ - c``
may be negative. On grid graphs the solution of the clamped ``q`` is then used, and the value
``⟨q, y*(q) - y*(θ)⟩`` may fall below zero by the clamped amount; on DAGs
(``shortest_path_graph``) any sign is solved exactly.

**Two-stage** regression: the classic predict-then-optimise baseline, fit the costs and
optimise afterwards. Per instance ``(1/D) Σ_j (ĉ_j - c_j)²`` (the same as
``(1/D) Σ_j (θ̂_j - θ_j)²``), no solver call in the loss.

Both are plain torch expressions around the (non-differentiable) solver operator: SPO+'s
value ``⟨2θ̂ - θ, y*(q) - y*(θ)⟩`` with the solutions held constant has exactly the
subgradient above, and its second derivative (0) is exact too.

Example::

    >>> import torch, solvers
    >>> spo = SPOPlusLoss(solvers.get("argmax"), inputs="costs")
    >>> c_hat = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    >>> spo(c_hat, torch.tensor([[3.0, 2.0, 1.0]])).backward()
    >>> c_hat.grad + 0.0  # 2(w*(c) - w*(2ĉ - c)), -0 printed as 0
    tensor([[-2.,  0.,  2.]])
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import _bridge
from .._checks import as_target, check_float, checked_prediction
from .._core import SolverModule, costs_to_theta, reduce, work_dtype
from .._options import OPTIONS
from ..registry import builder, clamp_negative_costs, register_method

__all__ = ["SPOPlusLoss", "TwoStageLoss"]

_O = OPTIONS


class SPOPlusLoss(SolverModule):
    """The SPO+ loss (see the module docstring), exact value and subgradient.

    Args:
        solver: a :class:`solvers.Solver`, or any solver or function
            :func:`~diffsolvers.oracle.as_solver` accepts.
        inputs: ``"scores"`` (the prediction is θ̂) or ``"costs"`` (the prediction is ĉ).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.

    ``forward(x, costs, y_true=None, **side)``: ``costs`` the true costs ``c`` (θ = -c) of
    ``x``'s shape; ``y_true`` optionally the true solution ``y*(θ)`` (saves its solve).

    Examples:
        >>> import torch, solvers
        >>> loss_fn = SPOPlusLoss(solvers.get("argmax"), inputs="costs")
        >>> costs = torch.tensor([[1.0, 2.0, 3.0]])
        >>> loss_fn(costs, costs)  # the true costs: no loss
        tensor(0.)
        >>> loss_fn(torch.tensor([[3.0, 2.0, 1.0]]), costs)  # q = 2θ̂ - θ = (-5, -2, 1)
        tensor(6.)
    """

    def __init__(
        self,
        solver: Any,
        inputs: str = _O["inputs"].default,
        reduction: str = _O["reduction"].default,
    ) -> None:
        super().__init__(solver)
        self.inputs = _O["inputs"].check(inputs)
        self.reduction = _O["reduction"].check(reduction)

    def forward(
        self,
        x: torch.Tensor,
        costs: torch.Tensor,
        y_true: torch.Tensor | None = None,
        **side: Any,
    ) -> torch.Tensor:
        theta_hat, batch_shape = self._prediction(x, self.inputs)
        problem = self.problem
        dtype = work_dtype(theta_hat.dtype)
        theta = costs_to_theta(as_target(costs, theta_hat, problem, "true costs"), "costs")
        theta = theta.to(dtype)
        q = 2 * theta_hat.to(dtype) - theta  # differentiable in θ̂
        if y_true is None:
            both = _bridge.solve(
                self.solver,
                torch.stack([q, theta]),
                side,
                key=self._solver_key,
                what="2θ̂ - θ and the true θ",
            )
            y_q, y_t = both[0], both[1]
        else:
            y_q = _bridge.solve(self.solver, q[None], side, key=self._solver_key, what="2θ̂ - θ")[0]
            y_t = as_target(y_true, theta_hat, problem, "true solution").to(dtype)
        values = (q * (y_q - y_t)).reshape(*batch_shape, math.prod(q.shape[len(batch_shape) :]))
        values = values.sum(-1)
        return reduce(values.reshape(batch_shape).to(theta_hat.dtype), self.reduction, problem)


class TwoStageLoss(SolverModule):
    """Two-stage regression: mean squared error between predicted and true costs.

    Args: ``solver`` (only its instance shape is used), ``inputs``, ``reduction`` as
    :class:`SPOPlusLoss`. ``forward(x, costs, **side)``; ``side`` is accepted and ignored.

    >>> import torch, solvers
    >>> TwoStageLoss(solvers.get("argmax"))(torch.zeros(1, 2), torch.tensor([[1.0, 3.0]]))
    tensor(5.)
    """

    def __init__(
        self,
        solver: Any,
        inputs: str = _O["inputs"].default,
        reduction: str = _O["reduction"].default,
    ) -> None:
        super().__init__(solver)
        self.inputs = _O["inputs"].check(inputs)
        self.reduction = _O["reduction"].check(reduction)

    def forward(self, x: torch.Tensor, costs: torch.Tensor, **side: Any) -> torch.Tensor:
        check_float(x, self.solver)
        x, batch_shape, event_shape = checked_prediction(x, self.solver)
        theta_hat = costs_to_theta(x, self.inputs)
        problem = self.problem
        theta = costs_to_theta(as_target(costs, theta_hat, problem, "true costs"), "costs")
        n_entries = math.prod(event_shape)
        values = (theta_hat - theta).pow(2).reshape(*batch_shape, n_entries).mean(-1)
        return reduce(values, self.reduction, problem)


# -- registration -----------------------------------------------------------------------------
_SPO = "Elmachtoub & Grigas, \"Smart 'Predict, then Optimize'\", Management Science 2022"

register_method(
    "spo_plus",
    "loss",
    builder(SPOPlusLoss),
    description="SPO+ loss on true costs, subgradient 2(y*(2θ̂ - θ) - y*(θ))",
    options=("inputs", "reduction"),
    target="costs",
    solver_defaults=clamp_negative_costs,
    reference=_SPO,
)

register_method(
    "two_stage",
    "loss",
    builder(TwoStageLoss),
    description="two-stage regression: MSE of predicted vs true costs, no solver in the loss",
    options=("inputs", "reduction"),
    target="costs",
    reference=_SPO,
)
