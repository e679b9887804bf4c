"""0-1 knapsack: ``max Σ_i θ_i y_i`` subject to ``Σ_i w_i y_i <= C``, ``y ∈ {0, 1}^n``.

``θ`` holds item values, shape ``(B, n)`` (or ``(n,)``, or more leading batch axes). The
item weights ``w >= 0`` and the capacity ``C >= 0`` are side data, given either at
construction, ``solvers.get("knapsack", weights=w, capacity=c)``, or per call,
``solver.solve(theta, weights=W, capacity=C)`` with ``W`` of shape ``(n,)`` or
``(*batch, n)`` and ``C`` a scalar or of shape ``(*batch,)``, the batch axes being those of
``θ``. Per-call values replace the ones fixed at construction. Items with ``θ_i <= 0`` are
never chosen (they cannot raise the objective).

Backends (Kellerer, Pferschy and Pisinger, *Knapsack Problems*, Springer 2004):

* ``numba`` (default): dynamic programming over the integer capacity, ``O(n·C)`` time and
  an ``n × (C+1)`` byte table per instance, one ``prange`` loop over the batch. The table
  must hold at most ``max_table_size`` cells (default 50 million, i.e. 50 MB per instance
  being solved at once); larger instances raise :class:`SolverInputError`. The DP adds
  values in float64, so an instance whose positive values sum beyond the float64 range
  (about ``1.8e308``) raises :class:`SolverInputError` too, like the overflow checks of
  the grid, graph and assignment solvers.
* ``ortools``: OR-Tools' branch-and-bound knapsack solver, one instance per call. Branch
  and bound can take exponential time (a strongly correlated instance with n = 90 takes
  minutes), so each instance has a time limit, ``time_limit`` seconds (default
  :data:`DEFAULT_TIME_LIMIT` = 10; ``math.inf`` for none). An instance that reaches it
  before its packing is proven optimal raises :class:`~solvers.base.SolverTimeLimitError`,
  or, with ``on_time_limit="warn"``, returns the best packing found (feasible, possibly
  suboptimal) with one :class:`RuntimeWarning` per call. It takes
  integer profits only: the positive values of an instance are multiplied by the power of
  two ``s`` that brings their sum into ``[2^49, 2^50)`` and rounded to integers (items that
  round to 0 are dropped, as are items with ``θ_i <= 0``). Integer values summing to at
  most ``2^49`` are therefore exact; otherwise the packing is optimal for the rounded
  profits and its true value is within ``n / (2 s) <= n·2^-50·Σ θ⁺`` of the optimum, the
  order of the rounding of a floating-point sum of the values.
* ``lp`` (derived, reference): the integer program of :meth:`lp_form` solved exactly by
  CP-SAT through :mod:`solvers.lp`, whatever the magnitudes of ``θ``.

Weights. The DP needs integer weights, and both backends use the same rule. Without
``weight_scale`` the weights must be integral and the capacity is used as ``⌊C⌋`` (exact
for integral weights; a capacity is never rounded up, so ``C = 9.9999999999`` is 9);
non-integral weights raise an error. With ``weight_scale = s``, the backends solve the
instance with weights ``⌈s·w_i⌉`` and capacity ``⌊s·C⌋``, where ``s·w_i`` and ``s·C`` are
the floating-point products. The capacity is never snapped up: ``⌊4 · 0.2499999999⌋ = 0``.
A weight product within a relative ``2^-50`` (a few units in the last place) above an
integer counts as that integer, so that the rounding of decimal input is not charged as a
whole unit (``0.07 · 100`` is ``7.000000000000001`` in floating point and weighs 7).
Rounding weights up and the capacity down makes every returned packing feasible for the
true weights (``Σ w_i y_i <= Σ ⌈s w_i⌉ y_i / s <= ⌊s C⌋ / s <= C``, up to that
floating-point tolerance on the weights), but it may miss the true optimum: a packing that
fills the true capacity to within ``n/s`` may not fit after rounding. A larger ``s``
narrows the gap and enlarges the DP table.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._knapsack_kernels import knapsack_dp, knapsack_dp_batch
from ._scale import check_scale, check_sizes
from .base import (
    LPForm,
    Solver,
    SolverInputError,
    SolverTimeLimitError,
    as_finite_float,
)
from .registry import register

__all__ = [
    "KnapsackNumbaSolver",
    "KnapsackORToolsSolver",
    "DEFAULT_MAX_TABLE_SIZE",
    "DEFAULT_TIME_LIMIT",
]

DEFAULT_MAX_TABLE_SIZE = 50_000_000
"""Default limit on the DP table cells ``n·(C+1)`` of one instance."""
DEFAULT_TIME_LIMIT = 10.0
"""Default time limit of the ``ortools`` backend, in seconds per instance."""

_SNAP = 2.0**-50  # relative tolerance for a scaled weight to count as the integer below it
_INT_LIMIT = 2.0**62  # integer weights and capacities must stay below this (int64 headroom)
#: The OR-Tools profit scale brings the sum of the values into [2^49, 2^50). (Sums near
#: 2^62 made OR-Tools' KnapsackSolver.init die of SIGFPE on some instances.)
_PROFIT_BITS = 50


class _KnapsackBase(Solver):
    """Side-data handling shared by the knapsack backends."""

    problem = "knapsack"
    event_ndim = 1
    side_inputs = ("weights", "capacity")

    def __init__(
        self,
        weights: Any = None,
        capacity: Any = None,
        *,
        weight_scale: float | None = None,
    ) -> None:
        self.weight_scale = check_scale(weight_scale, "weight_scale", "knapsack")
        self.weights = None if weights is None else self._check_weights(weights, ndim=1)
        self.capacity = None if capacity is None else self._check_capacity(capacity, ndim=0)

    # -- validation -------------------------------------------------------------------
    def _check_weights(self, weights: Any, ndim: int | None = None) -> np.ndarray:
        w = as_finite_float(weights, "weights", "knapsack")
        if w.ndim < 1 or (ndim is not None and w.ndim != ndim):
            want = "shape (n,)" if ndim == 1 else "at least one axis (…, n)"
            raise SolverInputError(f"knapsack: weights must have {want}, got shape {w.shape}")
        return check_sizes(
            w, self.weight_scale, "weights", "weight_scale", "knapsack",
            "weights are then rounded up as ceil(s*w) and the capacity down as floor(s*C)",
        )  # fmt: skip

    def _check_capacity(self, capacity: Any, ndim: int | None = None) -> np.ndarray:
        c = as_finite_float(capacity, "capacity", "knapsack")
        if ndim is not None and c.ndim != ndim:
            raise SolverInputError(f"knapsack: capacity must be a scalar, got shape {c.shape}")
        if c.size and c.min() < 0:
            raise SolverInputError(f"knapsack: capacity must be >= 0, got minimum {c.min()}")
        return c

    def _check_side(
        self, side: dict[str, Any], batch_shape: tuple[int, ...], event_shape: tuple[int, ...]
    ) -> dict:
        """Validate weights and capacity (one weight per item of θ) and broadcast them over
        θ's batch axes.

        Returns float64 ``weights`` of shape ``(*batch, n)`` and ``capacity`` of shape
        ``(*batch,)``, the true (unrounded) values.
        """
        side = super()._check_side(side, batch_shape, event_shape)
        weights = side.get("weights", self.weights)
        capacity = side.get("capacity", self.capacity)
        if weights is None or capacity is None:
            missing = [k for k, v in (("weights", weights), ("capacity", capacity)) if v is None]
            raise SolverInputError(
                f"knapsack: {' and '.join(missing)} missing: fix them at construction, "
                "solvers.get('knapsack', weights=w, capacity=c), or pass them to solve()"
            )
        w = self._check_weights(weights)
        c = self._check_capacity(capacity)
        n = w.shape[-1]
        if n != event_shape[-1]:
            raise SolverInputError(
                f"knapsack: θ has {event_shape[-1]} items per instance but weights have {n}"
            )
        if w.shape not in ((n,), (*batch_shape, n)):
            raise SolverInputError(
                f"knapsack: weights must have shape (n,) or (*batch, n) = {(*batch_shape, n)} "
                f"matching θ's batch axes {batch_shape}, got {w.shape}"
            )
        if c.shape not in ((), batch_shape):
            raise SolverInputError(
                f"knapsack: capacity must be a scalar or have θ's batch shape {batch_shape}, "
                f"got {c.shape}"
            )
        return {
            "weights": np.broadcast_to(w, (*batch_shape, n)),
            "capacity": np.broadcast_to(c, batch_shape),
        }

    def _integer_instance(
        self, weights: np.ndarray, capacity: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Integer weights ``⌈s·w⌉`` (capped at ``C'+1``) and capacity ``C'``, for weights
        already checked against θ by :meth:`_check_side`.

        ``C' = min(⌊s·C⌋, Σ_i ⌈s·w_i⌉)``: a capacity above the total weight packs every
        item, as the total does, so a huge capacity is not an error. ``⌊s·C⌋`` is never
        rounded up (module docstring). Weights above ``C'`` can never be packed, so capping
        them at ``C'+1`` changes nothing. ``C'`` and the sum of the capped weights must stay
        below ``2^62`` (the kernels add weights in int64); otherwise
        :class:`SolverInputError`.
        """
        s = 1.0 if self.weight_scale is None else self.weight_scale
        w = _ceil_weights(weights * s)
        c = np.minimum(np.floor(capacity * s), w.sum(axis=1))
        if c.size and c.max() >= _INT_LIMIT:
            raise SolverInputError(
                f"knapsack: scaled capacity {c.max():.3g} exceeds the integer range 2^62"
            )
        w = np.minimum(w, c[:, None] + 1.0)
        if w.size and w.sum(axis=1).max() >= _INT_LIMIT:
            raise SolverInputError(
                f"knapsack: the scaled weights of an instance sum to {w.sum(axis=1).max():.3g},"
                " beyond the integer range 2^62; use a smaller weight_scale or unit"
            )
        return np.ascontiguousarray(w, dtype=np.int64), np.ascontiguousarray(c, dtype=np.int64)

    # -- LP form ----------------------------------------------------------------------
    def lp_form(
        self, shape: int | tuple[int] | None = None, weights: Any = None, capacity: Any = None
    ) -> LPForm:
        """``{y ∈ {0,1}^n : Σ w_i y_i <= C}`` with the true (unscaled) weights.

        ``weights`` (n,) and ``capacity`` (scalar) default to the ones fixed at
        construction. With integral weights the row holds ``⌊C⌋``, the same set of integer
        points, stated so that no solver tolerance can round the capacity up. The polytope
        is not integral, so ``integrality`` is set for every variable and the ``lp``
        backend needs a MIP solver.
        """
        w = self.weights if weights is None else self._check_weights(weights, ndim=1)
        c = self.capacity if capacity is None else self._check_capacity(capacity, ndim=0)
        if w is None or c is None:
            raise SolverInputError("knapsack: lp_form needs weights and capacity")
        n = w.shape[0]
        if shape is not None:
            m = shape[0] if isinstance(shape, tuple) and len(shape) == 1 else shape
            if m != n:
                raise SolverInputError(f"knapsack: lp_form shape {shape!r} but {n} weights")
        if np.array_equal(w, np.floor(w)):
            c = np.floor(c)
        return LPForm(
            n_vars=n,
            y_index=np.arange(n),
            A_ub=sp.csr_matrix(w.reshape(1, n)),
            b_ub=np.array([float(c)]),
            upper=np.ones(n),
            integrality=np.ones(n, dtype=bool),
            integral_polytope=False,
            description="0-1 knapsack: one capacity row, binary items",
        )


def _ceil_weights(x: np.ndarray) -> np.ndarray:
    """``⌈x⌉`` for scaled weights ``x >= 0``, taking ``x`` within a relative ``_SNAP`` above
    an integer as that integer (the rounding of the product and of decimal input).

    The tolerance is relative to ``x`` only: a small positive ``x`` (a tiny
    ``weight_scale``) is never snapped to 0, so a weight rounds up to at least 1 and the
    packing stays feasible for the true weights.
    """
    below = np.floor(x)
    return np.where((x - below) <= _SNAP * x, below, np.ceil(x))


def _check_value_sum(theta: np.ndarray) -> None:
    """Reject a float64 batch ``θ`` (B, n) whose positive values in some instance sum to
    more than float64 holds: the DP adds the values of packed items, and its bounds those of
    all candidates, so it would compare infinities and may return a suboptimal packing."""
    with np.errstate(over="ignore"):
        total = np.maximum(theta, 0.0).sum(axis=1)
    bad = np.flatnonzero(~np.isfinite(total))
    if bad.size:
        b = int(bad[0])
        raise SolverInputError(
            f"knapsack: θ up to {theta[b].max():g} would overflow the sum of the packed values "
            f"(the positive values of instance {b} sum beyond the float64 range); rescale θ, "
            "or use the ortools backend, which scales the values itself"
        )


class KnapsackNumbaSolver(_KnapsackBase):
    """0-1 knapsack by dynamic programming over integer capacity (Numba, parallel batch).

    Parameters: ``weights`` (n,), ``capacity`` (scalar), both optional (else per call);
    ``weight_scale`` for fractional weights; ``max_table_size`` bounds ``n·(C+1)``, where
    ``C`` is the scaled capacity capped at the total item weight.

    Examples:
        >>> import numpy as np, solvers
        >>> knap = solvers.get("knapsack", weights=[3, 4, 5, 6], capacity=10)
        >>> knap.solve(np.array([4.0, 5.0, 6.0, 1.0]))
        array([0., 1., 1., 0.])
    """

    backend = "numba"

    def __init__(
        self,
        weights: Any = None,
        capacity: Any = None,
        *,
        weight_scale: float | None = None,
        max_table_size: int = DEFAULT_MAX_TABLE_SIZE,
    ) -> None:
        super().__init__(weights, capacity, weight_scale=weight_scale)
        if isinstance(max_table_size, bool) or not isinstance(max_table_size, (int, np.integer)):
            raise TypeError(f"knapsack: max_table_size must be an int, got {max_table_size!r}")
        if max_table_size < 1:
            raise SolverInputError(f"knapsack: max_table_size must be >= 1, got {max_table_size}")
        self.max_table_size = int(max_table_size)

    def _solve_batch(self, theta: np.ndarray, weights: np.ndarray, capacity: np.ndarray):
        w, c = self._integer_instance(weights, capacity)
        n = theta.shape[1]
        # θ-independent bound on the table the kernel builds: none when every item that
        # fits on its own fits together, else capacity capped at their total weight
        total = np.where(w <= c[:, None], w, 0).sum(axis=1, dtype=np.float64)
        cap = np.where(total <= c, 0, np.minimum(c, total))
        cells = float(n) * (float(cap.max()) + 1.0)
        if cells > self.max_table_size:
            raise SolverInputError(
                f"knapsack: the DP table would have n·(C+1) = {cells:.3g} cells "
                f"(n={n}, C={int(cap.max())}), above max_table_size={self.max_table_size}; "
                "use a smaller weight_scale, raise max_table_size, or the ortools backend"
            )
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        _check_value_sum(theta)
        if theta.shape[0] == 1:  # one instance: skip the parallel region's start-up cost
            y = np.zeros(theta.shape)
            knapsack_dp(theta[0], w[0], c[0], y[0])
            return y
        return knapsack_dp_batch(theta, w, c)


class KnapsackORToolsSolver(_KnapsackBase):
    """0-1 knapsack by OR-Tools' branch-and-bound solver, one instance per call.

    Profits are scaled to integers per instance (see the module docstring); weights follow
    the shared integer rule (``weight_scale``). ``time_limit`` (seconds per instance,
    default 10, ``math.inf`` for none) bounds each branch and bound; ``on_time_limit``
    says what happens when an instance reaches it unproven: ``"raise"`` (default,
    :class:`~solvers.base.SolverTimeLimitError`) or ``"warn"`` (the best packing found,
    with a :class:`RuntimeWarning`).

    Examples:
        >>> import numpy as np, solvers
        >>> knap = solvers.get("knapsack", backend="ortools", weights=[3, 4, 5, 6], capacity=10)
        >>> knap.solve(np.array([4.0, 5.0, 6.0, 1.0]))
        array([0., 1., 1., 0.])
    """

    backend = "ortools"

    def __init__(
        self,
        weights: Any = None,
        capacity: Any = None,
        *,
        weight_scale: float | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
        on_time_limit: str = "raise",
    ) -> None:
        super().__init__(weights, capacity, weight_scale=weight_scale)
        if (
            isinstance(time_limit, bool)
            or not isinstance(time_limit, (int, float, np.integer, np.floating))
            or not time_limit > 0
        ):
            raise SolverInputError(
                f"knapsack: time_limit must be a positive number of seconds (math.inf for "
                f"none), got {time_limit!r}"
            )
        if on_time_limit not in ("raise", "warn"):
            raise SolverInputError(
                f"knapsack: on_time_limit must be 'raise' or 'warn', got {on_time_limit!r}"
            )
        self.time_limit = float(time_limit)
        self.on_time_limit = on_time_limit

    def _solve_batch(self, theta: np.ndarray, weights: np.ndarray, capacity: np.ndarray):
        from ortools.algorithms.python import knapsack_solver

        w, c = self._integer_instance(weights, capacity)
        y = np.zeros(theta.shape, dtype=np.float64)
        solver = knapsack_solver.KnapsackSolver(
            knapsack_solver.SolverType.KNAPSACK_MULTIDIMENSION_BRANCH_AND_BOUND_SOLVER,
            "knapsack",
        )
        unproven = []
        for b in range(theta.shape[0]):
            t = theta[b].astype(np.float64)
            items = np.flatnonzero((t > 0) & (w[b] <= c[b]))
            if items.size == 0:
                continue
            # 2^e brings the sum of the values into [2^49, 2^50): exact, however small or
            # large. The sum is taken with the largest value scaled into [1/2, 1), so it
            # cannot overflow.
            top = -math.frexp(float(t[items].max()))[1]
            e = top + _PROFIT_BITS - math.frexp(math.fsum(np.ldexp(t[items], top)))[1]
            profits = np.round(np.ldexp(t[items], e))
            keep = profits > 0
            items, profits = items[keep], profits[keep]
            if items.size == 0:
                continue
            solver.init(profits.astype(np.int64).tolist(), [w[b, items].tolist()], [int(c[b])])
            if math.isfinite(self.time_limit):
                solver.set_time_limit(self.time_limit)  # init() does not reset it
            solver.solve()
            if not solver.is_solution_optimal():
                unproven.append(b)
                if self.on_time_limit == "raise":
                    raise SolverTimeLimitError(self._limit_message(unproven, items.size, c[b]))
            chosen = [i for k, i in enumerate(items) if solver.best_solution_contains(k)]
            y[b, chosen] = 1.0
        if unproven:
            warnings.warn(
                self._limit_message(unproven, theta.shape[1], c[unproven[0]]),
                RuntimeWarning,
                stacklevel=4,  # the caller of solve()
            )
        return y

    def _limit_message(self, unproven: list[int], n: int, capacity: int) -> str:
        first = unproven[0]
        count = (
            f"{len(unproven)} instance(s), first {first}"
            if len(unproven) > 1
            else (f"instance {first}")
        )
        accept = (
            ""
            if self.on_time_limit == "warn"
            else (", pass on_time_limit='warn' to accept such packings")
        )
        return (
            f"knapsack (ortools): {count} reached the time limit of {self.time_limit:g} s "
            f"before the packing was proven optimal (n={n}, capacity={capacity}); the best "
            f"packing found is feasible but may be suboptimal. Raise time_limit{accept}, or "
            "use the numba backend (DP)"
        )


register(
    "knapsack",
    "numba",
    KnapsackNumbaSolver,
    "0-1 knapsack, Numba DP over integer capacity, parallel batch; "
    "params weights, capacity (or per call), weight_scale, max_table_size",
    default=True,
)
register(
    "knapsack",
    "ortools",
    KnapsackORToolsSolver,
    "0-1 knapsack, OR-Tools branch and bound per instance (profits scaled to integers); "
    "params weights, capacity (or per call), weight_scale, time_limit, on_time_limit",
)
