"""Checking Warcraft labels: is each stored path an optimal path of its map?

A label ``y`` (a ``k × k`` 0/1 grid) of costs ``c > 0`` is accepted when

1. its cells form one simple 8-neighbour path from ``(0, 0)`` to ``(k-1, k-1)``: the set
   is connected, both ends have exactly one neighbour in it and every other cell exactly
   two (a path with a shortcut, two of its cells adjacent out of turn, cannot be optimal
   with positive costs, so every optimal path has this shape); and
2. its cost is optimal: ``⟨c, y⟩ <= (1 + LABEL_RTOL) · min_p ⟨c, p⟩``, the minimum found by
   one batched call of the grid solver for the whole split.

Any optimal path is accepted where several tie (the real data's rule). The tolerance
:data:`LABEL_RTOL` = 2⁻¹⁰ covers the float16 storage of the costs: each stored cost is
within 2⁻¹¹ (half a float16 unit) of its nominal value (0.8 is stored as 0.7998), so a
path optimal for the nominal costs is within about 2⁻¹⁰ of the optimum of the stored ones.

Example::

    >>> import numpy as np
    >>> costs = np.ones((2, 3, 3), np.float32)
    >>> paths = np.zeros((2, 3, 3), np.float32)
    >>> paths[0, [0, 1, 2], [0, 1, 2]] = 1  # the diagonal: optimal
    >>> paths[1, [0, 2], [0, 2]] = 1  # only the two ends: not a path
    >>> label_problems(costs, paths)["bad"].tolist()
    [False, True]

Reference: Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers",
ICLR 2020 (the data set and its labels).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import ndimage

import solvers

__all__ = [
    "LABEL_CHECKS",
    "LABEL_RTOL",
    "WarcraftLabelWarning",
    "label_problems",
    "check_labels",
]

LABEL_CHECKS: tuple[str, ...] = ("check", "report", "trust")
"""What a loader does with labels that are not optimal paths: ``"check"`` refuses them
(:class:`~diffsolvers.datasets.warcraft.WarcraftDataError`), ``"report"`` warns
(:class:`WarcraftLabelWarning`) and keeps them, ``"trust"`` does not look."""
LABEL_RTOL = 2.0**-10
"""Relative excess over the optimal cost that a label may have (float16-stored costs)."""
_SHOWN = 5
"""Bad labels named in a message."""
_GRID_ONLY = np.zeros((3, 3, 3), dtype=bool)
"""Connects the cells of one map only (axis 0 is the batch)."""
_GRID_ONLY[1] = True


class WarcraftLabelWarning(UserWarning):
    """Labels that are not optimal paths were loaded because ``labels="report"`` asked.

    Examples:
        >>> import numpy as np, warnings
        >>> costs, paths = np.ones((1, 2, 2)), np.ones((1, 2, 2))  # four cells: no path
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     bad = check_labels(costs, paths, where="demo", mode="report")
        >>> bad.tolist(), caught[0].category is WarcraftLabelWarning
        ([0], True)
    """


def _neighbour_counts(on: np.ndarray) -> np.ndarray:
    """Per cell, how many of its 8 neighbours are in the set ``on`` ``(N, k, k)``."""
    k = on.shape[-1]
    padded = np.pad(on, ((0, 0), (1, 1), (1, 1))).astype(np.int8)
    counts = np.zeros(on.shape, dtype=np.int8)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                counts += padded[:, 1 + di : 1 + di + k, 1 + dj : 1 + dj + k]
    return counts


def label_problems(costs: Any, paths: Any) -> dict[str, np.ndarray]:
    """Which labels of a split are not optimal paths, and why (module docstring).

    ``costs`` and ``paths`` are ``(N, k, k)``: positive finite costs and 0/1 labels with
    both ends set (the loader's checks). Returns boolean arrays ``not_a_path`` and ``bad``
    (either problem) and ``excess``: each label's cost over the optimum, relative
    (``nan`` where it is not a path).

    Examples:
        >>> import numpy as np
        >>> costs = np.ones((1, 3, 3))
        >>> detour = np.array([[[1, 1, 0], [0, 0, 1], [0, 0, 1]]])  # 4 cells, the diagonal 3
        >>> found = label_problems(costs, detour)
        >>> found["not_a_path"].tolist(), found["bad"].tolist(), found["excess"].round(2).tolist()
        ([False], [True], [0.33])
    """
    c = np.asarray(costs, dtype=np.float64)
    on = np.asarray(paths) > 0.5
    n, k = on.shape[0], on.shape[-1]
    if n == 0:
        empty = np.zeros(0, dtype=bool)
        return {"not_a_path": empty, "bad": empty, "excess": np.zeros(0)}
    degree = _neighbour_counts(on)
    wanted = np.full((k, k), 2, dtype=np.int8)
    wanted[0, 0] = wanted[-1, -1] = 1 if k > 1 else 0
    shape_ok = ~(on & (degree != wanted)).any(axis=(1, 2))
    components, _ = ndimage.label(on, structure=_GRID_ONLY)
    start = components[:, :1, :1]
    connected = ~(on & (components != start)).any(axis=(1, 2))
    not_a_path = ~(shape_ok & connected)
    best_paths = solvers.get("shortest_path").solve(solvers.costs_to_theta(c))
    best = (c * best_paths).sum(axis=(1, 2))
    cost = (c * on).sum(axis=(1, 2))
    excess = np.where(not_a_path, np.nan, cost / best - 1.0)
    too_costly = ~not_a_path & (excess > LABEL_RTOL)
    return {"not_a_path": not_a_path, "bad": not_a_path | too_costly, "excess": excess}


def check_labels(costs: Any, paths: Any, *, where: str, mode: str = "check") -> np.ndarray:
    """Check a split's labels (module docstring); returns the indices of the bad ones.

    ``where`` names the split in messages (its file, say). ``mode`` is one of
    :data:`LABEL_CHECKS`: with ``"check"`` bad labels raise
    :class:`~diffsolvers.datasets.warcraft.WarcraftDataError` naming their count and the
    first indices; with ``"report"`` the same message is a :class:`WarcraftLabelWarning`.

    Examples:
        >>> import numpy as np
        >>> costs = np.ones((2, 2, 2))
        >>> paths = np.array([[[1, 0], [0, 1]], [[1, 1], [1, 1]]])  # a path, then no path
        >>> check_labels(costs, paths, where="demo", mode="trust").tolist()  # not looked at
        []
        >>> from diffsolvers.datasets.warcraft import WarcraftDataError
        >>> try:
        ...     check_labels(costs, paths, where="demo")
        ... except WarcraftDataError as error:
        ...     print(str(error).split(";")[0])
        demo: 1 of 2 labels are not optimal paths (1 not one 8-neighbour path from (0, 0) to (1, 1))
    """
    from .warcraft import WarcraftDataError

    if mode not in LABEL_CHECKS:
        raise ValueError(f"unknown labels={mode!r}; use one of {', '.join(LABEL_CHECKS)}")
    if mode == "trust":
        return np.zeros(0, dtype=np.int64)
    found = label_problems(costs, paths)
    bad = np.flatnonzero(found["bad"])
    if bad.size == 0:
        return bad
    k = np.asarray(paths).shape[-1]
    shown = ", ".join(str(i) for i in bad[:_SHOWN]) + (", ..." if bad.size > _SHOWN else "")
    broken = int(found["not_a_path"].sum())
    costly = bad.size - broken
    reasons = []
    if broken:
        reasons.append(f"{broken} not one 8-neighbour path from (0, 0) to ({k - 1}, {k - 1})")
    if costly:
        worst = float(np.nanmax(np.where(found["bad"], found["excess"], np.nan)))
        reasons.append(f"{costly} costlier than the optimum (by up to {100 * worst:.3g}%)")
    message = (
        f"{where}: {bad.size} of {len(found['bad'])} labels are not optimal paths "
        f"({'; '.join(reasons)}); the first: example {shown}"
    )
    if mode == "check":
        raise WarcraftDataError(
            f"{message}. Metrics against such labels are meaningless; to load them anyway, "
            "pass labels='report' (--labels report)"
        )
    warnings.warn(message, WarcraftLabelWarning, stacklevel=2)
    return bad
