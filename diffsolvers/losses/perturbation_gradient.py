r"""The perturbation-gradient (PG) loss: a finite difference of the optimal value along
the true costs, a surrogate of the decision's true cost.

Reference: Gupta & Huang, "Decision-Focused Learning with Directional Gradients",
NeurIPS 2024 (arXiv:2402.03256; the PGB and PGC losses); PyEPO's
``perturbationGradient`` (Tang & Khalil), whose form this follows. Registry name
``perturbation_gradient``, the name of the paper and of PyEPO.

In the paper's minimisation form, with ``V(c) = min_w cᵀw``, predicted costs ĉ and true
costs c, the backward and central differences with step ``h > 0`` are::

    PGB(ĉ, c) = (V(ĉ) - V(ĉ - h c)) / h,      PGC(ĉ, c) = (V(ĉ + h c) - V(ĉ - h c)) / (2h).

Since ``∇V(ĉ) = w*(ĉ)``, both tend to ``cᵀw*(ĉ)`` as ``h → 0``: the true cost of the
decision taken on the prediction (the regret plus a constant in ĉ), which is piecewise
constant in ĉ, while the difference quotients have informative gradients
``(w*(ĉ) - w*(ĉ - hc)) / h`` and ``(w*(ĉ + hc) - w*(ĉ - hc)) / (2h)``.

In our maximisation form (``θ̂ = -ĉ``, ``θ = -c``, ``F(q) = max_y ⟨q, y⟩ = -V(-q)``)::

    backward:  L(θ̂, θ) = (F(θ̂ - hθ) - F(θ̂)) / h,          ∇_θ̂ L = (y*(θ̂ - hθ) - y*(θ̂)) / h,
    central:   L(θ̂, θ) = (F(θ̂ - hθ) - F(θ̂ + hθ)) / (2h),
               ∇_θ̂ L = (y*(θ̂ - hθ) - y*(θ̂ + hθ)) / (2h),

each ``F(q)`` evaluated as ``⟨q, y*(q)⟩`` with the solution held constant, so autograd
gives exactly these gradients (Danskin) and a second derivative of 0. Both points are
solved in ONE batched call. ``L → -⟨θ, y*(θ̂)⟩ = ⟨c, y*(θ̂)⟩`` as ``h → 0``; for a
maximisation problem with values ``v`` pass ``c = -v``: the loss then tends to
``-⟨v, y*(θ̂)⟩``, the decision's true value negated. ``h`` is option ``step`` (PyEPO's ``sigma``,
default 0.1 as PyEPO's); ``central_difference=True`` is PyEPO's ``two_sides``. The paper
lets ``h`` shrink with the sample size; it is a constant here.

Shortest-path solvers clamp negative costs at zero (``θ̂ ± hθ`` may hold some): on grids
the clamped points are solved, on DAGs any sign exactly.

Example::

    >>> import torch, solvers
    >>> loss = PerturbationGradientLoss(solvers.get("argmax"), step=0.1, inputs="costs")
    >>> c_hat = torch.tensor([[1.0, 1.05, 3.0]], requires_grad=True)
    >>> loss(c_hat, torch.tensor([[1.0, 3.0, 3.0]])).backward()  # w*(ĉ) = e₁, w*(ĉ - hc) = e₂
    >>> c_hat.grad + 0.0  # (w*(ĉ) - w*(ĉ - hc)) / h, -0 printed as 0
    tensor([[ 10., -10.,   0.]])
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import _bridge
from .._checks import as_target
from .._core import SolverModule, costs_to_theta, reduce, work_dtype
from .._options import OPTIONS
from ..registry import builder, clamp_negative_costs, register_method

__all__ = ["PerturbationGradientLoss"]

_O = OPTIONS
_GUPTA = 'Gupta & Huang, "Decision-Focused Learning with Directional Gradients", NeurIPS 2024'


class PerturbationGradientLoss(SolverModule):
    """The perturbation-gradient loss (module docstring: the maths and PyEPO's form).

    Args:
        solver: a :class:`solvers.Solver`, or any solver or function
            :func:`~diffsolvers.oracle.as_solver` accepts.
        step: the finite-difference step ``h > 0`` along the true scores (PyEPO's
            ``sigma``); the gradient is 0 until a step of ``h·θ`` changes the decision.
        central_difference: ``(F(θ̂ - hθ) - F(θ̂ + hθ)) / 2h`` instead of the backward
            difference ``(F(θ̂ - hθ) - F(θ̂)) / h``.
        inputs: ``"scores"`` (θ̂) or ``"costs"`` (ĉ, θ̂ = -ĉ).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.

    ``forward(x, costs, **side)``: ``costs`` the true costs ``c`` (θ = -c) of ``x``'s shape.

    Examples:
        >>> import torch, solvers
        >>> loss = PerturbationGradientLoss(solvers.get("argmax"), step=1e-3, inputs="costs")
        >>> costs = torch.tensor([[3.0, 1.0, 2.0]])
        >>> loss(torch.tensor([[1.0, 2.0, 3.0]]), costs)  # ⟨c, w*(ĉ)⟩: item 1 taken, cost 3
        tensor(3.0000)
    """

    def __init__(
        self,
        solver: Any,
        step: float = _O["step"].default,
        central_difference: bool = _O["central_difference"].default,
        inputs: str = _O["inputs"].default,
        reduction: str = _O["reduction"].default,
    ) -> None:
        super().__init__(solver)
        self.step = _O["step"].check(step)
        self.central_difference = _O["central_difference"].check(central_difference)
        self.inputs = _O["inputs"].check(inputs)
        self.reduction = _O["reduction"].check(reduction)

    def extra_repr(self) -> str:
        return (
            f"solver={self.solver!r}, step={self.step}, "
            f"central_difference={self.central_difference}, inputs={self.inputs!r}"
        )

    def forward(self, x: torch.Tensor, costs: torch.Tensor, **side: Any) -> torch.Tensor:
        theta_hat, batch_shape = self._prediction(x, self.inputs)
        problem = self.problem
        dtype = work_dtype(theta_hat.dtype)
        theta = costs_to_theta(as_target(costs, theta_hat, problem, "true costs"), "costs")
        work, move = theta_hat.to(dtype), self.step * theta.to(dtype)
        low = work - move  # differentiable in θ̂
        high = work + move if self.central_difference else work
        what = "θ̂ - hθ and θ̂ + hθ" if self.central_difference else "θ̂ - hθ and θ̂"
        both = torch.stack([low, high])
        y = _bridge.solve(self.solver, both, side, key=self._solver_key, what=what)
        width = 2 * self.step if self.central_difference else self.step
        n_entries = math.prod(work.shape[len(batch_shape) :])
        gap = (low * y[0] - high * y[1]).reshape(*batch_shape, n_entries).sum(-1) / width
        return reduce(gap.to(theta_hat.dtype), self.reduction, problem)


# -- registration -----------------------------------------------------------------------------
register_method(
    "perturbation_gradient",
    "loss",
    builder(PerturbationGradientLoss),
    description="perturbation gradient (PGB / PGC): finite difference of the optimal value "
    "along the true costs",
    options=("step", "central_difference", "inputs", "reduction"),
    target="costs",
    solver_defaults=clamp_negative_costs,
    reference=_GUPTA,
)
