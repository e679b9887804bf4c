r"""The squared loss on perturbed solutions, ``‖y_ε(θ) - y‖²``.

Reference: Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020
(the alternative to the Fenchel-Young loss in their experiments). The gradient reaches θ
through the perturbed optimizer's score-function Jacobian.

Built from a layer: ``SquaredLoss(PerturbedOptimizer(solver, sigma=0.5))``, or from any
layer that returns solutions (``SquaredLoss(IMLELayer(solver))``...); a solver with the
perturbed optimizer's options builds that layer first.

Example::

    >>> import torch, solvers
    >>> from diffsolvers import PerturbedOptimizer
    >>> loss = SquaredLoss(PerturbedOptimizer(solvers.get("argmax"), sigma=1e-6, seed=0))
    >>> loss(torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 1.0]]))
    tensor(2.)
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._checks import as_target
from .._core import reduce
from .._options import OPTIONS
from ..layers import BlackboxLayer, IdentityLayer, IMLELayer
from ..layers.perturbed import _BERTHET, PerturbedMax, PerturbedOptimizer
from ..registry import clamp_negative_costs, register_method
from ._layered import layer_of

__all__ = ["SquaredLoss", "SOLUTION_LAYERS"]

SOLUTION_LAYERS = (PerturbedOptimizer, BlackboxLayer, IMLELayer, IdentityLayer)
"""The layers that return solutions (of θ's shape), which the losses on solutions accept."""


def solution_layer(owner: str, layer: Any, options: dict, default: type) -> nn.Module:
    """The layer of a loss on solutions: a layer that returns solutions (not
    :class:`PerturbedMax`, which returns values), or ``default(solver, **options)``."""
    if isinstance(layer, PerturbedMax):
        raise TypeError(f"{owner} compares solutions; PerturbedMax returns values")
    return layer_of(owner, layer, options, default=default, accepted=SOLUTION_LAYERS)


class SquaredLoss(nn.Module):
    """Squared loss of the layer's solution against the target solution, per instance::

        ‖ŷ(θ) - y‖² = Σ_j (ŷ(θ)_j - y_j)²,

    with ``ŷ`` the layer's output: for the default
    :class:`~diffsolvers.layers.perturbed.PerturbedOptimizer`, ``y_ε`` (mean of M
    perturbed solutions), the gradient going through its score-function Jacobian (Berthet
    et al., NeurIPS 2020, the alternative to the Fenchel-Young loss).

    Args:
        layer: a layer returning solutions (perturbed, blackbox, I-MLE, identity), or a
            solver with the perturbed optimizer's ``options``.
        reduction: over the batch axes.

    ``forward(x, y, **side)``.

    Examples:
        >>> import torch, solvers
        >>> loss_fn = SquaredLoss(solvers.get("argmax"), sigma=0.5, n_samples=10, seed=0)
        >>> theta = torch.tensor([[1.0, 0.5, -0.2]], requires_grad=True)
        >>> loss = loss_fn(theta, torch.tensor([[1.0, 0.0, 0.0]]))
        >>> loss.backward()
        >>> bool(0 <= loss <= 2), theta.grad.shape
        (True, torch.Size([1, 3]))
    """

    def __init__(
        self, layer: Any, reduction: str = OPTIONS["reduction"].default, **options: Any
    ) -> None:
        super().__init__()
        self.reduction = OPTIONS["reduction"].check(reduction)
        self.layer = solution_layer("SquaredLoss", layer, options, PerturbedOptimizer)

    @property
    def solver(self) -> Any:
        return self.layer.solver

    def forward(self, x: torch.Tensor, y: torch.Tensor, **side: Any) -> torch.Tensor:
        y_hat = self.layer(x, **side)  # checks x in full
        problem = self.layer.problem
        target = as_target(y, y_hat, problem)
        cut = y_hat.ndim - self.solver.event_ndim
        n_entries = math.prod(y_hat.shape[cut:])
        values = (y_hat - target).pow(2).reshape(*y_hat.shape[:cut], n_entries).sum(-1)
        return reduce(values, self.reduction, problem)


# -- registration -----------------------------------------------------------------------------
def _squared(solver: Any, problem: str, reduction: str = "mean", **options: Any) -> nn.Module:
    return SquaredLoss(PerturbedOptimizer(solver, **options), reduction)


register_method(
    "squared",
    "loss",
    _squared,
    description="squared loss ‖y_ε(θ) - y‖² through the perturbed optimizer",
    options=(
        "sigma",
        "n_samples",
        "noise",
        "mode",
        "control_variate",
        "seed",
        "generator",
        "inputs",
        "reduction",
    ),
    solver_defaults=clamp_negative_costs,
    reference=_BERTHET,
)
