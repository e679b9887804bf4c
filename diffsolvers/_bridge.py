"""The single place where tensors cross over to NumPy solvers and back.

Solvers in :mod:`solvers` take and return NumPy arrays on the CPU. Everything that leaves
torch goes through :func:`to_numpy` (detached, on the CPU, float32/float64 kept, other
floating dtypes widened to float64) and everything that comes back goes through
:func:`from_numpy` (onto the device and dtype of a reference tensor). No gradient crosses
this bridge: differentiation is done by the perturbation estimators around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from solvers.base import Solver

__all__ = ["to_numpy", "from_numpy", "solve"]

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

    ``side`` holds per-instance side arrays whose leading axis has length ``N`` already.
    """
    side_np = {k: to_numpy(v) for k, v in (side or {}).items()}
    y = solver.solve(to_numpy(theta), **side_np)
    return from_numpy(y, like=theta)
