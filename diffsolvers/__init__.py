"""diffsolvers: differentiable combinatorial solvers for PyTorch by stochastic perturbation.

Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020.

    >>> import diffsolvers, solvers
    >>> layer = diffsolvers.layer("shortest_path", method="perturbed", sigma=0.5)
    >>> loss = diffsolvers.loss("shortest_path", method="fenchel_young", inputs="costs")
    >>> fy = diffsolvers.FenchelYoungLoss(diffsolvers.PerturbedOptimizer(solvers.get("argmax")))
"""

from ._core import costs_to_theta
from .layers import (
    AdaptiveIMLELayer,
    BlackboxLayer,
    IdentityLayer,
    IMLELayer,
    PerturbedMax,
    PerturbedOptimizer,
    Pushforward,
    RegularizedFrankWolfe,
    SoftRank,
    SparseArgmax,
    SumOfGamma,
)
from .losses import (
    CaVELoss,
    ContrastiveMAPLoss,
    FenchelYoungLoss,
    HammingLoss,
    ListwiseLTRLoss,
    NCELoss,
    PairwiseLTRLoss,
    PerturbationGradientLoss,
    PointwiseLTRLoss,
    SolutionPool,
    SPOPlusLoss,
    SquaredLoss,
    StructuredSVMLoss,
    TwoStageLoss,
)
from .metrics import decision_regret, normalized_regret, regret
from .noise import Gumbel, Noise, Normal, get_noise
from .oracle import TorchFunctionSolver, as_solver, from_torch_function
from .registry import (
    available,
    layer,
    loss,
    method_info,
    methods,
    not_meaningful,
    register_method,
)

__all__ = [
    "AdaptiveIMLELayer",
    "BlackboxLayer",
    "CaVELoss",
    "ContrastiveMAPLoss",
    "FenchelYoungLoss",
    "HammingLoss",
    "IMLELayer",
    "IdentityLayer",
    "Gumbel",
    "ListwiseLTRLoss",
    "NCELoss",
    "Noise",
    "Normal",
    "PairwiseLTRLoss",
    "PerturbationGradientLoss",
    "PerturbedMax",
    "PerturbedOptimizer",
    "PointwiseLTRLoss",
    "Pushforward",
    "RegularizedFrankWolfe",
    "SoftRank",
    "SolutionPool",
    "SparseArgmax",
    "SPOPlusLoss",
    "SquaredLoss",
    "StructuredSVMLoss",
    "SumOfGamma",
    "TorchFunctionSolver",
    "TwoStageLoss",
    "as_solver",
    "available",
    "costs_to_theta",
    "decision_regret",
    "from_torch_function",
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
