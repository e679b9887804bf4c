r"""The pushforward of a perturbed optimizer through a function of its solutions.

References: InferOpt.jl's ``Pushforward`` (of ``PerturbedAdditive`` /
``PerturbedMultiplicative``); Berthet et al., "Learning with Differentiable Perturbed
Optimizers", NeurIPS 2020 (the score-function estimator).

**The layer.** A perturbed optimizer (:class:`~.perturbed.PerturbedOptimizer`) defines a
distribution over solutions, that of ``Y = y*(θ + εZ)``; its output is the mean ``E[Y]``.
For a function ``g`` of a solution (a cost ``⟨c, y⟩``, a path length, a decoded
structure...), the pushforward is::

    φ(θ) = E[g(y*(θ + εZ))] ≈ (1/M) Σ_m g(y_m),        y_m = y*(θ + εZ_m),

which is not ``g(E[Y])`` unless ``g`` is affine. ``g`` need not be differentiable: the
gradient in θ comes from the noise density, not from ``g``::

    J_θ φ = E[g(Y) ∇ν(Z)ᵀ] / ε ≈ (1/(Mε)) Σ_m g(y_m) ∇ν(Z_m)ᵀ

(multiplicative mode, ``θ_m = θ ⊙ w_m``: ``∇ν(Z_m)/(εθ)`` in place of ``∇ν(Z_m)/ε``, and 0
where ``θ = 0``, as for the optimizer). With the optimizer's ``control_variate``,
``g(y_m) - g(y*(θ))`` replaces ``g(y_m)`` (unbiased, as ``E[∇ν(Z)] = 0``). With ``g`` the
identity the pushforward is the perturbed optimizer itself, values and gradients (the
tests check it).

**Other arguments.** ``g(y, *args)`` may take further tensors (the true costs ``c``...);
the gradient with respect to them is the exact one of ``(1/M) Σ_m g(y_m, *args)``,
through ``g`` by autograd. Only the θ-gradient is estimated.

**How.** The samples come from the optimizer's own noise source and solver call (one
batched call). The θ-gradient is carried by a term of value zero,
``(1/M) Σ_m (g(y_m) - b) · (⟨θ, s_m⟩ - ⟨θ, s_m⟩.detach())`` with ``s_m`` the score above
and ``b`` the control variate (or 0), so plain tensor operations give it, under
``torch.compile`` and ``torch.func.vmap`` as in eager mode. The estimate gives first
derivatives only: a second derivative in θ raises.

Example::

    >>> import torch, solvers
    >>> layer = PerturbedOptimizer(solvers.get("argmax"), sigma=0.5, n_samples=500, seed=0)
    >>> costs = torch.tensor([3.0, 1.0, 2.0])
    >>> expected_cost = Pushforward(layer, lambda y, c: (y * c).sum(-1))
    >>> theta = torch.tensor([[0.2, 0.1, -0.4]], requires_grad=True)
    >>> value = expected_cost(theta, costs)   # E[⟨c, Y⟩], one value per instance
    >>> value.shape
    torch.Size([1])
    >>> value.sum().backward()
    >>> theta.grad.shape
    torch.Size([1, 3])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .._first_order import first_order
from .._options import OPTIONS
from ..registry import clamp_negative_costs, register_method
from .perturbed import NOISE_OPTIONS, PerturbedMax, PerturbedOptimizer

__all__ = ["Pushforward"]

_O = OPTIONS


def _identity(y: torch.Tensor, *args: Any) -> torch.Tensor:
    if args:
        raise TypeError(f"the pushforward without a function takes no arguments, got {len(args)}")
    return y


class Pushforward(nn.Module):
    """``θ ↦ E[g(y*(θ + εZ), *args)]`` for a perturbed optimizer (module docstring).

    Args:
        layer: a :class:`~diffsolvers.layers.perturbed.PerturbedOptimizer` (additive or
            multiplicative; its noise, samples, seed, control variate and inputs are used).
        function: ``g(y, *args)``, given the solutions ``y`` of shape
            ``(M, *batch, *instance)`` (the samples on the first axis) and the extra
            arguments of the call; returns a tensor ``(M, *batch, *out)``. ``None``: the
            identity (then the layer is the perturbed optimizer).

    ``forward(x, *args, **side)``: ``x`` as the optimizer takes it, ``args`` passed to ``g``
    (broadcast against ``y``, e.g. costs of shape ``(*batch, *instance)``), ``side`` the
    solver's side data; returns ``(*batch, *out)`` in ``g``'s dtype.

    Examples:
        >>> import torch, solvers
        >>> inner = PerturbedOptimizer(solvers.get("top_k", k=2), sigma=0.3, seed=0)
        >>> pairs = Pushforward(inner, lambda y: y[..., :, None] * y[..., None, :])
        >>> pairs(torch.randn(4, 5)).shape    # E[y yᵀ]: how often two entries go together
        torch.Size([4, 5, 5])
    """

    def __init__(self, layer: PerturbedOptimizer, function: Callable[..., Any] | None = None):
        super().__init__()
        if not isinstance(layer, PerturbedOptimizer) or isinstance(layer, PerturbedMax):
            raise TypeError(
                "Pushforward: layer must be a PerturbedOptimizer (a distribution over "
                f"solutions), got {type(layer).__name__}"
            )
        self.layer = layer
        self.function = _O["function"].check(function)

    @property
    def solver(self) -> Any:
        """The optimizer's solver."""
        return self.layer.solver

    @property
    def problem(self) -> str:
        """The optimizer's problem name."""
        return self.layer.problem

    def extra_repr(self) -> str:
        name = "identity" if self.function is None else getattr(self.function, "__name__", "g")
        return f"function={name}"

    def forward(self, x: torch.Tensor, *args: Any, **side: Any) -> torch.Tensor:
        layer = self.layer
        g = _identity if self.function is None else self.function
        theta, batch_shape = layer._prediction(x, layer.inputs)
        s = layer.sample(x, **side)
        sample_shape = (s.n_samples, *theta.shape)
        values = g(s.y.reshape(sample_shape).to(theta.dtype), *args)
        lead = (s.n_samples, *batch_shape)
        if not isinstance(values, torch.Tensor) or tuple(values.shape[: len(lead)]) != lead:
            got = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values)
            raise ValueError(
                f"Pushforward: the function must return a tensor of shape (M, *batch, ...) = "
                f"{lead + ('...',)} for solutions of shape {sample_shape}, got {got}"
            )
        score = layer.noise.score(s.z) / layer.sigma  # (M, N, D)
        if layer.mode == "multiplicative":
            nonzero = s.theta != 0
            score = torch.where(nonzero, score / torch.where(nonzero, s.theta, 1.0), 0.0)
        flat = first_order(theta, "the pushforward's gradient estimate")
        flat = flat.to(s.theta.dtype).reshape(s.theta.shape)
        linear = (flat * score).sum(-1)
        carrier = (linear - linear.detach()).reshape(lead)
        weight = values.detach()
        if s.y_base is not None:
            base = g(s.y_base.reshape(theta.shape).unsqueeze(0).to(theta.dtype), *args)
            weight = weight - base.detach()
        carrier = carrier.reshape(lead + (1,) * (values.ndim - len(lead))).to(values.dtype)
        return (values + weight * carrier).mean(0)


# -- registration -----------------------------------------------------------------------------
_REFERENCE = (
    "InferOpt.jl's Pushforward; Berthet et al., \"Learning with Differentiable Perturbed "
    'Optimizers", NeurIPS 2020'
)


def _build(solver: Any, problem: str, function: Any = None, **options: Any) -> Pushforward:
    return Pushforward(PerturbedOptimizer(solver, **options), function)


register_method(
    "pushforward",
    "layer",
    _build,
    description="pushforward E[g(y*(θ + εZ))] of the perturbed optimizer through a function g",
    options=(*NOISE_OPTIONS, "mode", "control_variate", "function"),
    solver_defaults=clamp_negative_costs,
    reference=_REFERENCE,
)
