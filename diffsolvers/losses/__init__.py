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
nce                          solution :class:`.NCELoss` (solution pool)    Mulamba et al. 2021
contrastive_map              solution :class:`.ContrastiveMAPLoss` (pool)  Mulamba et al. 2021
pointwise_ltr                costs    :class:`.PointwiseLTRLoss` (pool)    Mandi et al. 2022
pairwise_ltr                 costs    :class:`.PairwiseLTRLoss` (pool)     Mandi et al. 2022
listwise_ltr                 costs    :class:`.ListwiseLTRLoss` (pool)     Mandi et al. 2022
perturbation_gradient        costs    :class:`.PerturbationGradientLoss`   Gupta & Huang 2024
structured_svm               solution :class:`.StructuredSVMLoss`          Tsochantaridis et al.
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

**Built on a solution pool.** The contrastive and learning-to-rank losses take the
:class:`.SolutionPool` they compare with (``NCELoss(SolutionPool(solver, solutions=y))``),
so that several losses may share one, or a solver with the pool's options, which builds
it (``NCELoss(solver, pool=y, solve_ratio=0.05)``). The perturbation-gradient and
structured SVM losses call the solver itself: no layer or pool stands between.
"""

from .cave import CaVELoss
from .contrastive import ContrastiveMAPLoss, NCELoss
from .fenchel_young import FenchelYoungLoss
from .hamming import HammingLoss
from .learning_to_rank import ListwiseLTRLoss, PairwiseLTRLoss, PointwiseLTRLoss
from .perturbation_gradient import PerturbationGradientLoss
from .pool import SolutionPool
from .spo import SPOPlusLoss, TwoStageLoss
from .squared import SquaredLoss
from .structured_svm import StructuredSVMLoss

__all__ = [
    "CaVELoss",
    "ContrastiveMAPLoss",
    "FenchelYoungLoss",
    "HammingLoss",
    "ListwiseLTRLoss",
    "NCELoss",
    "PairwiseLTRLoss",
    "PerturbationGradientLoss",
    "PointwiseLTRLoss",
    "SolutionPool",
    "SPOPlusLoss",
    "SquaredLoss",
    "StructuredSVMLoss",
    "TwoStageLoss",
]
