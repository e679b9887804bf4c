r"""Pairwise Frank-Wolfe over a linear maximisation oracle: the Euclidean projection onto
the convex hull of a solver's solutions, batched.

For scores ``θ`` (one row per instance), a strength ``ε > 0`` and an oracle
``y*(d) = argmax_{y ∈ Y} ⟨d, y⟩`` (a solver), it solves::

    ŷ = argmax_{y ∈ conv(Y)} ⟨θ, y⟩ - (ε/2)‖y‖²  =  argmin_{y ∈ conv(Y)} f(y),
    f(y) = (ε/2)‖y‖² - ⟨θ, y⟩,      -∇f(y) = θ - εy,

i.e. the projection of ``θ/ε`` onto ``conv(Y)``, and returns ``ŷ`` as a convex combination
``Σ_k α_k a_k`` of solutions ``a_k ∈ Y`` (the atoms). This is the forward pass of
:class:`diffsolvers.RegularizedFrankWolfe`.

**Iterations** (Lacoste-Julien & Jaggi, "On the Global Linear Convergence of Frank-Wolfe
Optimization Variants", NeurIPS 2015, pairwise variant). Start at ``y = a_0 = y*(θ)``; then,
with ``d = θ - εy``:

* the oracle gives ``s = y*(d)``, one call for every instance still running;
* the Frank-Wolfe gap ``g = ⟨d, s - y⟩ >= f(y) - f(ŷ) >= (ε/2)‖y - ŷ‖²`` (f is ε-strongly
  convex) certifies ``‖y - ŷ‖₂ <= sqrt(2g/ε)``; an instance stops once that bound is at
  most ``tolerance``, or once ``g`` is below the rounding error of ``⟨d, s - y⟩``
  (``10⁻¹⁴ Σ|d|(|s| + |y|)``: then it certifies nothing more);
* otherwise the worst active atom ``v = argmin_{α_k > 0} ⟨d, a_k⟩`` gives its weight to
  ``s`` along ``p = s - v``: exact line search on the quadratic,
  ``γ = min(⟨d, p⟩ / (ε‖p‖²), α_v)``; when ``γ = α_v`` the atom ``v`` leaves the active set
  (its weight is set to exactly 0);
* then up to 10 local pairwise steps, from the worst to the best active atom, no oracle
  call, while their scores ``⟨d, a_k⟩`` differ by more than ``ε·tolerance²/2``.

Pairwise steps converge linearly on polytopes, where plain Frank-Wolfe zig-zags.
``n_iterations`` bounds the steps; the bound is evaluated once more after the last step, so
``bound`` always certifies the returned ``y``; ``exhausted`` marks the instances that
reached ``n_iterations`` above ``tolerance``, ``floored`` those that the rounding rule
stopped above it (the floor grows with ``|θ|`` and ``D``). Each instance's iterations
depend on its own data only (stopped instances leave the oracle calls).

**The active set's arithmetic** runs in the atoms' inner products (Numba kernels, one call
per iteration for the whole batch): with ``G_jk = ⟨a_j, a_k⟩`` and ``c_k = ⟨θ, a_k⟩`` the
scores are ``⟨d, a_k⟩ = c_k - ε Σ_j α_j G_jk`` and a step of ``γ`` from ``v`` to ``t``
moves them by ``-εγ(G_tk - G_vk)``, so a local step costs O(number of atoms) instead of a
pass over all atoms' entries. These are the iterates of the formulas above, rounded
differently.

**The Jacobian's subspace.** :func:`active_basis` gives an orthonormal basis of
``V = span{a_k - a_r : α_k > 0}``; ``∂ŷ/∂θ = P_V/ε`` where the active set spans the face of
``ŷ`` (:mod:`diffsolvers.layers.frank_wolfe`).

Example::

    >>> import numpy as np
    >>> argmax = lambda d, rows: np.eye(d.shape[1])[d.argmax(1)]
    >>> run = pairwise_frank_wolfe(np.array([[1.0, 0.5, -1.0]]), argmax, 1.0, 50, 1e-9)
    >>> run.y   # sparsemax((1, 0.5, -1))
    array([[0.75, 0.25, 0.  ]])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import _frank_wolfe_kernels as kernels
from .base import SolverInputError, as_finite_float

__all__ = ["FrankWolfeRun", "pairwise_frank_wolfe", "active_basis", "LOCAL_STEPS", "RANK_RTOL"]

LOCAL_STEPS = 10
"""Local pairwise steps (between active atoms, no oracle call) after each oracle step."""
RANK_RTOL = 1e-9
"""In :func:`active_basis`, singular values below this share of the largest count as 0."""
#: A gap below this multiple of Σ|d|(|s| + |y|) is rounding noise (float64's ε is 2.2e-16).
_ROUNDING = 1e-14

Oracle = Callable[[np.ndarray, np.ndarray], np.ndarray]


class FrankWolfeRun(NamedTuple):
    """What :func:`pairwise_frank_wolfe` returns, for ``N`` instances of ``D`` entries and
    ``K = n_iterations + 1`` atom slots: ``y`` (N, D) the solution; ``atoms`` (N, K, D)
    and ``weights`` (N, K) with ``y = Σ_k weights_k atoms_k`` (0 in unused or dropped
    slots); ``bound`` (N,) the certified ``‖y - ŷ‖₂``; ``exhausted`` (N,) the instances
    that reached ``n_iterations`` above the tolerance; ``floored`` (N,) those stopped
    above it by float64's rounding of the gap (more iterations would not help).

    >>> argmax = lambda d, rows: np.eye(d.shape[1])[d.argmax(1)]
    >>> pairwise_frank_wolfe(np.zeros((2, 3)), argmax, 1.0, 10, 1e-6).weights.shape
    (2, 11)
    """

    y: np.ndarray
    atoms: np.ndarray
    weights: np.ndarray
    bound: np.ndarray
    exhausted: np.ndarray
    floored: np.ndarray


def _solutions(oracle: Oracle, d: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The oracle's solutions for the directions ``d`` of the instances ``rows``, checked."""
    s = np.asarray(oracle(d, rows), dtype=np.float64)
    if not np.isfinite(s).all():
        raise SolverInputError("Frank-Wolfe: the oracle returned NaN or inf")
    if s.shape != d.shape:
        raise SolverInputError(
            f"Frank-Wolfe: the oracle returned shape {s.shape} for directions of shape "
            f"{d.shape}; it must return one solution per row"
        )
    return np.ascontiguousarray(s)


def _check(theta: np.ndarray, strength: float, n_iterations: int, tolerance: float) -> None:
    if theta.ndim != 2:
        raise SolverInputError(f"Frank-Wolfe: θ must be (instances, entries), got {theta.shape}")
    if not (strength > 0 and math.isfinite(strength)):
        raise SolverInputError(f"Frank-Wolfe: strength must be positive, got {strength}")
    whole = isinstance(n_iterations, (int, np.integer)) and not isinstance(n_iterations, bool)
    if not whole or n_iterations < 1:
        raise SolverInputError(
            f"Frank-Wolfe: n_iterations must be >= 1 (an int), got {n_iterations!r}"
        )
    if not (tolerance > 0 and math.isfinite(tolerance)):
        raise SolverInputError(f"Frank-Wolfe: tolerance must be positive, got {tolerance}")


def pairwise_frank_wolfe(
    theta: np.ndarray,
    oracle: Oracle,
    strength: float,
    n_iterations: int,
    tolerance: float,
) -> FrankWolfeRun:
    """``argmax_{y ∈ conv(Y)} ⟨θ, y⟩ - (ε/2)‖y‖²`` for every row of ``theta`` by pairwise
    Frank-Wolfe (see the module docstring).

    Args:
        theta: scores ``(N, D)``, finite.
        oracle: ``oracle(d, rows)`` returns ``y*(d_r)`` for each row of the directions
            ``d`` (n, D) (float64), ``rows`` (n,) naming their instances (to pick
            per-instance side data); exact, since the gap certificate assumes it.
        strength: ε > 0.
        n_iterations: the most oracle steps after the first solve.
        tolerance: stop an instance once ``‖y - ŷ‖₂ <= tolerance`` is certified.

    Returns:
        :class:`FrankWolfeRun`, all float64.

    Examples:
        >>> top2 = lambda d, rows: (d >= np.sort(d, 1)[:, -2:-1]).astype(float)
        >>> run = pairwise_frank_wolfe(np.array([[1.5, 1.0, -1.0, 0.2]]), top2, 1.0, 100, 1e-9)
        >>> np.round(run.y, 6)   # the projection onto {0 <= y <= 1, Σ y = 2}
        array([[1. , 0.9, 0. , 0.1]])
    """
    theta = np.ascontiguousarray(as_finite_float(theta, "θ", "Frank-Wolfe"))
    _check(theta, strength, n_iterations, tolerance)
    n, dim = theta.shape
    slots = n_iterations + 1
    atoms = np.zeros((n, slots, dim))
    weights = np.zeros((n, slots))
    bound = np.full(n, math.inf)
    exhausted = np.zeros(n, dtype=bool)
    floored = np.zeros(n, dtype=bool)
    if n == 0:
        return FrankWolfeRun(theta.copy(), atoms, weights, bound, exhausted, floored)
    running = np.arange(n)
    first = _solutions(oracle, theta, running)
    capacity = min(slots, 16)
    gram, lin = np.zeros((n, capacity, capacity)), np.zeros((n, slots))
    used = np.zeros(n, dtype=np.int64)
    kernels.start_active_sets(first, theta, atoms, weights, gram, lin, used)
    y = first.copy()
    threshold = strength * tolerance**2 / 2
    for step in range(n_iterations + 1):
        y_run = y[running]
        d = theta[running] - strength * y_run
        s = _solutions(oracle, d, running)
        gap = np.maximum(((s - y_run) * d).sum(-1), 0.0)
        bound[running] = np.sqrt(2 * gap / strength)
        noise = _ROUNDING * (np.abs(d) * (np.abs(s) + np.abs(y_run))).sum(-1)
        moving = (gap > threshold) & (gap > noise)
        floored[running[(gap > threshold) & ~moving]] = True
        if step == n_iterations:
            exhausted[running[moving]] = True
        if step == n_iterations or not moving.any():
            break
        running, s = running[moving], s[moving]
        if int(used[running].max()) + 1 > capacity:  # room for one more atom each
            capacity = min(slots, 2 * capacity)
            grow = capacity - gram.shape[1]
            gram = np.pad(gram, ((0, 0), (0, grow), (0, grow)))
        kernels.active_set_steps(
            running, s, theta, atoms, weights, gram, lin, used, y, strength, threshold,
            LOCAL_STEPS,
        )  # fmt: skip
    return FrankWolfeRun(y, atoms, weights, bound, exhausted, floored)


def active_basis(atoms: np.ndarray, weights: np.ndarray, rtol: float = RANK_RTOL) -> np.ndarray:
    """An orthonormal basis of ``V = span{a_k - a_r : α_k > 0}`` for each instance: rows of
    the result ``(N, K, D)``, zero-padded; ``P_V g = Σ_j ⟨b_j, g⟩ b_j``.

    ``atoms`` (N, K, D) and ``weights`` (N, K) as :class:`FrankWolfeRun` gives them. The
    basis spans the right singular vectors of the differences whose singular values are
    above ``rtol`` times the largest (affinely dependent atoms count once), found from a
    QR factorisation (modified Gram-Schmidt, twice) and an SVD of its small triangle.

    Examples:
        >>> atoms = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
        >>> basis = active_basis(atoms, np.array([[0.5, 0.5, 0.0]]))
        >>> np.round(basis[0] @ np.array([1.0, 0.0, 5.0]) @ basis[0], 6)   # P_V (1, 0, 5)
        array([ 0.5, -0.5,  0. ])
    """
    a = np.ascontiguousarray(as_finite_float(atoms, "atoms", "Frank-Wolfe"))
    w = np.ascontiguousarray(as_finite_float(weights, "weights", "Frank-Wolfe"))
    if a.ndim != 3 or w.shape != a.shape[:2]:
        raise SolverInputError(
            f"Frank-Wolfe: atoms (N, K, D) and weights (N, K) expected, got {a.shape} and {w.shape}"
        )
    return kernels.active_basis_batch(a, w, float(rtol))
