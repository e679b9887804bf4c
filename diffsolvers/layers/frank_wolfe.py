r"""The regularised optimizer over any solver's polytope, by Frank-Wolfe, with the gradient by
implicit differentiation on the active atoms.

References: Blondel, Martins, Niculae, "Learning with Fenchel-Young Losses", JMLR 2020
(regularised predictions ``ŷ_Ω``); InferOpt.jl's ``RegularizedFrankWolfe`` and
DifferentiableFrankWolfe.jl (Dalle, Baty, Bouvier, Parmentier, "Learning with Combinatorial
Optimization Layers: a Probabilistic Approach", 2022); Lacoste-Julien & Jaggi, NeurIPS 2015
(pairwise Frank-Wolfe).

**The layer.** For a solver ``y*(θ) = argmax_{y ∈ Y} ⟨θ, y⟩`` and ``Ω(y) = (ε/2)‖y‖²``
(``strength`` ε > 0)::

    ŷ(θ) = argmax_{y ∈ conv(Y)} ⟨θ, y⟩ - (ε/2)‖y‖² = argmin_{y ∈ conv(Y)} ‖y - θ/ε‖²,

the Euclidean projection of ``θ/ε`` onto the polytope ``conv(Y)``, a differentiable and
piecewise affine map that tends to ``y*(θ)`` as ε → 0. On the simplex (argmax) it is the
sparse argmax (:mod:`.sparse_argmax`), on the permutahedron (ranking) the soft ranks
(:mod:`.soft_rank`); the tests check both. Elsewhere there is no closed form, but the
solver is a linear maximisation oracle over ``conv(Y)``, which is all Frank-Wolfe needs:
pairwise Frank-Wolfe (:mod:`solvers.frank_wolfe`, run by :mod:`diffsolvers._frank_wolfe`)
calls the solver once per iteration for the instances still running and returns
``ŷ = Σ_k α_k a_k``, a convex combination of solutions (the atoms) with weights ``α_k > 0``
on the active set ``A``, and a certified bound on ``‖ŷ - ŷ_exact‖₂``. It stops at
``tolerance`` or after ``n_iterations`` (with a warning); a gap at the rounding level of
float64, ``10⁻¹⁴ Σ|d|(|s| + |y|)`` for the direction ``d = θ - εy``, also stops it (with a
warning when that is above ``tolerance``), so the certificate goes down to about
``sqrt(2·10⁻¹⁴ Σ|d|(|s| + |y|)/ε)`` and no further: near 10⁻⁸ for scores of order 1 and a
few dozen entries, more for large scores or many entries.

**Gradient** (implicit differentiation of the optimality conditions on the active atoms).
On the active set, ŷ minimises ``½‖Σ_k α_k a_k - θ/ε‖²`` over the weights; with the weights
positive, the conditions are (λ the multiplier of ``Σ α = 1``)::

    ⟨a_k, ŷ - θ/ε⟩ = λ  for every k ∈ A,      Σ_k α_k = 1,

i.e. ``ŷ - θ/ε`` is orthogonal to ``V = span{a_k - a_r : k ∈ A}`` (``a_r`` any active atom)
and ``ŷ ∈ a_r + V``: ŷ is the projection of ``θ/ε`` onto the affine hull of the active atoms.
Differentiating with the active set held fixed (it does not change under a small move of
θ, away from a set of measure zero)::

    dŷ ∈ V,   dŷ - dθ/ε ⊥ V   ⇒   ∂ŷ/∂θ = P_V / ε,

with ``P_V`` the orthogonal projector onto ``V``, symmetric, so the backward pass maps ``g``
to ``P_V g / ε``. This is the solution of InferOpt's implicit system (the fixed point
``α = sparsemax(α - ∇_α f)`` on the active atoms, differentiated) written in closed form,
and it needs no linear solver: ``P_V = Σ_j b_j b_jᵀ`` for an orthonormal basis ``b_j`` of the
right singular vectors of the matrix of ``a_k - a_r`` (singular values below ``10⁻⁹`` of the
largest count as 0; :func:`solvers.frank_wolfe.active_basis`), which also covers affinely
dependent atoms (where the weights are not unique, but ŷ and ``P_V`` are). It is the exact
Jacobian when ``A`` spans the face of ``conv(Y)`` that contains ``ŷ`` in its relative
interior: always on the simplex, and on the other polytopes as Frank-Wolfe converges
(checked against finite differences and the two closed forms). The map being piecewise
affine, its second derivative (zero) is exact too.

**compile / vmap.** The iterations, with their data-dependent stopping, run inside the
custom operator ``diffsolvers::frank_wolfe`` (fixed output shapes, ``K = n_iterations + 1``
atom slots), the backward's projection inside ``diffsolvers::frank_wolfe_projection``
(differentiable: ``P_V`` is symmetric). ``torch.compile(fullgraph=True)`` and
``torch.func.vmap`` give the eager values.

Example::

    >>> import torch, solvers
    >>> layer = RegularizedFrankWolfe(solvers.get("top_k", k=2), strength=1.0)
    >>> theta = torch.tensor([[1.5, 1.0, -1.0, 0.2]], requires_grad=True)
    >>> y = layer(theta)   # the projection of θ onto {0 <= y <= 1, Σ y = 2}
    >>> y.detach()
    tensor([[1.0000, 0.9000, 0.0000, 0.1000]])
    >>> y[0, 1].backward()
    >>> theta.grad         # ∂ŷ_1/∂θ: entries 1 and 3 share the face's free direction
    tensor([[ 0.0000,  0.5000,  0.0000, -0.5000]])
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from .. import _bridge
from .._core import SolverModule, work_dtype
from .._frank_wolfe import frank_wolfe, frank_wolfe_projection
from .._options import OPTIONS
from ..registry import builder, register_method

__all__ = ["RegularizedFrankWolfe", "FrankWolfeResult", "active_projection"]

_O = OPTIONS


def active_projection(g: torch.Tensor, atoms: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``P_V g``: ``g`` (N, D) projected onto ``V = span{a_k - a_r}`` of the active atoms
    (``weights > 0``) of ``atoms`` (N, K, D), from an orthonormal basis of ``V``
    (:func:`solvers.frank_wolfe.active_basis`); computed in float64, returned in ``g``'s
    dtype.

    Examples:
        >>> atoms = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
        >>> weights = torch.tensor([[0.5, 0.5, 0.0]], dtype=torch.float64)
        >>> active_projection(torch.tensor([[1.0, 0.0, 5.0]]), atoms, weights)
        tensor([[ 0.5000, -0.5000,  0.0000]])
    """
    if g.ndim != 2 or atoms.ndim != 3 or tuple(weights.shape) != tuple(atoms.shape[:2]):
        raise ValueError(
            "active_projection: g (N, D), atoms (N, K, D) and weights (N, K) expected, got "
            f"{tuple(g.shape)}, {tuple(atoms.shape)} and {tuple(weights.shape)}"
        )
    if g.shape != (atoms.shape[0], atoms.shape[2]):
        raise ValueError(
            f"active_projection: g {tuple(g.shape)} does not match atoms {tuple(atoms.shape)}: "
            "g must be (N, D)"
        )
    return frank_wolfe_projection(g, atoms, weights)


class _FrankWolfeFn(torch.autograd.Function):
    """Forward: the Frank-Wolfe operator; backward: ``P_V g / ε`` on the active atoms."""

    generate_vmap_rule = True

    @staticmethod
    def forward(theta, strength, n_iterations, tolerance, key, problem, event_ndim, names, side):
        return frank_wolfe(
            theta,
            list(side),
            ",".join(names),
            key,
            event_ndim,
            float(strength),
            int(n_iterations),
            float(tolerance),
            problem,
        )

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, atoms, weights, bound = output
        ctx.save_for_backward(atoms, weights)
        ctx.strength, ctx.event_ndim = inputs[1], inputs[6]
        ctx.mark_non_differentiable(atoms, weights, bound)

    @staticmethod
    def backward(ctx, grad_y, _grad_atoms, _grad_weights, _grad_bound):
        atoms, weights = ctx.saved_tensors
        cut = grad_y.ndim - ctx.event_ndim
        n, dim = math.prod(grad_y.shape[:cut]), math.prod(grad_y.shape[cut:])
        slots = atoms.shape[0]
        a = atoms.reshape(slots, n, dim).transpose(0, 1)
        w = weights.reshape(slots, n).transpose(0, 1)
        grad = active_projection(grad_y.reshape(n, dim), a, w) / ctx.strength
        return grad.reshape(grad_y.shape), None, None, None, None, None, None, None, None


class FrankWolfeResult(NamedTuple):
    """What :meth:`RegularizedFrankWolfe.run` returns (no gradient): ``y`` the regularised
    solution ``(*batch, *instance)``; ``atoms`` ``(K, *batch, *instance)`` and ``weights``
    ``(K, *batch)`` (float64; 0 for unused or dropped slots) with ``y = Σ_k weights_k
    atoms_k``, a probability distribution over solutions; ``bound`` ``(*batch)``, the
    certified ``‖y - ŷ_exact‖₂``.

    >>> import torch, solvers
    >>> r = RegularizedFrankWolfe(solvers.get("argmax")).run(torch.tensor([1.0, 0.5, -1.0]))
    >>> r.weights[r.weights > 0].tolist()
    [0.75, 0.25]
    """

    y: torch.Tensor
    atoms: torch.Tensor
    weights: torch.Tensor
    bound: torch.Tensor


class RegularizedFrankWolfe(SolverModule):
    """``θ ↦ argmax_{y ∈ conv(Y)} ⟨θ, y⟩ - (ε/2)‖y‖²`` by pairwise Frank-Wolfe over the
    solver, differentiable (see the module docstring).

    Args:
        solver: a :class:`solvers.Solver`, or any solver or function
            :func:`~diffsolvers.oracle.as_solver` accepts: the linear maximisation oracle.
            It must be exact (Frank-Wolfe's gap certificate assumes it); shortest-path
            solvers must not clamp negative costs (the oracle's directions ``θ - εy`` keep
            costs positive when θ does).
        strength: the regularisation strength ε > 0.
        n_iterations: the most Frank-Wolfe steps (one batched solver call each, plus two).
        tolerance: stop an instance once ``‖y - ŷ‖₂ <= tolerance`` is certified.
        inputs: ``"scores"`` (the input is θ) or ``"costs"`` (the input is ĉ, θ = -ĉ).

    ``forward(x, **side)`` takes ``x`` of shape ``(*batch, *instance)`` and the solver's side
    data (shared or per instance, as ``solver.solve`` takes it) and returns ``ŷ`` with
    ``x``'s shape, dtype and device.

    Examples:
        >>> import torch, solvers
        >>> layer = RegularizedFrankWolfe(solvers.get("ranking"), strength=0.1)
        >>> layer(torch.tensor([0.3, 0.25, 0.1]))   # the soft ranks
        tensor([2.7500, 2.2500, 1.0000])
    """

    def __init__(
        self,
        solver: Any,
        strength: float = _O["strength"].default,
        n_iterations: int = _O["n_iterations"].default,
        tolerance: float = _O["tolerance"].default,
        inputs: str = _O["inputs"].default,
    ) -> None:
        super().__init__(solver)
        self.strength = _O["strength"].check(strength)
        self.n_iterations = _O["n_iterations"].check(n_iterations)
        self.tolerance = _O["tolerance"].check(tolerance)
        self.inputs = _O["inputs"].check(inputs)

    def extra_repr(self) -> str:
        return (
            f"solver={self.solver!r}, strength={self.strength}, n_iterations="
            f"{self.n_iterations}, tolerance={self.tolerance}, inputs={self.inputs!r}"
        )

    def _apply(self, x: torch.Tensor, side: dict[str, Any]) -> tuple[torch.Tensor, ...]:
        theta, _ = self._prediction(x, self.inputs)
        work = theta.to(work_dtype(theta.dtype))
        out = _FrankWolfeFn.apply(
            work,
            self.strength,
            self.n_iterations,
            self.tolerance,
            self._solver_key,
            self.problem,
            self.solver.event_ndim,
            tuple(side),
            tuple(_bridge.side_tensors(side)),
        )
        return theta.dtype, *out

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        dtype, y, *_ = self._apply(x, side)
        return y.to(dtype)

    def run(self, x: torch.Tensor, **side: Any) -> FrankWolfeResult:
        """The regularised solution with its atoms, weights and certified bound, without
        gradient (:class:`FrankWolfeResult`)."""
        with torch.no_grad():
            dtype, y, atoms, weights, bound = self._apply(x, side)
        return FrankWolfeResult(y.to(dtype), atoms.to(dtype), weights, bound.to(dtype))


# -- registration -----------------------------------------------------------------------------
_REFERENCE = (
    'Blondel, Martins, Niculae, "Learning with Fenchel-Young Losses", JMLR 2020; '
    "InferOpt.jl's RegularizedFrankWolfe"
)


register_method(
    "frank_wolfe",
    "layer",
    builder(RegularizedFrankWolfe),
    description="regularised optimizer argmax over conv(Y) of ⟨θ, y⟩ - (ε/2)‖y‖², Frank-Wolfe",
    options=("strength", "n_iterations", "tolerance", "inputs"),
    reference=_REFERENCE,
)
