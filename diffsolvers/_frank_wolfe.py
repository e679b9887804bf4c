r"""Pairwise Frank-Wolfe over a solver, batched, inside the custom operator
``diffsolvers::frank_wolfe``.

For scores ``θ`` (one row per instance), a strength ``ε > 0`` and a solver
``y*(θ) = argmax_{y ∈ Y} ⟨θ, y⟩`` (the linear maximisation oracle), it solves::

    ŷ = argmax_{y ∈ conv(Y)} ⟨θ, y⟩ - (ε/2)‖y‖²  =  argmin_{y ∈ conv(Y)} f(y),
    f(y) = (ε/2)‖y‖² - ⟨θ, y⟩,      -∇f(y) = θ - εy,

i.e. the Euclidean projection of ``θ/ε`` onto ``conv(Y)``, and returns ``ŷ`` as a convex
combination ``Σ_k α_k a_k`` of solutions ``a_k ∈ Y`` (the atoms).

**Iterations** (Lacoste-Julien & Jaggi, "On the Global Linear Convergence of Frank-Wolfe
Optimization Variants", NeurIPS 2015, pairwise variant). Start at ``y = a_0 = y*(θ)``; then,
with ``d = θ - εy``:

* the oracle gives ``s = y*(d)``, one solver call for every instance still running;
* the Frank-Wolfe gap ``g = ⟨d, s - y⟩ >= f(y) - f(ŷ) >= (ε/2)‖y - ŷ‖²`` (f is ε-strongly
  convex) certifies ``‖y - ŷ‖₂ <= sqrt(2g/ε)``; an instance stops once that bound is at
  most ``tolerance``;
* otherwise the worst active atom ``v = argmin_{α_k > 0} ⟨d, a_k⟩`` gives its weight to
  ``s`` along ``p = s - v``: exact line search on the quadratic,
  ``γ = min(⟨d, p⟩ / (ε‖p‖²), α_v)``; when ``γ = α_v`` the atom ``v`` leaves the active set
  (its weight is set to exactly 0).

Pairwise steps converge linearly on polytopes, where plain Frank-Wolfe zig-zags.
``n_iterations`` bounds the steps; the bound is evaluated once more after the last step,
so ``bound`` always certifies the returned ``y``, and a ``RuntimeWarning`` names the
instances that stopped above ``tolerance``. Each instance's iterations depend on its own
data only (converged instances are frozen and leave the solver calls).

**Inside an operator.** The loop and its data-dependent stopping run inside the custom
operator, on real tensors, with the solver reached through its handle: to
``torch.compile`` the whole solve is one opaque step of fixed output shapes (``K =
n_iterations + 1`` atom slots), and ``torch.func.vmap`` turns the vmapped axis into one
more batch axis (still one solver call per iteration).

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

import torch

from . import _bridge, _handles

__all__ = ["frank_wolfe"]

#: Local pairwise steps (between active atoms, no solver call) after each oracle step.
_LOCAL_STEPS = 10
#: A gap below this multiple of Σ|d|(|s| + |y|) is rounding noise (float64's ε is 2.2e-16).
_ROUNDING = 1e-14


def _rows(side: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
    """The per-instance side arrays of the instances ``index``."""
    if not side:
        return {}
    picked = index.cpu().numpy()
    return {
        k: (v[index.to(v.device)] if isinstance(v, torch.Tensor) else v[picked])
        for k, v in side.items()
    }


def _oracle(solver: Any, d: torch.Tensor, side: dict[str, Any], event_shape, like) -> torch.Tensor:
    """``y*(d)`` of the rows ``d`` (n, D), as float64 rows."""
    rows = d.to(like.dtype).reshape((-1, *event_shape))
    return _bridge.solve_rows(solver, rows, side).reshape(d.shape).to(torch.float64)


def _pairwise(
    a: torch.Tensor,
    w: torch.Tensor,
    d: torch.Tensor,
    towards: torch.Tensor,
    away: torch.Tensor,
    strength: float,
    go: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One pairwise step on each row where ``go``: weight moves from slot ``away`` to slot
    ``towards`` of the atoms ``a`` (n, K, D) along ``p = a_towards - a_away``, by the exact
    line search ``γ = ⟨d, p⟩ / (ε‖p‖²)`` capped at the away weight (then set to exactly 0).
    Returns the new weights and ``γ``."""
    dim = a.shape[-1]
    pick = lambda slot: a.gather(1, slot[:, None, None].expand(-1, 1, dim)).squeeze(1)  # noqa: E731
    p = pick(towards) - pick(away)
    norm2 = (p * p).sum(-1)
    room = w.gather(1, away[:, None]).squeeze(1)
    gamma = ((d * p).sum(-1) / (strength * norm2).clamp_min(1e-300)).clamp_min(0)
    gamma = torch.where(go & (norm2 > 0), gamma, 0.0)
    full = (gamma >= room) & (gamma > 0)
    gamma = torch.minimum(gamma, room)
    left = torch.where(full, 0.0, room - gamma)  # a drop step empties the away atom exactly
    w = w.scatter(1, away[:, None], left[:, None]).scatter_add(1, towards[:, None], gamma[:, None])
    return w, gamma


def _extreme(scores: torch.Tensor, active: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(best, worst) active slot of each row by ``scores = ⟨d, a_k⟩``."""
    best = scores.masked_fill(~active, -math.inf).argmax(-1)
    worst = scores.masked_fill(~active, math.inf).argmin(-1)
    return best, worst


def _run(
    solver: Any,
    theta: torch.Tensor,
    side: dict[str, Any],
    event_shape: tuple[int, ...],
    strength: float,
    n_iterations: int,
    tolerance: float,
) -> tuple[torch.Tensor, ...]:
    """Frank-Wolfe on the rows of ``theta`` (N, D): (y, atoms (N, K, D), weights (N, K),
    bound (N,)), all float64, and which rows stopped at ``n_iterations`` above the
    tolerance."""
    n, dim = theta.shape
    slots = n_iterations + 1
    t64 = theta.to(torch.float64)
    atoms = t64.new_zeros((n, slots, dim))
    weights = t64.new_zeros((n, slots))
    bound = t64.new_full((n,), math.inf)
    if n == 0:
        return t64.clone(), atoms, weights, bound, bound > 0
    atoms[:, 0] = _oracle(solver, t64, side, event_shape, theta)
    weights[:, 0] = 1.0
    used = torch.ones(n, dtype=torch.int64, device=theta.device)
    y = atoms[:, 0].clone()
    running = torch.arange(n, device=theta.device)
    exhausted = torch.zeros(n, dtype=torch.bool, device=theta.device)
    threshold = strength * tolerance**2 / 2
    for step in range(n_iterations + 1):
        d = t64[running] - strength * y[running]
        s = _oracle(solver, d, _rows(side, running), event_shape, theta)
        gap = ((s - y[running]) * d).sum(-1).clamp_min(0)
        bound[running] = torch.sqrt(2 * gap / strength)
        # below the rounding error of ⟨d, s - y⟩ the gap certifies nothing more
        noise = _ROUNDING * (d.abs() * (s.abs() + y[running].abs())).sum(-1)
        moving = (gap > threshold) & (gap > noise)
        if step == n_iterations:
            exhausted[running[moving]] = True
        if step == n_iterations or not bool(moving.any()):
            break
        running, d, s, gap = running[moving], d[moving], s[moving], gap[moving]
        width = int(used[running].max()) + 1  # the slots in use and a free one
        a, w = atoms[running, :width], weights[running, :width]
        # s joins the atom it equals, or the next free slot
        known_slots = torch.arange(width, device=theta.device) < used[running, None]
        same = (a == s[:, None, :]).all(-1) & known_slots
        known = same.any(-1)
        slot = torch.where(known, same.to(torch.int64).argmax(-1), used[running])
        a = a.scatter(1, slot[:, None, None].expand(-1, 1, dim), s[:, None, :])
        used[running] += (~known).to(torch.int64)
        # the global step: from the worst active atom to the oracle's s
        _, worst = _extreme((a * d[:, None, :]).sum(-1), w > 0)
        w, _ = _pairwise(a, w, d, slot, worst, strength, torch.ones_like(known))
        # local steps: from the worst to the best active atom, no solver call
        t_rows = t64[running]
        for _ in range(_LOCAL_STEPS):
            d = t_rows - strength * (w[..., None] * a).sum(1)
            scores = (a * d[:, None, :]).sum(-1)
            best, worst = _extreme(scores, w > 0)
            local_gap = scores.gather(1, best[:, None]) - scores.gather(1, worst[:, None])
            go = local_gap.squeeze(1) > threshold
            if not bool(go.any()):
                break
            w, _ = _pairwise(a, w, d, best, worst, strength, go)
        atoms[running, :width] = a
        weights[running, :width] = w
        y[running] = (w[..., None] * a).sum(1)
    return y, atoms, weights, bound, exhausted


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
    per_instance = _bridge.flat_side(sol, named, batch_shape, event_shape)
    y, atoms, weights, bound, late = _run(
        sol, theta.reshape(n, dim), per_instance, event_shape, strength, n_iterations, tolerance
    )
    if bool(late.any()):
        warnings.warn(
            f"{problem}: Frank-Wolfe reached n_iterations={n_iterations} with {int(late.sum())}"
            f" of {n} instance(s) certified only to ‖y - ŷ‖₂ <= {float(bound[late].max()):.3g}"
            f" > tolerance={tolerance:g}; raise n_iterations (or the tolerance, or the "
            "strength)",
            RuntimeWarning,
            stacklevel=2,
        )
    outputs = (
        y.to(theta.dtype).reshape(theta.shape),
        atoms.transpose(0, 1).to(theta.dtype).reshape((n_iterations + 1, *theta.shape)),
        weights.transpose(0, 1).reshape((n_iterations + 1, *batch_shape)),
        bound.to(theta.dtype).reshape(batch_shape),
    )
    # the strides of the fake kernel's outputs (contiguous), which inductor relies on
    return tuple(t.contiguous() for t in outputs)


@frank_wolfe.register_fake
def _(theta, side, side_names, solver, event_ndim, strength, n_iterations, tolerance, problem):
    batch_shape = theta.shape[: theta.ndim - event_ndim]
    slots = n_iterations + 1
    return (
        torch.empty_like(theta),
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
