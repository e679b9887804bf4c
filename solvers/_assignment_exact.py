"""Exact assignments from an integer-cost solver: OR-Tools' assignment on any float scores.

OR-Tools' ``SimpleLinearSumAssignment`` takes int64 costs, so float scores are scaled by
a power of two and rounded; on scores of a wide range (``[[1, -1, -1e299]]``) the rounding
erases the small entries and the assignment can be far from optimal. This module refines
the answer level by level until it is exact, with the same bookkeeping as the exact ``lp``
engines (:mod:`solvers._lp_exact`): the exact costs of the padded square problem are
``R + ρ·2^E`` (integers plus exact float remainders), and each level hands the solver the
integer costs ``C = 2^Δ R + round(ρ·2^(E+Δ))``.

After a level, with its optimal assignment ``σ``, dual potentials ``u, v`` with reduced
costs ``r_ij = C_ij - u_i - v_j >= 0`` and ``r_iσ(i) = 0`` are computed exactly (integer
Bellman-Ford on the residual graph: ``v_j <= v_σ(i) + C_ij - C_iσ(i)``). For any perfect
matching ``π`` the potentials cancel, so in the level's units

    cost(π) - cost(σ) >= Δ_e - Σ_i max_j |f_ij| - Σ_i |f_iσ(i)| = Δ_e - W

for every entry ``e`` of ``π``, with ``f`` the remainders (``|f| <= 1/2``) and ``Δ_e >= r_e``
the least reduced cost of a perfect matching through ``e`` (``r_e`` plus a shortest
alternating path). An entry with ``Δ_e > W`` lies in no optimal matching and is forbidden
(given a cost no optimal level assignment can afford). A level that leaves only ``σ``'s
entries, or whose remainders vanish on the allowed entries, is exact; continuous scores
usually stop after the first level. Otherwise the next level's costs are ``r + f`` on the
allowed entries, of size at most ``W <= n``, so each level resolves about ``log2(L / n²)``
more bits. Reference: Ahuja, Magnanti and Orlin, *Network Flows* (1993), §9.4 and §10.2
(reduced costs, cost scaling).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from ._lp_exact import _Objective

__all__ = ["exact_assignment"]

_MAX_LEVELS = 200


def exact_assignment(
    theta: np.ndarray,
    solve_costs: Callable[[np.ndarray], np.ndarray],
    first_exponent: int,
    budget: float,
) -> np.ndarray:
    """The columns ``σ`` (m,) of an exactly optimal assignment of the padded ``m × m``
    problem for scores ``θ`` (n, m), ``n <= m``.

    ``solve_costs(C)`` solves the integer min-cost problem ``C`` (m, m) and returns its
    columns; ``first_exponent`` is the scale ``2^k`` of the first level (all entries
    allowed, ``max|C| <= budget``); later levels keep ``max|C|·(2m + 2) <= budget``.
    """
    n, m = theta.shape
    costs = np.zeros((m, m))
    costs[:n] = -theta
    objective = _Objective(costs.ravel())
    allowed = np.ones(m * m, dtype=bool)
    level_bits = int(math.floor(math.log2(budget / (2 * m + 2))))
    big = 0
    C = objective.advance(first_exponent)
    for _ in range(_MAX_LEVELS):
        full = np.where(allowed, C, big).reshape(m, m)
        sigma = solve_costs(full)
        if objective.exhausted(allowed):
            return sigma
        reduced = _reduced_costs(full, sigma)
        frac = np.abs(objective.fraction()).reshape(m, m)
        frac[~allowed.reshape(m, m)] = 0.0
        window = (frac.max(axis=1).sum() + frac[np.arange(m), sigma].sum()) * (1.0 + 1e-12)
        allowed &= _forcing_cost(reduced, sigma, window).ravel() <= window
        if allowed.sum() == m:  # only σ's entries are left: σ is the only candidate
            return sigma
        objective.R = np.where(allowed, reduced.ravel(), 0)
        objective.rho[~allowed] = 0.0
        top = objective.top_exponent()
        if top is None:  # the allowed entries all tie: σ is optimal
            return sigma
        delta = level_bits - top
        if delta < 1:
            warnings.warn(
                f"assignment (ortools): the exact refinement of a {m}×{m} problem has no "
                "room for another level; the assignment is optimal for scores rounded to "
                f"a relative {m}·2^-{level_bits} of the largest",
                RuntimeWarning,
                stacklevel=4,
            )
            return sigma
        C = objective.advance(delta)
        big = 2**level_bits * (2 * m + 1)  # > any allowed assignment's cost span
    raise RuntimeError(f"assignment (ortools): no exact optimum after {_MAX_LEVELS} levels")


def _forcing_cost(reduced: np.ndarray, sigma: np.ndarray, window: float) -> np.ndarray:
    """``Δ_ij``: the least reduced cost of a perfect matching that uses entry ``(i, j)``,
    exact where it is at most ``window`` (above ``window`` elsewhere).

    ``π ⊕ σ`` splits into alternating cycles, so ``Δ_ij = r_ij + d(j, σ(i))`` with ``d`` the
    shortest distance between columns over the edges ``σ(k) → l`` of weight ``r_kl``
    (row ``k`` moving to column ``l``). A cycle of total at most ``window`` uses only edges
    with ``r <= window``, so only those enter the graph (Floyd-Warshall, vectorised)."""
    m = reduced.shape[0]
    small = reduced <= window
    small[np.arange(m), sigma] = False
    forcing = np.full((m, m), np.inf)
    forcing[np.arange(m), sigma] = 0.0
    if not small.any():
        return forcing
    dist = np.full((m, m), np.inf)
    rows, cols = np.nonzero(small)
    np.minimum.at(dist, (sigma[rows], cols), reduced[rows, cols].astype(np.float64))
    np.fill_diagonal(dist, 0.0)
    for k in np.unique(cols).tolist():  # only columns with an incoming edge lie inside paths
        np.minimum(dist, dist[:, k : k + 1] + dist[k : k + 1, :], out=dist)
    forcing[rows, cols] = reduced[rows, cols] + dist[cols, sigma[rows]]
    return forcing


def _reduced_costs(costs: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """``r = C - u - v`` (int64, ``>= 0``, zero on ``σ``) from potentials of the optimal
    assignment ``σ`` of the integer costs ``C``; raises when ``σ`` is not optimal (a
    negative cycle in the residual graph)."""
    m = costs.shape[0]
    rows = np.arange(m)
    step = costs - costs[rows, sigma][:, None]  # edge σ(i) -> j of weight C_ij - C_iσ(i)
    v = np.zeros(m, dtype=np.int64)
    for _ in range(m + 1):
        relaxed = np.minimum(v, (v[sigma][:, None] + step).min(axis=0))
        if np.array_equal(relaxed, v):
            break
        v = relaxed
    else:
        raise RuntimeError("assignment (ortools): the solver's assignment is not optimal")
    u = costs[rows, sigma] - v[sigma]
    reduced = costs - u[:, None] - v[None, :]
    if reduced.min() < 0:
        raise RuntimeError("assignment (ortools): the solver's assignment is not optimal")
    return reduced
