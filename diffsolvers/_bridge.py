r"""The single place where tensors reach a solver: the custom operator ``diffsolvers::solve``.

``solve(solver, θ, side=...)`` computes ``y*(θ)`` for ``C`` stacked copies of a batch,
``θ`` of shape ``(C, *batch, *instance)``, in ONE solver call, and returns it with θ's
shape, device and dtype. It is a registered torch custom operator, so
:func:`torch.compile` (``fullgraph=True`` too) keeps it as one opaque step of the graph
and :func:`torch.func.vmap` turns a vmapped axis into one more batch axis (still one
call). No gradient crosses it: the methods around it give the derivatives.

**Solvers.** A :class:`solvers.Solver` (NumPy) gets θ as a NumPy array on the CPU
(float32 and float64 kept, narrower floats widened to float64) and its solution comes back
onto θ's device. A solver that works on tensors (``solves_tensors = True``, e.g.
:class:`diffsolvers.TorchFunctionSolver`) gets θ as a tensor on its own device: no host
round trip. The solver reaches the operator through an integer handle
(:mod:`diffsolvers._handles`).

**Checks inside.** The data-dependent checks run where the data is, inside the operator
(eagerly, also in a compiled program): θ must be finite, and so must the optional
``direction`` (the operator solves ``θ + step·direction``, formed in at least float32:
the blackbox and I-MLE backward passes move θ by ``-λ ∂L/∂y`` this way). Each error names
what was checked (``what``, ``direction_what``).

**Side data.** Per-call side data (knapsack weights and capacity) is passed as given by the
caller, relative to θ's batch axes: the solver's own rules check it and broadcast it over
the batch (:func:`flat_side`), and it is repeated for the ``C`` copies (:func:`tile_side`).
Under ``vmap`` side data may carry the vmapped axis or not.

**Isotonic regression.** The soft ranks' pool-adjacent-violators kernel
(:mod:`solvers.isotonic`) is reached the same way, through the operator
``diffsolvers::isotonic`` (:func:`isotonic`).

Example::

    >>> import torch, solvers
    >>> from diffsolvers._bridge import solve
    >>> solve(solvers.get("argmax"), torch.tensor([[[0.1, 2.0, 0.3]]]))
    tensor([[[0., 1., 0.]]])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from . import _handles
from ._checks import check_finite, problem_name

__all__ = [
    "to_numpy",
    "from_numpy",
    "solve",
    "solve_by_key",
    "side_tensors",
    "flat_side",
    "tile_side",
    "stack_side",
    "solves_tensors",
    "solve_rows",
    "solve_picked",
    "side_rows",
    "side_names_of",
    "vmapped_side",
    "vmapped_at",
    "vmapped_operands",
    "isotonic",
]

_KEPT_FLOATS = (torch.float32, torch.float64)


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as a NumPy array: detached, on the CPU; float16/bfloat16 become float64.

    Non-tensor input is passed through :func:`numpy.asarray`.
    """
    if not isinstance(x, torch.Tensor):
        return np.asarray(x)
    t = x.detach()
    if t.is_floating_point() and t.dtype not in _KEPT_FLOATS:
        t = t.to(torch.float64)
    if t.is_complex():
        raise TypeError(f"complex tensors cannot be passed to a solver (dtype {t.dtype})")
    return t.cpu().resolve_conj().resolve_neg().numpy()


def from_numpy(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """The array ``a`` as a tensor on ``like``'s device, with ``like``'s dtype."""
    return torch.from_numpy(np.ascontiguousarray(a)).to(device=like.device, dtype=like.dtype)


def solves_tensors(solver: Any) -> bool:
    """Whether ``solver`` takes and returns tensors on their device (not NumPy arrays)."""
    return bool(getattr(solver, "solves_tensors", False))


def flat_side(
    solver: Any,
    side: Mapping[str, Any],
    batch_shape: Sequence[int],
    event_shape: Sequence[int],
) -> dict[str, Any]:
    """Per-call side data as per-instance arrays of shape ``(N, ...)``, ``N`` the number of
    instances of θ (shape ``(*batch_shape, *event_shape)``).

    The solver validates the arrays against θ's batch and instance shapes as its ``solve``
    does, and broadcasts the ones shared by the batch over it (knapsack: weights ``(n,)``
    or ``(*batch, n)``, capacity a scalar or ``(*batch,)``), so a layer accepts exactly the
    side data ``solver.solve(θ, **side)`` accepts; its errors use the caller's shapes.
    Arrays that the solver does not broadcast (or all of them, for an object that only
    looks like a :class:`~solvers.base.Solver`) must lead with θ's batch shape. A solver
    that works on tensors keeps them as tensors. Returns ``{}`` for no side data.
    """
    if not side:
        return {}
    batch_shape, event_shape = tuple(batch_shape), tuple(event_shape)
    tensors = solves_tensors(solver)
    given = {k: (v if tensors else to_numpy(v)) for k, v in side.items()}
    check = getattr(solver, "_check_side", None)
    checked = given if check is None else check(given, batch_shape, event_shape)
    n, nb = math.prod(batch_shape), len(batch_shape)
    out = {}
    for name in given:
        arr = checked.get(name, given[name])
        arr = arr if tensors else np.asarray(arr)
        if tuple(arr.shape[:nb]) != batch_shape:
            raise ValueError(
                f"{problem_name(solver)}: side input {name!r} has shape {tuple(arr.shape)}; "
                f"its leading axes must match θ's batch shape {batch_shape}"
            )
        out[name] = arr.reshape((n, *arr.shape[nb:]))
    return out


def tile_side(side: Mapping[str, Any], reps: int) -> dict[str, Any]:
    """Per-instance side arrays ``(N, ...)`` (from :func:`flat_side`) repeated ``reps`` times
    along axis 0, ``(reps·N, ...)``: row ``r·N + i`` belongs to copy ``r`` of instance ``i``."""
    out = {}
    for name, arr in side.items():
        if isinstance(arr, torch.Tensor):
            out[name] = arr.repeat(reps, *([1] * (arr.ndim - 1)))
            continue
        tiled = np.broadcast_to(arr, (reps, *arr.shape))
        out[name] = tiled.reshape((reps * arr.shape[0], *arr.shape[1:]))
    return out


def _split(theta: torch.Tensor, solver: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(batch shape, instance shape) of ``θ = (C, *batch, *instance)``."""
    cut = theta.ndim - solver.event_ndim
    return tuple(theta.shape[1:cut]), tuple(theta.shape[cut:])


def _as_tensor(a: Any, device: torch.device) -> torch.Tensor:
    """A per-instance side array (NumPy, maybe a read-only broadcast view, or a tensor) as a
    tensor on ``device``."""
    if isinstance(a, torch.Tensor):
        return a.to(device)
    return torch.from_numpy(np.array(a)).to(device)


def side_names_of(names: str) -> list[str]:
    """The side data's names from the comma-joined string the operators take."""
    return names.split(",") if names else []


def solve_rows(solver: Any, rows: torch.Tensor, side: Mapping[str, Any]) -> torch.Tensor:
    """``y*`` of the instances ``rows`` ``(n, *instance)`` (already checked and in the
    working dtype) with per-instance side arrays ``(n, ...)``, in one call of ``solver``;
    the solution comes back as a tensor like ``rows``. Used inside the operators only."""
    if solves_tensors(solver):
        return solver.solve(rows, **side)
    return from_numpy(solver.solve(to_numpy(rows), **side), like=rows)


def solve_picked(
    solver: Any, flat: torch.Tensor, per_instance: Mapping[str, Any], picked: Sequence[int]
) -> torch.Tensor:
    """:func:`solve_rows` of the instances ``picked`` of ``flat`` ``(N, *instance)``, with
    their rows of the per-instance side arrays ``(N, ...)`` (:func:`flat_side`); a tensor
    like ``flat``. A NumPy solver on the CPU gets its rows picked in NumPy, with no tensor
    indexing on the way."""
    if flat.device.type == "cpu" and not solves_tensors(solver):
        index = np.asarray(picked, dtype=np.int64)
        side = {name: to_numpy(value)[index] for name, value in per_instance.items()}
        return from_numpy(solver.solve(to_numpy(flat)[index], **side), like=flat)
    index = np.asarray(picked, dtype=np.int64)
    rows = torch.from_numpy(index).to(flat.device)
    return solve_rows(solver, flat[rows], side_rows(per_instance, index))


def side_rows(per_instance: Mapping[str, Any], index: np.ndarray) -> dict[str, Any]:
    """The rows ``index`` (int64) of per-instance side arrays ``(N, ...)``; tensors stay
    tensors on their device."""
    return {
        name: (
            value[torch.from_numpy(index).to(value.device)]
            if isinstance(value, torch.Tensor)
            else np.asarray(value)[index]
        )
        for name, value in per_instance.items()
    }


def vmapped_side(
    solver: Any,
    side: Sequence[torch.Tensor],
    side_names: str,
    side_dims: Sequence[int | None],
    batch_shape: Sequence[int],
    event_shape: Sequence[int],
    size: int,
) -> list[torch.Tensor]:
    """:func:`stack_side` for an operator's packed ``side_names`` string: the side data of
    a vmapped call in per-instance form ``(V, *batch, ...)``, so that the operator can treat
    the vmapped axis as one more batch axis."""
    if not side:
        return list(side)
    names = side_names_of(side_names)
    return stack_side(solver, names, side, side_dims, size, batch_shape, event_shape)


def vmapped_at(t: torch.Tensor, dim: int | None, size: int, position: int = 0) -> torch.Tensor:
    """``t`` in a vmap rule with its vmapped axis ``dim`` moved to ``position``, or, where
    ``t`` is not vmapped (``dim`` None), with a new axis of ``size`` there (expanded)."""
    if dim is None:
        return t.unsqueeze(position).expand(*t.shape[:position], size, *t.shape[position:])
    return t.movedim(dim, position)


def vmapped_operands(
    theta: torch.Tensor,
    theta_dim: int | None,
    side: Sequence[torch.Tensor],
    side_names: str,
    side_dims: Sequence[int | None],
    solver: int,
    event_ndim: int,
    size: int,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """θ ``(*batch, *instance)`` and its side data in a vmapped call of an operator, with
    the vmapped axis as θ's first batch axis (added and expanded where θ is not vmapped,
    ``theta_dim`` None) and the side data in that per-instance form
    (:func:`vmapped_side`), for the solver of handle ``solver`` (``event_ndim`` instance
    axes)."""
    theta_b = vmapped_at(theta, theta_dim, size)
    logical = theta_b[0]
    cut = logical.ndim - event_ndim
    sol = _handles.get(solver)
    side_b = vmapped_side(
        sol, side, side_names, side_dims, logical.shape[:cut], logical.shape[cut:], size
    )
    return theta_b, side_b


@torch.library.custom_op("diffsolvers::solve", mutates_args=())
def _solve(
    theta: torch.Tensor,
    direction: torch.Tensor | None,
    step: float,
    side: list[torch.Tensor],
    side_names: str,
    solver: int,
    what: str,
    direction_what: str,
) -> torch.Tensor:
    sol = _handles.get(solver)
    work = theta if theta.dtype in _KEPT_FLOATS else theta.to(torch.float32)
    if direction is not None:
        check_finite(direction, direction_what)
        work = work + step * direction.to(work.dtype)
    check_finite(work, what)
    batch_shape, event_shape = _split(theta, sol)
    copies = theta.shape[0]
    named = dict(zip(side_names_of(side_names), side))
    per_instance = tile_side(flat_side(sol, named, batch_shape, event_shape), copies)
    y = solve_rows(sol, work.reshape((-1, *event_shape)), per_instance)
    return y.reshape(theta.shape).to(theta.dtype)


@_solve.register_fake
def _(theta, direction, step, side, side_names, solver, what, direction_what):
    return torch.empty_like(theta)


def stack_side(
    solver: Any,
    names: Sequence[str],
    side: Sequence[torch.Tensor],
    side_dims: Sequence[int | None],
    size: int,
    batch_shape: Sequence[int],
    event_shape: Sequence[int],
) -> list[torch.Tensor]:
    """Side data of a vmapped call (``size`` slices, each of batch shape ``batch_shape``) as
    per-instance tensors ``(size, *batch_shape, ...)``: each slice (``side_dims`` gives each
    tensor's vmapped axis, ``None`` for data shared by the slices) is brought to
    per-instance form by the solver's own rules (:func:`flat_side`), then stacked."""
    batch_shape = tuple(batch_shape)
    rows = []
    for v in range(size):
        sliced = {
            name: (s if axis is None else s.select(axis, v))
            for name, s, axis in zip(names, side, side_dims)
        }
        rows.append(flat_side(solver, sliced, batch_shape, event_shape))
    out = []
    for name, given in zip(names, side):
        one = torch.stack([_as_tensor(r[name], given.device) for r in rows])  # (V, N, ...)
        out.append(one.reshape((size, *batch_shape, *one.shape[2:])))
    return out


def _solve_vmap(info, in_dims, theta, direction, step, side, side_names, solver, what, dwhat):
    """The vmapped axis becomes the first batch axis of θ (axis 1, after the copies); side
    data is brought to per-instance form by the solver's own rules for each slice and
    stacked, so the solver is still called once."""
    size = info.batch_size
    sol = _handles.get(solver)
    theta_b = vmapped_at(theta, in_dims[0], size, 1)
    direction_b = None if direction is None else vmapped_at(direction, in_dims[1], size, 1)
    logical = theta.select(in_dims[0], 0) if in_dims[0] is not None else theta
    batch_shape, event_shape = _split(logical, sol)
    side_b = vmapped_side(sol, side, side_names, in_dims[3], batch_shape, event_shape, size)
    y = _solve(theta_b, direction_b, step, side_b, side_names, solver, what, dwhat)
    return y, 1


_solve.register_vmap(_solve_vmap)


def side_tensors(side: Mapping[str, Any] | None) -> list[torch.Tensor]:
    """The values of per-call side data as tensors (Python numbers and arrays converted);
    the names are checked to be plain identifiers."""
    if not side:
        return []
    for name in side:
        if not isinstance(name, str) or "," in name or not name:
            raise TypeError(f"side input names must be non-empty strings, got {name!r}")
    return [v if isinstance(v, torch.Tensor) else torch.as_tensor(v) for v in side.values()]


def solve_by_key(
    key: int,
    problem: str,
    theta: torch.Tensor,
    side: Mapping[str, Any] | None = None,
    *,
    what: str = "θ",
    direction: torch.Tensor | None = None,
    step: float = 0.0,
    direction_what: str = "the direction",
) -> torch.Tensor:
    """:func:`solve` for the solver with handle ``key`` (named ``problem`` in messages): the
    form used inside autograd functions and traced programs, which take numbers and
    strings, not Python objects."""
    return _solve(
        theta.detach(),
        None if direction is None else direction.detach(),
        float(step),
        side_tensors(side),
        ",".join(side or {}),
        key,
        f"{problem}: {what}",
        f"{problem}: {direction_what}",
    )


def solve(
    solver: Any,
    theta: torch.Tensor,
    side: Mapping[str, Any] | None = None,
    *,
    key: int | None = None,
    what: str = "θ",
    direction: torch.Tensor | None = None,
    step: float = 0.0,
    direction_what: str = "the direction",
) -> torch.Tensor:
    """``y*(θ + step·direction)`` for θ of shape ``(C, *batch, *instance)`` (``C`` copies of
    a batch), in one solver call, with θ's shape, device and dtype; no gradient.

    ``side`` holds the solver's per-call side data relative to the batch axes; ``what``
    and ``direction_what`` name θ and ``direction`` in the error raised when one of them
    holds NaN or inf. ``key`` is the solver's handle; a module passes the one it holds,
    so that a traced program does not look it up.
    """
    return solve_by_key(
        _handles.key(solver) if key is None else key,
        problem_name(solver),
        theta,
        side,
        what=what,
        direction=direction,
        step=step,
        direction_what=direction_what,
    )


# -- isotonic regression ----------------------------------------------------------------------
@torch.library.custom_op("diffsolvers::isotonic", mutates_args=())
def _isotonic(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    from solvers.isotonic import isotonic_decreasing

    v, block = isotonic_decreasing(to_numpy(u))
    return from_numpy(v, like=u), torch.from_numpy(block).to(u.device)


@_isotonic.register_fake
def _(u):
    return torch.empty_like(u), torch.empty_like(u, dtype=torch.int64)


def _isotonic_vmap(info, in_dims, u):
    v, block = _isotonic(u.movedim(in_dims[0], 0))
    return (v, block), (0, 0)


_isotonic.register_vmap(_isotonic_vmap)


def isotonic(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The decreasing isotonic regression of the last axis of ``u`` and its blocks
    (:func:`solvers.isotonic.isotonic_decreasing`, run on the CPU), as tensors on ``u``'s
    device: ``v`` in ``u``'s dtype, ``block`` int64; no gradient."""
    return _isotonic(u.detach())
