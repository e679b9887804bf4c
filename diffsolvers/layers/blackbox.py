r"""Blackbox differentiation of combinatorial solvers.

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
(:mod:`diffsolvers.losses.fenchel_young`). On Warcraft the CNN's costs stay far below the
default λ = 20.

Shortest-path solvers are built with ``negative_costs="clamp"`` (see
:mod:`diffsolvers.registry`): ``θ'`` may hold positive scores (negative costs), clamped at
zero cost as in the original implementation.

**Precision and compilation.** ``θ'`` is formed inside the solver operator
(:mod:`diffsolvers._bridge`), in float32 at least, so a float16 / bfloat16 input does not
round ``θ - λg`` into ties, and a compiled program solves exactly eager execution's ``θ'``.

Example::

    >>> import torch, solvers
    >>> layer = BlackboxLayer(solvers.get("argmax"), lambda_=1.5)
    >>> theta = torch.tensor([1.0, 0.0, 0.0], requires_grad=True)
    >>> y = layer(theta)
    >>> y.backward(torch.tensor([2.0, -1.0, 0.0]))
    >>> theta.grad
    tensor([ 0.6667, -0.6667,  0.0000])
"""

from __future__ import annotations

from typing import Any

import torch

from .. import _bridge, _handles
from .._core import SolverModule, work_dtype
from .._first_order import first_order_only
from .._options import OPTIONS
from ..registry import builder, clamp_negative_costs, register_method

__all__ = ["BlackboxLayer"]

_O = OPTIONS


class _BlackboxFn(torch.autograd.Function):
    """Forward ``y*(θ)``; backward ``(y*(θ) - y*(θ - λg)) / λ``. θ is ``(*batch, *instance)``;
    the solver reaches the operator by its handle ``key`` (``problem`` names it)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(theta, lambda_, key, problem, names, side):
        return _bridge.solve_by_key(
            key, problem, theta[None], dict(zip(names, side)), what="the prediction"
        )[0]

    @staticmethod
    def setup_context(ctx, inputs, output):
        theta, lambda_, key, problem, names, side = inputs
        ctx.save_for_backward(theta, output, *side)
        ctx.lambda_, ctx.key, ctx.problem, ctx.names = lambda_, key, problem, names
        _handles.hold(ctx, key)  # the backward solves again, maybe after the module is gone

    @staticmethod
    @first_order_only("the blackbox gradient")
    def backward(ctx, grad_out):
        theta, y, *side = ctx.saved_tensors
        y_p = _bridge.solve_by_key(
            ctx.key,
            ctx.problem,
            theta[None],
            dict(zip(ctx.names, side)),
            direction=grad_out[None],
            step=-ctx.lambda_,
            what="θ - λ·∂L/∂y",
            direction_what="the incoming gradient ∂L/∂y",
        )[0]
        return (y - y_p) / ctx.lambda_, None, None, None, None, None


class BlackboxLayer(SolverModule):
    """``θ ↦ y*(θ)`` with the blackbox backward (see the module docstring).

    Args:
        solver: a :class:`solvers.Solver`, or any solver or function
            :func:`~diffsolvers.oracle.as_solver` accepts.
        lambda_: the interpolation strength λ > 0 (in units of θ per unit of ``∂L/∂y``;
            too small and ``y*(θ')`` rarely moves, giving zero gradients).
        inputs: ``"scores"`` (the input is θ) or ``"costs"`` (the input is ĉ, θ = -ĉ).

    ``forward(x, **side)``: ``x`` of shape ``(*batch, *instance)``; returns ``y*(θ)`` with
    the same shape, device and dtype. ``side``: the solver's per-call side data, shared by
    the batch or per instance, as ``solver.solve`` takes it.

    Examples:
        >>> import torch, solvers
        >>> layer = BlackboxLayer(solvers.get("argmax"), lambda_=1.5)
        >>> theta = torch.tensor([1.0, 0.0, 0.0], requires_grad=True)
        >>> layer(theta).backward(torch.tensor([2.0, -1.0, 0.0]))
        >>> theta.grad
        tensor([ 0.6667, -0.6667,  0.0000])
    """

    def __init__(
        self,
        solver: Any,
        lambda_: float = _O["lambda_"].default,
        inputs: str = _O["inputs"].default,
    ) -> None:
        super().__init__(solver)
        self.lambda_ = _O["lambda_"].check(lambda_)
        self.inputs = _O["inputs"].check(inputs)

    def extra_repr(self) -> str:
        return f"solver={self.solver!r}, lambda_={self.lambda_}, inputs={self.inputs!r}"

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        return self.forward_with(x, lambda_=self.lambda_, **side)

    def forward_with(self, x: torch.Tensor, *, lambda_: float, **side: Any) -> torch.Tensor:
        """The layer with the interpolation strength ``lambda_`` for this call only (the
        module is not changed, so several threads may share it)."""
        theta, _ = self._prediction(x, self.inputs)
        work = theta.to(work_dtype(theta.dtype))
        names = tuple(side)
        tensors = tuple(_bridge.side_tensors(side))
        y = _BlackboxFn.apply(work, float(lambda_), self._solver_key, self.problem, names, tensors)
        return y.to(theta.dtype)


# -- registration -----------------------------------------------------------------------------
_VLASTELICA = 'Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers", ICLR 2020'

register_method(
    "blackbox",
    "layer",
    builder(BlackboxLayer),
    description="blackbox interpolation: y*(θ), gradient (y*(θ) - y*(θ - λ∂L/∂y))/λ",
    options=("lambda_", "inputs"),
    solver_defaults=clamp_negative_costs,
    reference=_VLASTELICA,
)
