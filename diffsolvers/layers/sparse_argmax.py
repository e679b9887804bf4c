r"""The sparse argmax (sparsemax): the regularised argmax with a closed form.

References: Martins & Astudillo, "From Softmax to Sparsemax: A Sparse Model of Attention
and Multi-Label Classification", ICML 2016; Blondel, Martins, Niculae, "Learning with
Fenchel-Young Losses", JMLR 2020 (the regularised prediction ``ŷ_Ω``); InferOpt.jl's
``SparseArgmax``.

**The layer.** The argmax problem maximises ``⟨θ, y⟩`` over the vertices of the simplex
``Δ = {y >= 0, Σ y = 1}``; with the quadratic regulariser ``Ω(y) = (ε/2)‖y‖²`` (``strength``
ε > 0)::

    ŷ(θ) = argmax_{y ∈ Δ} ⟨θ, y⟩ - (ε/2)‖y‖² = argmin_{y ∈ Δ} ‖y - θ/ε‖² = sparsemax(θ/ε),

the Euclidean projection of ``z = θ/ε`` onto the simplex. As ε → 0 it tends to the argmax
``y*(θ)`` (ties apart); unlike the softmax it is exactly sparse.

**Closed form.** Sort ``z_(1) >= ... >= z_(n)``, let ``k = max{j : 1 + j·z_(j) > Σ_{i<=j} z_(i)}``
and ``τ = (Σ_{i<=k} z_(i) - 1)/k``; then ``ŷ = [z - τ]₊`` and its support ``S = {i : z_i > τ}``
holds exactly the ``k`` largest entries.

**Jacobian.** Where the support does not change (everywhere but on a set of measure
zero), with ``s`` the 0/1 indicator of ``S``::

    ∂ŷ/∂θ = (diag(s) - s sᵀ/|S|) / ε,

symmetric, so the backward pass maps ``g`` to ``s ⊙ (g - ⟨s, g⟩/|S|) / ε``. The layer
computes ``ŷ = s ⊙ (z - τ(z))`` with ``τ(z) = (⟨s, z⟩ - 1)/|S|`` and ``s`` held constant, so
autograd gives exactly this Jacobian (and the exact second derivative, zero: the map is
piecewise affine); ``torch.compile`` and ``torch.func`` see plain tensor operations.

The solver is used for its problem's name and shape checks only: the projection needs no
solver call.

Example::

    >>> import torch
    >>> layer = SparseArgmax(strength=1.0)
    >>> theta = torch.tensor([1.0, 0.5, -1.0], requires_grad=True)
    >>> y = layer(theta)
    >>> y.detach()
    tensor([0.7500, 0.2500, 0.0000])
    >>> y[0].backward()
    >>> theta.grad
    tensor([ 0.5000, -0.5000,  0.0000])
"""

from __future__ import annotations

from typing import Any

import torch

import solvers

from .._core import SolverModule, work_dtype
from .._options import OPTIONS
from ..registry import register_method

__all__ = ["SparseArgmax", "sparsemax"]

_O = OPTIONS


def sparsemax(z: torch.Tensor) -> torch.Tensor:
    """The Euclidean projection of each row of ``z`` (last axis) onto the simplex, with
    its exact Jacobian ``diag(s) - s sᵀ/|S|`` under autograd (see the module docstring).

    Examples:
        >>> sparsemax(torch.tensor([[0.1, 1.2, 0.4], [0.0, 0.0, 0.0]]))
        tensor([[0.0000, 0.9000, 0.1000],
                [0.3333, 0.3333, 0.3333]])
    """
    n = z.shape[-1]
    with torch.no_grad():
        ordered = torch.sort(z, dim=-1, descending=True).values
        j = torch.arange(1, n + 1, dtype=z.dtype, device=z.device)
        cumulative = ordered.cumsum(-1)
        k = (1 + j * ordered > cumulative).sum(-1, keepdim=True)  # >= 1: j = 1 always holds
        tau = (cumulative.gather(-1, k - 1) - 1) / k.to(z.dtype)
        support = z > tau
        inside = support.to(z.dtype)
    tau = ((inside * z).sum(-1, keepdim=True) - 1) / inside.sum(-1, keepdim=True)
    return torch.where(support, z - tau, torch.zeros_like(z))


def require_problem(module: SolverModule, problem: str, owner: str, polytope: str) -> None:
    """``ValueError`` unless the module's solver solves ``problem`` (a closed-form layer
    projects onto that problem's ``polytope`` and never calls the solver)."""
    if module.problem != problem:
        raise ValueError(
            f"{owner} is the projection onto {polytope}, the polytope of {problem!r}; the "
            f"given solver solves {module.problem!r} (use RegularizedFrankWolfe, registry "
            f"name 'frank_wolfe', for other polytopes)"
        )


def refuse_side(side: dict[str, Any], problem: str) -> None:
    """``TypeError`` if side data is given to a problem that takes none."""
    if side:
        raise TypeError(f"{problem}: takes no side data, got {sorted(side)}")


class SparseArgmax(SolverModule):
    """``θ ↦ sparsemax(θ/ε)``, the argmax regularised by ``(ε/2)‖y‖²`` (module docstring).

    Args:
        solver: an argmax solver (``solvers.get("argmax")``, the default); only its
            problem name and checks are used.
        strength: the regularisation strength ε > 0.
        inputs: ``"scores"`` (the input is θ) or ``"costs"`` (the input is ĉ, θ = -ĉ).

    ``forward(x)``: ``x`` of shape ``(*batch, n)``, any float dtype and device; returns
    ``ŷ`` with the same shape, dtype and device (float16 / bfloat16 computed in float32).

    Examples:
        >>> import torch
        >>> SparseArgmax(strength=0.1)(torch.tensor([[2.0, 1.0, 0.0]]))
        tensor([[1., 0., 0.]])
    """

    def __init__(
        self,
        solver: Any = None,
        strength: float = _O["strength"].default,
        inputs: str = _O["inputs"].default,
    ) -> None:
        super().__init__(solvers.get("argmax") if solver is None else solver)
        require_problem(self, "argmax", "SparseArgmax", "the simplex")
        self.strength = _O["strength"].check(strength)
        self.inputs = _O["inputs"].check(inputs)

    def extra_repr(self) -> str:
        return f"strength={self.strength}, inputs={self.inputs!r}"

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        refuse_side(side, self.problem)
        theta, _ = self._prediction(x, self.inputs)
        work = theta.to(work_dtype(theta.dtype))
        return sparsemax(work / self.strength).to(theta.dtype)


# -- registration -----------------------------------------------------------------------------
_MARTINS = (
    'Martins & Astudillo, "From Softmax to Sparsemax", ICML 2016; Blondel, Martins, Niculae, '
    '"Learning with Fenchel-Young Losses", JMLR 2020'
)


def _only_argmax(problem: str) -> str | None:
    if problem == "argmax":
        return None
    return (
        "the sparse argmax is the projection onto the simplex, the polytope of 'argmax' only; "
        "'frank_wolfe' regularises any other problem's polytope"
    )


def _build(solver: Any, problem: str, **options: Any) -> SparseArgmax:
    return SparseArgmax(solver, **options)


register_method(
    "sparse_argmax",
    "layer",
    _build,
    description="sparse argmax: sparsemax(θ/ε), the projection of θ/ε onto the simplex",
    options=("strength", "inputs"),
    not_meaningful=_only_argmax,
    reference=_MARTINS,
)
