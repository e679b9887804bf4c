r"""The Fenchel-Young loss of a perturbed optimizer, and regret metrics.

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
against θ (:mod:`diffsolvers.blackbox`). What matters is ε against the scale of θ, and a
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

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from solvers.base import Solver

from . import _bridge
from ._checks import (
    REDUCTIONS,
    as_target,
    check_choice,
    check_finite,
    check_float,
    check_prediction,
)
from .noise import Noise
from .perturbed import PerturbedOptimizer, costs_to_theta, value_with_grad

__all__ = ["FenchelYoungLoss", "reduce", "regret", "normalized_regret", "decision_regret"]


def reduce(values: torch.Tensor, reduction: str, problem: str = "loss") -> torch.Tensor:
    """Apply ``reduction`` (``"mean"``, ``"sum"`` or ``"none"``) to per-instance values.

    The mean of an empty batch is refused (``ValueError``) rather than returned as NaN; its
    sum is 0 and ``"none"`` returns the empty values."""
    check_choice("reduction", reduction, REDUCTIONS)
    if reduction == "mean":
        if values.numel() == 0:
            raise ValueError(f"{problem}: reduction='mean' over an empty batch (no instances)")
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


class FenchelYoungLoss(nn.Module):
    """Perturbed Fenchel-Young loss ``V(θ; y)`` (see the module docstring for its exact value).

    Args:
        solver: a :class:`solvers.Solver`.
        sigma, n_samples, noise, mode, seed, generator: as in
            :class:`~diffsolvers.perturbed.PerturbedOptimizer`.
        inputs: ``"scores"`` (the prediction is θ) or ``"costs"`` (the prediction is ĉ and
            θ = -ĉ: feed predicted costs directly, the sign is handled here).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.

    ``forward(x, y, **side)``: ``x`` the prediction, ``y`` the target solution (same shape),
    ``side`` the solver's per-call side data, shared by the batch or per instance, as
    ``solver.solve`` takes it.
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


def _real_tensor(value: Any, name: str, fn: str) -> torch.Tensor:
    """A metric input as a tensor of real numbers (bool, integer or float): a tensor as it
    is, anything else (a NumPy array, a list) through :func:`numpy.asarray` on the CPU.
    ``TypeError`` naming the argument ``name`` of ``fn`` otherwise."""
    if isinstance(value, torch.Tensor):
        t = value
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{fn}: {name} could not be read as an array: {exc}") from exc
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{fn}: {name} must hold real numbers, got {type(value).__name__} of dtype "
                f"{arr.dtype}"
            )
        try:
            t = torch.as_tensor(arr)
        except (TypeError, RuntimeError) as exc:
            raise TypeError(f"{fn}: {name} could not be read as a tensor: {exc}") from exc
    if t.is_complex():
        raise TypeError(f"{fn}: {name} must hold real numbers, got {t.dtype}")
    if t.device.type == "meta":
        raise ValueError(f"{fn}: {name} is on the meta device (it holds no values)")
    return t


def _regret_inputs(
    fn: str, y_pred: Any, y_true: Any, costs: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The inputs of a regret metric as real, finite tensors of one shape with the batch
    axis first; arrays join the device of the first tensor among them."""
    named = {"y_pred": y_pred, "y_true": y_true, "costs": costs}
    device = next((v.device for v in named.values() if isinstance(v, torch.Tensor)), None)
    ts = {k: _real_tensor(v, k, fn) for k, v in named.items()}
    if device is not None:
        ts = {k: v if isinstance(named[k], torch.Tensor) else v.to(device) for k, v in ts.items()}
    shapes = {k: tuple(v.shape) for k, v in ts.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(f"{fn}: y_pred, y_true and costs must have one shape, got {listed}")
    if ts["costs"].ndim < 1:
        raise ValueError(f"{fn}: expected a batch axis first, got 0-dimensional inputs")
    check_finite(ts["costs"], f"{fn}: the costs")
    check_finite(ts["y_pred"], f"{fn}: y_pred")
    check_finite(ts["y_true"], f"{fn}: y_true")
    return ts["y_pred"], ts["y_true"], ts["costs"]


def _per_instance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``⟨a, b⟩`` per instance, the batch being the first axis (an empty batch gives an
    empty tensor)."""
    return (a * b).reshape(a.shape[0], math.prod(a.shape[1:])).sum(1)


def regret(y_pred: Any, y_true: Any, costs: Any) -> torch.Tensor:
    """Per-instance regret ``⟨c, ŷ⟩ - ⟨c, y⟩`` (batch on the first axis), >= 0 when ``y``
    is optimal for the true costs ``c``. For a maximisation problem pass ``c = -θ``.

    Tensors, NumPy arrays or lists of real numbers, all of one shape; an empty batch gives
    an empty tensor."""
    y_pred, y_true, costs = _regret_inputs("regret", y_pred, y_true, costs)
    return _per_instance(costs, y_pred) - _per_instance(costs, y_true)


def normalized_regret(y_pred: Any, y_true: Any, costs: Any) -> torch.Tensor:
    """Normalised regret of a batch, ``Σ_b regret_b / Σ_b |⟨c_b, y_b⟩|`` (as in PyEPO and
    the Warcraft literature); a scalar tensor. Inputs as :func:`regret`; an empty batch
    (a ratio 0/0) or a zero true objective raises ``ValueError``."""
    fn = "normalized_regret"
    y_pred, y_true, costs = _regret_inputs(fn, y_pred, y_true, costs)
    if costs.shape[0] == 0:
        raise ValueError(f"{fn}: an empty batch (no instances) has no normalised regret (0/0)")
    true = _per_instance(costs, y_true)
    denom = true.abs().sum()
    if denom == 0:
        raise ValueError(f"{fn}: the true objective is zero for the whole batch")
    return (_per_instance(costs, y_pred) - true).sum() / denom


def decision_regret(
    solver: Solver,
    costs_pred: torch.Tensor,
    costs_true: torch.Tensor,
    *,
    normalized: bool = True,
    **side: Any,
) -> torch.Tensor:
    """Regret of the decisions ``y*(-ĉ)`` taken on predicted costs, measured on true costs.

    ``costs_pred`` and ``costs_true`` have shape ``(B, *instance)`` (exactly one batch axis:
    pass ``c[None]`` for a single instance): tensors, NumPy arrays or lists of real
    numbers. Returns the normalised regret (a scalar; ``ValueError`` for an empty batch) or,
    with ``normalized=False``, the per-instance regrets, shape ``(B,)`` (empty for ``B = 0``).
    """
    costs_pred, costs_true = _common_float(costs_pred, costs_true)
    check_prediction(costs_pred, solver)
    if costs_pred.ndim != solver.event_ndim + 1:
        raise ValueError(
            f"decision_regret: the costs must have shape (B, *instance) with one batch axis "
            f"before the {solver.event_ndim} instance axes of {solver.problem}, got shape "
            f"{tuple(costs_pred.shape)} (for one instance pass costs[None])"
        )
    costs_true = as_target(costs_true, costs_pred, solver.problem, "true costs")
    if normalized and costs_pred.shape[0] == 0:
        raise ValueError(
            "decision_regret: normalized=True over an empty batch (no instances) is 0/0; "
            "normalized=False gives the per-instance regrets (an empty tensor)"
        )
    with torch.no_grad():
        flat_side = {k: _bridge.to_numpy(v) for k, v in side.items()}
        y_pred = _bridge.solve(solver, costs_to_theta(costs_pred), flat_side)
        y_true = _bridge.solve(solver, costs_to_theta(costs_true), flat_side)
        if normalized:
            return normalized_regret(y_pred, y_true, costs_true)
        return regret(y_pred, y_true, costs_true)


def _common_float(a: Any, b: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The costs of :func:`decision_regret`, detached, in their promoted dtype (float64 if
    both are integral), on ``a``'s device; ``TypeError`` naming the one that is not real."""
    a = _real_tensor(a, "costs_pred", "decision_regret").detach()
    b = _real_tensor(b, "costs_true", "decision_regret").detach()
    dtype = torch.promote_types(a.dtype, b.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    return a.to(dtype), b.to(device=a.device, dtype=dtype)
