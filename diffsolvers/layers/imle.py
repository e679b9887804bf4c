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

**Precision, compilation, vmap.** As for the perturbed optimizer: float16 / bfloat16 inputs
are perturbed and solved in float32, the noise is drawn inside a custom operator from the
module's generator (eager and compiled runs agree), and ``torch.func.vmap`` needs
``randomness="different"`` (the batched call's noise) or ``"same"`` in training mode.

Example::

    >>> import torch, solvers
    >>> layer = IMLELayer(solvers.get("argmax"), lambda_=1.0, tau=1e-6, seed=0)
    >>> theta = torch.tensor([1.0, 0.0, 0.0], requires_grad=True)
    >>> layer(theta).backward(torch.tensor([2.0, -1.0, 0.0]))
    >>> theta.grad
    tensor([ 1., -1.,  0.])
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import _bridge, _handles, _random
from .._core import NoisySolverModule, work_dtype
from .._first_order import first_order_only
from .._options import OPTIONS
from ..registry import builder, clamp_negative_costs, register_method

__all__ = ["SumOfGamma", "SumOfGammaModule", "IMLELayer"]

_O = OPTIONS
#: I-MLE draws one sample per forward pass by default (the paper's setting).
IMLE_SAMPLES = 1
#: The options of :class:`SumOfGammaModule`, which every I-MLE layer takes.
SUM_OF_GAMMA_OPTIONS = (
    "kappa",
    "tau",
    "n_terms",
    "n_samples",
    "seed",
    "generator",
    "map_in_eval",
    "inputs",
)


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

    def __init__(
        self,
        kappa: float = _O["kappa"].default,
        tau: float = _O["tau"].default,
        n_terms: int = _O["n_terms"].default,
    ) -> None:
        self.kappa = _O["kappa"].check(kappa)
        self.tau = _O["tau"].check(tau)
        self.n_terms = _O["n_terms"].check(n_terms)

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


class SampledSolutionsFn(torch.autograd.Function):
    """The forward of the I-MLE layers: ``(1/M) Σ_m y*(θ + ε_m)`` and the solutions ``ys``
    (M, *batch, *instance), one solver call on ``theta_eps`` (``θ + ε_m``, formed by the
    perturbation operator). A subclass gives the backward.

    Inputs ``(theta, theta_eps, key, problem, names, side, options)``: the solver's handle
    and problem name, the side data's names and tensors, and a tuple of the subclass's own
    options (kept as ``ctx.options``). The context saves ``(theta, theta_eps, ys, *side)``
    and holds the solver alive for the backward, which solves again, maybe after the module
    is gone; :meth:`gradient` gives the backward's return value."""

    generate_vmap_rule = True

    @staticmethod
    def forward(theta, theta_eps, key, problem, names, side, options):
        ys = _bridge.solve_by_key(key, problem, theta_eps, dict(zip(names, side)), what="θ + ε")
        return ys.mean(0), ys

    @staticmethod
    def setup_context(ctx, inputs, output):
        theta, theta_eps, key, problem, names, side, options = inputs
        ctx.save_for_backward(theta, theta_eps, output[1], *side)
        ctx.key, ctx.problem, ctx.names, ctx.options = key, problem, names, options
        _handles.hold(ctx, key)
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def gradient(grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """``grad`` for θ and ``None`` for every other input."""
        return grad, None, None, None, None, None, None


class _IMLEFn(SampledSolutionsFn):
    """Forward the mean of ``y*(θ + ε_m)``; backward the I-MLE estimate (option: λ)."""

    @staticmethod
    @first_order_only("the I-MLE gradient")
    def backward(ctx, grad_out, _grad_ys):
        theta, theta_eps, ys, *side = ctx.saved_tensors
        (lambda_,) = ctx.options
        ys_target = _bridge.solve_by_key(
            ctx.key,
            ctx.problem,
            theta_eps,
            dict(zip(ctx.names, side)),
            direction=grad_out.expand_as(theta_eps),
            step=-lambda_,
            what="θ + ε - λ·∂L/∂y",
            direction_what="the incoming gradient ∂L/∂y",
        )
        grad = (ys - ys_target).mean(0) / lambda_
        return SampledSolutionsFn.gradient(grad)


class SumOfGammaModule(NoisySolverModule):
    """The base of the I-MLE layers: a solver, Sum-of-Gamma noise drawn from the module's
    own random source, ``M`` samples, the eval-mode MAP switch and the input convention.

    :meth:`perturbed` gives θ (checked, in the working dtype) and the perturbed scores
    ``θ + ε_m`` (M, *batch, *instance), or ``θ`` itself (1, ...) in eval mode with
    ``map_in_eval``. Arguments as :class:`IMLELayer`'s.

    Examples:
        >>> import torch, solvers
        >>> base = SumOfGammaModule(solvers.get("argmax"), tau=1e-6, n_samples=2, seed=0)
        >>> theta, work, theta_eps = base.perturbed(torch.tensor([[0.0, 1.0]]))
        >>> theta_eps.shape
        torch.Size([2, 1, 2])
    """

    def __init__(
        self,
        solver: Any,
        kappa: float = _O["kappa"].default,
        tau: float = _O["tau"].default,
        n_terms: int = _O["n_terms"].default,
        n_samples: int = IMLE_SAMPLES,
        seed: int | None = _O["seed"].default,
        generator: torch.Generator | None = _O["generator"].default,
        map_in_eval: bool = _O["map_in_eval"].default,
        inputs: str = _O["inputs"].default,
    ) -> None:
        super().__init__(solver, SumOfGamma(kappa, tau, n_terms), seed, generator)
        self.n_samples = _O["n_samples"].check(n_samples)
        self.map_in_eval = _O["map_in_eval"].check(map_in_eval)
        self.inputs = _O["inputs"].check(inputs)

    def perturbed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(θ checked, θ in the working dtype, the perturbed scores ``θ + ε_m``)."""
        theta, _ = self._prediction(x, self.inputs)
        work = theta.to(work_dtype(theta.dtype))
        if self.training or not self.map_in_eval:
            eps = _random.draw(work, self.n_samples, self._noise_key, self._source_key)
            theta_eps = _random.perturb(work, eps, 1.0, problem=self.problem)
        else:
            theta_eps = work.detach().unsqueeze(0)
        return theta, work, theta_eps

    def sampled(
        self, fn: type[SampledSolutionsFn], x: torch.Tensor, side: dict[str, Any], *options: Any
    ) -> torch.Tensor:
        """The layer's output through ``fn`` (a :class:`SampledSolutionsFn`) with the
        perturbed scores of ``x``, the side data ``side`` and ``fn``'s ``options``, in
        ``x``'s dtype."""
        theta, work, theta_eps = self.perturbed(x)
        y, _ = fn.apply(
            work,
            theta_eps,
            self._solver_key,
            self.problem,
            tuple(side),
            tuple(_bridge.side_tensors(side)),
            options,
        )
        return y.to(theta.dtype)


class IMLELayer(SumOfGammaModule):
    """``θ ↦ (1/M) Σ_m y*(θ + ε_m)`` with the I-MLE backward (see the module docstring).

    Args:
        solver: a :class:`solvers.Solver`, or any solver or function
            :func:`~diffsolvers.oracle.as_solver` accepts.
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
        solver: Any,
        lambda_: float = _O["lambda_"].default,
        kappa: float = _O["kappa"].default,
        tau: float = _O["tau"].default,
        n_terms: int = _O["n_terms"].default,
        n_samples: int = IMLE_SAMPLES,
        seed: int | None = _O["seed"].default,
        generator: torch.Generator | None = _O["generator"].default,
        map_in_eval: bool = _O["map_in_eval"].default,
        inputs: str = _O["inputs"].default,
    ) -> None:
        super().__init__(
            solver, kappa, tau, n_terms, n_samples, seed, generator, map_in_eval, inputs
        )
        self.lambda_ = _O["lambda_"].check(lambda_)

    def extra_repr(self) -> str:
        return (
            f"solver={self.solver!r}, lambda_={self.lambda_}, noise={self.noise!r}, "
            f"n_samples={self.n_samples}, inputs={self.inputs!r}"
        )

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        return self.forward_with(x, lambda_=self.lambda_, **side)

    def forward_with(self, x: torch.Tensor, *, lambda_: float, **side: Any) -> torch.Tensor:
        """The layer with the target strength ``lambda_`` for this call only (the module is
        not changed, so several threads may share it)."""
        return self.sampled(_IMLEFn, x, side, float(lambda_))


# -- registration -----------------------------------------------------------------------------
_NIEPERT = 'Niepert, Minervini, Franceschi, "Implicit MLE", NeurIPS 2021'

register_method(
    "imle",
    "layer",
    builder(IMLELayer),
    description="I-MLE: y*(θ + ε), ε Sum-of-Gamma; gradient (y*(θ+ε) - y*(θ - λ∂L/∂y + ε))/λ",
    options=("lambda_", *SUM_OF_GAMMA_OPTIONS),
    option_defaults={"n_samples": IMLE_SAMPLES},
    solver_defaults=clamp_negative_costs,
    reference=_NIEPERT,
)
