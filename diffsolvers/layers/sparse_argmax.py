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

import torch

from ._closed_form import ClosedFormProjection, register_projection

__all__ = ["SparseArgmax", "sparsemax"]


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


class SparseArgmax(ClosedFormProjection):
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

    PROBLEM = "argmax"
    POLYTOPE = "the simplex"

    @staticmethod
    def project(z: torch.Tensor) -> torch.Tensor:
        return sparsemax(z)


# -- registration -----------------------------------------------------------------------------
_MARTINS = (
    'Martins & Astudillo, "From Softmax to Sparsemax", ICML 2016; Blondel, Martins, Niculae, '
    '"Learning with Fenchel-Young Losses", JMLR 2020'
)


register_projection(
    "sparse_argmax",
    SparseArgmax,
    "sparse argmax: sparsemax(θ/ε), the projection of θ/ε onto the simplex",
    _MARTINS,
)
