r"""Blackbox differentiation of combinatorial solvers, and the Hamming loss through it.

Reference: Vlastelica, Paulus, Musil, Martius, Rolínek, "Differentiation of Blackbox
Combinatorial Solvers", ICLR 2020.

**Forward**: ``y*(θ) = argmax_{y ∈ Y} ⟨θ, y⟩``, one batched solver call.

**Backward**, with interpolation strength λ > 0 (option ``lambda_``) and the incoming
gradient ``g = ∂L/∂y``. The paper minimises ``⟨ω, y⟩`` and uses ``ω' = ω + λ g``,
``∇_ω f_λ = (y(ω') - y(ω)) / λ``. Under our maximisation convention ``θ = -ω``, so::

    θ' = θ - λ g,        ∇_θ f_λ(θ) = (y*(θ) - y*(θ')) / λ

(one more batched solver call). Example: ``θ = (1, 0, 0)``, ``g = (2, -1, 0)``, ``λ = 1.5``
gives ``θ' = (-2, 1.5, 0)``, ``y*(θ') = e₂`` and the gradient ``(2/3, -2/3, 0)``; with
``g = (-1, 2, 0)`` the perturbed solution is still ``e₁`` and the gradient is zero. With
``inputs="costs"`` (``θ = -ĉ``) autograd returns ``(y(ĉ + λg) - y(ĉ)) / λ`` for ĉ, the
paper's formula exactly.

**Gradient, not a Jacobian.** ``f_λ`` is a piecewise-affine interpolation of ``L ∘ y*``
built from the linearisation of ``L`` at ``y*(θ)``; the backward returns its gradient
``∇_θ f_λ``. It sits where autograd expects the vector-Jacobian product ``Jᵀg`` and is
returned as such (a tensor of θ's shape, chained by autograd through whatever produced θ),
but it is *not* linear in ``g``: ``∇f_λ(c·g) = c·∇f_{cλ}(g)``, so rescaling the loss
rescales the effective λ. (Users of the reference implementation were confused by this.)

**Large λ.** With the Hamming loss, ``g = 1 - 2y`` for a target ``y``; once λ dominates θ,
``θ' = θ - λg`` selects ``y`` itself and the gradient is ``(y*(θ) - y) / λ``: the structured
perceptron's update, also the small-ε limit of the Fenchel-Young gradient
(:mod:`diffsolvers.losses`). On Warcraft the CNN's costs stay far below the default λ = 20.

Shortest-path solvers are built with ``negative_costs="clamp"`` (see
:mod:`diffsolvers.registry`): ``θ'`` may hold positive scores (negative costs), clamped at
zero cost as in the original implementation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from solvers.base import Solver

from . import _bridge
from ._checks import (
    INPUTS,
    REDUCTIONS,
    as_target,
    check_choice,
    check_finite,
    check_float,
    check_positive,
    check_prediction,
    problem_name,
    warn_if_every_cost_negative,
)
from ._first_order import first_order_only
from .losses import reduce
from .perturbed import costs_to_theta

__all__ = ["BlackboxLayer", "HammingLoss", "FlatBatch", "flat_batch", "check_choice", "as_target"]


@dataclass
class FlatBatch:
    """A batch of ``N`` instances of ``D`` entries with its side data, ready to solve.

    :meth:`solve` takes θ of shape ``(R·N, D)`` or ``(R, N, D)`` (``R`` stacked copies of
    the batch) and solves all of them in ONE solver call, side data tiled ``R`` times.
    ``side`` holds per-instance arrays ``(N, ...)`` (see :func:`~diffsolvers._bridge.flat_side`).
    """

    solver: Solver
    batch_shape: torch.Size
    event_shape: torch.Size
    side: Mapping[str, Any]

    @property
    def n(self) -> int:
        return math.prod(self.batch_shape)

    @property
    def d(self) -> int:
        return math.prod(self.event_shape)

    @property
    def problem(self) -> str:
        return problem_name(self.solver)

    def solve(self, theta: torch.Tensor, what: str = "θ") -> torch.Tensor:
        """``y*`` of every stacked copy (no gradient), with ``theta``'s shape; ``what``
        names ``theta`` in the error if it holds NaN or inf (an overflow, say)."""
        reps = theta.numel() // (self.n * self.d) if self.n * self.d else 1
        with torch.no_grad():
            t = theta.detach()
            check_finite(t, f"{self.problem}: {what}")
            side_np = _bridge.tile_side(self.side, reps)
            y = _bridge.solve(self.solver, t.reshape(-1, *self.event_shape), side_np)
        return y.reshape(theta.shape)


def flat_batch(
    solver: Solver, theta: torch.Tensor, side: Mapping[str, Any]
) -> tuple[FlatBatch, torch.Tensor]:
    """Split θ into (batch, instance) axes; returns the :class:`FlatBatch` and θ as (N, D)
    (a differentiable reshape). θ is checked as a prediction
    (:func:`~diffsolvers._checks.check_prediction`) and the side data as the solver's
    ``solve`` checks it (shared by the batch or per instance)."""
    batch_shape, event_shape = check_prediction(theta, solver)
    warn_if_every_cost_negative(theta, solver)
    side_np = _bridge.flat_side(solver, side, batch_shape, event_shape)
    batch = FlatBatch(solver, batch_shape, event_shape, side_np)
    return batch, theta.reshape(batch.n, batch.d)


class _BlackboxFn(torch.autograd.Function):
    """Forward ``y*(θ)``; backward ``(y*(θ) - y*(θ - λg)) / λ`` (θ flat, (N, D))."""

    @staticmethod
    def forward(ctx, theta, batch, lambda_):
        y = batch.solve(theta)
        ctx.save_for_backward(theta, y)
        ctx.batch = batch
        ctx.lambda_ = lambda_
        return y

    @staticmethod
    @first_order_only("the blackbox gradient")
    def backward(ctx, grad_out):
        theta, y = ctx.saved_tensors
        check_finite(grad_out, f"{ctx.batch.problem}: the incoming gradient ∂L/∂y")
        y_p = ctx.batch.solve(theta - ctx.lambda_ * grad_out, what="θ - λ·∂L/∂y")
        return (y - y_p) / ctx.lambda_, None, None


class BlackboxLayer(nn.Module):
    """``θ ↦ y*(θ)`` with the blackbox backward (see the module docstring).

    Args:
        solver: a :class:`solvers.Solver`.
        lambda_: the interpolation strength λ > 0 (in units of θ per unit of ``∂L/∂y``;
            too small and ``y*(θ')`` rarely moves, giving zero gradients).
        inputs: ``"scores"`` (the input is θ) or ``"costs"`` (the input is ĉ, θ = -ĉ).

    ``forward(x, **side)``: ``x`` of shape ``(*batch, *instance)``; returns ``y*(θ)`` with
    the same shape, device and dtype. ``side``: the solver's per-call side data, shared by
    the batch or per instance, as ``solver.solve`` takes it.
    """

    def __init__(self, solver: Solver, lambda_: float = 10.0, inputs: str = "scores") -> None:
        super().__init__()
        check_choice("inputs", inputs, INPUTS)
        self.solver = solver
        self.lambda_ = check_positive("lambda_", lambda_)
        self.inputs = inputs

    def extra_repr(self) -> str:
        return f"solver={self.solver!r}, lambda_={self.lambda_}, inputs={self.inputs!r}"

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        check_float(x, self.solver)  # θ itself is checked in full by flat_batch
        theta = costs_to_theta(x, self.inputs)
        batch, flat = flat_batch(self.solver, theta, side)
        return _BlackboxFn.apply(flat, batch, self.lambda_).reshape(theta.shape)


class HammingLoss(nn.Module):
    """Hamming loss of the blackbox solution against a 0/1 target ``y``, per instance::

        H(ŷ, y) = (1/D) Σ_j [ y_j (1 - ŷ_j) + (1 - y_j) ŷ_j ],      ŷ = y*(θ),

    the mean over the ``D`` entries of an instance; its gradient reaches θ through
    :class:`BlackboxLayer` (``∂H/∂ŷ = (1 - 2y)/D``). Only meaningful for 0/1 solutions
    (not ranks).

    **λ and the scale.** Vlastelica et al.'s reference implementation sums the errors over
    the entries (``S = D·H``). Because the blackbox gradient is not linear in ``∂L/∂ŷ``
    (``∇f_λ(c·g) = c·∇f_{cλ}(g)``), the layer here runs with ``λ·D``: the interpolated
    point ``θ' = θ - λ·∂S/∂ŷ`` is then the reference's for the same ``λ``, and the gradient
    is the reference's divided by ``D``, matching the value. So λ means the same as in the
    paper (they use λ = 20 on Warcraft) whatever the instance size.

    Args: ``lambda_``, ``inputs`` as :class:`BlackboxLayer`; ``reduction`` ``"mean"`` |
    ``"sum"`` | ``"none"`` over the batch axes. ``forward(x, y, **side)``.
    """

    def __init__(
        self,
        solver: Solver,
        lambda_: float = 10.0,
        inputs: str = "scores",
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        check_choice("reduction", reduction, REDUCTIONS)
        self.lambda_ = check_positive("lambda_", lambda_)
        self.layer = BlackboxLayer(solver, lambda_=lambda_, inputs=inputs)
        self.reduction = reduction

    @property
    def solver(self) -> Solver:
        return self.layer.solver

    def forward(self, x: torch.Tensor, y: torch.Tensor, **side: Any) -> torch.Tensor:
        check_float(x, self.solver)  # the layer checks x in full
        n_entries = math.prod(x.shape[x.ndim - self.solver.event_ndim :])
        self.layer.lambda_ = self.lambda_ * max(n_entries, 1)
        y_hat = self.layer(x, **side)
        batch_shape = y_hat.shape[: y_hat.ndim - self.solver.event_ndim]
        target = as_target(y, y_hat, self.solver.problem)
        diff = target * (1 - y_hat) + (1 - target) * y_hat
        values = diff.reshape(*batch_shape, n_entries).mean(-1)
        return reduce(values, self.reduction, self.solver.problem)
