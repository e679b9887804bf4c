r"""CaVE, the cone-aligned vector estimation loss: the prediction is pulled towards the
normal cone of the true solution.

A solution ``y`` is optimal for the scores ``θ`` exactly when ``θ`` (scattered onto the
variables of the problem's LP form) lies in the normal cone ``N(y)`` of the polytope at
``y``, spanned by the outward normals of the constraints that bind there (equalities,
tight inequalities, tight variable bounds; :mod:`solvers.normal_cone`). CaVE measures how
far the predicted ``θ̂`` points from that cone (Tang & Khalil, CPAIOR 2024)::

    p = proj_{N(y)}(θ̂)                      (non-negative least squares)
    L(θ̂, y) = 1 - cos(θ̂, p) = 1 - ⟨θ̂, p⟩ / (‖θ̂‖ ‖p‖)  ∈ [0, 1],

``L = 0`` exactly when ``θ̂ ∈ N(y)``, i.e. when ``y`` is optimal for ``θ̂`` (for an integer
program: for its LP relaxation at ``y``), and ``L = 1`` when ``θ̂`` lies in the polar cone
(``p = 0``). The loss needs the true solution and the LP form, never a solver call.

**Gradient.** ``p`` is held constant, and this is exact, not an approximation: for the
projection onto a closed convex cone ``⟨θ̂ - p, p⟩ = 0`` and ``∇ ½‖p(θ̂)‖² = p``, so
``∇ cos(θ̂, p(θ̂)) = p / (‖θ̂‖‖p‖) - ⟨θ̂, p⟩ θ̂ / (‖θ̂‖³‖p‖)``, the derivative of the cosine
with ``p`` fixed (as PyEPO's ``coneAlignedCosine`` differentiates it). The projection is
exact (SciPy's active-set NNLS on the cone's generators, equalities eliminated), so the
gradient is the loss's. Where the LP form has auxiliary variables (flows behind a vertex
path, a permutation matrix behind ranks) ``θ̂`` has zeros there and ``‖p‖`` counts them.

Sign: the cone is the one of maximisation, so it is ``θ̂`` (``-ĉ`` for predicted costs,
``inputs="costs"``) that is projected: PyEPO's "sense-flipped cost" ``-ĉ``.

Example::

    >>> import torch, solvers
    >>> cave = CaVELoss(solvers.get("argmax"))
    >>> y = torch.tensor([[1.0, 0.0, 0.0]])
    >>> cave(torch.tensor([[2.0, 1.0, -1.0]]), y)  # y is optimal: no loss
    tensor(0.)
    >>> cave(torch.tensor([[1.0, 2.0, -1.0]]), y)  # p = (1.5, 1.5, -1)
    tensor(0.0426)

Reference: Tang & Khalil, "CaVE: A Cone-Aligned Approach for Fast Predict-then-optimize
with Binary Linear Programs", CPAIOR 2024.
"""

from __future__ import annotations

import math
from typing import Any

import torch

import solvers
from solvers.normal_cone import NormalCones

from .. import _cone, _handles
from .._checks import as_target
from .._core import SolverModule, reduce
from .._options import OPTIONS
from ..registry import builder, register_method

__all__ = ["CaVELoss"]

_O = OPTIONS


def _states_lp_form(solver: Any) -> bool:
    method = getattr(type(solver), "lp_form", None)
    return callable(method) and method is not solvers.Solver.lp_form


class CaVELoss(SolverModule):
    """The CaVE loss (see the module docstring): ``1 - cos(θ̂, proj_{N(y)}(θ̂))``.

    Args:
        solver: a :class:`solvers.Solver` that states its LP form
            (:meth:`solvers.base.Solver.lp_form`); it is never called to solve.
        inputs: ``"scores"`` (the prediction is θ̂) or ``"costs"`` (the prediction is ĉ,
            θ̂ = -ĉ).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.

    ``forward(x, y, **side)``: ``y`` the true solution (of ``x``'s shape), ``side`` the
    solver's side data (knapsack weights...), which shape its LP form.

    Examples:
        >>> import torch, solvers
        >>> cave = CaVELoss(solvers.get("top_k", k=1), inputs="costs", reduction="none")
        >>> cave(torch.tensor([[1.0, 2.0], [2.0, 1.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
        tensor([0.0000, 0.0513])
    """

    def __init__(
        self,
        solver: Any,
        inputs: str = _O["inputs"].default,
        reduction: str = _O["reduction"].default,
    ) -> None:
        super().__init__(solver)
        self.inputs = _O["inputs"].check(inputs)
        self.reduction = _O["reduction"].check(reduction)

    @SolverModule.solver.setter
    def solver(self, solver: Any) -> None:
        SolverModule.solver.fset(self, solver)
        if not _states_lp_form(self._solver):
            raise ValueError(
                f"method 'cave' is not meaningful for {self.problem!r}: the solver states no "
                "LP form (Solver.lp_form), and CaVE reads the binding constraints from it"
            )
        self._cones = NormalCones(self._solver)
        self._cones_key = _handles.key(self._cones)

    def _rekey(self) -> None:
        super()._rekey()
        self._cones_key = _handles.key(self._cones)

    def forward(self, x: torch.Tensor, y: torch.Tensor, **side: Any) -> torch.Tensor:
        theta_hat, batch_shape = self._prediction(x, self.inputs)
        problem = self.problem
        dtype = torch.float64  # 1 - cos cancels: the projection and cosine in double
        target = as_target(y, theta_hat, problem)
        theta_work = theta_hat.to(dtype)
        p_y, p_norm = _cone.project(
            self._cones_key,
            self.solver.event_ndim,
            theta_work,
            target.to(dtype),
            side,
            what=f"{problem}: θ̂",
        )
        flat = theta_work.reshape(*batch_shape, math.prod(theta_work.shape[len(batch_shape) :]))
        inner = (flat * p_y.reshape(flat.shape)).sum(-1)
        scale = torch.linalg.vector_norm(flat, dim=-1) * p_norm
        values = 1.0 - inner / scale.clamp_min(torch.finfo(dtype).tiny)
        return reduce(values.to(theta_hat.dtype), self.reduction, problem)


def _needs_lp_form(problem: str) -> str | None:
    """Why CaVE does not apply: a zoo problem whose solvers state no LP form (those that do
    are ``lp`` itself and the problems with the generic ``lp`` backend, built on it)."""
    if problem in solvers.problems() and problem != "lp" and "lp" not in solvers.backends(problem):
        return "the problem states no LP form, and CaVE reads the binding constraints from it"
    return None


# -- registration -----------------------------------------------------------------------------
_CAVE = (
    'Tang & Khalil, "CaVE: A Cone-Aligned Approach for Fast Predict-then-optimize with '
    'Binary Linear Programs", CPAIOR 2024'
)

register_method(
    "cave",
    "loss",
    builder(CaVELoss),
    description="CaVE: 1 - cos(θ̂, projection of θ̂ onto the normal cone of the true y), NNLS",
    options=("inputs", "reduction"),
    target="solution",
    not_meaningful=_needs_lp_form,
    reference=_CAVE,
)
