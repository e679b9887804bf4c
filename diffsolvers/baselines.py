r"""Baseline methods on the method registry, and the squared loss on perturbed solutions.

Registered here (``import diffsolvers`` registers them):

========== ====== ========= =================================================================
name       kind   target    method
========== ====== ========= =================================================================
blackbox   layer            :class:`~diffsolvers.blackbox.BlackboxLayer` (Vlastelica et al.)
identity   layer            :class:`~diffsolvers.identity.IdentityLayer` (Sahoo et al.)
imle       layer            :class:`~diffsolvers.imle.IMLELayer` (Niepert et al.)
spo_plus   loss   costs     :class:`~diffsolvers.spo.SPOPlusLoss` (Elmachtoub & Grigas)
two_stage  loss   costs     :class:`~diffsolvers.spo.TwoStageLoss` (regression, no solver)
squared    loss   solution  :class:`SquaredLoss`, ``‖y_ε(θ) - y‖²`` (Berthet et al.)
hamming    loss   solution  :class:`~diffsolvers.blackbox.HammingLoss` (Vlastelica et al.)
========== ====== ========= =================================================================

Every method takes ``inputs="scores"|"costs"``; the losses take ``reduction``. All
solver-based methods build shortest-path solvers with ``negative_costs="clamp"`` (their
solves may see positive scores: interpolated, perturbed or projected θ, or 2θ̂ - θ).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from solvers.base import Solver

from ._checks import REDUCTIONS, as_target, check_choice
from .blackbox import BlackboxLayer, HammingLoss
from .identity import IdentityLayer
from .imle import IMLELayer
from .losses import reduce
from .noise import Noise
from .perturbed import PerturbedOptimizer
from .registry import clamp_negative_costs, register_method
from .spo import SPOPlusLoss, TwoStageLoss

__all__ = ["SquaredLoss"]


class SquaredLoss(nn.Module):
    """Squared loss of the perturbed solution against the target solution, per instance::

        ‖y_ε(θ) - y‖² = Σ_j (y_ε(θ)_j - y_j)²,

    with ``y_ε`` the :class:`~diffsolvers.perturbed.PerturbedOptimizer` estimate (mean of M
    perturbed solutions) and the gradient through its score-function Jacobian. Berthet et
    al., NeurIPS 2020 use it as the alternative to the Fenchel-Young loss.

    Args: ``sigma``, ``n_samples``, ``noise``, ``mode``, ``control_variate``, ``seed``,
    ``generator``, ``inputs`` as the perturbed optimizer; ``reduction`` over the batch axes.
    ``forward(x, y, **side)``.
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


# -- registration ---------------------------------------------------------------------------
_VLASTELICA = 'Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers", ICLR 2020'
_SAHOO = (
    'Sahoo et al., "Backpropagation through Combinatorial Algorithms: Identity with '
    'Projection Works", ICLR 2023'
)
_NIEPERT = 'Niepert, Minervini, Franceschi, "Implicit MLE", NeurIPS 2021'
_SPO = "Elmachtoub & Grigas, \"Smart 'Predict, then Optimize'\", Management Science 2022"
_BERTHET = 'Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020'

_NOT_BINARY = {
    "ranking": "ranks take values 1..n, not 0/1 indicators, so the Hamming loss does not apply",
    "lp": "a general LP's solutions need not be 0/1, so the Hamming loss does not apply",
}


def _builder(cls: type[nn.Module]):
    def build(solver: Solver, problem: str, **options: Any) -> nn.Module:
        return cls(solver, **options)

    build.__name__ = f"build_{cls.__name__}"
    return build


register_method(
    "blackbox",
    "layer",
    _builder(BlackboxLayer),
    description="blackbox interpolation: y*(θ), gradient (y*(θ) - y*(θ - λ∂L/∂y))/λ",
    options=("lambda_", "inputs"),
    solver_defaults=clamp_negative_costs,
    reference=_VLASTELICA,
)
register_method(
    "identity",
    "layer",
    _builder(IdentityLayer),
    description="straight-through: y*(P(θ)), identity backward (negative identity for costs)",
    options=("projection", "inputs"),
    solver_defaults=clamp_negative_costs,
    reference=_SAHOO,
)
register_method(
    "imle",
    "layer",
    _builder(IMLELayer),
    description="I-MLE: y*(θ + ε), ε Sum-of-Gamma; gradient (y*(θ+ε) - y*(θ - λ∂L/∂y + ε))/λ",
    options=(
        "lambda_",
        "kappa",
        "tau",
        "n_terms",
        "n_samples",
        "seed",
        "generator",
        "map_in_eval",
        "inputs",
    ),
    solver_defaults=clamp_negative_costs,
    reference=_NIEPERT,
)
register_method(
    "spo_plus",
    "loss",
    _builder(SPOPlusLoss),
    description="SPO+ loss on true costs, subgradient 2(y*(2θ̂ - θ) - y*(θ))",
    options=("inputs", "reduction"),
    target="costs",
    solver_defaults=clamp_negative_costs,
    reference=_SPO,
)
register_method(
    "two_stage",
    "loss",
    _builder(TwoStageLoss),
    description="two-stage regression: MSE of predicted vs true costs, no solver in the loss",
    options=("inputs", "reduction"),
    target="costs",
    reference=_SPO,
)
register_method(
    "squared",
    "loss",
    _builder(SquaredLoss),
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
register_method(
    "hamming",
    "loss",
    _builder(HammingLoss),
    description="Hamming loss of the blackbox solution against a 0/1 target",
    options=("lambda_", "inputs", "reduction"),
    not_meaningful=_NOT_BINARY,
    solver_defaults=clamp_negative_costs,
    reference=_VLASTELICA,
)
