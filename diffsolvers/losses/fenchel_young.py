r"""The Fenchel-Young loss of a perturbed optimizer.

Reference: Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020,
Section 4; Blondel, Martins, Niculae, "Learning with Fenchel-Young Losses", JMLR 2020.

The Fenchel-Young loss of the perturbed max ``F_ε`` with ``Ω_ε = F_ε^*`` is

    L_ε(θ; y) = F_ε(θ) + Ω_ε(y) - ⟨θ, y⟩,        ∇_θ L_ε = y_ε(θ) - y.

**What** :class:`FenchelYoungLoss` **returns.** ``Ω_ε(y)`` has no closed form in general, so
the returned value drops it. With the M samples ``θ_m`` of the forward pass (``θ + εZ_m`` or
``θ ⊙ w_m``) and their solutions ``y_m = y*(θ_m)`` it is

    V(θ; y) = (1/M) Σ_m ⟨θ_m, y_m - y⟩ = (1/M) Σ_m [max_{y'} ⟨θ_m, y'⟩ - ⟨θ_m, y⟩],

the mean suboptimality of the target under the perturbed scores. Facts, for a feasible
target ``y`` (a point of ``Y`` or of its convex hull):

* ``V >= 0`` for every draw, and ``V = 0`` exactly when ``y`` is optimal for every θ_m
  (so ``V → 0`` when θ strongly favours ``y``).
* Additive, centred noise (Normal): ``E[V] = F_ε(θ) - ⟨θ, y⟩ = L_ε(θ; y) - Ω_ε(y)``. This
  differs from the FY loss by ``-Ω_ε(y)``, a constant in θ with ``0 <= -Ω_ε(y) <= F_ε(0)``
  (``Ω_ε <= 0`` on the hull because ``F_ε(θ) >= max_y' ⟨θ, y'⟩ >= ⟨θ, y⟩`` by Jensen, and
  ``Ω_ε(y) >= ⟨0, y⟩ - F_ε(0)``). So V is an upper bound of the FY loss with the same
  gradient.
* Additive, non-centred noise (Gumbel, mean γ): ``E[V] = F_ε(θ) - ⟨θ + εγ1, y⟩``. For
  ``argmax`` with one-hot ``y`` this is exactly the FY loss ``-ε log softmax(θ/ε)_y``
  (there ``Ω_ε`` is ε times the negative entropy, 0 on vertices).
* Multiplicative (``E[w_m] = 1``): ``E[V] = F_ε(θ) - ⟨θ, y⟩`` with ``F_ε`` the
  multiplicative perturbed max. This loss is positively homogeneous of degree 1 in θ
  (``V(tθ) = t·V(θ)`` for ``t > 0``, the solutions being scale-invariant), so it can be
  lowered by shrinking θ alone: a model whose output scale is free (e.g. a CNN predicting
  costs) drifts towards ``θ → 0`` (on Warcraft, costs about 1,000 times smaller after
  50 epochs, with validation falling; see the README). Fix the scale of θ (normalise the
  outputs) or use additive noise.

**Small ε.** When ``y*(θ)`` is unique, ``y_ε(θ) → y*(θ)`` as ``ε → 0`` and the gradient
becomes ``y*(θ) - y``, the structured perceptron's update (Collins, EMNLP 2002), which is
also the direction of blackbox differentiation with the Hamming loss when λ is large
against θ (:mod:`diffsolvers.layers.blackbox`). What matters is ε against the scale of θ, and a
model with a free output scale sets that scale itself: on Warcraft the CNN's costs grow
with ε without cancelling it, and test accuracy rose as ε fell (README, Results).

**Gradient.** Exactly the θ-gradient of V with the same samples: additive
``(1/M) Σ_m y_m - y = ŷ_ε(θ) - y``; multiplicative ``(1/M) Σ_m w_m ⊙ (y_m - y)`` (the
``w``-weighted average, an unbiased estimate of ``∇F_ε(θ) - y``). No Jacobian is needed.

Shortest-path solvers used with additive noise clamp negative perturbed costs at zero
(see :mod:`diffsolvers.registry`); for clamped samples ``y_m`` is optimal for the clamped
scores, not for ``θ_m``, and the bound ``V >= 0`` may fail by the clamped amount.

**Built from a layer.** The loss takes the perturbed optimizer whose perturbed max it
uses, as InferOpt.jl's ``FenchelYoungLoss(layer)``; the layer's noise, σ, M, mode, seed and
``inputs`` are the loss's. The value is computed by plain torch operations from θ and the
samples (autograd then gives exactly the gradient above), behind a guard that refuses a
second derivative (the samples do not depend on θ in the graph).

Example::

    >>> import torch, solvers
    >>> from diffsolvers import PerturbedOptimizer
    >>> layer = PerturbedOptimizer(solvers.get("argmax"), sigma=1.0, n_samples=10, seed=0)
    >>> loss = FenchelYoungLoss(layer)
    >>> theta = torch.tensor([[1.0, 0.5, -1.0]], requires_grad=True)
    >>> loss(theta, torch.tensor([[1.0, 0.0, 0.0]])).backward()
    >>> theta.grad  # y_ε(θ) - y
    tensor([[-0.6000,  0.5000,  0.1000]])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._checks import as_target
from .._core import reduce
from .._options import OPTIONS
from ..layers.perturbed import _BERTHET, NOISE_OPTIONS, PerturbedOptimizer
from ..registry import clamp_negative_costs, register_method
from ._layered import layer_of

__all__ = ["FenchelYoungLoss"]


class FenchelYoungLoss(nn.Module):
    """Perturbed Fenchel-Young loss ``V(θ; y)`` (see the module docstring for its exact value).

    Args:
        layer: the :class:`~diffsolvers.layers.perturbed.PerturbedOptimizer` (or
            :class:`~diffsolvers.layers.perturbed.PerturbedMax`) whose noise, σ, M, mode,
            seed and ``inputs`` define the loss; or a solver (anything
            :func:`~diffsolvers.oracle.as_solver` accepts), and then ``options`` are the
            layer's (``sigma``, ``n_samples``, ``noise``, ``mode``, ``seed``, ``generator``,
            ``inputs``), which builds ``PerturbedOptimizer(solver, **options)``. The layer's
            ``control_variate`` plays no part (no Jacobian is estimated).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.

    ``forward(x, y, **side)``: ``x`` the prediction (θ, or costs ĉ with the layer's
    ``inputs="costs"``), ``y`` the target solution (same shape), ``side`` the solver's
    per-call side data, shared by the batch or per instance, as ``solver.solve`` takes it.

    Examples:
        >>> import torch, solvers
        >>> loss_fn = FenchelYoungLoss(solvers.get("argmax"), sigma=0.5, n_samples=10, seed=0)
        >>> theta = torch.tensor([[1.0, 0.5, -0.2]], requires_grad=True)
        >>> loss = loss_fn(theta, torch.tensor([[0.0, 1.0, 0.0]]))
        >>> bool(loss >= 0)
        True
        >>> loss.backward()  # the gradient is y_ε(θ) - y
        >>> round(float(theta.grad.sum()), 6)
        0.0
    """

    def __init__(
        self, layer: Any, reduction: str = OPTIONS["reduction"].default, **options: Any
    ) -> None:
        super().__init__()
        self.reduction = OPTIONS["reduction"].check(reduction)
        self.layer = layer_of(
            "FenchelYoungLoss",
            layer,
            options,
            default=PerturbedOptimizer,
            accepted=(PerturbedOptimizer,),
        )

    @property
    def solver(self) -> Any:
        return self.layer.solver

    def manual_seed(self, seed: int) -> FenchelYoungLoss:
        """Restart the layer's generator from ``seed``."""
        self.layer.manual_seed(seed)
        return self

    def forward(self, x: torch.Tensor, y: torch.Tensor, **side: Any) -> torch.Tensor:
        layer = self.layer
        theta, batch_shape = layer._prediction(x, layer.inputs)
        target = as_target(y, theta, layer.problem)
        s = layer._samples(theta, side, False)
        theta_m = layer.perturbed_values(theta, s)
        diff = s.y - target.to(s.theta.dtype).reshape(s.theta.shape)
        values = (theta_m * diff).sum(-1).mean(0)
        return reduce(values.reshape(batch_shape).to(theta.dtype), self.reduction, layer.problem)


# -- registration -----------------------------------------------------------------------------
def _fenchel_young(mode: str):
    def build(solver: Any, problem: str, reduction: str = "mean", **options: Any) -> nn.Module:
        return FenchelYoungLoss(PerturbedOptimizer(solver, mode=mode, **options), reduction)

    return build


register_method(
    "fenchel_young",
    "loss",
    _fenchel_young("additive"),
    description="perturbed Fenchel-Young loss, gradient y_ε(θ) - y",
    options=(*NOISE_OPTIONS, "reduction"),
    solver_defaults=clamp_negative_costs,
    reference=_BERTHET,
)
register_method(
    "fenchel_young_multiplicative",
    "loss",
    _fenchel_young("multiplicative"),
    description="Fenchel-Young loss of the multiplicative perturbation (keeps the sign of θ; "
    "homogeneous in θ: fix θ's scale)",
    options=(*NOISE_OPTIONS, "reduction"),
    reference=_BERTHET,
)
