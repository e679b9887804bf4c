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
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from solvers.base import Solver

from .._checks import REDUCTIONS, as_target, check_choice, check_float
from .._core import costs_to_theta, reduce, value_with_grad
from ..layers.perturbed import _BERTHET, NOISE_OPTIONS, PerturbedOptimizer
from ..noise import Noise
from ..registry import clamp_negative_costs, register_method

__all__ = ["FenchelYoungLoss"]


class FenchelYoungLoss(nn.Module):
    """Perturbed Fenchel-Young loss ``V(θ; y)`` (see the module docstring for its exact value).

    Args:
        solver: a :class:`solvers.Solver`.
        sigma, n_samples, noise, mode, seed, generator: as in
            :class:`~diffsolvers.layers.perturbed.PerturbedOptimizer`.
        inputs: ``"scores"`` (the prediction is θ) or ``"costs"`` (the prediction is ĉ and
            θ = -ĉ: feed predicted costs directly, the sign is handled here).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.

    ``forward(x, y, **side)``: ``x`` the prediction, ``y`` the target solution (same shape),
    ``side`` the solver's per-call side data, shared by the batch or per instance, as
    ``solver.solve`` takes it.

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
        self,
        solver: Solver,
        sigma: float = 1.0,
        n_samples: int = 3,
        noise: str | Noise = "normal",
        mode: str = "additive",
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
            seed=seed,
            generator=generator,
            inputs=inputs,
        )
        self.reduction = reduction

    @property
    def solver(self) -> Solver:
        return self.perturbed.solver

    def manual_seed(self, seed: int) -> FenchelYoungLoss:
        """Restart the generator from ``seed``."""
        self.perturbed.manual_seed(seed)
        return self

    def forward(self, x: torch.Tensor, y: torch.Tensor, **side: Any) -> torch.Tensor:
        check_float(x, self.solver)  # θ itself is checked in full by perturb_and_solve
        theta = costs_to_theta(x, self.perturbed.inputs)
        y = as_target(y, theta, self.solver.problem)
        s = self.perturbed.sample(x, base=False, **side)
        target = y.reshape(s.theta.shape)
        flat = theta.reshape(s.theta.shape)
        values = value_with_grad(flat, s.values(target), s.value_grad(target))
        return reduce(values.reshape(s.batch_shape), self.reduction, self.solver.problem)


# -- registration -----------------------------------------------------------------------------
def _fenchel_young(mode: str):
    def build(solver: Solver, problem: str, **options: Any) -> nn.Module:
        return FenchelYoungLoss(solver, mode=mode, **options)

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
