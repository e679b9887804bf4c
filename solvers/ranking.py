"""The ranking family: argmax (simplex), top-k (k-subsets) and ranking (permutahedron).

All three act on the last axis of ``θ`` (shape ``(..., n)``) with any leading batch axes,
and are exact vectorised NumPy (a sort is already optimal here; no kernel is needed).

* ``argmax``: ``y`` is one-hot at ``argmax_i θ_i``: the vertices of the simplex
  ``{y >= 0, Σ y = 1}``. Ties go to the lowest index.
* ``top_k``: ``y`` is the indicator of the ``k`` largest entries: the vertices of
  ``{0 <= y <= 1, Σ y = k}``. Ties go to the lowest indices.
* ``ranking``: ``y`` holds rank values on the permutahedron, the convex hull of the
  permutations of ``(1, 2, ..., n)``. The largest ``θ_i`` gets rank ``n`` and the smallest
  gets ``1``, which maximises ``⟨θ, y⟩`` by the rearrangement inequality. Tied entries get
  distinct ranks in index order (the lower index gets the lower rank); any order of tied
  entries gives the same objective. Ranks come back in ``θ``'s dtype, so float32 ``θ`` is
  limited to ``n <= 2^24`` (above, float32 cannot hold every rank; see
  :class:`RankingSolver`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import LPForm, Solver, SolverInputError
from .registry import register

__all__ = ["ArgmaxSolver", "TopKSolver", "RankingSolver"]


class ArgmaxSolver(Solver):
    """One-hot argmax over the last axis (the probability simplex).

    Examples:
        >>> import numpy as np, solvers
        >>> solvers.get("argmax").solve(np.array([0.3, 2.0, 2.0]))  # ties go to the lowest index
        array([0., 1., 0.])
    """

    problem = "argmax"
    backend = "numpy"
    event_ndim = 1

    def validate(self, theta):
        arr = super().validate(theta)
        if arr.shape[-1] == 0:
            raise SolverInputError("argmax: θ has no entries (n=0); the simplex is empty")
        return arr

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        y = np.zeros_like(theta)
        y[np.arange(theta.shape[0]), np.argmax(theta, axis=1)] = 1.0
        return y

    def lp_form(self, shape: int | tuple[int] | None = None) -> LPForm:
        """Simplex: ``Σ y = 1``, ``y >= 0`` (integral polytope)."""
        n = _check_size(shape, "argmax")
        return LPForm(
            n_vars=n,
            y_index=np.arange(n),
            A_eq=sp.csr_matrix(np.ones((1, n))),
            b_eq=np.ones(1),
            upper=np.ones(n),
            integral_polytope=True,
            description="probability simplex",
        )


class TopKSolver(Solver):
    """Indicator of the ``k`` largest entries of the last axis.

    Examples:
        >>> import numpy as np, solvers
        >>> solvers.get("top_k", k=2).solve(np.array([0.3, 2.0, -1.0, 0.7]))
        array([0., 1., 0., 1.])
    """

    problem = "top_k"
    backend = "numpy"
    event_ndim = 1

    def __init__(self, k: int = 1) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"top_k: k must be a positive integer, got {k!r}")
        self.k = int(k)

    def validate(self, theta):
        arr = super().validate(theta)
        if arr.shape[-1] < self.k:
            raise SolverInputError(
                f"top_k: k={self.k} exceeds the number of entries n={arr.shape[-1]}"
            )
        return arr

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        order = np.argsort(-theta, axis=1, kind="stable")[:, : self.k]
        y = np.zeros_like(theta)
        np.put_along_axis(y, order, 1.0, axis=1)
        return y

    def lp_form(self, shape: int | tuple[int] | None = None) -> LPForm:
        """``0 <= y <= 1``, ``Σ y = k`` (integral polytope: a totally unimodular row)."""
        n = _check_size(shape, "top_k")
        if n < self.k:
            raise SolverInputError(f"top_k: k={self.k} exceeds n={n}")
        return LPForm(
            n_vars=n,
            y_index=np.arange(n),
            A_eq=sp.csr_matrix(np.ones((1, n))),
            b_eq=np.array([float(self.k)]),
            upper=np.ones(n),
            integral_polytope=True,
            description=f"top-{self.k} subsets (capped simplex)",
        )


#: float32 holds every integer up to 2^24 exactly, and not 2^24 + 1.
_FLOAT32_EXACT = 2**24


class RankingSolver(Solver):
    """Rank values on the permutahedron: the largest ``θ_i`` gets ``n``, the smallest ``1``.

    The ranks come back in ``θ``'s dtype, as every solver's answer does (float64 for integer
    input). float32 holds the integers only up to ``2^24``, so float32 ``θ`` with more than
    ``2^24`` entries per instance raises :class:`SolverInputError` (the ranks would not be
    a permutation); pass such ``θ`` as float64.

    Examples:
        >>> import numpy as np, solvers
        >>> solvers.get("ranking").solve(np.array([0.3, 2.0, -1.0, 0.7]))
        array([2., 4., 1., 3.])
    """

    problem = "ranking"
    backend = "numpy"
    event_ndim = 1

    def validate(self, theta):
        arr = super().validate(theta)
        n = arr.shape[-1]
        if arr.dtype == np.float32 and n > _FLOAT32_EXACT:
            raise SolverInputError(
                f"ranking: float32 θ with n={n} entries per instance: ranks above 2^24 = "
                f"{_FLOAT32_EXACT} are not exact in float32, so they would not be a "
                "permutation; pass θ as float64"
            )
        return arr

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        order = np.argsort(theta, axis=1, kind="stable")
        ranks = np.empty_like(theta)
        n = theta.shape[1]
        np.put_along_axis(ranks, order, np.arange(1, n + 1, dtype=theta.dtype)[None], axis=1)
        return ranks

    def lp_form(self, shape: int | tuple[int] | None = None) -> LPForm:
        """Permutahedron as the image of the Birkhoff polytope.

        Variables: a doubly stochastic ``P`` (``n²``, row-major, ``P_ij = 1`` when item
        ``i`` gets rank ``j+1``) and ``y`` (``n``) with ``y_i = Σ_j (j+1) P_ij``. The
        Birkhoff polytope is integral, so the LP relaxation is exact.
        """
        n = _check_size(shape, "ranking", min_n=0)  # n = 0: the empty ranking
        nn = n * n
        rows, cols, vals = [], [], []
        for i in range(n):  # Σ_j P_ij = 1
            rows += [i] * n
            cols += list(range(i * n, i * n + n))
            vals += [1.0] * n
        for j in range(n):  # Σ_i P_ij = 1
            rows += [n + j] * n
            cols += list(range(j, nn, n))
            vals += [1.0] * n
        for i in range(n):  # y_i - Σ_j (j+1) P_ij = 0
            rows += [2 * n + i] * (n + 1)
            cols += list(range(i * n, i * n + n)) + [nn + i]
            vals += [-(j + 1.0) for j in range(n)] + [1.0]
        a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(3 * n, nn + n))
        b_eq = np.concatenate([np.ones(2 * n), np.zeros(n)])
        upper = np.concatenate([np.ones(nn), np.full(n, float(n))])
        return LPForm(
            n_vars=nn + n,
            y_index=nn + np.arange(n),
            A_eq=a_eq,
            b_eq=b_eq,
            upper=upper,
            integral_polytope=True,
            description="permutahedron via doubly stochastic matrices",
        )


def _check_size(shape: int | tuple[int] | None, problem: str, min_n: int = 1) -> int:
    """The instance size ``n`` from ``n`` or ``(n,)``."""
    n = shape[0] if isinstance(shape, tuple) and len(shape) == 1 else shape
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < min_n:
        raise ValueError(f"{problem}: lp_form needs the instance size n >= {min_n}, got {shape!r}")
    return int(n)


register("argmax", "numpy", ArgmaxSolver, "one-hot argmax (simplex), vectorised", default=True)
register("top_k", "numpy", TopKSolver, "k-hot top-k indicator, vectorised; param k", default=True)
register(
    "ranking",
    "numpy",
    RankingSolver,
    "ranks on the permutahedron (largest θ gets n), vectorised",
    default=True,
)
