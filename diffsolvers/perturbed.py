r"""Perturbed optimizers: a combinatorial solver made differentiable by random perturbation.

Reference: Berthet, Blondel, Teboul, Cuturi, Vert, Bach, "Learning with Differentiable
Perturbed Optimizers", NeurIPS 2020.

For a solver ``y*(θ) = argmax_{y ∈ Y} ⟨θ, y⟩`` and noise ``Z`` with density ``∝ exp(-ν(z))``:

**Additive mode** (``θ_m = θ + εZ_m``)::

    y_ε(θ) = E[y*(θ + εZ)] ≈ (1/M) Σ_m y_m,          y_m = y*(θ + εZ_m)
    F_ε(θ) = E[max_y ⟨θ + εZ, y⟩] ≈ (1/M) Σ_m ⟨θ + εZ_m, y_m⟩,   ∇F_ε = y_ε
    Jᵀg   = E[⟨g, y*(θ+εZ)⟩ ∇ν(Z)] / ε ≈ (1/(Mε)) Σ_m ⟨g, y_m⟩ ∇ν(Z_m)

**Multiplicative mode** (``θ_m = θ ⊙ w_m``, ``w_m = exp(εZ_m - log E[e^{εZ}])``; for the
Normal ``w = exp(εZ - ε²/2)``, so ``E[w] = 1`` and ``E[θ_m] = θ``; signs of θ are kept).
Derivation of the Jacobian: for ``θ_j ≠ 0``, ``η = θ ⊙ w`` has density
``p(η | θ) = Π_j μ(z_j) / (ε|η_j|)`` with ``z_j = (log(η_j/θ_j) + log E[e^{εZ}])/ε``; the
factor ``1/(ε|η_j|)`` does not depend on θ and ``∂z_j/∂θ_j = -1/(εθ_j)``, hence
``∂_θj log p = ∇ν(z_j) / (εθ_j)`` and::

    Jᵀg = (1/(εθ)) ⊙ E[⟨g, y*(θ ⊙ w)⟩ ∇ν(Z)] ≈ (1/(Mεθ)) ⊙ Σ_m ⟨g, y_m⟩ ∇ν(Z_m)

(InferOpt.jl's ``PerturbedMultiplicative`` uses the same form.) Where ``θ_j = 0`` the
perturbation cannot move ``θ_j`` and the map is not differentiable; the estimate returns 0
there. The perturbed max is ``F_ε(θ) = E[max_y ⟨θ ⊙ w, y⟩]`` with ``∇F_ε = E[w ⊙ y*(θ ⊙ w)]``.

**Control variate.** Since ``E[∇ν(Z)] = 0``, ``⟨g, y_m⟩`` may be replaced by
``⟨g, y_m - y*(θ)⟩`` without bias; this usually reduces the variance a lot. The extra solve
of ``y*(θ)`` joins the same batched solver call.

**One solver call per forward pass.** The ``M`` perturbed copies of the ``(B, *shape)``
batch (plus ``B`` unperturbed ones for the control variate) are solved in one call on an
``(M·B [+B], *shape)`` array; side data (knapsack weights...) is broadcast over the batch
by the solver's own rules (shared or per instance, as ``solver.solve`` takes it) and
tiled along the same axis.
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
    all_finite,
    check_choice,
    check_count,
    check_flag,
    check_float,
    check_generator,
    check_positive,
    check_prediction,
    check_seed,
    problem_name,
    warn_if_every_cost_negative,
)
from ._first_order import first_order_only
from .noise import Noise, get_noise

__all__ = [
    "PerturbedOptimizer",
    "PerturbedMax",
    "PerturbedSamples",
    "costs_to_theta",
    "perturb_and_solve",
]

_MODES = ("additive", "multiplicative")


def costs_to_theta(x: torch.Tensor, inputs: str = "costs") -> torch.Tensor:
    """``θ`` from a model output: ``θ = -x`` for ``inputs="costs"``, ``θ = x`` for ``"scores"``.

    The one place in :mod:`diffsolvers` where predicted costs change sign.
    """
    if inputs == "costs":
        return -x
    check_choice("inputs", inputs, INPUTS)
    return x


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
    dtype raise a ``ValueError`` that says so."""
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


class _PerturbedArgmaxFn(torch.autograd.Function):
    """``y_ε(θ)`` from given samples; backward is the score-function estimator."""

    @staticmethod
    def forward(ctx, theta, ys, score, y_base, sigma, multiplicative):
        ctx.save_for_backward(theta, ys, score, y_base)
        ctx.sigma = sigma
        ctx.multiplicative = multiplicative
        return ys.mean(0)

    @staticmethod
    @first_order_only("the perturbed optimizer's Jacobian estimate")
    def backward(ctx, grad_out):
        theta, ys, score, y_base = ctx.saved_tensors
        diff = ys if y_base is None else ys - y_base
        coeff = torch.einsum("mnd,nd->mn", diff, grad_out)
        grad = torch.einsum("mn,mnd->nd", coeff, score) / (ys.shape[0] * ctx.sigma)
        if ctx.multiplicative:
            nonzero = theta != 0
            grad = torch.where(nonzero, grad / torch.where(nonzero, theta, 1.0), 0.0)
        return grad, None, None, None, None, None


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


class PerturbedOptimizer(nn.Module):
    """The perturbed optimizer ``θ ↦ y_ε(θ)`` around a :mod:`solvers` solver.

    Args:
        solver: a :class:`solvers.Solver` (``solvers.get(problem, ...)``).
        sigma: the noise scale ε > 0.
        n_samples: the number M of perturbations per forward pass.
        noise: ``"normal"``, ``"gumbel"`` or a :class:`~diffsolvers.noise.Noise`.
        mode: ``"additive"`` (``θ + εZ``) or ``"multiplicative"`` (``θ ⊙ exp(εZ - ε²/2)`` for
            Normal noise; keeps the sign of each θ entry, e.g. non-negative costs).
        control_variate: subtract ``y*(θ)`` in the Jacobian estimator (unbiased, lower variance;
            one extra solve per instance in the same batched call).
        seed: seed of the module's own generator (one per device, created on first use), an
            integer in ``[-2**63, 2**64 - 1]``; two modules with the same seed give the same
            outputs. Successive calls advance the generator; :meth:`manual_seed` restarts it.
        generator: an explicit ``torch.Generator`` instead of ``seed`` (noise is drawn on its
            device and moved to θ's device).
        inputs: ``"scores"`` (the input is θ) or ``"costs"`` (the input is ĉ and θ = -ĉ).

    ``forward(x, **side)`` takes ``x`` of shape ``(*batch, *instance)`` (``solver.event_ndim``
    instance axes) on any device and float dtype and returns ``y_ε`` with the same shape,
    device and dtype. ``side`` holds the solver's per-call side data, as ``solver.solve``
    takes it: shared by the batch or per instance (knapsack: weights ``(n,)`` or
    ``(*batch, n)``, capacity a scalar or ``(*batch,)``).
    """

    def __init__(
        self,
        solver: Solver,
        sigma: float = 1.0,
        n_samples: int = 3,
        noise: str | Noise = "normal",
        mode: str = "additive",
        control_variate: bool = False,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        inputs: str = "scores",
    ) -> None:
        super().__init__()
        if not hasattr(solver, "solve") or not hasattr(solver, "event_ndim"):
            raise TypeError(f"solver must be a solvers.Solver, got {type(solver).__name__}")
        sigma = check_positive("sigma", sigma)
        n_samples = check_count("n_samples", n_samples)
        check_choice("mode", mode, _MODES)
        check_choice("inputs", inputs, INPUTS)
        seed = check_seed(seed)
        if seed is not None and generator is not None:
            raise ValueError("give either seed or generator, not both")
        self.solver = solver
        self.sigma = sigma
        self.n_samples = n_samples
        self.noise = get_noise(noise)
        self.mode = mode
        self.control_variate = check_flag("control_variate", control_variate)
        self.seed = seed
        self.generator = check_generator(generator)
        self.inputs = inputs
        if mode == "multiplicative":
            self.noise.log_mgf(self.sigma)  # fail early (Gumbel needs σ < 1)
        self._generators: dict[str, torch.Generator] = {}

    def extra_repr(self) -> str:
        return (
            f"solver={self.solver!r}, sigma={self.sigma}, n_samples={self.n_samples}, "
            f"noise={self.noise.name!r}, mode={self.mode!r}, "
            f"control_variate={self.control_variate}, inputs={self.inputs!r}"
        )

    def manual_seed(self, seed: int) -> PerturbedOptimizer:
        """Restart the module's generators from ``seed`` (an integer in torch's seed range)."""
        self.seed = check_seed(seed, optional=False)
        self.generator = None
        self._generators.clear()
        return self

    def _generator_for(self, device: torch.device) -> torch.Generator | None:
        if self.generator is not None:
            return self.generator
        if self.seed is None:
            return None
        key = str(device)
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[key]

    def sample(self, x: torch.Tensor, *, base: bool | None = None, **side: Any) -> PerturbedSamples:
        """Draw and solve the perturbations of θ (from ``x``); see :func:`perturb_and_solve`."""
        check_float(x, self.solver)  # θ itself is checked in full by perturb_and_solve
        theta = costs_to_theta(x, self.inputs)
        return perturb_and_solve(
            self.solver,
            theta,
            noise=self.noise,
            sigma=self.sigma,
            n_samples=self.n_samples,
            mode=self.mode,
            generator=self._generator_for(theta.device),
            base=self.control_variate if base is None else base,
            side=side,
        )

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        check_float(x, self.solver)  # θ itself is checked in full by perturb_and_solve
        theta = costs_to_theta(x, self.inputs)
        s = perturb_and_solve(
            self.solver,
            theta,
            noise=self.noise,
            sigma=self.sigma,
            n_samples=self.n_samples,
            mode=self.mode,
            generator=self._generator_for(theta.device),
            base=self.control_variate,
            side=side,
        )
        flat = theta.reshape(s.theta.shape)
        y = _PerturbedArgmaxFn.apply(
            flat,
            s.y,
            self.noise.score(s.z),
            s.y_base,
            self.sigma,
            self.mode == "multiplicative",
        )
        return y.reshape(theta.shape)


class PerturbedMax(PerturbedOptimizer):
    """The perturbed max ``F_ε(θ) = E[max_y ⟨θ_m, y⟩]``, one value per instance.

    Estimated as ``(1/M) Σ_m ⟨θ_m, y*(θ_m)⟩`` with ``θ_m`` the additive or multiplicative
    perturbation; its gradient is the exact gradient of that estimate, ``(1/M) Σ_m y_m``
    (additive, ``= y_ε(θ)``) or ``(1/M) Σ_m w_m ⊙ y_m`` (multiplicative). For centred noise
    ``F_ε(θ) >= max_y ⟨θ, y⟩`` (Jensen). Returns shape ``batch_shape``. With
    ``inputs="costs"`` the value is still the max of ``⟨θ, y⟩`` with ``θ = -ĉ``. Its
    gradient needs no Jacobian estimator, so ``control_variate`` does not apply (``True``
    raises ``ValueError``).
    """

    def __init__(self, solver: Solver, *args: Any, **kwargs: Any) -> None:
        super().__init__(solver, *args, **kwargs)
        if self.control_variate:
            raise ValueError(
                "PerturbedMax: control_variate does not apply (the gradient of the perturbed "
                "max is an average of solutions, with no Jacobian estimator to correct)"
            )

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        s = self.sample(x, base=False, **side)
        theta = costs_to_theta(x, self.inputs)
        flat = theta.reshape(s.theta.shape)
        out = value_with_grad(flat, s.values(), s.value_grad())
        return out.reshape(s.batch_shape)
