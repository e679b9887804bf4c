r"""Soft ranks: the ranking regularised by ``(ε/2)‖y‖²``, the projection onto the
permutahedron, with its exact Jacobian.

References: Blondel, Teboul, Berthet, Djolonga, "Fast Differentiable Sorting and Ranking",
ICML 2020; Blondel, Martins, Niculae, "Learning with Fenchel-Young Losses", JMLR 2020;
InferOpt.jl's ``SoftRank``.

**The layer.** The ranking problem (:class:`solvers.ranking.RankingSolver`) maximises
``⟨θ, y⟩`` over the permutations of ``ρ = (n, n-1, ..., 1)``, whose convex hull is the
permutahedron ``P(ρ)``; the largest ``θ_i`` gets rank ``n``. With ``Ω(y) = (ε/2)‖y‖²``
(``strength`` ε > 0)::

    ŷ(θ) = argmax_{y ∈ P(ρ)} ⟨θ, y⟩ - (ε/2)‖y‖² = argmin_{y ∈ P(ρ)} ‖y - z‖²,   z = θ/ε,

the Euclidean projection of ``z`` onto the permutahedron: the soft ranks (Blondel et al.'s
``r_{εQ}``, with our convention of rank ``n`` for the largest score). As ε → 0 they tend to
the ranks ``y*(θ)``; as ε → ∞ to the mean rank ``(n+1)/2``.

**Closed form** (Blondel et al., Prop. 3). Let ``σ`` sort ``z`` decreasingly, ``s = z_σ``,
and ``v`` the decreasing isotonic regression of ``s - ρ`` (:mod:`solvers.isotonic`, pool
adjacent violators, O(n) after the O(n log n) sort)::

    v = argmin_{v_1 >= ... >= v_n} ‖v - (s - ρ)‖²,       ŷ_σ = s - v.

**Jacobian.** ``v`` is piecewise constant on blocks ``B`` of consecutive sorted entries,
each the mean of ``s - ρ`` over it, so ``∂v/∂s`` is block diagonal with blocks
``(1/|B|) 1 1ᵀ`` and::

    ∂ŷ/∂θ = Π_σᵀ (I - blockdiag(1 1ᵀ/|B|)) Π_σ / ε,

symmetric: the backward pass subtracts from the sorted ``g`` its mean over each block.
Autograd chains the sort and its inverse; the isotonic regression is an autograd function
whose backward is the block average (a linear map of ``g``, so the second derivative,
zero where the blocks do not change, is exact too).

**Devices.** The sort runs where θ is; the regression runs on the CPU inside the custom
operator ``diffsolvers::isotonic`` (one batched call), so ``torch.compile(fullgraph=True)``
and ``torch.func.vmap`` go through it.

Example::

    >>> import torch
    >>> layer = SoftRank(strength=1.0)
    >>> layer(torch.tensor([3.0, 1.0, 2.0]))      # far apart: the hard ranks
    tensor([3., 1., 2.])
    >>> layer(torch.tensor([0.1, 0.0, 0.2]))      # close: pulled to the mean rank 2
    tensor([2.0000, 1.9000, 2.1000])
"""

from __future__ import annotations

import torch

from .. import _bridge
from ._closed_form import ClosedFormProjection, register_projection

__all__ = ["SoftRank", "soft_rank"]


def _block_mean(g: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
    """Each entry of ``g`` replaced by the mean of ``g`` over its block (last axis)."""
    sums = torch.zeros_like(g).scatter_add(-1, block, g)
    counts = torch.zeros_like(g).scatter_add(-1, block, torch.ones_like(g))
    return (sums / counts.clamp_min(1)).gather(-1, block)


class _IsotonicFn(torch.autograd.Function):
    """``v(u)``, the decreasing isotonic regression; backward: the block average."""

    generate_vmap_rule = True

    @staticmethod
    def forward(u):
        return _bridge.isotonic(u)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output[1])
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def backward(ctx, grad_v, _grad_block):
        (block,) = ctx.saved_tensors
        return _block_mean(grad_v, block)


def soft_rank(z: torch.Tensor) -> torch.Tensor:
    """The projection of each row of ``z`` (last axis) onto the permutahedron of
    ``(n, ..., 1)``, differentiable with its exact Jacobian (module docstring).

    Examples:
        >>> soft_rank(torch.tensor([[0.0, 0.0, 0.0], [10.0, 0.0, 5.0]]))
        tensor([[2., 2., 2.],
                [3., 1., 2.]])
    """
    n = z.shape[-1]
    ordered, order = torch.sort(z, dim=-1, descending=True, stable=True)
    ranks = torch.arange(n, 0, -1, dtype=z.dtype, device=z.device)
    v, _ = _IsotonicFn.apply(ordered - ranks)
    return torch.empty_like(z).scatter(-1, order, ordered - v)


class SoftRank(ClosedFormProjection):
    """``θ ↦`` the soft ranks ``argmax_{y ∈ P(ρ)} ⟨θ, y⟩ - (ε/2)‖y‖²`` (module docstring).

    Args:
        solver: a ranking solver (``solvers.get("ranking")``, the default); only its
            problem name and checks are used.
        strength: the regularisation strength ε > 0.
        inputs: ``"scores"`` (the input is θ) or ``"costs"`` (the input is ĉ, θ = -ĉ).

    ``forward(x)``: ``x`` of shape ``(*batch, n)``; returns soft ranks in ``[1, n]`` with
    ``x``'s shape, dtype and device (float16 / bfloat16 computed in float32).

    Examples:
        >>> import torch
        >>> theta = torch.tensor([[0.3, 0.25, 0.1]], requires_grad=True)
        >>> y = SoftRank(strength=0.1)(theta)
        >>> y.detach()
        tensor([[2.7500, 2.2500, 1.0000]])
        >>> y[0, 0].backward()
        >>> theta.grad   # entries 0 and 1 share a block: (I - ½·1 1ᵀ)/ε on it
        tensor([[ 5., -5.,  0.]])
    """

    PROBLEM = "ranking"
    POLYTOPE = "the permutahedron"

    @staticmethod
    def project(z: torch.Tensor) -> torch.Tensor:
        return soft_rank(z)


# -- registration -----------------------------------------------------------------------------
_BLONDEL = (
    'Blondel, Teboul, Berthet, Djolonga, "Fast Differentiable Sorting and Ranking", ICML 2020'
)


register_projection(
    "soft_rank",
    SoftRank,
    "soft ranks: the projection of θ/ε onto the permutahedron (isotonic regression)",
    _BLONDEL,
)
