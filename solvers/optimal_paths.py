"""How many optimal paths a grid shortest-path instance has: the ambiguity of its label.

A Warcraft label is *one* optimal path, picked among all optimal paths by the reference
Dijkstra's tie-breaking (:mod:`solvers.shortest_path`). When an instance has several optimal
paths, a prediction can have the optimal cost without matching the label, and a model
trained on the labels is asked to reproduce the tie-breaking as well as the costs. This
module counts the optimal paths so that the ambiguity of a data set can be measured.

For positive cell costs ``c`` on an ``H×W`` grid (8- or 4-neighbourhood), let ``dist(v)``
be the least cost of a path from ``(0, 0)`` to ``v``, both ends included. A move ``u → v``
is *tight* when ``dist(u) + c(v) = dist(v)``; every optimal path is a chain of tight moves,
and since ``c > 0`` tight moves strictly increase ``dist``, so the number of optimal paths
to ``v`` is ``N(v) = Σ_{tight u → v} N(u)`` with ``N(0, 0) = 1``, taken in increasing
``dist``. Ties are equalities up to ``rtol·dist(v)``: costs stored as float16 (the Warcraft
files) add up exactly in float64, so their ties are exact. Zero costs are refused: a
zero-cost cell can be entered and left along tight moves in both directions, so optimal
paths would no longer be a chain of strictly increasing distances.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from . import _shortest_path_kernels as _k
from .base import SolverInputError, as_array, check_path_sum

__all__ = ["count_optimal_paths"]

_WHAT = "count_optimal_paths"


def _validated_costs(costs: Any) -> np.ndarray:
    """``costs`` as a C-contiguous float64 ``(H, W)`` or ``(B, H, W)`` array of finite costs
    ``> 0`` whose path sums cannot overflow."""
    arr = as_array(costs, "costs", _WHAT)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{_WHAT}: costs must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise SolverInputError(
            f"{_WHAT}: costs must have shape (H, W) or (B, H, W), got shape {arr.shape}"
        )
    if arr.shape[-1] < 1 or arr.shape[-2] < 1:
        raise SolverInputError(f"{_WHAT}: the grid must have H, W >= 1, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.size and not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise SolverInputError(f"{_WHAT}: costs contain {bad}; all costs must be finite")
    if arr.size and arr.min() <= 0:
        raise SolverInputError(
            f"{_WHAT}: costs must be > 0 (smallest cost {arr.min():g}); with zero-cost cells "
            "optimal paths can run back and forth between tied cells"
        )
    if arr.size:
        check_path_sum(float(arr.max()), arr.shape[-1] * arr.shape[-2], _WHAT, "costs")
    return arr


def _check_rtol(rtol: Any) -> float:
    """``rtol`` as a float in ``[0, 1e-3)``; :class:`TypeError` for a non-real."""
    if isinstance(rtol, bool) or not isinstance(rtol, Real):
        raise TypeError(f"{_WHAT}: rtol must be a real number in [0, 1e-3), got {rtol!r}")
    value = float(rtol)
    if not (math.isfinite(value) and 0 <= value < 1e-3):
        raise ValueError(f"{_WHAT}: rtol must lie in [0, 1e-3), got {rtol!r}")
    return value


def count_optimal_paths(costs: Any, neighbourhood: int = 8, rtol: float = 1e-9) -> Any:
    """Number of optimal top-left → bottom-right paths of each grid (module doc).

    Parameters
    ----------
    costs:
        Cell costs ``> 0``, shape ``(H, W)`` or ``(B, H, W)`` (costs, not ``θ = -c``: this is
        an analysis of instances, not a solver), small enough that ``H·W·max(costs)`` is
        finite (else :class:`SolverInputError`, as the grid solver's overflow check).
    neighbourhood:
        ``8`` (the Warcraft moves) or ``4``.
    rtol:
        Two path costs tie when they differ by at most ``rtol`` times the larger: a real
        number in ``[0, 1e-3)`` (else :class:`TypeError` or :class:`ValueError`).

    Returns
    -------
    float or numpy.ndarray
        The count (a float for one grid, a float64 array of shape ``(B,)`` for a batch).
        Counts are exact up to ``2**53``; beyond, they are float64 approximations.

    Examples:
        >>> import numpy as np
        >>> count_optimal_paths(np.ones((2, 2)))  # (0,0)→(1,1) directly: one path
        1.0
        >>> count_optimal_paths(np.ones((3, 3)), neighbourhood=4)  # the 6 monotone paths
        6.0
    """
    if isinstance(neighbourhood, bool) or neighbourhood not in (4, 8):
        raise ValueError(f"{_WHAT}: neighbourhood must be 4 or 8, got {neighbourhood!r}")
    rtol = _check_rtol(rtol)
    arr = _validated_costs(costs)
    moves = _k.MOVES_8 if neighbourhood == 8 else _k.MOVES_4
    batch = arr if arr.ndim == 3 else arr[None]
    counts = _k.grid_optimal_path_counts(batch, moves, rtol)
    return float(counts[0]) if arr.ndim == 2 else counts
