"""Fractional side data on an integer grid: the rounding behind ``weight_scale`` and
``demand_scale``.

Exact solvers that compare integer loads (the knapsack DPs, the vehicle-routing DP, CP-SAT)
take fractional sizes through a scale ``s``: sizes and limits are placed on the multiples of
``1/s``, compared in floating point in the user's units,

    size  x  ->  the smallest k with fl(k/s) >= x        (:func:`grid_ceil`)
    limit C  ->  the largest  k with fl(k/s) <= C        (:func:`grid_floor`)

so a value already on the grid keeps its ``k`` whichever way it is rounded: ``0.29`` at
``s = 100`` is ``29`` for a size and for a limit, although ``0.29·100 =
28.999999999999996``. Sizes go up and limits down, so whatever fits the rounded instance
fits the true one (up to the floating-point rounding of ``k/s``); it may exclude a true
solution that fills a limit to within ``n/s``. With ``s = 1`` the rules are ``⌈x⌉`` and
``⌊C⌋``. Used by :mod:`solvers.multi_knapsack` (``weight_scale``) and
:mod:`solvers.vehicle_routing` (``demand_scale``); :mod:`solvers.knapsack` checks its
``weight_scale`` with :func:`check_scale` but rounds the products ``s·w`` and ``s·C``
(its module docstring).

Example:
    >>> import numpy as np
    >>> grid_ceil(np.array([0.29, 0.07, 0.123]), 100.0).tolist()
    [29.0, 7.0, 13.0]
    >>> grid_floor(np.array([0.29, 0.299]), 100.0).tolist()
    [29.0, 29.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import SolverInputError, as_positive_finite

__all__ = ["check_scale", "check_sizes", "grid_ceil", "grid_floor"]


def check_scale(scale: Any, option: str, problem: str) -> float | None:
    """``scale`` as a float, or ``None`` when not given; :class:`SolverInputError` naming
    ``option`` unless it is a positive finite real number (``bool`` and strings refused).

    Examples:
        >>> from solvers import SolverInputError
        >>> check_scale(100, "weight_scale", "multi_knapsack")
        100.0
        >>> try:
        ...     check_scale(0, "weight_scale", "multi_knapsack")
        ... except SolverInputError as error:
        ...     print(error)
        multi_knapsack: weight_scale must be a positive finite number, got 0
    """
    return None if scale is None else as_positive_finite(scale, option, problem)


def check_sizes(
    x: np.ndarray, scale: float | None, what: str, option: str, problem: str, rounding: str
) -> np.ndarray:
    """``x`` (sizes: weights, demands), or :class:`SolverInputError` if any is negative, or
    fractional while ``scale`` is ``None``; the message names ``option`` and says how the
    sizes are then rounded (``rounding``).

    Examples:
        >>> from solvers import SolverInputError
        >>> check_sizes(np.array([2.0, 3.0]), None, "weights", "weight_scale", "knapsack", "")
        array([2., 3.])
        >>> try:
        ...     check_sizes(np.array([-1.0]), 100.0, "weights", "weight_scale", "knapsack", "")
        ... except SolverInputError as error:
        ...     print(error)
        knapsack: weights must be >= 0, got minimum -1.0
    """
    if x.size and x.min() < 0:
        raise SolverInputError(f"{problem}: {what} must be >= 0, got minimum {x.min()}")
    if scale is None and x.size and not np.array_equal(x, np.floor(x)):
        raise SolverInputError(
            f"{problem}: {what} must be integers for the exact backends; for fractional "
            f"{what} pass {option}=s ({rounding}, see solvers.{problem})"
        )
    return x


def grid_ceil(x: np.ndarray, scale: float) -> np.ndarray:
    """The smallest ``k`` with ``fl(k/s) >= x``, elementwise, as floats, for ``x >= 0``
    below ``2^62/s`` (module docstring).

    ``s·x`` rounded is within one unit of ``k`` (float products are correctly rounded), so
    one step either way settles it."""
    k = np.ceil(x * scale)
    k = np.where((k > 0) & ((k - 1) / scale >= x), k - 1, k)
    return np.where(k / scale < x, k + 1, k)


def grid_floor(x: np.ndarray, scale: float) -> np.ndarray:
    """The largest ``k`` with ``fl(k/s) <= x``, elementwise, as floats, for ``x >= 0``
    below ``2^62/s`` (module docstring); one step either way from ``⌊s·x⌋``, as
    :func:`grid_ceil`."""
    k = np.floor(x * scale)
    k = np.where((k + 1) / scale <= x, k + 1, k)
    return np.where((k > 0) & (k / scale > x), k - 1, k)
