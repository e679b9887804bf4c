r"""The Hamming loss of a layer's solution against a 0/1 target.

Reference: Vlastelica, Paulus, Musil, Martius, Rolínek, "Differentiation of Blackbox
Combinatorial Solvers", ICLR 2020 (their Warcraft experiments train with it).

    H(ŷ, y) = (1/D) Σ_j [ y_j (1 - ŷ_j) + (1 - y_j) ŷ_j ],      ŷ = y*(θ),

with the gradient reaching θ through the layer, by default
:class:`~diffsolvers.layers.blackbox.BlackboxLayer`: ``HammingLoss(BlackboxLayer(solver,
lambda_=20))``, or ``HammingLoss(solver, lambda_=20)`` which builds that layer.

Example::

    >>> import torch, solvers
    >>> from diffsolvers import BlackboxLayer
    >>> loss = HammingLoss(BlackboxLayer(solvers.get("argmax"), lambda_=20.0))
    >>> loss(torch.tensor([[2.0, 0.0, 1.0]]), torch.tensor([[0.0, 0.0, 1.0]]))
    tensor(0.6667)
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._checks import as_target, check_float
from .._core import reduce
from .._options import OPTIONS
from ..layers.blackbox import _VLASTELICA, BlackboxLayer
from ..registry import clamp_negative_costs, register_method
from .squared import solution_layer

__all__ = ["HammingLoss"]


class HammingLoss(nn.Module):
    """Hamming loss of the layer's solution against a 0/1 target ``y``, per instance::

        H(ŷ, y) = (1/D) Σ_j [ y_j (1 - ŷ_j) + (1 - y_j) ŷ_j ],      ŷ = y*(θ),

    the mean over the ``D`` entries of an instance; its gradient reaches θ through the layer
    (``∂H/∂ŷ = (1 - 2y)/D``). Only meaningful for 0/1 solutions (not ranks).

    **λ and the scale.** Vlastelica et al.'s reference implementation sums the errors over
    the entries (``S = D·H``). Because the blackbox gradient is not linear in ``∂L/∂ŷ``
    (``∇f_λ(c·g) = c·∇f_{cλ}(g)``), a layer with an interpolation strength (blackbox,
    I-MLE) runs here with ``λ·D`` for this call: the interpolated point
    ``θ' = θ - λ·∂S/∂ŷ`` is then the reference's for the same ``λ``, and the gradient is the
    reference's divided by ``D``, matching the value. So λ means the same as in the paper
    (they use λ = 20 on Warcraft) whatever the instance size. The layer itself is not
    changed (one loss may serve several threads).

    Args:
        layer: a layer returning solutions (default: :class:`BlackboxLayer`), or a solver
            with the blackbox layer's ``options`` (``lambda_``, ``inputs``).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.

    ``forward(x, y, **side)``.

    Examples:
        >>> import torch, solvers
        >>> loss_fn = HammingLoss(solvers.get("argmax"), lambda_=10.0)
        >>> theta = torch.tensor([[1.0, 0.5, -0.2]], requires_grad=True)
        >>> loss_fn(theta, torch.tensor([[0.0, 1.0, 0.0]]))  # 2 of 3 entries differ
        tensor(0.6667, grad_fn=<MeanBackward0>)
    """

    def __init__(
        self, layer: Any, reduction: str = OPTIONS["reduction"].default, **options: Any
    ) -> None:
        super().__init__()
        self.reduction = OPTIONS["reduction"].check(reduction)
        self.layer = solution_layer("HammingLoss", layer, options, BlackboxLayer)

    @property
    def solver(self) -> Any:
        return self.layer.solver

    @property
    def lambda_(self) -> float | None:
        """The layer's interpolation strength λ (``None`` for a layer without one)."""
        return getattr(self.layer, "lambda_", None)

    def forward(self, x: torch.Tensor, y: torch.Tensor, **side: Any) -> torch.Tensor:
        layer = self.layer
        event_ndim = self.solver.event_ndim
        check_float(x, self.solver)  # the layer checks x in full
        n_entries = max(math.prod(x.shape[max(x.ndim - event_ndim, 0) :]), 1)
        if hasattr(layer, "forward_with"):
            y_hat = layer.forward_with(x, lambda_=layer.lambda_ * n_entries, **side)
        else:
            y_hat = layer(x, **side)
        batch_shape = y_hat.shape[: y_hat.ndim - event_ndim]
        target = as_target(y, y_hat, layer.problem)
        diff = target * (1 - y_hat) + (1 - target) * y_hat
        values = diff.reshape(*batch_shape, n_entries).mean(-1)
        return reduce(values, self.reduction, layer.problem)


# -- registration -----------------------------------------------------------------------------
_NOT_BINARY = {
    "ranking": "ranks take values 1..n, not 0/1 indicators, so the Hamming loss does not apply",
    "lp": "a general LP's solutions need not be 0/1, so the Hamming loss does not apply",
}


def _hamming(solver: Any, problem: str, reduction: str = "mean", **options: Any) -> nn.Module:
    return HammingLoss(BlackboxLayer(solver, **options), reduction)


register_method(
    "hamming",
    "loss",
    _hamming,
    description="Hamming loss of the blackbox solution against a 0/1 target",
    options=("lambda_", "inputs", "reduction"),
    not_meaningful=_NOT_BINARY,
    solver_defaults=clamp_negative_costs,
    reference=_VLASTELICA,
)
