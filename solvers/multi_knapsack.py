"""Multi-dimensional 0-1 knapsack: ``max Σ_i θ_i y_i`` subject to ``W y <= C``, ``y ∈ {0,1}^n``.

``θ`` holds item values, shape ``(B, n)`` (or ``(n,)``, or more leading batch axes). The
weights ``W >= 0`` of shape ``(m, n)`` (one row per resource) and the capacities ``C >= 0``
of shape ``(m,)`` are side data, given at construction,
``solvers.get("multi_knapsack", weights=W, capacity=C)``, or per call,
``solver.solve(theta, weights=W, capacity=C)``, as for the one-dimensional ``knapsack``
(same names; per-call values replace the ones fixed at construction). Shapes:

* ``weights``: ``(m, n)`` shared by the batch, or ``(*batch, m, n)`` per instance (the
  batch axes being those of ``θ``). Note that ``(B, n)`` reads as ``B`` resources; one
  resource per instance is ``(B, 1, n)``.
* ``capacity``: a scalar (every resource, every instance), ``(m,)`` shared by the batch,
  or ``(*batch, m)``.

Items with ``θ_i <= 0`` are never chosen. The name follows PyEPO's "multi-dimensional
knapsack" (Tang and Khalil, "PyEPO", Math. Prog. Comp. 2024), whose synthetic benchmark
uses two resources; ``m = 1`` is the ``knapsack`` problem.

Integer weights. Both exact backends work on integers: without ``weight_scale`` the weights
must be integral and a capacity ``C`` is used as ``⌊C⌋`` (exact for integral weights: a
capacity just below an integer never admits it). With ``weight_scale = s`` the grid of
multiples of ``1/s`` is used, compared in floating point in the user's units: each weight
becomes the smallest ``k`` with ``k/s >= w``, each capacity the largest ``k`` with
``k/s <= C`` (``k/s`` evaluated in float64, so ``0.29`` at ``s = 100`` is ``29`` for a
weight and for a capacity, although ``0.29·100 = 28.999999999999996``). Weights are thus
rounded up and capacities down: every packing returned is feasible for the true data, and
it is optimal for the rounded one, which may exclude a true packing that fills a resource
to within ``n/s``. With ``s = 1`` the rules are ``⌈w⌉`` and ``⌊C⌋``. The rules live in
:mod:`solvers._scale`, shared with the ``demand_scale`` of ``vehicle_routing``.

Backends:

* ``numba`` (default): dynamic programming over the lattice of capacity vectors
  (:mod:`solvers._multi_knapsack_kernels`), exact, one ``prange`` over the batch. The
  lattice has ``L = Π_k (C_k + 1)`` points over the resources that can bind (capacity
  capped at the total weight of the items that fit); the decision table has ``n·L`` bytes
  and must stay within ``max_table_size`` (default 50 million) for every instance, else
  :class:`SolverInputError` naming the ``branch_and_bound`` and ``ortools`` backends.
  Time ``O(n·L)``. Positive values whose sum overflows float64 are refused, as in
  ``knapsack``.
* ``branch_and_bound``: depth-first branch and bound with Dantzig bounds
  (:mod:`solvers.multi_knapsack_bnb`), exact, one ``prange`` over the batch; its time
  depends on the values, not on the capacities (PyEPO's two-decimal weights: microseconds an
  instance), its worst case is exponential, hence ``max_nodes``.
* ``ortools``: OR-Tools CP-SAT, exact, one instance at a time, values scaled to integers
  per instance (:mod:`solvers._cpsat`: integer values summing to at most ``2^49``
  exactly; otherwise within ``n·2^-49·Σ|θ|`` of the optimum; items whose value rounds to 0
  are left out). ``time_limit`` seconds per
  instance (default 60), ``num_workers`` (default 1), ``on_time_limit`` ``"warn"`` or
  ``"raise"``.
* ``lp`` (derived, reference): the integer program of
  :meth:`~MultiKnapsackSolver.lp_form` solved exactly through :mod:`solvers.lp`, whatever
  the magnitudes of ``θ``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ._cpsat import CpSatOptions, TimeLimitReport, integer_objective, solve_model
from ._multi_knapsack_kernels import multi_knapsack_dp, multi_knapsack_dp_batch
from ._scale import check_scale, check_sizes, grid_ceil, grid_floor
from .base import LPForm, Solver, SolverInputError, as_finite_float
from .registry import register

__all__ = ["MultiKnapsackSolver", "MultiKnapsackCpSatSolver", "DEFAULT_MAX_TABLE_SIZE"]

DEFAULT_MAX_TABLE_SIZE = 50_000_000
"""Default limit on the DP decision table ``n·L`` of one instance (bytes)."""
_INT_LIMIT = 2.0**62  # integer weights and capacities stay below this (int64 headroom)
_NAME = "multi_knapsack"


class _MultiKnapsackBase(Solver):
    """Side data (weights, capacities) and the integer instance shared by the backends."""

    problem = _NAME
    event_ndim = 1
    side_inputs = ("weights", "capacity")

    def __init__(
        self, weights: Any = None, capacity: Any = None, *, weight_scale: float | None = None
    ) -> None:
        self.weight_scale = check_scale(weight_scale, "weight_scale", _NAME)
        self.weights = None if weights is None else self._check_weights(weights, fixed=True)
        self.capacity = None if capacity is None else self._check_capacity(capacity, fixed=True)
        if self.weights is not None and self.capacity is not None:
            self._check_dimensions(self.weights.shape[0], self.capacity)

    def __repr__(self) -> str:
        shape = None if self.weights is None else self.weights.shape
        return f"{type(self).__name__}(weights shape={shape}, backend={self.backend!r})"

    # -- validation -------------------------------------------------------------------
    def _check_weights(self, weights: Any, fixed: bool = False) -> np.ndarray:
        w = as_finite_float(weights, "weights", _NAME)
        if w.ndim < 2 or (fixed and w.ndim != 2):
            want = "(m, n)" if fixed else "(m, n) or (*batch, m, n)"
            raise SolverInputError(
                f"{_NAME}: weights must have shape {want}, one row per resource, got shape "
                f"{w.shape} (a single resource is weights[None], or the knapsack problem)"
            )
        return check_sizes(
            w, self.weight_scale, "weights", "weight_scale", _NAME,
            "weights are then rounded up and capacities down to multiples of 1/s",
        )  # fmt: skip

    def _check_capacity(self, capacity: Any, fixed: bool = False) -> np.ndarray:
        c = as_finite_float(capacity, "capacity", _NAME)
        if fixed and c.ndim > 1:
            raise SolverInputError(
                f"{_NAME}: capacity must be a scalar or have shape (m,), got shape {c.shape}"
            )
        if c.size and c.min() < 0:
            raise SolverInputError(f"{_NAME}: capacity must be >= 0, got minimum {c.min()}")
        return c

    @staticmethod
    def _check_dimensions(m: int, capacity: np.ndarray) -> None:
        if capacity.ndim == 1 and capacity.shape[0] != m:
            raise SolverInputError(
                f"{_NAME}: weights have {m} resource rows but capacity has {capacity.shape[0]}"
                " entries"
            )

    def _check_side(
        self, side: dict[str, Any], batch_shape: tuple[int, ...], event_shape: tuple[int, ...]
    ) -> dict:
        """Validate weights and capacities against θ and broadcast them over θ's batch axes.

        Returns float64 ``weights`` ``(*batch, m, n)`` and ``capacity`` ``(*batch, m)``,
        the true (unrounded) values.
        """
        side = super()._check_side(side, batch_shape, event_shape)
        weights = side.get("weights", self.weights)
        capacity = side.get("capacity", self.capacity)
        if weights is None or capacity is None:
            missing = [k for k, v in (("weights", weights), ("capacity", capacity)) if v is None]
            raise SolverInputError(
                f"{_NAME}: {' and '.join(missing)} missing: fix them at construction, "
                f"solvers.get('{_NAME}', weights=W, capacity=C), or pass them to solve()"
            )
        w = self._check_weights(weights)
        c = self._check_capacity(capacity)
        m, n = w.shape[-2:]
        if n != event_shape[-1]:
            raise SolverInputError(
                f"{_NAME}: θ has {event_shape[-1]} items per instance but weights have {n} "
                f"columns (weights shape {w.shape})"
            )
        if w.shape not in ((m, n), (*batch_shape, m, n)):
            raise SolverInputError(
                f"{_NAME}: weights must have shape (m, n) or (*batch, m, n) = "
                f"{(*batch_shape, m, n)} matching θ's batch axes {batch_shape}, got {w.shape}"
            )
        if c.shape not in ((), (m,), (*batch_shape, m)):
            raise SolverInputError(
                f"{_NAME}: capacity must be a scalar, (m,) = ({m},) or (*batch, m) = "
                f"{(*batch_shape, m)} for θ's batch axes {batch_shape}, got {c.shape}"
            )
        return {
            "weights": np.broadcast_to(w, (*batch_shape, m, n)),
            "capacity": np.broadcast_to(c, (*batch_shape, m)),
        }

    def _integer_instance(
        self, weights: np.ndarray, capacity: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Integer weights ``(B, m, n)`` and capacities ``(B, m)`` (module docstring), for
        side data already checked by :meth:`_check_side`.

        Each capacity is capped at its row's total weight (a larger one packs as the total
        does, so a huge capacity is not an error) and weights above the capacity at
        capacity + 1 (they never fit either way). Capacities and each row's capped weights
        must sum below ``2^62`` (the kernels add weights in int64), else
        :class:`SolverInputError`.
        """
        s = 1.0 if self.weight_scale is None else self.weight_scale
        w = grid_ceil(weights, s)
        c = np.minimum(grid_floor(capacity, s), w.sum(axis=2))
        if c.size and c.max() >= _INT_LIMIT:
            raise SolverInputError(
                f"{_NAME}: scaled capacity {c.max():.3g} exceeds the integer range 2^62"
            )
        w = np.minimum(w, c[:, :, None] + 1.0)
        if w.size and w.sum(axis=2).max() >= _INT_LIMIT:
            raise SolverInputError(
                f"{_NAME}: the scaled weights of a resource sum to {w.sum(axis=2).max():.3g}, "
                "beyond the integer range 2^62; use a smaller weight_scale or unit"
            )
        return np.ascontiguousarray(w, dtype=np.int64), np.ascontiguousarray(c, dtype=np.int64)

    # -- LP form ----------------------------------------------------------------------
    def lp_form(self, shape: Any = None, weights: Any = None, capacity: Any = None) -> LPForm:
        """``{y ∈ {0,1}^n : W y <= C}``: one row per resource, binary items (a MIP).

        ``weights`` (m, n) and ``capacity`` (scalar or (m,)) default to the ones fixed at
        construction. Without ``weight_scale`` the weights are integral and ``C`` is
        stated as ``⌊C⌋``: the same integer points, and no MIP feasibility tolerance can
        then admit a load above ``C``. With ``weight_scale`` the true weights and
        capacities are stated (the reference solves the unrounded instance).
        """
        w = self.weights if weights is None else self._check_weights(weights, fixed=True)
        c = self.capacity if capacity is None else self._check_capacity(capacity, fixed=True)
        if w is None or c is None:
            raise SolverInputError(f"{_NAME}: lp_form needs weights and capacity")
        m, n = w.shape
        self._check_dimensions(m, c)
        if shape is not None and tuple(np.atleast_1d(shape)) != (n,):
            raise SolverInputError(f"{_NAME}: lp_form shape {shape!r} but weights have {n} items")
        c = np.broadcast_to(c, (m,)).astype(np.float64)
        return LPForm(
            n_vars=n,
            y_index=np.arange(n),
            A_ub=sp.csr_matrix(w),
            b_ub=np.floor(c) if self.weight_scale is None else c,
            upper=np.ones(n),
            integrality=np.ones(n, dtype=bool),
            integral_polytope=False,
            description="multi-dimensional 0-1 knapsack: one capacity row per resource",
        )


def _check_value_sum(theta: np.ndarray) -> None:
    """Refuse a batch whose positive values in one instance sum beyond float64 (the DP
    adds them and would compare infinities)."""
    with np.errstate(over="ignore"):
        total = np.maximum(theta, 0.0).sum(axis=1)
    bad = np.flatnonzero(~np.isfinite(total))
    if bad.size:
        b = int(bad[0])
        raise SolverInputError(
            f"{_NAME}: θ up to {theta[b].max():g} would overflow the sum of the packed values "
            f"(the positive values of instance {b} sum beyond the float64 range); rescale θ, "
            "or use the ortools backend, which scales the values itself"
        )


class MultiKnapsackSolver(_MultiKnapsackBase):
    """Multi-dimensional 0-1 knapsack by DP over the capacity lattice (Numba, parallel batch).

    Parameters: ``weights`` (m, n) and ``capacity`` (scalar or (m,)), both optional (else
    per call); ``weight_scale`` for fractional weights; ``max_table_size`` bounds ``n·L``
    (module docstring).

        >>> solver = MultiKnapsackSolver(weights=[[2, 1, 1], [1, 2, 2]], capacity=[3, 3])
        >>> solver.solve([1.0, 2.0, 3.0])   # items 1 and 2 would need 4 units of resource 1
        array([1., 0., 1.])
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
            raise TypeError(f"{_NAME}: max_table_size must be an int, got {max_table_size!r}")
        if max_table_size < 1:
            raise SolverInputError(f"{_NAME}: max_table_size must be >= 1, got {max_table_size}")
        self.max_table_size = int(max_table_size)

    def _table_cells(self, w: np.ndarray, c: np.ndarray) -> tuple[float, int]:
        """A θ-independent bound on the largest decision table the kernel builds, and the
        instance where it is reached (the kernel's candidates are a subset of the items
        that fit, so its lattice is no larger)."""
        fits = np.all(w <= c[:, :, None], axis=1)  # (B, n)
        total = (w * fits[:, None, :]).sum(axis=2, dtype=np.float64)  # (B, m)
        radix = np.where(total > c, c + 1.0, 1.0)
        with np.errstate(over="ignore"):  # inf cells: above any limit, as they should be
            cells = fits.sum(axis=1) * np.prod(radix, axis=1)
        worst = int(np.argmax(cells))
        return float(cells[worst]), worst

    def _solve_batch(self, theta: np.ndarray, weights: np.ndarray, capacity: np.ndarray):
        w, c = self._integer_instance(weights, capacity)
        cells, worst = self._table_cells(w, c)
        if cells > self.max_table_size:
            raise SolverInputError(
                f"{_NAME}: the DP table of instance {worst} would have n·Π(C_k+1) = "
                f"{cells:.3g} cells (capacities {c[worst].tolist()}), above max_table_size="
                f"{self.max_table_size}; use backend='branch_and_bound' or 'ortools' (CP-SAT), "
                "a smaller weight_scale, or raise max_table_size"
            )
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        _check_value_sum(theta)
        if theta.shape[0] == 1:  # one instance: skip the parallel region's start-up cost
            y = np.zeros(theta.shape)
            multi_knapsack_dp(theta[0], w[0], c[0], y[0])
            return y
        return multi_knapsack_dp_batch(theta, w, c)


class MultiKnapsackCpSatSolver(_MultiKnapsackBase):
    """Multi-dimensional 0-1 knapsack by OR-Tools CP-SAT, one instance at a time.

    Parameters: ``weights``, ``capacity``, ``weight_scale`` as the other backends;
    ``time_limit`` (seconds per instance, default 60), ``num_workers`` (default 1),
    ``on_time_limit`` (``"warn"`` or ``"raise"``, see :mod:`solvers._cpsat`).

    Examples:
        >>> import solvers
        >>> knap = solvers.get(
        ...     "multi_knapsack", backend="ortools", weights=[[2, 1, 1], [1, 2, 2]], capacity=[3, 3]
        ... )
        >>> knap.solve([1.0, 2.0, 3.0])  # items 1 and 2 would need 4 units of resource 1
        array([1., 0., 1.])
    """

    backend = "ortools"

    def __init__(
        self,
        weights: Any = None,
        capacity: Any = None,
        *,
        weight_scale: float | None = None,
        time_limit: float = 60.0,
        num_workers: int = 1,
        on_time_limit: str = "warn",
    ) -> None:
        super().__init__(weights, capacity, weight_scale=weight_scale)
        self.options = CpSatOptions.checked(_NAME, time_limit, num_workers, on_time_limit)

    def _solve_batch(self, theta: np.ndarray, weights: np.ndarray, capacity: np.ndarray):
        from ortools.sat.python import cp_model

        w, c = self._integer_instance(weights, capacity)
        solver = self.options.solver()
        report = TimeLimitReport(_NAME, self.options)
        y = np.zeros(theta.shape, dtype=np.float64)
        for b in range(theta.shape[0]):
            t = theta[b].astype(np.float64)
            items = np.flatnonzero((t > 0) & np.all(w[b] <= c[b][:, None], axis=0))
            if items.size == 0:
                continue
            coef = integer_objective(t[items], terms=items.size)
            items, coef = items[coef > 0], coef[coef > 0]
            if items.size == 0:
                continue
            model = cp_model.CpModel()
            x = [model.new_bool_var(f"x{i}") for i in items]
            for k in range(w.shape[1]):
                row = w[b, k, items]
                if row.sum() > c[b, k]:  # a resource that cannot bind needs no row
                    model.add(cp_model.LinearExpr.weighted_sum(x, row.tolist()) <= int(c[b, k]))
            model.maximize(cp_model.LinearExpr.weighted_sum(x, coef.tolist()))
            solve_model(model, solver, report, b)
            y[b, items] = [solver.boolean_value(v) for v in x]
        report.warn()
        return y


register(
    _NAME,
    "numba",
    MultiKnapsackSolver,
    "multi-dimensional 0-1 knapsack, exact Numba DP over the capacity lattice, parallel batch; "
    "params weights (m, n), capacity (or per call), weight_scale, max_table_size",
    default=True,
)
register(
    _NAME,
    "ortools",
    MultiKnapsackCpSatSolver,
    "multi-dimensional 0-1 knapsack, exact OR-Tools CP-SAT per instance (values scaled to "
    "integers); params weights, capacity (or per call), weight_scale, time_limit, num_workers, "
    "on_time_limit",
)
