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

**Precision.** float16 and bfloat16 inputs are perturbed and solved in float32 (their
rounding of ``θ + εZ`` would create ties, broken towards low indices); the output and the
gradient come back in the input's dtype.

**torch.compile and torch.func.** The noise is drawn, the scores perturbed and the solver
called inside custom operators (:mod:`diffsolvers._random`, :mod:`diffsolvers._bridge`):
``torch.compile(layer, fullgraph=True)`` gives the values and gradients of eager
execution with the same seed, and ``torch.func.vmap(layer, randomness="different")``
gives the batched call's (``randomness="same"`` shares one draw across the vmapped axis;
vmap's default ``"error"`` raises, as for any random operation).

Example::

    >>> import torch, solvers
    >>> layer = PerturbedOptimizer(solvers.get("argmax"), sigma=0.5, n_samples=1000, seed=0)
    >>> theta = torch.tensor([[1.0, 0.5, -1.0]], requires_grad=True)
    >>> y = layer(theta)   # ≈ softmax-like probabilities of each vertex
    >>> y.sum().item()
    1.0
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._core import NoisySolverModule, PerturbedSamples, perturb_and_solve, work_dtype
from .._first_order import first_order, first_order_only
from .._options import OPTIONS
from ..noise import Noise
from ..registry import clamp_negative_costs, register_method

__all__ = ["PerturbedOptimizer", "PerturbedMax"]

_O = OPTIONS


class _PerturbedArgmaxFn(torch.autograd.Function):
    """``y_ε(θ) = mean_m y_m`` from given samples; backward is the score-function estimator.

    ``theta`` (N, D), ``ys`` (``y_m``) and ``score`` (``∇ν(Z_m)``) (M, N, D), ``y_base``
    ``y*(θ)`` (N, D) for the control variate, or ``None``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(theta, ys, score, y_base, sigma, multiplicative):
        return ys.mean(0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        theta, ys, score, y_base, sigma, multiplicative = inputs
        ctx.save_for_backward(theta, ys, score, y_base)
        ctx.sigma, ctx.multiplicative = sigma, multiplicative

    @staticmethod
    @first_order_only("the perturbed optimizer's Jacobian estimate")
    def backward(ctx, grad_out):
        theta, ys, score, y_base = ctx.saved_tensors
        diff = ys if y_base is None else ys - y_base
        coeff = torch.einsum("mnd,nd->mn", diff, grad_out)
        grad = torch.einsum("mn,mnd->nd", coeff, score) / (diff.shape[0] * ctx.sigma)
        if ctx.multiplicative:
            nonzero = theta != 0
            grad = torch.where(nonzero, grad / torch.where(nonzero, theta, 1.0), 0.0)
        return grad, None, None, None, None, None


class PerturbedOptimizer(NoisySolverModule):
    """The perturbed optimizer ``θ ↦ y_ε(θ)`` around a solver.

    Args:
        solver: a :class:`solvers.Solver` (``solvers.get(problem, ...)``), or any solver or
            function :func:`~diffsolvers.oracle.as_solver` accepts.
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

    Examples:
        >>> import torch, solvers
        >>> layer = PerturbedOptimizer(solvers.get("argmax"), sigma=0.5, n_samples=1000, seed=0)
        >>> theta = torch.tensor([[1.0, 0.5, -0.2]], requires_grad=True)
        >>> y = layer(theta)  # close to softmax(θ/σ) for Gumbel noise; a smoothed one-hot here
        >>> float(y.detach().sum()), bool(y[0, 0] > y[0, 1] > y[0, 2])
        (1.0, True)
        >>> y[0, 0].backward()
        >>> bool(theta.grad[0, 0] > 0)
        True
    """

    def __init__(
        self,
        solver: Any,
        sigma: float = _O["sigma"].default,
        n_samples: int = _O["n_samples"].default,
        noise: str | Noise = _O["noise"].default,
        mode: str = _O["mode"].default,
        control_variate: bool = _O["control_variate"].default,
        seed: int | None = _O["seed"].default,
        generator: torch.Generator | None = _O["generator"].default,
        inputs: str = _O["inputs"].default,
    ) -> None:
        super().__init__(solver, noise, seed, generator)
        self.sigma = _O["sigma"].check(sigma)
        self.n_samples = _O["n_samples"].check(n_samples)
        self.mode = _O["mode"].check(mode)
        self.inputs = _O["inputs"].check(inputs)
        self.control_variate = _O["control_variate"].check(control_variate)
        if self.mode == "multiplicative":
            self.noise.log_mgf(self.sigma)  # fail early (Gumbel needs σ < 1)

    def _checked_noise(self, noise: str | Noise) -> Noise:
        return _O["noise"].check(noise)

    def extra_repr(self) -> str:
        return (
            f"solver={self.solver!r}, sigma={self.sigma}, n_samples={self.n_samples}, "
            f"noise={self.noise.name!r}, mode={self.mode!r}, "
            f"control_variate={self.control_variate}, inputs={self.inputs!r}"
        )

    def _samples(self, theta: torch.Tensor, side: dict, base: bool) -> PerturbedSamples:
        return perturb_and_solve(
            self.solver,
            theta,
            noise=self.noise,
            sigma=self.sigma,
            n_samples=self.n_samples,
            mode=self.mode,
            source=self._source,
            base=base,
            side=side,
            keys=(self._solver_key, self._noise_key, self._source_key),
        )

    def sample(self, x: torch.Tensor, *, base: bool | None = None, **side: Any) -> PerturbedSamples:
        """Draw and solve the perturbations of θ (from ``x``); see :func:`perturb_and_solve`."""
        theta, _ = self._prediction(x, self.inputs)
        return self._samples(theta, side, self.control_variate if base is None else base)

    def perturbed_values(self, theta: torch.Tensor, s: PerturbedSamples) -> torch.Tensor:
        """The perturbed scores ``θ_m`` (M, N, D) as a differentiable function of ``theta``
        (the checked θ, in the input's dtype), with a first-order gradient guard."""
        flat = first_order(theta, "the gradient estimate of a perturbed loss or max")
        flat = flat.to(s.theta.dtype).reshape(s.theta.shape)
        if s.weights is not None:
            return flat * s.weights
        return flat + self.sigma * s.z

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        theta, _ = self._prediction(x, self.inputs)
        s = self._samples(theta, side, self.control_variate)
        work = theta.to(work_dtype(theta.dtype)).reshape(s.theta.shape)
        y = _PerturbedArgmaxFn.apply(
            work,
            s.y,
            self.noise.score(s.z),
            s.y_base,
            self.sigma,
            self.mode == "multiplicative",
        )
        return y.reshape(theta.shape).to(theta.dtype)


class PerturbedMax(PerturbedOptimizer):
    """The perturbed max ``F_ε(θ) = E[max_y ⟨θ_m, y⟩]``, one value per instance.

    Estimated as ``(1/M) Σ_m ⟨θ_m, y*(θ_m)⟩`` with ``θ_m`` the additive or multiplicative
    perturbation; its gradient is the exact gradient of that estimate, ``(1/M) Σ_m y_m``
    (additive, ``= y_ε(θ)``) or ``(1/M) Σ_m w_m ⊙ y_m`` (multiplicative). For centred noise
    ``F_ε(θ) >= max_y ⟨θ, y⟩`` (Jensen). Returns shape ``batch_shape``. With
    ``inputs="costs"`` the value is still the max of ``⟨θ, y⟩`` with ``θ = -ĉ``. Its
    gradient needs no Jacobian estimator, so ``control_variate`` does not apply (``True``
    raises ``ValueError``).

    >>> import torch, solvers
    >>> pmax = PerturbedMax(solvers.get("argmax"), sigma=1e-3, n_samples=4, seed=0)
    >>> round(pmax(torch.tensor([0.5, 2.0, 1.0])).item(), 2)
    2.0
    """

    def __init__(self, solver: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(solver, *args, **kwargs)
        if self.control_variate:
            raise ValueError(
                "PerturbedMax: control_variate does not apply (the gradient of the perturbed "
                "max is an average of solutions, with no Jacobian estimator to correct)"
            )

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        theta, batch_shape = self._prediction(x, self.inputs)
        s = self._samples(theta, side, False)
        theta_m = self.perturbed_values(theta, s)
        values = (theta_m * s.y).sum(-1).mean(0)
        return values.reshape(batch_shape).to(theta.dtype)


# -- registration -----------------------------------------------------------------------------
_BERTHET = 'Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020'
#: The options of every perturbation-based method.
NOISE_OPTIONS = ("sigma", "n_samples", "noise", "seed", "generator", "inputs")


def _perturbed(mode: str):
    def build(solver: Any, problem: str, **options: Any) -> nn.Module:
        return PerturbedOptimizer(solver, mode=mode, **options)

    return build


def _perturbed_max(solver: Any, problem: str, **options: Any) -> nn.Module:
    return PerturbedMax(solver, **options)


register_method(
    "perturbed",
    "layer",
    _perturbed("additive"),
    description="perturbed optimizer y_ε(θ) = E[y*(θ + εZ)], score-function Jacobian",
    options=(*NOISE_OPTIONS, "control_variate"),
    solver_defaults=clamp_negative_costs,
    reference=_BERTHET,
)
register_method(
    "perturbed_multiplicative",
    "layer",
    _perturbed("multiplicative"),
    description="perturbed optimizer with θ ⊙ exp(εZ - ε²/2): keeps the sign of θ",
    options=(*NOISE_OPTIONS, "control_variate"),
    reference=_BERTHET,
)
register_method(
    "perturbed_max",
    "layer",
    _perturbed_max,
    description="perturbed max F_ε(θ) = E[max_y ⟨θ + εZ, y⟩], gradient y_ε(θ)",
    options=(*NOISE_OPTIONS, "mode"),
    output="value",
    solver_defaults=clamp_negative_costs,
    reference=_BERTHET,
)
