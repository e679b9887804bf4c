r"""The ``solve_ratio`` option: a method's solver wrapped with solution caching.

``diffsolvers.layer(problem, method, solve_ratio=ρ, ...)`` and ``diffsolvers.loss(...)``
build the method on :func:`solvers.cached`\ ``(solver, solve_ratio=ρ)``: in every solver
call (every forward pass, and the backward solves of blackbox and I-MLE) a share ``ρ`` of
the instances, drawn at random, is solved exactly and joins a pool of solutions; every
other instance gets the pool solution of largest ``⟨θ, y⟩``, the inner approximation of
Mulamba et al. (module docstring of :mod:`solvers.caching`). ``ρ = 1`` solves everything
and gives the uncached values; ``None`` (the default) builds no cache.

Which instances are solved is drawn from the method's own ``seed`` when it has one, else
from the initial seed of its ``generator`` or of torch's default generator, read without
drawing from them, so the noise is the same with or without the cache and the same seeds
give the same answers.

Example::

    >>> import torch, diffsolvers
    >>> fy = diffsolvers.loss("knapsack", weights=[3, 4, 5, 6], capacity=10, sigma=0.5,
    ...                       seed=0, solve_ratio=0.5)
    >>> type(fy.layer.solver).__name__, fy.layer.solver.solve_ratio
    ('CachedSolver', 0.5)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

import solvers
from solvers.caching import CachedSolver

from ._checks import check_seed

__all__ = ["SOLVE_RATIO", "with_cache"]

#: The option's name.
SOLVE_RATIO = "solve_ratio"


def _cache_seed(options: dict[str, Any]) -> int:
    """The seed of the cache's draws (module docstring)."""
    seed = check_seed(options.get("seed"))
    if seed is not None:
        return seed % 2**64  # torch takes seeds in [-2^63, 2^64); NumPy non-negative ones
    generator = options.get("generator")
    if isinstance(generator, torch.Generator):
        return int(generator.initial_seed())
    return int(torch.initial_seed())


def check_cache_ratio(value: Any) -> float | None:
    """``solve_ratio`` for a solver cache: ``None`` (no cache) or a share in ``(0, 1]`` (a
    cache that never solves would answer from an empty pool)."""
    if value is None:
        return None
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not 0 < value <= 1  # NaN fails too
    ):
        raise ValueError(f"solve_ratio must be a number in (0, 1] or None, got {value!r}")
    return float(value)


def with_cache(solver: Any, solve_ratio: float | None, options: dict[str, Any]) -> Any:
    """``solver`` wrapped by :func:`solvers.cached` at ``solve_ratio`` (checked, in
    ``(0, 1]``), or ``solver`` itself when ``solve_ratio`` is ``None``; ``options`` are the
    method's checked options (for the seed)."""
    if solve_ratio is None:
        return solver
    problem = getattr(solver, "problem", type(solver).__name__)
    if isinstance(solver, CachedSolver):
        raise ValueError(
            f"{problem}: the solver already caches its solutions (solvers.cached); give "
            f"solve_ratio there or here, not both"
        )
    if not isinstance(solver, solvers.Solver):
        raise TypeError(
            f"{problem}: solve_ratio caches the solutions of a solvers.Solver (NumPy arrays), "
            f"not a {type(solver).__name__}; wrap a NumPy oracle with solvers.from_function"
        )
    return solvers.cached(solver, solve_ratio=solve_ratio, seed=_cache_seed(options))
