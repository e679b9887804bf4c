"""Linear assignment: match every row to a distinct column with maximum total score.

For scores ``θ`` of shape ``(n, m)`` with ``n <= m``, the solver returns the 0/1 matrix

    y*(θ) = argmax { ⟨θ, y⟩ : y ∈ {0,1}^{n×m}, Σ_j y_ij = 1 ∀i, Σ_i y_ij <= 1 ∀j },

a partial permutation matrix. Costs ``c`` enter as ``θ = -c``
(:func:`~solvers.base.costs_to_theta`). The constraint matrix is the incidence matrix of a
bipartite graph, hence totally unimodular: the LP relaxation (the Birkhoff-type polytope
of :meth:`lp_form`) is integral.

Backends:

* ``numba`` (default): shortest augmenting paths with dual potentials (the Hungarian
  method as formulated by Jonker & Volgenant, "A shortest augmenting path algorithm for
  dense and sparse linear assignment problems", Computing 38, 1987), O(n²m) per instance,
  one ``prange`` loop over the batch.
* ``scipy``: :func:`scipy.optimize.linear_sum_assignment` (reference; per instance).
* ``ortools``: OR-Tools ``SimpleLinearSumAssignment`` (Goldberg-Kennedy cost scaling),
  which takes int64 costs only. See :class:`OrtoolsAssignment` for the scaling.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._assignment_kernels import assign_batch, assign_single
from .base import LPForm, Solver, SolverInputError
from .registry import register

__all__ = [
    "AssignmentSolver",
    "ScipyAssignment",
    "OrtoolsAssignment",
    "ortools_exponent",
    "ortools_scale",
]

#: Largest admissible |θ|·(n+1): potentials stay far from float64 overflow (~1.8e308).
_MAX_ABS = 1e300


class AssignmentSolver(Solver):
    """Max-score linear assignment of ``n`` rows to ``m >= n`` columns (Numba kernel).

    ``θ`` has shape ``(..., n, m)``; ``y`` is a 0/1 matrix of the same shape with one 1 per
    row and at most one per column.

    Examples:
        >>> import numpy as np, solvers
        >>> solvers.get("assignment").solve(np.array([[1.0, 2.0], [3.0, 1.0]]))
        array([[0., 1.],
               [1., 0.]])
    """

    problem = "assignment"
    backend = "numba"
    event_ndim = 2

    def validate(self, theta: Any) -> np.ndarray:
        arr = super().validate(theta)
        n, m = arr.shape[-2:]
        if n > m:
            raise SolverInputError(
                f"assignment: θ has n={n} rows and m={m} columns; every row must get a distinct"
                " column, so n <= m is required (transpose θ to assign columns to rows)"
            )
        top = float(np.abs(arr).max()) if arr.size else 0.0
        if top > _MAX_ABS / (n + 1):
            raise SolverInputError(
                f"assignment: |θ| must stay below {_MAX_ABS:.0e}/(n+1) so that the dual"
                f" potentials (sums of up to 2n scores) cannot overflow; got max |θ| = {top:.3e}"
            )
        return arr

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        if theta.shape[0] == 1:  # skip the thread-pool launch for a single instance
            return assign_single(theta[0])[None]
        return assign_batch(theta)

    def lp_form(self, shape: tuple[int, int] | None = None) -> LPForm:
        """Rows sum to 1, columns sum to at most 1, ``0 <= y <= 1`` (integral polytope).

        Variables are the entries of ``y`` in row-major order. For ``n = m`` this is the
        Birkhoff polytope of doubly stochastic matrices, whose vertices are the
        permutation matrices (Birkhoff-von Neumann theorem); for ``n < m`` the same
        total unimodularity argument makes every vertex a partial permutation matrix.
        """
        n, m = _check_shape(shape)
        idx = np.arange(n * m).reshape(n, m)
        ones = np.ones(n * m)
        row_sums = (np.repeat(np.arange(n), m), idx.ravel())
        col_sums = (np.tile(np.arange(m), n), idx.ravel())
        return LPForm(
            n_vars=n * m,
            y_index=idx,
            A_eq=sp.csr_matrix((ones, row_sums), shape=(n, n * m)),
            b_eq=np.ones(n),
            A_ub=sp.csr_matrix((ones, col_sums), shape=(m, n * m)),
            b_ub=np.ones(m),
            upper=np.ones(n * m),
            integral_polytope=True,
            description="partial permutation matrices (rows = 1, columns <= 1)",
        )


class ScipyAssignment(AssignmentSolver):
    """Reference: :func:`scipy.optimize.linear_sum_assignment` with ``maximize=True``.

    Examples:
        >>> import numpy as np, solvers
        >>> scipy_backend = solvers.get("assignment", backend="scipy")
        >>> scipy_backend.solve(np.array([[1.0, 2.0, 0.0], [3.0, 1.0, 0.0]]))
        array([[0., 1., 0.],
               [1., 0., 0.]])
    """

    backend = "scipy"

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        from scipy.optimize import linear_sum_assignment

        y = np.zeros_like(theta)
        for b in range(theta.shape[0]):
            rows, cols = linear_sum_assignment(theta[b], maximize=True)
            y[b, rows, cols] = 1.0
        return y


#: OR-Tools reports POSSIBLE_OVERFLOW once roughly max|cost|·(N+1)² exceeds 2^61 (measured
#: with ortools 9.15 for N = 2..300); we stay a factor 8 below.
_ORTOOLS_BUDGET = 2.0**58


def ortools_exponent(theta: np.ndarray, size: int) -> int:
    """The exponent ``k`` of the power of two ``2^k`` by which one instance ``θ`` is
    multiplied (with :func:`numpy.ldexp`, exact) before rounding.

    ``2^k`` is the largest power of two with ``max|θ|·2^k <= L = min(2^52, 2^58 /
    (size+1)²)`` (``size`` is the side of the padded square problem). A power of two keeps
    the scaling exact in floating point, so integer ``θ`` (and any ``θ`` with few binary
    digits) is passed to OR-Tools without rounding as long as it fits. All-zero ``θ`` gives
    ``k = 0``.

    With ``max|θ| = m_θ·2^e_θ`` and ``L = m_L·2^e_L`` (``m ∈ [1/2, 1)``, from
    :func:`math.frexp`), ``k = e_L - e_θ`` if ``m_θ <= m_L``, else ``k = e_L - e_θ - 1``.
    The quotient ``L / max|θ|``, which overflows for tiny ``θ``, is never formed, and ``k``
    may exceed 1023 (subnormal ``θ``): ``np.ldexp(θ, k)`` is still exact there.

    Examples:
        >>> import numpy as np
        >>> e = ortools_exponent(np.array([[0.5, 3.0]]), 2)
        >>> isinstance(e, int)
        True
    """
    bound = min(2.0**52, _ORTOOLS_BUDGET / float(size + 1) ** 2)
    top = float(np.max(np.abs(theta))) if theta.size else 0.0
    if top == 0.0:
        return 0
    m_top, e_top = math.frexp(top)
    m_bound, e_bound = math.frexp(bound)
    return e_bound - e_top - (m_top > m_bound)


def ortools_scale(theta: np.ndarray, size: int) -> float:
    """``2^k`` for the exponent ``k`` of :func:`ortools_exponent`, as a float: capped at
    ``2^1023``, the largest finite power of two (the solver itself scales with the exponent,
    so the cap never limits it).

    Examples:
        >>> import numpy as np
        >>> scale = ortools_scale(np.array([[0.5, 3.0]]), 2)
        >>> scale > 0 and float(np.log2(scale)).is_integer()  # a power of two
        True
    """
    return math.ldexp(1.0, min(ortools_exponent(theta, size), np.finfo(np.float64).maxexp - 1))


class OrtoolsAssignment(AssignmentSolver):
    """OR-Tools ``SimpleLinearSumAssignment`` on integer costs ``round(-θ·s)``.

    Scaling and precision. OR-Tools takes int64 costs, so each instance is scaled by the
    power of two ``s = 2^k`` of :func:`ortools_exponent` and rounded: ``c_ij = -round(s·θ_ij)``.
    Each entry moves by at most ``δ/2`` in ``θ`` units, with the rounding step ``δ = 1/s``,
    so every assignment's score moves by at most ``n·δ/2``. The returned assignment is
    optimal for the rounded scores, hence its true score is within ``n·δ`` of the optimum:
    ``⟨θ, y⟩ >= max_y' ⟨θ, y'⟩ - n/s``. Since ``s`` is the largest power of two within the
    bound ``L = min(2^52, 2^58/(N+1)²)``, ``δ < 2·max|θ|/L``: about ``2e-15·max|θ|`` at
    N = 10 and ``4e-13·max|θ|`` at N = 100, whatever the magnitude of θ (subnormal
    included: ``s = 2^k`` is applied with :func:`numpy.ldexp`). Integer
    ``θ`` with ``max|θ| <= L`` is solved exactly (then ``s >= 1`` and ``s·θ`` is an exact
    integer).

    A rectangular problem (``n < m``) is padded to ``m × m`` with zero-score dummy rows,
    which does not change the optimal assignment of the real rows.

    Examples:
        >>> import numpy as np, solvers
        >>> solvers.get("assignment", backend="ortools").solve(np.array([[1.0, 2.0], [3.0, 1.0]]))
        array([[0., 1.],
               [1., 0.]])
    """

    backend = "ortools"

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        from ortools.graph.python.linear_sum_assignment import SimpleLinearSumAssignment

        b_size, n, m = theta.shape
        y = np.zeros_like(theta)
        if n == 0:
            return y
        tails = np.repeat(np.arange(m), m)
        heads = np.tile(np.arange(m), m)
        for b in range(b_size):
            inst = theta[b].astype(np.float64)
            exponent = ortools_exponent(inst, m)
            costs = np.zeros((m, m), dtype=np.int64)
            costs[:n] = -np.rint(np.ldexp(inst, exponent)).astype(np.int64)
            lsa = SimpleLinearSumAssignment()
            lsa.add_arcs_with_cost(tails, heads, costs.ravel())
            status = lsa.solve()
            if status == lsa.POSSIBLE_OVERFLOW:
                raise SolverInputError(
                    f"assignment (ortools): integer costs overflow for instance {b} "
                    f"(n={n}, m={m}, scale=2^{exponent}); use the numba or scipy backend"
                )
            if status != lsa.OPTIMAL:
                raise SolverInputError(
                    f"assignment (ortools): solver returned status {status!r} for instance {b}"
                )
            for i in range(n):
                y[b, i, lsa.right_mate(i)] = 1.0
        return y


def _check_shape(shape: Any) -> tuple[int, int]:
    """``(n, m)`` with ``0 <= n <= m`` from ``lp_form``'s ``shape`` argument."""
    try:
        n, m = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"assignment: lp_form needs the instance shape (n, m), got {shape!r}"
        ) from None
    if n < 0 or m < 0 or n > m:
        raise SolverInputError(f"assignment: lp_form needs 0 <= n <= m, got shape ({n}, {m})")
    return n, m


register(
    "assignment",
    "numba",
    AssignmentSolver,
    "max-score linear assignment (n <= m), Numba shortest augmenting path, batch-parallel",
    default=True,
)
register(
    "assignment",
    "scipy",
    ScipyAssignment,
    "scipy.optimize.linear_sum_assignment per instance (reference)",
)
register(
    "assignment",
    "ortools",
    OrtoolsAssignment,
    "OR-Tools SimpleLinearSumAssignment on power-of-two-scaled int64 costs, per instance",
)
