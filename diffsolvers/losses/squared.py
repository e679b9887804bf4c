r"""The squared loss on perturbed solutions, ``‖y_ε(θ) - y‖²``.

Reference: Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020
(the alternative to the Fenchel-Young loss in their experiments). The gradient reaches θ
through the perturbed optimizer's score-function Jacobian.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from solvers.base import Solver

from .._checks import REDUCTIONS, as_target, check_choice
from .._core import reduce
from ..layers.perturbed import _BERTHET, PerturbedOptimizer
from ..noise import Noise
from ..registry import builder, clamp_negative_costs, register_method

__all__ = ["SquaredLoss"]


class SquaredLoss(nn.Module):
    """Squared loss of the perturbed solution against the target solution, per instance::

        ‖y_ε(θ) - y‖² = Σ_j (y_ε(θ)_j - y_j)²,

    with ``y_ε`` the :class:`~diffsolvers.layers.perturbed.PerturbedOptimizer` estimate (mean of M
    perturbed solutions) and the gradient through its score-function Jacobian. Berthet et
    al., NeurIPS 2020 use it as the alternative to the Fenchel-Young loss.

    Args: ``sigma``, ``n_samples``, ``noise``, ``mode``, ``control_variate``, ``seed``,
    ``generator``, ``inputs`` as the perturbed optimizer; ``reduction`` over the batch axes.
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
        self,
        solver: Solver,
        sigma: float = 1.0,
        n_samples: int = 3,
        noise: str | Noise = "normal",
        mode: str = "additive",
        control_variate: bool = False,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        inputs: str = "scores",
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        check_choice("reduction", reduction, REDUCTIONS)
        self.perturbed = PerturbedOptimizer(
            solver,
            sigma=sigma,
            n_samples=n_samples,
            noise=noise,
            mode=mode,
            control_variate=control_variate,
            seed=seed,
            generator=generator,
            inputs=inputs,
        )
        self.reduction = reduction

    @property
    def solver(self) -> Solver:
        return self.perturbed.solver

    def forward(self, x: torch.Tensor, y: torch.Tensor, **side: Any) -> torch.Tensor:
        y_eps = self.perturbed(x, **side)  # checks x in full
        target = as_target(y, y_eps, self.solver.problem)
        cut = y_eps.ndim - self.solver.event_ndim
        n_entries = math.prod(y_eps.shape[cut:])
        values = (y_eps - target).pow(2).reshape(*y_eps.shape[:cut], n_entries).sum(-1)
        return reduce(values, self.reduction, self.solver.problem)


# -- registration -----------------------------------------------------------------------------

register_method(
    "squared",
    "loss",
    builder(SquaredLoss),
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
