r"""Losses: a prediction compared with a target solution or with the true costs, one module
per method family, each registering its names with
:func:`diffsolvers.registry.register_method` when imported.

============================ ======== =================================== ======================
name                         target   loss                                reference
============================ ======== =================================== ======================
fenchel_young                solution :class:`.FenchelYoungLoss`           Berthet et al. 2020
fenchel_young_multiplicative solution :class:`.FenchelYoungLoss`           Berthet et al. 2020
squared                      solution :class:`.SquaredLoss`                Berthet et al. 2020
hamming                      solution :class:`.HammingLoss`                Vlastelica et al. 2020
spo_plus                     costs    :class:`.SPOPlusLoss`                Elmachtoub & Grigas
two_stage                    costs    :class:`.TwoStageLoss` (no solver)   Elmachtoub & Grigas
cave                         solution :class:`.CaVELoss` (LP form)        Tang & Khalil 2024
============================ ======== =================================== ======================

A loss whose target is a solution takes ``forward(x, y, **side)``; one whose target is the
true costs takes ``forward(x, costs, **side)`` (``θ = -c``; pass ``c = -v`` for a
maximisation problem with values ``v``).

**Built from a layer.** The losses on solutions take the layer they compare, as
InferOpt.jl's ``FenchelYoungLoss(layer)`` and jaxopt's ``make_fenchel_young_loss`` do::

    >>> import solvers
    >>> from diffsolvers import BlackboxLayer, FenchelYoungLoss, HammingLoss, PerturbedOptimizer
    >>> fy = FenchelYoungLoss(PerturbedOptimizer(solvers.get("top_k", k=2), sigma=0.5))
    >>> hamming = HammingLoss(BlackboxLayer(solvers.get("top_k", k=2), lambda_=20.0))

A solver (or function) with the layer's options builds the layer first:
``FenchelYoungLoss(solver, sigma=0.5)`` is ``FenchelYoungLoss(PerturbedOptimizer(solver,
sigma=0.5))``; the registry's names are sugar over both
(``diffsolvers.loss("top_k", "fenchel_young", k=2, sigma=0.5)``).
"""

from .cave import CaVELoss
from .fenchel_young import FenchelYoungLoss
from .hamming import HammingLoss
from .spo import SPOPlusLoss, TwoStageLoss
from .squared import SquaredLoss

__all__ = [
    "CaVELoss",
    "FenchelYoungLoss",
    "HammingLoss",
    "SPOPlusLoss",
    "SquaredLoss",
    "TwoStageLoss",
]
