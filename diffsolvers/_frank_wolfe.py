r"""Pairwise Frank-Wolfe over a solver inside the custom operators
``diffsolvers::frank_wolfe`` (the forward) and ``diffsolvers::frank_wolfe_projection`` (the
Jacobian's projector).

For scores ``θ`` ``(*batch, *instance)``, a strength ``ε > 0`` and a solver
``y*(θ) = argmax_{y ∈ Y} ⟨θ, y⟩``, :func:`frank_wolfe` returns::

    ŷ = argmax_{y ∈ conv(Y)} ⟨θ, y⟩ - (ε/2)‖y‖²,      ŷ = Σ_k α_k a_k  (atoms a_k ∈ Y),

with a certified bound on ``‖ŷ - ŷ_exact‖₂``, by pairwise Frank-Wolfe
(:func:`solvers.frank_wolfe.pairwise_frank_wolfe`: the iterations, their stopping rules and
the active set's arithmetic). The solver is its oracle, called once per iteration for the
instances still running, with their rows of side data; a ``RuntimeWarning`` names the
instances that reached ``n_iterations`` above ``tolerance``.
:func:`frank_wolfe_projection` applies the projector ``P_V`` onto ``V = span{a_k - a_r :
α_k > 0}`` (from the basis of :func:`solvers.frank_wolfe.active_basis`), ``∂ŷ/∂θ = P_V/ε``.

**Inside operators.** The loop, with its data-dependent stopping and active sets, runs on
float64 arrays on the CPU (the solver gets float64 directions on θ's device); to ``torch.compile``
each operator is one opaque step of fixed output shapes (``K = n_iterations + 1`` atom
slots), and ``torch.func.vmap`` turns the vmapped axis into one more batch axis (still one
solver call per iteration).

Example::

    >>> import torch, solvers
    >>> from diffsolvers import _handles
    >>> argmax = solvers.get("argmax")
    >>> y, atoms, weights, bound = frank_wolfe(
    ...     torch.tensor([[1.0, 0.5, -1.0]], dtype=torch.float64), [], "",
    ...     _handles.key(argmax), 1, 1.0, 50, 1e-9, "argmax")
    >>> y   # sparsemax((1, 0.5, -1))
    tensor([[0.7500, 0.2500, 0.0000]], dtype=torch.float64)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from solvers.frank_wolfe import active_basis, pairwise_frank_wolfe

from . import _bridge, _handles

__all__ = ["frank_wolfe", "frank_wolfe_projection"]

_NUMPY_FLOATS = {torch.float32: np.float32, torch.float64: np.float64}


class _Oracle:
    """The solver as Frank-Wolfe's oracle: directions ``d`` (n, D) (float64 arrays) of the
    instances ``rows``, solved in float64 on ``like``'s device with those instances' side
    arrays; the solutions come back as float64 arrays. The directions stay in float64
    whatever θ's dtype: a solution for ``d`` rounded to float32 can miss the true gap
    ``max_s ⟨d, s - y⟩`` and make the certified bound too small."""

    def __init__(self, solver: Any, side: dict[str, Any], event_shape, like: torch.Tensor):
        self.solver, self.side, self.event_shape, self.like = solver, side, event_shape, like

    def __call__(self, d: np.ndarray, rows: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(d).to(device=self.like.device)
        side = _bridge.side_rows(self.side, rows)
        y = _bridge.solve_rows(self.solver, t.reshape((-1, *self.event_shape)), side)
        return _bridge.to_numpy(y).reshape(d.shape).astype(np.float64, copy=False)


@torch.library.custom_op("diffsolvers::frank_wolfe", mutates_args=())
def frank_wolfe(
    theta: torch.Tensor,
    side: list[torch.Tensor],
    side_names: str,
    solver: int,
    event_ndim: int,
    strength: float,
    n_iterations: int,
    tolerance: float,
    problem: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(ŷ, atoms, weights, bound)`` for scores ``θ`` ``(*batch, *instance)`` (checked, in
    the working dtype, no gradient) and the solver with handle ``solver`` (``event_ndim``
    instance axes). ``atoms`` ``(K, *batch, *instance)`` and ``weights`` ``(K, *batch)``
    (float64, 0 for unused or dropped slots; ``K = n_iterations + 1``) give ``ŷ = Σ_k
    weights_k atoms_k``; ``bound`` ``(*batch)`` certifies ``‖ŷ - ŷ_exact‖₂ <= bound``.
    ``side``: the solver's side data (values, names joined by commas), relative to the
    batch axes, as for :func:`diffsolvers._bridge.solve`."""
    sol = _handles.get(solver)
    cut = theta.ndim - event_ndim
    batch_shape, event_shape = tuple(theta.shape[:cut]), tuple(theta.shape[cut:])
    n, dim = math.prod(batch_shape), math.prod(event_shape)
    named = dict(zip(_bridge.side_names_of(side_names), side))
    oracle = _Oracle(
        sol, _bridge.flat_side(sol, named, batch_shape, event_shape), event_shape, theta
    )
    rows = _bridge.to_numpy(theta).reshape(n, dim).astype(np.float64)
    run = pairwise_frank_wolfe(rows, oracle, strength, n_iterations, tolerance)
    if run.exhausted.any():
        warnings.warn(
            f"{problem}: Frank-Wolfe reached n_iterations={n_iterations} with "
            f"{int(run.exhausted.sum())} of {n} instance(s) certified only to ‖y - ŷ‖₂ <= "
            f"{float(run.bound[run.exhausted].max()):.3g} > tolerance={tolerance:g}; raise "
            "n_iterations (or the tolerance, or the strength)",
            RuntimeWarning,
            stacklevel=2,
        )
    if run.floored.any():
        warnings.warn(
            f"{problem}: Frank-Wolfe stopped {int(run.floored.sum())} of {n} instance(s) at "
            f"the rounding floor of float64, certified only to ‖y - ŷ‖₂ <= "
            f"{float(run.bound[run.floored].max()):.3g} > tolerance={tolerance:g}; more "
            "iterations cannot help: raise the tolerance (or the strength, or scale θ down)",
            RuntimeWarning,
            stacklevel=2,
        )
    slots = n_iterations + 1
    atoms = run.atoms.transpose(1, 0, 2)  # (K, N, D)
    if theta.dtype in _NUMPY_FLOATS:  # NumPy converts on one thread
        atoms = atoms.astype(_NUMPY_FLOATS[theta.dtype], order="C")
    return (  # contiguous, the strides the fake kernel declares
        _bridge.from_numpy(run.y, like=theta).reshape(theta.shape),
        _bridge.from_numpy(atoms, like=theta).reshape((slots, *theta.shape)),
        torch.from_numpy(run.weights.T.copy()).to(theta.device).reshape((slots, *batch_shape)),
        _bridge.from_numpy(run.bound, like=theta).reshape(batch_shape),
    )


@frank_wolfe.register_fake
def _(theta, side, side_names, solver, event_ndim, strength, n_iterations, tolerance, problem):
    batch_shape = theta.shape[: theta.ndim - event_ndim]
    slots = n_iterations + 1
    return (  # contiguous, as the real outputs are (inductor relies on the strides)
        theta.new_empty(theta.shape),
        theta.new_empty((slots, *theta.shape)),
        theta.new_empty((slots, *batch_shape), dtype=torch.float64),
        theta.new_empty(batch_shape),
    )


def _frank_wolfe_vmap(info, in_dims, theta, side, side_names, solver, event_ndim, *rest):
    """The vmapped axis becomes the first batch axis of θ; side data is brought to
    per-instance form slice by slice (:func:`diffsolvers._bridge.vmapped_operands`)."""
    theta_b, side_b = _bridge.vmapped_operands(
        theta, in_dims[0], side, side_names, in_dims[1], solver, event_ndim, info.batch_size
    )
    out = frank_wolfe(theta_b, side_b, side_names, solver, event_ndim, *rest)
    return out, (0, 1, 1, 0)


frank_wolfe.register_vmap(_frank_wolfe_vmap)


@torch.library.custom_op("diffsolvers::frank_wolfe_projection", mutates_args=())
def frank_wolfe_projection(
    g: torch.Tensor, atoms: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """``P_V g`` for ``g`` ``(N, D)``: the projection onto ``V = span{a_k - a_r : α_k > 0}``
    of the active atoms (``weights > 0``, ``(N, K)``) of ``atoms`` ``(N, K, D)``, instance
    by instance, through the orthonormal basis of :func:`solvers.frank_wolfe.active_basis`;
    in float64, returned in ``g``'s dtype. ``P_V`` is symmetric, so the gradient in ``g`` is
    the projection of the incoming gradient."""
    active = (weights > 0).any(0).nonzero()
    if not len(active):
        return g.new_zeros(g.shape)
    width = int(active.max()) + 1  # the slots after the last active one are left out
    basis = active_basis(_bridge.to_numpy(atoms[:, :width]), _bridge.to_numpy(weights[:, :width]))
    coeff = np.einsum("nkd,nd->nk", basis, _bridge.to_numpy(g).astype(np.float64))
    return _bridge.from_numpy(np.einsum("nkd,nk->nd", basis, coeff), like=g)


@frank_wolfe_projection.register_fake
def _(g, atoms, weights):
    return g.new_empty(g.shape)


def _projection_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[1], inputs[2])


def _projection_backward(ctx, grad):
    atoms, weights = ctx.saved_tensors
    return frank_wolfe_projection(grad, atoms, weights), None, None


frank_wolfe_projection.register_autograd(_projection_backward, setup_context=_projection_setup)


def _frank_wolfe_projection_vmap(info, in_dims, g, atoms, weights):
    """The vmapped axis joins the instance axis (one call)."""
    size = info.batch_size
    flat = [
        _bridge.vmapped_at(t, dim, size).flatten(0, 1)
        for t, dim in zip((g, atoms, weights), in_dims)
    ]
    return frank_wolfe_projection(*flat).unflatten(0, (size, -1)), 0


frank_wolfe_projection.register_vmap(_frank_wolfe_projection_vmap)
