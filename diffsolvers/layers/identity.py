r"""Identity (straight-through) backward through a solver, with the paper's projections.

Reference: Sahoo, Paulus, Vlastelica, Musil, Kuleshov, Martius, "Backpropagation through
Combinatorial Algorithms: Identity with Projection Works", ICLR 2023.

**Forward**: ``y*(P(θ))`` with ``P`` an optional projection of the scores (below).
**Backward**: the solver's Jacobian is replaced by the identity, ``∂y/∂θ := I``: the
gradient wrt ``P(θ)`` is the incoming ``g = ∂L/∂y`` itself, and autograd chains it through
the exact Jacobian of ``P``: ``∇_θ = J_Pᵀ g``. No extra solver call, no hyper-parameter.

**Sign.** The paper (and PyEPO's "NID", negative identity) state the rule for minimisation
solvers ``y(ω) = argmin ⟨ω, y⟩``: ``∂L/∂ω := -∂L/∂y``. Under our maximisation convention
``θ = -ω`` this is ``∂L/∂θ := +∂L/∂y``; with ``inputs="costs"`` (``θ = -ĉ``) the gradient
wrt the predicted costs is ``-g``, which is exactly PyEPO's NID.

**Projections** (``projection=``), applied per instance before the solve. They exploit
invariances of the solver so that the forward solution is unchanged while the scale and
offset of θ are controlled (the paper shows this prevents cost collapse / blow-up):

* ``None``: ``P(θ) = θ``;
* ``"normalize"``: ``P(θ) = θ / ‖θ‖₂`` (projection onto the unit sphere). ``y*(cθ) = y*(θ)``
  for ``c > 0``, so the forward solution is unchanged for every problem;
  ``J_Pᵀ g = (g - ⟨g, u⟩u) / ‖θ‖`` with ``u = θ/‖θ‖``;
* ``"mean"``: ``P(θ) = θ - mean(θ)·1`` (projection onto the hyperplane ``Σθ = 0``). The
  solution is unchanged only for problems whose feasible solutions all have the same
  ``Σ_j y_j`` (argmax, top-k, ranking, assignment, spanning trees, paths in a grid DAG);
  for the others (knapsack, 8-neighbour grid paths) it changes the problem;
* ``"mean_normalize"``: hyperplane then sphere, the paper's combination for such problems.

The sphere projection is undefined at ``θ = 0`` (and for ``"mean_normalize"`` at constant
θ): there ``P(θ) = θ / max(‖θ‖, 10⁻¹²) = 0``, the solver sees all-zero scores (its
tie-breaking decides) and ``J_P = I / 10⁻¹²``, so the gradient wrt θ is ``10¹²·g`` (``inf``
once cast back to float16). This is not an artefact of the clamp: near 0 the exact
Jacobian ``(I - uuᵀ)/‖θ‖`` is as large, the map being discontinuous at 0. A model that
predicts (nearly) all-zero scores gets huge gradients from these projections; keep its
scores away from 0 (or use ``"mean"`` / no projection there).

**Precision.** The projections run in float32 at least: float16 / bfloat16 scores are
projected in float32 (and the solver sees those float32 scores), so a half-precision
input gives the solution of its float32 copy: its squared norm neither overflows nor
underflows, and the rounding of ``θ/‖θ‖`` to half precision creates no ties. The solution
and the gradient come back in the input's dtype.

Shortest-path solvers clamp negative costs at zero (``negative_costs="clamp"``), since a
projected or predicted θ may hold positive scores.

**Straight-through expression.** The output is ``y*(P) + (P - sg(P))`` with ``sg`` the
stop-gradient: its value is ``y*(P)`` exactly (``P - sg(P)`` is 0) and autograd gives the
identity backward, so ``torch.compile`` and ``torch.func`` need nothing special.

Example::

    >>> import torch, solvers
    >>> layer = IdentityLayer(solvers.get("argmax"))
    >>> theta = torch.tensor([0.2, 0.9, 0.1], requires_grad=True)
    >>> layer(theta).backward(torch.tensor([1.0, 2.0, 3.0]))
    >>> theta.grad
    tensor([1., 2., 3.])
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import _bridge
from .._core import SolverModule
from .._options import OPTIONS
from .._options import PROJECTIONS as _PROJECTIONS
from ..registry import builder, clamp_negative_costs, register_method

__all__ = ["IdentityLayer", "project", "PROJECTIONS"]

_O = OPTIONS
PROJECTIONS = _PROJECTIONS
"""The projections of θ the identity layer offers (``projection=``)."""
_EPS = 1e-12
#: Dtypes the projections run in; narrower floats are projected in float32.
_PROJECTION_DTYPES = (torch.float32, torch.float64)


def project(theta: torch.Tensor, projection: str | None) -> torch.Tensor:
    """The projection ``P`` of scores ``θ`` (``(..., D)``), row by row (differentiable).

    ``None`` returns θ itself; the other projections return float32 for a float16 or
    bfloat16 θ (see "Precision" in the module docstring), θ's dtype otherwise.

    Examples:
        >>> import torch
        >>> project(torch.tensor([[3.0, 4.0]]), "normalize")
        tensor([[0.6000, 0.8000]])
        >>> project(torch.tensor([[1.0, 3.0]]), "mean")
        tensor([[-1.,  1.]])
    """
    _O["projection"].check(projection)
    if projection is None:
        return theta
    if theta.dtype not in _PROJECTION_DTYPES:
        theta = theta.to(torch.float32)
    if projection in ("mean", "mean_normalize"):
        theta = theta - theta.mean(dim=-1, keepdim=True)
    if projection in ("normalize", "mean_normalize"):
        theta = theta / theta.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    return theta


class IdentityLayer(SolverModule):
    """``θ ↦ y*(P(θ))`` with the identity backward (see the module docstring).

    Args:
        solver: a :class:`solvers.Solver`, or any solver or function
            :func:`~diffsolvers.oracle.as_solver` accepts.
        projection: ``None`` | ``"normalize"`` | ``"mean"`` | ``"mean_normalize"``.
        inputs: ``"scores"`` (the input is θ) or ``"costs"`` (the input is ĉ, θ = -ĉ; the
            gradient wrt ĉ is then ``-g``, PyEPO's negative identity).

    ``forward(x, **side)`` returns ``y*`` with ``x``'s shape, device and dtype.

    Examples:
        >>> import torch, solvers
        >>> layer = IdentityLayer(solvers.get("top_k", k=2), projection="normalize")
        >>> theta = torch.tensor([[0.1, 1.0, 0.9, -0.5]], requires_grad=True)
        >>> layer(theta).detach()
        tensor([[0., 1., 1., 0.]])
    """

    def __init__(
        self,
        solver: Any,
        projection: str | None = _O["projection"].default,
        inputs: str = _O["inputs"].default,
    ) -> None:
        super().__init__(solver)
        self.projection = _O["projection"].check(projection)
        self.inputs = _O["inputs"].check(inputs)

    def extra_repr(self) -> str:
        return f"solver={self.solver!r}, projection={self.projection!r}, inputs={self.inputs!r}"

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        theta, batch_shape = self._prediction(x, self.inputs)
        flat = theta.reshape(*batch_shape, math.prod(theta.shape[len(batch_shape) :]))
        p = project(flat, self.projection).reshape(theta.shape)
        y = _bridge.solve(self.solver, p[None], side, key=self._solver_key, what="P(θ)")[0]
        return (y + (p - p.detach())).to(theta.dtype)


# -- registration -----------------------------------------------------------------------------
_SAHOO = (
    'Sahoo et al., "Backpropagation through Combinatorial Algorithms: Identity with '
    'Projection Works", ICLR 2023'
)

register_method(
    "identity",
    "layer",
    builder(IdentityLayer),
    description="straight-through: y*(P(θ)), identity backward (negative identity for costs)",
    options=("projection", "inputs"),
    solver_defaults=clamp_negative_costs,
    reference=_SAHOO,
)
