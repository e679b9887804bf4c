r"""The Hamming loss of the blackbox solution against a 0/1 target.

Reference: Vlastelica, Paulus, Musil, Martius, Rolínek, "Differentiation of Blackbox
Combinatorial Solvers", ICLR 2020 (their Warcraft experiments train with it).

    H(ŷ, y) = (1/D) Σ_j [ y_j (1 - ŷ_j) + (1 - y_j) ŷ_j ],      ŷ = y*(θ),

with the gradient reaching θ through :class:`~diffsolvers.layers.blackbox.BlackboxLayer`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from solvers.base import Solver

from .._checks import REDUCTIONS, as_target, check_choice, check_float, check_positive
from .._core import reduce
from ..layers.blackbox import _VLASTELICA, BlackboxLayer
from ..registry import builder, clamp_negative_costs, register_method

__all__ = ["HammingLoss"]


class HammingLoss(nn.Module):
    """Hamming loss of the blackbox solution against a 0/1 target ``y``, per instance::

        H(ŷ, y) = (1/D) Σ_j [ y_j (1 - ŷ_j) + (1 - y_j) ŷ_j ],      ŷ = y*(θ),

    the mean over the ``D`` entries of an instance; its gradient reaches θ through
    :class:`BlackboxLayer` (``∂H/∂ŷ = (1 - 2y)/D``). Only meaningful for 0/1 solutions
    (not ranks).

    **λ and the scale.** Vlastelica et al.'s reference implementation sums the errors over
    the entries (``S = D·H``). Because the blackbox gradient is not linear in ``∂L/∂ŷ``
    (``∇f_λ(c·g) = c·∇f_{cλ}(g)``), the layer here runs with ``λ·D``: the interpolated
    point ``θ' = θ - λ·∂S/∂ŷ`` is then the reference's for the same ``λ``, and the gradient
    is the reference's divided by ``D``, matching the value. So λ means the same as in the
    paper (they use λ = 20 on Warcraft) whatever the instance size.

    Args: ``lambda_``, ``inputs`` as :class:`BlackboxLayer`; ``reduction`` ``"mean"`` |
    ``"sum"`` | ``"none"`` over the batch axes. ``forward(x, y, **side)``.

    Examples:
        >>> import torch, solvers
        >>> loss_fn = HammingLoss(solvers.get("argmax"), lambda_=10.0)
        >>> theta = torch.tensor([[1.0, 0.5, -0.2]], requires_grad=True)
        >>> loss_fn(theta, torch.tensor([[0.0, 1.0, 0.0]]))  # 2 of 3 entries differ
        tensor(0.6667, grad_fn=<MeanBackward0>)
    """

    def __init__(
        self,
        solver: Solver,
        lambda_: float = 10.0,
        inputs: str = "scores",
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        check_choice("reduction", reduction, REDUCTIONS)
        self.lambda_ = check_positive("lambda_", lambda_)
        self.layer = BlackboxLayer(solver, lambda_=lambda_, inputs=inputs)
        self.reduction = reduction

    @property
    def solver(self) -> Solver:
        return self.layer.solver

    def forward(self, x: torch.Tensor, y: torch.Tensor, **side: Any) -> torch.Tensor:
        check_float(x, self.solver)  # the layer checks x in full
        n_entries = math.prod(x.shape[x.ndim - self.solver.event_ndim :])
        self.layer.lambda_ = self.lambda_ * max(n_entries, 1)
        y_hat = self.layer(x, **side)
        batch_shape = y_hat.shape[: y_hat.ndim - self.solver.event_ndim]
        target = as_target(y, y_hat, self.solver.problem)
        diff = target * (1 - y_hat) + (1 - target) * y_hat
        values = diff.reshape(*batch_shape, n_entries).mean(-1)
        return reduce(values, self.reduction, self.solver.problem)


# -- registration -----------------------------------------------------------------------------
_NOT_BINARY = {
    "ranking": "ranks take values 1..n, not 0/1 indicators, so the Hamming loss does not apply",
    "lp": "a general LP's solutions need not be 0/1, so the Hamming loss does not apply",
}

register_method(
    "hamming",
    "loss",
    builder(HammingLoss),
    description="Hamming loss of the blackbox solution against a 0/1 target",
    options=("lambda_", "inputs", "reduction"),
    not_meaningful=_NOT_BINARY,
    solver_defaults=clamp_negative_costs,
    reference=_VLASTELICA,
)
