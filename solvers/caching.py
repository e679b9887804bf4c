"""Solution caching: answer a share of each call from a pool of solutions already seen.

For an expensive oracle, Mulamba et al. replace the exact maximiser by its *inner
approximation* over a growing pool ``S ⊆ Y`` of feasible solutions,

    ŷ_S(θ) = argmax_{y ∈ S} ⟨θ, y⟩,        ⟨θ, ŷ_S(θ)⟩ <= max_{y ∈ Y} ⟨θ, y⟩,

with equality whenever an optimal solution is already in ``S``. In each call to
:class:`CachedSolver`, a share ``solve_ratio`` of the instances, drawn at random, is solved
exactly by the wrapped solver and their solutions join the pool; every other instance gets
the pool solution with the largest ``⟨θ, y⟩`` (all at once: one matrix product
``θ Sᵀ`` and an argmax per row; ties go to the earliest pool entry). ``solve_ratio = 1``
solves everything and is the wrapped solver. Training losses that only need a good
``y`` per step (SPO+, Fenchel-Young, perturbed layers) keep working with most calls
answered from the pool, at the cost of some regret.

Validity. Every pool solution must be feasible for every instance it may answer, so the
feasible set must not change between instances or calls. Structure fixed at the wrapped
solver's construction (a grid, a graph, knapsack weights passed to ``solvers.get``) is
fine. Per-call side data (``solve(θ, weights=W, capacity=C)``) can change the feasible
set and is refused with :class:`~solvers.base.SolverInputError`, unless the user declares
``fixed_feasible_set=True``; then the side data must be identical for every instance of
every call (checked). A pool given at construction (``pool=``, e.g. the training targets)
must hold feasible solutions; it is checked for shape and finite entries only.

Memory. The pool is deduplicated and bounded: at most ``max_pool`` solutions (default
20,000), the oldest replaced first once full. It stores ``d`` float64 entries per solution
(``d`` = entries of one instance: 1.2 kB for a 12×12 grid, 20,000 of them 23 MB), and a
call forms the scores ``θ Sᵀ`` in row blocks of at most 2^21 entries (16 MB); up to
2^25 multiplications a serial Numba loop finds the best rows instead (BLAS threads cost
more than they save there when the cores are shared). The
generator is seeded (``seed``), so the same seed and calls give the same answers. The
wrapper is stateful (pool, generator, counters): use one per training run and thread.

Example::

    import solvers
    exact = solvers.get("knapsack", backend="ortools", weights=w, capacity=c)
    oracle = solvers.cached(exact, solve_ratio=0.3, seed=0, pool=y_train)
    y = oracle.solve(theta)          # 30% of the rows solved, 70% from the pool
    oracle.solved, oracle.from_pool  # instance counts so far

Reference: Mulamba, Mandi, Diligenti, Lombardi, Bucarey and Guns, "Contrastive losses and
solution caching for predict-and-optimize", IJCAI 2021 (the inner approximation and
``p_solve``); PyEPO's ``solve_ratio`` (Tang and Khalil, 2022).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._caching_kernels import best_in_pool
from .base import Solver, SolverInputError, as_array

__all__ = ["CachedSolver", "cached", "DEFAULT_MAX_POOL"]

DEFAULT_MAX_POOL = 20_000
"""Default bound on the number of distinct pool solutions (the oldest replaced first)."""
_BLOCK = 2**21  # entries of one block of the score matrix θ Sᵀ
#: Up to this many multiplications the best pool rows are found by a serial Numba loop: a
#: BLAS thread pool costs tens of milliseconds per product when other processes share the
#: cores, more than the product itself.
_NO_BLAS = 2**25


class _Pool:
    """Distinct solutions of one instance shape, at most ``capacity``, oldest replaced."""

    def __init__(self, size: int, capacity: int) -> None:
        self.rows = np.zeros((min(capacity, 64), size))
        self.capacity = capacity
        self.count = 0
        self.next = 0  # the slot the next new solution takes once full
        self.index: dict[bytes, int] = {}

    def add(self, solutions: np.ndarray) -> None:
        for row in np.ascontiguousarray(solutions, dtype=np.float64):
            key = (row + 0.0).tobytes()  # + 0.0: -0.0 and 0.0 are one solution
            if key in self.index:
                continue
            if self.count < self.capacity:
                if self.count == self.rows.shape[0]:
                    grown = np.zeros((min(2 * self.count, self.capacity), self.rows.shape[1]))
                    grown[: self.count] = self.rows
                    self.rows = grown
                slot = self.count
                self.count += 1
            else:
                slot = self.next
                self.next = (self.next + 1) % self.capacity
                del self.index[(self.rows[slot] + 0.0).tobytes()]
            self.rows[slot] = row
            self.index[key] = slot

    def best(self, theta: np.ndarray) -> np.ndarray:
        """The pool solution of largest ``⟨θ_b, y⟩`` for each row ``θ_b`` of ``θ`` (B, d)."""
        pool = self.rows[: self.count]
        out = np.empty((theta.shape[0], pool.shape[1]))
        step = max(1, _BLOCK // max(1, self.count))
        for start in range(0, theta.shape[0], step):
            block = theta[start : start + step].astype(np.float64, copy=False)
            if block.size * self.count <= _NO_BLAS:
                index = best_in_pool(np.ascontiguousarray(block), pool)
            else:
                index = np.argmax(block @ pool.T, axis=1)
            out[start : start + step] = pool[index]
        return out


class CachedSolver(Solver):
    """A solver that answers a share ``1 - solve_ratio`` of each call from a solution pool
    (module docstring: the maths, validity, memory, example and reference).

    Parameters: ``solver`` (any :class:`~solvers.base.Solver`), ``solve_ratio`` in
    ``[0, 1]`` (0: pool only, which needs a non-empty pool), ``seed`` (int or ``None``),
    ``pool`` (known feasible solutions, ``(N, *instance_shape)``), ``fixed_feasible_set``
    (declare per-call side data constant), ``max_pool`` (bound on the pool size).
    Counters ``calls``, ``solved`` and ``from_pool`` count calls and instances.

    Examples:
        >>> import numpy as np, solvers
        >>> exact = solvers.get("knapsack", weights=[3, 4, 5, 6], capacity=10)
        >>> oracle = CachedSolver(exact, solve_ratio=0.25, seed=0)
        >>> theta = np.random.default_rng(0).uniform(size=(8, 4))
        >>> y = oracle.solve(theta)  # first call: the pool is empty, all 8 solved
        >>> y = oracle.solve(theta)  # then 2 of 8 solved, 6 answered from the pool
        >>> oracle.solved, oracle.from_pool
        (10, 6)
        >>> bool(((y @ np.array([3, 4, 5, 6])) <= 10).all())  # pool answers stay feasible
        True
    """

    backend = "cached"

    def __init__(
        self,
        solver: Solver,
        solve_ratio: float = 0.3,
        *,
        seed: int | None = 0,
        pool: Any = None,
        fixed_feasible_set: bool = False,
        max_pool: int = DEFAULT_MAX_POOL,
    ) -> None:
        if not isinstance(solver, Solver):
            raise TypeError(f"cached: expected a solvers.Solver, got {type(solver).__name__}")
        if (
            isinstance(solve_ratio, bool)
            or not isinstance(solve_ratio, (int, float, np.integer, np.floating))
            or not 0.0 <= solve_ratio <= 1.0
        ):
            raise SolverInputError(
                f"{solver.problem} (cached): solve_ratio must be a number in [0, 1], "
                f"got {solve_ratio!r}"
            )
        if isinstance(max_pool, bool) or not isinstance(max_pool, (int, np.integer)):
            raise TypeError(f"{solver.problem} (cached): max_pool must be an int, got {max_pool!r}")
        if max_pool < 1:
            raise SolverInputError(f"{solver.problem} (cached): max_pool must be >= 1")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"{solver.problem} (cached): seed must be an int or None, got {seed!r}")
        self.solver = solver
        self.problem = solver.problem
        self.event_ndim = solver.event_ndim
        self.instance_shape = solver.instance_shape
        self.side_inputs = solver.side_inputs
        self.solve_ratio = float(solve_ratio)
        self.fixed_feasible_set = bool(fixed_feasible_set)
        self.max_pool = int(max_pool)
        self.rng = np.random.default_rng(seed)
        self.pools: dict[tuple[int, ...], _Pool] = {}
        self._side_seen: dict[str, np.ndarray] | None = None
        self.calls = self.solved = self.from_pool = 0
        if pool is not None:
            self.add_to_pool(pool)

    def __getattr__(self, name: str) -> Any:
        """The wrapped solver's settings (``negative_costs``, ``weights``...) read through
        the wrapper, so that checks of a solver's settings see the same values."""
        inner = self.__dict__.get("solver")
        if inner is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(inner, name)

    def __repr__(self) -> str:
        size = sum(p.count for p in self.pools.values())
        return (
            f"CachedSolver({self.solver!r}, solve_ratio={self.solve_ratio}, pool={size} solutions)"
        )

    @property
    def pool_size(self) -> int:
        """Distinct solutions held, over all instance shapes."""
        return sum(p.count for p in self.pools.values())

    def add_to_pool(self, solutions: Any) -> None:
        """Add known feasible solutions ``(N, *instance_shape)`` (or one) to the pool."""
        arr = np.asarray(as_array(solutions, "pool", self.problem), dtype=np.float64)
        if arr.ndim < self.event_ndim or not np.isfinite(arr).all():
            raise SolverInputError(
                f"{self.problem} (cached): the pool must hold finite solutions with "
                f"{self.event_ndim} instance axes, got shape {arr.shape}"
            )
        shape = tuple(arr.shape[arr.ndim - self.event_ndim :])
        self._check_shape(shape)
        self._pool(shape).add(arr.reshape(-1, math.prod(shape)))

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        """Pool solutions of ``shape`` must fit the wrapped solver's instances: its own
        checks of θ and of the side data fixed at construction (knapsack weights...)."""
        if self.instance_shape is not None and shape != tuple(self.instance_shape):
            raise SolverInputError(
                f"{self.problem} (cached): pool solutions have shape {shape}, the solver's "
                f"instances {tuple(self.instance_shape)}"
            )
        try:
            self.solver.validate(np.zeros((1, *shape)))
            if self.side_inputs:
                self.solver._check_side({}, (1,), shape)
        except SolverInputError as exc:
            if "missing" in str(exc):  # side data only given per call: nothing to check
                return
            raise SolverInputError(
                f"{self.problem} (cached): pool solutions have shape {shape}, which the "
                f"solver refuses: {exc}"
            ) from None

    def _pool(self, shape: tuple[int, ...]) -> _Pool:
        if shape not in self.pools:
            self.pools[shape] = _Pool(math.prod(shape), self.max_pool)
        return self.pools[shape]

    def lp_form(self, shape: Any = None, **side: Any):
        return self.solver.lp_form(shape, **side)

    def validate(self, theta: Any) -> np.ndarray:
        return self.solver.validate(theta)

    def _check_side(
        self, side: dict[str, Any], batch_shape: tuple[int, ...], event_shape: tuple[int, ...]
    ) -> dict:
        given = sorted(side)
        checked = self.solver._check_side(side, batch_shape, event_shape)
        if not given:
            return checked
        if not self.fixed_feasible_set:
            raise SolverInputError(
                f"{self.problem} (cached): per-call side data {given} can change the feasible "
                "set, and pool solutions must be feasible for every instance; fix it at the "
                "solver's construction, or pass fixed_feasible_set=True if it is the same in "
                "every instance and call"
            )
        n_batch = math.prod(batch_shape)
        for name in given:
            flat = np.asarray(checked[name]).reshape(n_batch, -1)
            first = flat[0] if n_batch else None
            if self._side_seen is not None and name in self._side_seen:
                first = self._side_seen[name]
            if first is not None and not np.all(flat == first):
                raise SolverInputError(
                    f"{self.problem} (cached): fixed_feasible_set=True, but the side data "
                    f"{name!r} differs between instances or calls"
                )
            if first is not None:
                self._side_seen = {**(self._side_seen or {}), name: first.copy()}
        return checked

    def _solve_batch(self, theta: np.ndarray, **side: np.ndarray) -> np.ndarray:
        n = theta.shape[0]
        pool = self._pool(tuple(theta.shape[1:]))
        flat = theta.reshape(n, -1)
        if pool.count == 0 and self.solve_ratio == 0.0:
            raise SolverInputError(
                f"{self.problem} (cached): solve_ratio=0 answers from the pool only, and the "
                "pool is empty; give it known solutions (pool=...) or a positive solve_ratio"
            )
        # an empty pool has no answers: the first call solves everything
        n_solve = n if pool.count == 0 else math.ceil(self.solve_ratio * n - 1e-9)
        chosen = np.sort(self.rng.choice(n, size=n_solve, replace=False))
        rest = np.setdiff1d(np.arange(n), chosen, assume_unique=True)
        y = np.empty(flat.shape, dtype=np.float64)
        if chosen.size:
            exact = self.solver._solve_batch(
                np.ascontiguousarray(theta[chosen]), **{k: v[chosen] for k, v in side.items()}
            )
            exact = np.asarray(exact, dtype=np.float64).reshape(chosen.size, -1)
            y[chosen] = exact
            pool.add(exact)
        if rest.size:
            y[rest] = pool.best(flat[rest])
        self.calls += 1
        self.solved += int(chosen.size)
        self.from_pool += int(rest.size)
        return y.reshape(theta.shape)


def cached(
    solver: Solver,
    solve_ratio: float = 0.3,
    *,
    seed: int | None = 0,
    pool: Any = None,
    fixed_feasible_set: bool = False,
    max_pool: int = DEFAULT_MAX_POOL,
) -> CachedSolver:
    """Wrap ``solver`` with solution caching (:class:`CachedSolver`, module docstring).

    Examples:
        >>> import numpy as np, solvers
        >>> exact = solvers.get("argmax")
        >>> oracle = solvers.cached(exact, solve_ratio=0.0, pool=np.eye(3)[:2])  # pool only
        >>> oracle.solve(np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 0.0]]))  # best pool members
        array([[0., 1., 0.],
               [1., 0., 0.]])
        >>> solvers.cached(exact, solve_ratio=1.0).solve(np.array([0.0, 1.0, 5.0]))
        array([0., 0., 1.])
    """
    return CachedSolver(
        solver,
        solve_ratio,
        seed=seed,
        pool=pool,
        fixed_feasible_set=fixed_feasible_set,
        max_pool=max_pool,
    )
