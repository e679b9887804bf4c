r"""Implicit maximum-likelihood estimation (I-MLE) with Sum-of-Gamma noise.

Reference: Niepert, Minervini, Franceschi, "Implicit MLE: Backpropagating Through Discrete
Exponential Family Distributions", NeurIPS 2021.

**Sum-of-Gamma noise** ``SoG(κ, τ, s)``, one independent draw per entry::

    ε = (τ/κ) · ( Σ_{i=1}^{s} G_i - log s ),      G_i ~ Gamma(shape 1/κ, scale κ/i).

For integer κ and ``s → ∞`` the sum of κ independent draws (τ = 1) is a standard Gumbel
variable: the noise is designed so that perturbing each of the ``κ = k`` chosen entries of a
k-subset sums to Gumbel noise (κ: the solution size). ``E[G_i] = 1/i`` and
``Var[G_i] = κ/i²``, so exactly::

    E[ε]   = (τ/κ) (H_s - log s),                  H_s = Σ_{i=1}^{s} 1/i,
    Var[ε] = (τ/κ)² · κ Σ_{i=1}^{s} 1/i² = (τ²/κ) Σ_{i=1}^{s} 1/i².

**Forward** (training mode): ``M`` samples (``n_samples``) ``ε_m`` and the mean
``(1/M) Σ_m y*(θ + ε_m)``, one batched solver call. In eval mode, with ``map_in_eval=True``
(default), the noise-free MAP state ``y*(θ)`` is returned instead.

**Backward**, with the target distribution ``θ' = θ - λ ∂L/∂y`` (our maximisation
convention, as for the blackbox method: lower the scores where the loss grows with y) and
the SAME noise samples::

    ∇_θ L ≈ (1/M) Σ_m [ y*(θ + ε_m) - y*(θ - λ g + ε_m) ] / λ.

**Scale.** We divide by λ (the paper's Eq. for the finite-difference estimator); some
implementations do not, which multiplies the gradient by λ. With no noise this is exactly the
blackbox gradient (:mod:`diffsolvers.layers.blackbox`), a fact the tests check.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from solvers.base import Solver

from .._checks import (
    INPUTS,
    check_choice,
    check_count,
    check_finite,
    check_flag,
    check_float,
    check_generator,
    check_positive,
    check_seed,
)
from .._core import costs_to_theta, flat_batch
from .._first_order import first_order_only
from ..registry import builder, clamp_negative_costs, register_method

__all__ = ["SumOfGamma", "IMLELayer"]


class SumOfGamma:
    """The Sum-of-Gamma noise ``SoG(κ, τ, s)`` (see the module docstring).

    Args:
        kappa: κ > 0, typically the number of non-zero entries of a solution (k of top-k,
            the number of edges of a path).
        tau: the temperature τ > 0 (scale of the noise).
        n_terms: the number s >= 1 of Gamma terms.

    Examples:
        >>> import torch
        >>> noise = SumOfGamma(kappa=1.0, tau=1.0, n_terms=10)
        >>> round(noise.mean, 4), round(noise.variance, 4)
        (0.6264, 1.5498)
        >>> noise.sample((2, 3), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([2, 3])
    """

    def __init__(self, kappa: float = 1.0, tau: float = 1.0, n_terms: int = 10) -> None:
        self.kappa = check_positive("kappa", kappa)
        self.tau = check_positive("tau", tau)
        self.n_terms = check_count("n_terms", n_terms)

    @property
    def mean(self) -> float:
        """``(τ/κ) (H_s - log s)``."""
        h = sum(1.0 / i for i in range(1, self.n_terms + 1))
        return self.tau / self.kappa * (h - math.log(self.n_terms))

    @property
    def variance(self) -> float:
        """``(τ²/κ) Σ_{i=1}^s 1/i²``."""
        return self.tau**2 / self.kappa * sum(1.0 / i**2 for i in range(1, self.n_terms + 1))

    def sample(
        self,
        shape: tuple[int, ...] | torch.Size,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """Draw ``shape`` from ``generator`` (on its device), returned on ``device``/``dtype``."""
        dtype = dtype or torch.get_default_dtype()
        if not dtype.is_floating_point:
            raise TypeError(f"Sum-of-Gamma noise: dtype must be floating point, got {dtype}")
        draw_device = generator.device if generator is not None else device
        draw_dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float32
        alpha = torch.full(tuple(shape), 1.0 / self.kappa, device=draw_device, dtype=draw_dtype)
        total = torch.zeros_like(alpha)
        for i in range(1, self.n_terms + 1):
            # Gamma(1/κ, scale κ/i) = (κ/i) · standard Gamma(1/κ)
            total += torch._standard_gamma(alpha, generator=generator) * (self.kappa / i)
        eps = (self.tau / self.kappa) * (total - math.log(self.n_terms))
        return eps.to(device=device, dtype=dtype)

    def __repr__(self) -> str:
        return f"SumOfGamma(kappa={self.kappa}, tau={self.tau}, n_terms={self.n_terms})"


class _IMLEFn(torch.autograd.Function):
    """Forward the mean of the given ``y*(θ + ε_m)``; backward the I-MLE estimate."""

    @staticmethod
    def forward(ctx, theta, ys, eps, batch, lambda_):
        ctx.save_for_backward(theta, ys, eps)
        ctx.batch = batch
        ctx.lambda_ = lambda_
        return ys.mean(0)

    @staticmethod
    @first_order_only("the I-MLE gradient")
    def backward(ctx, grad_out):
        theta, ys, eps = ctx.saved_tensors
        check_finite(grad_out, f"{ctx.batch.problem}: the incoming gradient ∂L/∂y")
        ys_target = ctx.batch.solve(theta + eps - ctx.lambda_ * grad_out, what="θ + ε - λ·∂L/∂y")
        return (ys - ys_target).mean(0) / ctx.lambda_, None, None, None, None


class IMLELayer(nn.Module):
    """``θ ↦ (1/M) Σ_m y*(θ + ε_m)`` with the I-MLE backward (see the module docstring).

    Args:
        solver: a :class:`solvers.Solver`.
        lambda_: λ > 0 of the target distribution ``θ - λ ∂L/∂y``.
        kappa, tau, n_terms: the :class:`SumOfGamma` noise parameters κ, τ, s.
        n_samples: the number M of noise samples per forward pass.
        seed: seed of the module's own generator (one per device), an integer in
            ``[-2**63, 2**64 - 1]``; ``generator``: an explicit ``torch.Generator`` instead.
        map_in_eval: in eval mode (``module.eval()``) return ``y*(θ)`` without noise.
        inputs: ``"scores"`` (the input is θ) or ``"costs"`` (the input is ĉ, θ = -ĉ).

    Examples:
        >>> import torch, solvers
        >>> layer = IMLELayer(solvers.get("top_k", k=2), kappa=2.0, n_samples=5, seed=0)
        >>> theta = torch.randn(3, 6, requires_grad=True)
        >>> y = layer(theta)
        >>> bool(torch.allclose(y.sum(-1), torch.tensor(2.0)))  # each sample picks 2 entries
        True
        >>> y.sum().backward()
        >>> theta.grad.shape
        torch.Size([3, 6])
    """

    def __init__(
        self,
        solver: Solver,
        lambda_: float = 10.0,
        kappa: float = 1.0,
        tau: float = 1.0,
        n_terms: int = 10,
        n_samples: int = 1,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        map_in_eval: bool = True,
        inputs: str = "scores",
    ) -> None:
        super().__init__()
        check_choice("inputs", inputs, INPUTS)
        n_samples = check_count("n_samples", n_samples)
        seed = check_seed(seed)
        if seed is not None and generator is not None:
            raise ValueError("give either seed or generator, not both")
        self.solver = solver
        self.lambda_ = check_positive("lambda_", lambda_)
        self.noise = SumOfGamma(kappa, tau, n_terms)
        self.n_samples = n_samples
        self.seed = seed
        self.generator = check_generator(generator)
        self.map_in_eval = check_flag("map_in_eval", map_in_eval)
        self.inputs = inputs
        self._generators: dict[str, torch.Generator] = {}

    def extra_repr(self) -> str:
        return (
            f"solver={self.solver!r}, lambda_={self.lambda_}, noise={self.noise!r}, "
            f"n_samples={self.n_samples}, inputs={self.inputs!r}"
        )

    def manual_seed(self, seed: int) -> IMLELayer:
        """Restart the module's generators from ``seed`` (an integer in torch's seed range)."""
        self.seed, self.generator = check_seed(seed, optional=False), None
        self._generators.clear()
        return self

    def _generator_for(self, device: torch.device) -> torch.Generator | None:
        if self.generator is not None or self.seed is None:
            return self.generator
        key = str(device)
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[key]

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        check_float(x, self.solver)  # θ itself is checked in full by flat_batch
        theta = costs_to_theta(x, self.inputs)
        batch, flat = flat_batch(self.solver, theta, side)
        if self.training or not self.map_in_eval:
            m = self.n_samples
            eps = self.noise.sample(
                (m, batch.n, batch.d),
                generator=self._generator_for(theta.device),
                device=theta.device,
                dtype=theta.dtype,
            )
        else:
            eps = torch.zeros((1, batch.n, batch.d), device=theta.device, dtype=theta.dtype)
        ys = batch.solve(flat.detach() + eps, what="θ + ε")
        return _IMLEFn.apply(flat, ys, eps, batch, self.lambda_).reshape(theta.shape)


# -- registration -----------------------------------------------------------------------------
_NIEPERT = 'Niepert, Minervini, Franceschi, "Implicit MLE", NeurIPS 2021'

register_method(
    "imle",
    "layer",
    builder(IMLELayer),
    description="I-MLE: y*(θ + ε), ε Sum-of-Gamma; gradient (y*(θ+ε) - y*(θ - λ∂L/∂y + ε))/λ",
    options=(
        "lambda_",
        "kappa",
        "tau",
        "n_terms",
        "n_samples",
        "seed",
        "generator",
        "map_in_eval",
        "inputs",
    ),
    solver_defaults=clamp_negative_costs,
    reference=_NIEPERT,
)
