r"""Differentiable layers: a solver ``θ ↦ y*(θ)`` made differentiable, one module per
method family, each registering its names with :func:`diffsolvers.registry.register_method`
when imported.

========================== ============================================ =========================
name                       layer                                        reference
========================== ============================================ =========================
perturbed                  :class:`.PerturbedOptimizer`, additive       Berthet et al. 2020
perturbed_multiplicative   :class:`.PerturbedOptimizer`, multiplicative Berthet et al. 2020
perturbed_max              :class:`.PerturbedMax` (a value)             Berthet et al. 2020
blackbox                   :class:`.BlackboxLayer`                      Vlastelica et al. 2020
identity                   :class:`.IdentityLayer`                      Sahoo et al. 2023
imle                       :class:`.IMLELayer`                          Niepert et al. 2021
========================== ============================================ =========================
"""

from .blackbox import BlackboxLayer
from .identity import IdentityLayer
from .imle import IMLELayer, SumOfGamma
from .perturbed import PerturbedMax, PerturbedOptimizer

__all__ = [
    "BlackboxLayer",
    "IMLELayer",
    "IdentityLayer",
    "PerturbedMax",
    "PerturbedOptimizer",
    "SumOfGamma",
]
