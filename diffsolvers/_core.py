r"""Shared plumbing of every method: the sign convention, flat batches, perturbation
samples, values with a given gradient and reductions.

Each method module of :mod:`diffsolvers.methods` builds on these pieces and on the single
solver crossing of :mod:`diffsolvers._bridge`; none of them holds method-specific maths.

* :func:`costs_to_theta`: ``θ = -ĉ`` for predicted costs, the one sign flip of the library.
* :class:`FlatBatch` / :func:`flat_batch`: a checked batch of ``N`` instances of ``D``
  entries with its side data, whose stacked copies are solved in ONE solver call.
* :class:`PerturbedSamples` / :func:`perturb_and_solve`: ``M`` perturbations of θ and their
  solutions, from one solver call (Berthet et al., NeurIPS 2020).
* :func:`value_with_grad`: a per-instance value with a given θ-gradient.
* :func:`reduce`: the ``reduction`` of every loss.

Example::

    >>> import torch, solvers
    >>> from diffsolvers._core import flat_batch
    >>> batch, flat = flat_batch(solvers.get("argmax"), torch.tensor([[0.1, 2.0, 0.3]]), {})
    >>> batch.solve(flat)
    tensor([[0., 1., 0.]])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from solvers.base import Solver

from . import _bridge
from ._checks import (
    INPUTS,
    REDUCTIONS,
    all_finite,
    check_choice,
    check_finite,
    check_prediction,
    problem_name,
    warn_if_every_cost_negative,
)
from ._first_order import first_order_only
from .noise import Noise

__all__ = [
    "costs_to_theta",
    "reduce",
    "FlatBatch",
    "flat_batch",
    "PerturbedSamples",
    "perturb_and_solve",
    "value_with_grad",
]


def costs_to_theta(x: torch.Tensor, inputs: str = "costs") -> torch.Tensor:
    """``θ`` from a model output: ``θ = -x`` for ``inputs="costs"``, ``θ = x`` for ``"scores"``.

    The one place in :mod:`diffsolvers` where predicted costs change sign.

    >>> costs_to_theta(torch.tensor([1.0, 2.0]))
    tensor([-1., -2.])
    """
    if inputs == "costs":
        return -x
    check_choice("inputs", inputs, INPUTS)
    return x


def reduce(values: torch.Tensor, reduction: str, problem: str = "loss") -> torch.Tensor:
    """Apply ``reduction`` (``"mean"``, ``"sum"`` or ``"none"``) to per-instance values.

    The mean of an empty batch is refused (``ValueError``) rather than returned as NaN; its
    sum is 0 and ``"none"`` returns the empty values.

    >>> reduce(torch.tensor([1.0, 3.0]), "mean")
    tensor(2.)
    """
    check_choice("reduction", reduction, REDUCTIONS)
    if reduction == "mean":
        if values.numel() == 0:
            raise ValueError(f"{problem}: reduction='mean' over an empty batch (no instances)")
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


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


@dataclass
class PerturbedSamples:
    """The samples of one forward pass, flattened to ``N`` instances of ``D`` entries.

    ``theta`` (N, D) is the unperturbed input, ``z`` (M, N, D) the noise, ``weights``
    (M, N, D) the multiplicative factors ``w_m`` (``None`` in additive mode), ``theta_p``
    (M, N, D) the perturbed inputs, ``y`` (M, N, D) the solutions ``y*(θ_m)`` and ``y_base``
    (N, D) the unperturbed solution ``y*(θ)`` (``None`` without control variate).
    """

    theta: torch.Tensor
    z: torch.Tensor
    weights: torch.Tensor | None
    theta_p: torch.Tensor
    y: torch.Tensor
    y_base: torch.Tensor | None
    batch_shape: torch.Size
    event_shape: torch.Size

    @property
    def n_samples(self) -> int:
        return self.y.shape[0]

    def values(self, target: torch.Tensor | None = None) -> torch.Tensor:
        """``(1/M) Σ_m ⟨θ_m, y_m - target⟩`` per instance, shape (N,) (target 0 if None)."""
        diff = self.y if target is None else self.y - target
        return torch.einsum("mnd,mnd->n", self.theta_p, diff) / self.n_samples

    def value_grad(self, target: torch.Tensor | None = None) -> torch.Tensor:
        """The exact θ-gradient of :meth:`values` with these samples, shape (N, D).

        Additive: ``(1/M) Σ y_m - target``; multiplicative: ``(1/M) Σ w_m ⊙ (y_m - target)``.
        """
        diff = self.y if target is None else self.y - target
        if self.weights is not None:
            diff = self.weights * diff
        return diff.mean(0)


def perturb_and_solve(
    solver: Solver,
    theta: torch.Tensor,
    *,
    noise: Noise,
    sigma: float,
    n_samples: int,
    mode: str = "additive",
    generator: torch.Generator | None = None,
    base: bool = False,
    side: Mapping[str, Any] | None = None,
) -> PerturbedSamples:
    """Draw ``M`` perturbations of ``θ`` and solve them all (and ``y*(θ)`` if ``base``) in
    ONE solver call. No gradient is recorded. ``θ`` is checked as a prediction
    (:func:`~diffsolvers._checks.check_prediction`); perturbed scores that overflow the
    dtype raise a ``ValueError`` that says so.

    Additive mode: ``θ_m = θ + εZ_m``; multiplicative: ``θ_m = θ ⊙ exp(εZ_m - log E[e^{εZ}])``
    (Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020)."""
    problem = problem_name(solver)
    batch_shape, event_shape = check_prediction(theta, solver)
    warn_if_every_cost_negative(theta, solver)
    side_np = _bridge.flat_side(solver, side or {}, batch_shape, event_shape)
    n, d = math.prod(batch_shape), math.prod(event_shape)
    with torch.no_grad():
        th = theta.detach().reshape(n, d)
        z = noise.sample((n_samples, n, d), generator=generator, device=th.device, dtype=th.dtype)
        if mode == "additive":
            weights = None
            theta_p = th + sigma * z
        else:
            weights = torch.exp(sigma * z - noise.log_mgf(sigma))
            theta_p = th * weights
        if not all_finite(theta_p):
            raise ValueError(
                f"{problem}: the perturbed scores overflow {th.dtype} (θ is finite, but its "
                f"largest entry {th.abs().max().item():.3g} perturbed by sigma={sigma} is not);"
                " scale θ down or use a wider dtype"
            )
        stacked = theta_p.reshape(n_samples * n, d)
        if base:
            stacked = torch.cat([stacked, th], dim=0)
        side_np = _bridge.tile_side(side_np, n_samples + int(base))
        y = _bridge.solve(solver, stacked.reshape(-1, *event_shape), side_np).reshape(-1, d)
    ys = y[: n_samples * n].reshape(n_samples, n, d)
    y_base = y[n_samples * n :] if base else None
    return PerturbedSamples(th, z, weights, theta_p, ys, y_base, batch_shape, event_shape)


class _ExactValueFn(torch.autograd.Function):
    """A per-instance value with a given θ-gradient that is exact and locally constant in θ
    (a piecewise-linear loss such as SPO+): its backward is linear in the incoming gradient
    and has zero θ-derivative, so a second backward through it is exact too."""

    @staticmethod
    def forward(ctx, theta, values, grad):
        ctx.save_for_backward(theta, grad)
        return values

    @staticmethod
    def backward(ctx, grad_out):
        _, grad = ctx.saved_tensors
        return grad_out.unsqueeze(-1) * grad, None, None


class _SampledValueFn(_ExactValueFn):
    """The same, for a θ-gradient estimated from random samples: first derivatives only."""

    backward = staticmethod(
        first_order_only("the gradient estimate of a perturbed loss or max")(_ExactValueFn.backward)
    )


def value_with_grad(
    theta: torch.Tensor, values: torch.Tensor, grad: torch.Tensor, *, sampled: bool = True
) -> torch.Tensor:
    """Attach ``grad`` (N, D) as the θ-gradient of ``values`` (N,); ``θ`` is (N, D).

    ``sampled=True`` (a Monte Carlo estimate) refuses second derivatives; ``sampled=False``
    declares ``grad`` exact and locally constant in θ (its second derivative is then 0)."""
    fn = _SampledValueFn if sampled else _ExactValueFn
    return fn.apply(theta, values, grad)
