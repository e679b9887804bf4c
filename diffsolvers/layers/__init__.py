r"""Differentiable layers: a solver ``θ ↦ y*(θ)`` made differentiable, one module per
method family, each registering its names with :func:`diffsolvers.registry.register_method`
when imported.

========================== ============================================ =========================
name                       layer                                        reference
========================== ============================================ =========================
perturbed                  :class:`.PerturbedOptimizer`, additive       Berthet et al. 2020
perturbed_multiplicative   :class:`.PerturbedOptimizer`, multiplicative Berthet et al. 2020
perturbed_max              :class:`.PerturbedMax` (a value)             Berthet et al. 2020
pushforward                :class:`.Pushforward` (``E[g(y)]``)          InferOpt.jl
blackbox                   :class:`.BlackboxLayer`                      Vlastelica et al. 2020
identity                   :class:`.IdentityLayer`                      Sahoo et al. 2023
imle                       :class:`.IMLELayer`                          Niepert et al. 2021
adaptive_imle              :class:`.AdaptiveIMLELayer`                  Minervini et al. 2023
sparse_argmax              :class:`.SparseArgmax` (argmax only)         Martins & Astudillo 2016
soft_rank                  :class:`.SoftRank` (ranking only)            Blondel et al. 2020
frank_wolfe                :class:`.RegularizedFrankWolfe`              Blondel et al. 2020
========================== ============================================ =========================
"""

from .aimle import AdaptiveIMLELayer
from .blackbox import BlackboxLayer
from .frank_wolfe import RegularizedFrankWolfe
from .identity import IdentityLayer
from .imle import IMLELayer, SumOfGamma
from .perturbed import PerturbedMax, PerturbedOptimizer
from .pushforward import Pushforward
from .soft_rank import SoftRank
from .sparse_argmax import SparseArgmax

__all__ = [
    "AdaptiveIMLELayer",
    "BlackboxLayer",
    "IMLELayer",
    "IdentityLayer",
    "PerturbedMax",
    "PerturbedOptimizer",
    "Pushforward",
    "RegularizedFrankWolfe",
    "SoftRank",
    "SparseArgmax",
    "SumOfGamma",
]
