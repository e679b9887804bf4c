"""The single place where tensors cross over to NumPy solvers and back.

Solvers in :mod:`solvers` take and return NumPy arrays on the CPU. Everything that leaves
torch goes through :func:`to_numpy` (detached, on the CPU, float32/float64 kept, other
floating dtypes widened to float64) and everything that comes back goes through
:func:`from_numpy` (onto the device and dtype of a reference tensor). No gradient crosses
this bridge: differentiation is done by the perturbation estimators around it.

Per-call side data (knapsack weights and capacity) crosses here too: :func:`flat_side`
turns it into one row per instance with the solver's own rules, and :func:`tile_side`
repeats those rows for the stacked copies of a batch (perturbation samples, interpolated
scores) that are solved in one call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from solvers.base import Solver

from ._checks import problem_name

__all__ = ["to_numpy", "from_numpy", "solve", "flat_side", "tile_side"]

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


def solve(
    solver: Solver,
    theta: torch.Tensor,
    side: Mapping[str, Any] | None = None,
) -> torch.Tensor:
    """``y*(θ)`` for a flat batch ``θ`` of shape ``(N, *instance)``, on ``θ``'s device/dtype.

    ``side`` holds per-instance side arrays whose leading axis has length ``N`` already
    (:func:`flat_side`, :func:`tile_side`).
    """
    side_np = {k: to_numpy(v) for k, v in (side or {}).items()}
    y = solver.solve(to_numpy(theta), **side_np)
    return from_numpy(y, like=theta)


def flat_side(
    solver: Solver,
    side: Mapping[str, Any],
    batch_shape: Sequence[int],
    event_shape: Sequence[int],
) -> dict[str, np.ndarray]:
    """Per-call side data as per-instance arrays of shape ``(N, ...)``, ``N`` the number of
    instances of θ (shape ``(*batch_shape, *event_shape)``).

    The solver validates the arrays against θ's batch and instance shapes as its ``solve``
    does, and broadcasts the ones shared by the batch over it (knapsack: weights ``(n,)``
    or ``(*batch, n)``, capacity a scalar or ``(*batch,)``), so a layer accepts exactly the
    side data ``solver.solve(θ, **side)`` accepts; its errors use the caller's shapes.
    Arrays that the solver does not broadcast (or all of them, for an object that only
    looks like a :class:`~solvers.base.Solver`) must lead with θ's batch shape. Returns
    ``{}`` for no side data (the solver then uses what it was built with).
    """
    if not side:
        return {}
    batch_shape, event_shape = tuple(batch_shape), tuple(event_shape)
    given = {k: to_numpy(v) for k, v in side.items()}
    check = getattr(solver, "_check_side", None)
    checked = given if check is None else check(given, batch_shape, event_shape)
    n, nb = math.prod(batch_shape), len(batch_shape)
    out = {}
    for name in given:
        arr = np.asarray(checked.get(name, given[name]))
        if tuple(arr.shape[:nb]) != batch_shape:
            raise ValueError(
                f"{problem_name(solver)}: side input {name!r} has shape {arr.shape}; its leading"
                f" axes must match θ's batch shape {batch_shape}"
            )
        out[name] = arr.reshape((n, *arr.shape[nb:]))
    return out


def tile_side(side: Mapping[str, np.ndarray], reps: int) -> dict[str, np.ndarray]:
    """Per-instance side arrays ``(N, ...)`` (from :func:`flat_side`) repeated ``reps`` times
    along axis 0, ``(reps·N, ...)``: row ``r·N + i`` belongs to copy ``r`` of instance ``i``."""
    out = {}
    for name, arr in side.items():
        tiled = np.broadcast_to(arr, (reps, *arr.shape))
        out[name] = tiled.reshape((reps * arr.shape[0], *arr.shape[1:]))
    return out
