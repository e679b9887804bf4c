"""diffsolvers: differentiable combinatorial solvers for PyTorch by stochastic perturbation.

Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020.

    >>> import diffsolvers
    >>> layer = diffsolvers.layer("shortest_path", method="perturbed", sigma=0.5)
    >>> loss = diffsolvers.loss("shortest_path", method="fenchel_young", inputs="costs")
"""

from .baselines import SquaredLoss  # importing it registers the baseline methods
from .blackbox import BlackboxLayer, HammingLoss
from .identity import IdentityLayer
from .imle import IMLELayer, SumOfGamma
from .losses import FenchelYoungLoss, decision_regret, normalized_regret, regret
from .noise import Gumbel, Noise, Normal, get_noise
from .perturbed import PerturbedMax, PerturbedOptimizer, costs_to_theta
from .registry import (
    available,
    layer,
    loss,
    method_info,
    methods,
    not_meaningful,
    register_method,
)
from .spo import SPOPlusLoss, TwoStageLoss

__all__ = [
    "BlackboxLayer",
    "FenchelYoungLoss",
    "HammingLoss",
    "IMLELayer",
    "IdentityLayer",
    "Gumbel",
    "Noise",
    "Normal",
    "PerturbedMax",
    "PerturbedOptimizer",
    "SPOPlusLoss",
    "SquaredLoss",
    "SumOfGamma",
    "TwoStageLoss",
    "available",
    "costs_to_theta",
    "decision_regret",
    "get_noise",
    "layer",
    "loss",
    "method_info",
    "methods",
    "normalized_regret",
    "not_meaningful",
    "regret",
    "register_method",
]
__version__ = "0.1.0"
