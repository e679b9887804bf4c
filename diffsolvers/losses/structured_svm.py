r"""The structured SVM loss with a Hamming margin, solved by the problem's own solver.

Reference: Tsochantaridis, Joachims, Hofmann, Altun, "Large Margin Methods for Structured
and Interdependent Output Variables", JMLR 2005; Nowozin & Lampert, "Structured Learning
and Prediction in Computer Vision", 2011, Chapter 6; InferOpt.jl's ``StructuredSVMLoss``.

For a target solution ``ȳ`` and a margin ``Δ(y, ȳ)`` weighted by ``α > 0`` (option
``margin``)::

    L(θ̂; ȳ) = max_{y ∈ Y} [⟨θ̂, y⟩ + α Δ(y, ȳ)] - ⟨θ̂, ȳ⟩ >= 0,      ∇_θ̂ L = ŷ - ȳ,

with ``ŷ`` the maximiser of the bracket (the loss-augmented decision). ``L >= 0`` because
``y = ȳ`` gives 0; ``L = 0`` exactly when ``ȳ`` beats every other solution by the margin.
InferOpt.jl writes ``max_y {δ(y, ȳ) + α' ⟨θ, y - ȳ⟩}``: the same loss times ``α'`` with
``α = 1/α'``.

**The loss-augmented oracle.** The Hamming margin ``Δ(y, ȳ) = Σ_j |y_j - ȳ_j|`` is linear
in ``y`` when solutions are 0/1 vectors: ``Δ(y, ȳ) = ⟨1 - 2ȳ, y⟩ + ⟨1, ȳ⟩``. The
maximiser is then the solver's own ``ŷ = y*(θ̂ + α(1 - 2ȳ))``: one batched solve, no
special oracle. This is the assumption of the method: solutions and targets are 0/1
vectors (checked: a target with other entries is refused). Where solutions are not 0/1
(ranks; a general LP's vertices) ``|y_j - ȳ_j|`` is not linear in ``y`` and the
augmented problem is not one the solver solves: ``not_meaningful`` says so.

The value is ``⟨θ̂, ŷ - ȳ⟩ + α Δ(ŷ, ȳ)`` with ``ŷ`` held constant: autograd gives exactly
the subgradient ``ŷ - ȳ`` and a second derivative of 0. As ``α → 0`` it becomes the
structured perceptron loss ``max_y ⟨θ̂, y⟩ - ⟨θ̂, ȳ⟩``.

Shortest-path solvers clamp negative costs at zero (``θ̂ + α(1 - 2ȳ)`` lowers the costs
off the target path by α, possibly below zero): on grids the clamped problem is solved and
the value may fall below zero by the clamped amount; on DAGs any sign is solved exactly.

Example::

    >>> import torch, solvers
    >>> loss = StructuredSVMLoss(solvers.get("argmax"), margin=1.0)
    >>> theta = torch.tensor([[2.0, 1.5, 0.0]], requires_grad=True)
    >>> value = loss(theta, torch.tensor([[1.0, 0.0, 0.0]]))  # e₁ wins by 0.5 < the margin 2
    >>> value.backward()
    >>> value, theta.grad  # 1.5 + 2 - 2 = 1.5, gradient e₂ - e₁
    (tensor(1.5000, grad_fn=<MeanBackward0>), tensor([[-1.,  1.,  0.]]))
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import _bridge
from .._checks import as_target
from .._core import SolverModule, reduce, work_dtype
from .._options import OPTIONS
from ..registry import builder, clamp_negative_costs, register_method

__all__ = ["StructuredSVMLoss"]

_O = OPTIONS
_TSOCHANTARIDIS = (
    'Tsochantaridis et al., "Large Margin Methods for Structured and Interdependent Output '
    'Variables", JMLR 2005'
)


@torch.library.custom_op("diffsolvers::binary", mutates_args=())
def _binary(t: torch.Tensor, what: str) -> torch.Tensor:
    if t.numel() and not bool(((t == 0) | (t == 1)).all()):
        bad = t[(t != 0) & (t != 1)][0].item()
        raise ValueError(
            f"{what} must hold 0/1 entries (the Hamming margin is linear in 0/1 solutions "
            f"only), got {bad!r}"
        )
    return t.clone()


@_binary.register_fake
def _(t, what):
    return torch.empty_like(t)


def _binary_vmap(info, in_dims, t, what):
    return _binary(t, what), in_dims[0]


_binary.register_vmap(_binary_vmap)


class StructuredSVMLoss(SolverModule):
    """The structured SVM loss ``max_y [⟨θ̂, y⟩ + α Δ(y, ȳ)] - ⟨θ̂, ȳ⟩`` with the Hamming
    margin (module docstring: the maths, the loss-augmented solve, the 0/1 assumption).

    Args:
        solver: a :class:`solvers.Solver` with 0/1 solutions, or any solver or function
            :func:`~diffsolvers.oracle.as_solver` accepts.
        margin: the weight α > 0 of the Hamming margin (in units of θ̂ per differing entry).
        inputs: ``"scores"`` (θ̂) or ``"costs"`` (ĉ, θ̂ = -ĉ).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.

    ``forward(x, y, **side)``: ``y`` the 0/1 target solution of ``x``'s shape.

    Examples:
        >>> import torch, solvers
        >>> loss = StructuredSVMLoss(solvers.get("top_k", k=2), margin=0.4)
        >>> y = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
        >>> loss(torch.tensor([[3.0, 2.0, 1.0, 0.0]]), y)  # ȳ wins by 1 > α·Δ = 0.4 × 2
        tensor(0.)
    """

    def __init__(
        self,
        solver: Any,
        margin: float = _O["margin"].default,
        inputs: str = _O["inputs"].default,
        reduction: str = _O["reduction"].default,
    ) -> None:
        super().__init__(solver)
        self.margin = _O["margin"].check(margin)
        self.inputs = _O["inputs"].check(inputs)
        self.reduction = _O["reduction"].check(reduction)

    def extra_repr(self) -> str:
        return f"solver={self.solver!r}, margin={self.margin}, inputs={self.inputs!r}"

    def forward(self, x: torch.Tensor, y: torch.Tensor, **side: Any) -> torch.Tensor:
        theta_hat, batch_shape = self._prediction(x, self.inputs)
        problem = self.problem
        target = _binary(as_target(y, theta_hat, problem), f"{problem}: the target y")
        work = theta_hat.to(work_dtype(theta_hat.dtype))
        target = target.to(work.dtype)
        y_hat = _bridge.solve(
            self.solver,
            work[None],
            side,
            key=self._solver_key,
            direction=(1 - 2 * target)[None],
            step=self.margin,
            what="the loss-augmented scores θ̂ + α(1 - 2ȳ)",
            direction_what="1 - 2ȳ",
        )[0]
        n_entries = math.prod(work.shape[len(batch_shape) :])
        per_entry = work * (y_hat - target) + self.margin * (y_hat - target).abs()
        values = per_entry.reshape(*batch_shape, n_entries).sum(-1)
        return reduce(values.to(theta_hat.dtype), self.reduction, problem)


# -- registration -----------------------------------------------------------------------------
_NOT_BINARY = {
    "ranking": "ranks take values 1..n, not 0/1: the Hamming margin |y_j - ȳ_j| is not linear "
    "in y, so the loss-augmented problem is not a ranking the solver solves",
    "lp": "a general LP's solutions need not be 0/1: the Hamming margin is then not linear in "
    "y, so the loss-augmented problem is not an LP of the same form",
}

register_method(
    "structured_svm",
    "loss",
    builder(StructuredSVMLoss),
    description="structured SVM with a Hamming margin, loss-augmented solve y*(θ̂ + α(1 - 2ȳ))",
    options=("margin", "inputs", "reduction"),
    not_meaningful=_NOT_BINARY,
    solver_defaults=clamp_negative_costs,
    reference=_TSOCHANTARIDIS,
)
