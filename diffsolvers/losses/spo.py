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
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from solvers.base import Solver

from .._checks import INPUTS, REDUCTIONS, as_target, check_choice, check_float, check_prediction
from .._core import costs_to_theta, flat_batch, reduce, value_with_grad
from ..registry import builder, clamp_negative_costs, register_method

__all__ = ["SPOPlusLoss", "TwoStageLoss"]


class SPOPlusLoss(nn.Module):
    """The SPO+ loss (see the module docstring), exact value and subgradient.

    Args:
        solver: a :class:`solvers.Solver`.
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

    def __init__(self, solver: Solver, inputs: str = "scores", reduction: str = "mean") -> None:
        super().__init__()
        check_choice("inputs", inputs, INPUTS)
        check_choice("reduction", reduction, REDUCTIONS)
        self.solver = solver
        self.inputs = inputs
        self.reduction = reduction

    def forward(
        self,
        x: torch.Tensor,
        costs: torch.Tensor,
        y_true: torch.Tensor | None = None,
        **side: Any,
    ) -> torch.Tensor:
        check_float(x, self.solver)  # θ̂ itself is checked in full by flat_batch
        theta_hat = costs_to_theta(x, self.inputs)
        problem = self.solver.problem
        theta = costs_to_theta(as_target(costs, theta_hat, problem, "true costs"), "costs")
        batch, flat = flat_batch(self.solver, theta_hat, side)
        theta = theta.reshape(flat.shape)
        q = 2 * flat.detach() - theta
        if y_true is None:
            both = batch.solve(torch.stack([q, theta]), what="2θ̂ - θ and the true θ")
            y_q, y_t = both[0], both[1]
        else:
            y_q = batch.solve(q, what="2θ̂ - θ")
            y_t = as_target(y_true, theta_hat, problem, "true solution").reshape(flat.shape)
        diff = y_q - y_t
        values = value_with_grad(flat, (q * diff).sum(-1), 2 * diff, sampled=False)
        return reduce(values.reshape(batch.batch_shape), self.reduction, self.solver.problem)


class TwoStageLoss(nn.Module):
    """Two-stage regression: mean squared error between predicted and true costs.

    Args: ``solver`` (only its instance shape is used), ``inputs``, ``reduction`` as
    :class:`SPOPlusLoss`. ``forward(x, costs, **side)``; ``side`` is accepted and ignored.

    Examples:
        >>> import torch, solvers
        >>> loss_fn = TwoStageLoss(solvers.get("argmax"), inputs="costs")
        >>> loss_fn(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 4.0]]))  # (0² + 2²) / 2
        tensor(2.)
    """

    def __init__(self, solver: Solver, inputs: str = "scores", reduction: str = "mean") -> None:
        super().__init__()
        check_choice("inputs", inputs, INPUTS)
        check_choice("reduction", reduction, REDUCTIONS)
        self.solver = solver
        self.inputs = inputs
        self.reduction = reduction

    def forward(self, x: torch.Tensor, costs: torch.Tensor, **side: Any) -> torch.Tensor:
        batch_shape, event_shape = check_prediction(x, self.solver)
        theta_hat = costs_to_theta(x, self.inputs)
        problem = self.solver.problem
        theta = costs_to_theta(as_target(costs, theta_hat, problem, "true costs"), "costs")
        n_entries = math.prod(event_shape)
        values = (theta_hat - theta).pow(2).reshape(*batch_shape, n_entries).mean(-1)
        return reduce(values, self.reduction, self.solver.problem)


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
