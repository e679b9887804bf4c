r"""A pool of feasible solutions that grows during training: the shared state of the
contrastive and learning-to-rank losses.

Reference: Mulamba, Mandi, Diligenti, Lombardi, Bucarey, Guns, "Contrastive Losses and
Solution Caching for Predict-and-Optimize", IJCAI 2021 (the pool ``S ⊆ Y`` and
``p_solve``); PyEPO's ``solve_ratio`` (Tang & Khalil).

The losses of :mod:`~diffsolvers.losses.contrastive` and
:mod:`~diffsolvers.losses.learning_to_rank` compare the target with a pool ``S`` of
solutions instead of the whole feasible set ``Y``: a solution scored against
``S`` needs no solver call, and ``S`` grows with the solutions the solver finds. At each
call of :meth:`SolutionPool.step`:

1. the targets (the solutions a loss is given, if any) join the pool;
2. a share ``solve_ratio`` of the call's instances, ``⌈ρN⌉`` of ``N`` chosen at random
   (from the module's ``seed`` or ``generator``), is solved exactly, ``y*(θ̂_i)``, in one
   batched solver call, and the solutions join the pool; instances whose feasible set has
   no solution in the pool yet are solved too (so a first call solves everything when no
   solutions were given). ``solve_ratio=1`` solves every instance (PyEPO's default),
   ``solve_ratio=0`` none but those;
3. the pool's solutions ``W`` (K, D) and the mask ``M`` (N, K) of the solutions each
   instance may use are returned, as constants.

PyEPO draws one coin per call with probability ``solve_ratio`` and then solves the whole
batch or nothing; here each call solves the share ``ρ`` of its instances: the same
expected solver work, without the variance, and one solve shape per batch size.

**Feasible sets.** A pool solution stands for a decision only where it is feasible. The
pool groups solutions by the per-call side data of the instance they came from: with
structure fixed when the solver is built (a grid, a graph, knapsack weights given to
``solvers.get``) every instance shares one pool; with per-call side data (knapsack
``weights`` / ``capacity`` at each call) an instance sees the solutions found for the same
side data only. Solutions given when the pool is built (``solutions=``, the training
targets for instance) belong to calls without per-call side data.

**Memory.** Distinct solutions (exact equality) are kept in float64 on the prediction's
device, at most ``max_pool`` of them (default 20,000: 23 MB for a 12×12 grid); once full,
the oldest is replaced first, never one the current call uses. An eager call returns views
of the pool's storage, not copies (the operator of a compiled program or a transform
returns copies): later calls write new solutions to new slots, and a call
that replaces solutions copies the storage first, so the rows a call returned keep their
values (the ``solutions`` property returns a copy).

**State under torch.compile and vmap.** The pool is state that a call changes. All of
step 1–3 happens inside one custom operator (``diffsolvers::pool_step``), reached through
integer handles like the solver (:mod:`diffsolvers._handles`): a program compiled with
``torch.compile(fullgraph=True)`` runs it as one opaque step, with the pool of eager
execution, the same random choice (from the module's generator) and the same updates (in
eager execution, outside functorch transforms, the operator's body is called directly); its
size ``K`` is a data-dependent dimension of the traced program. Under
``torch.func.vmap`` the vmapped axis is one more batch axis: one update of the pool, and
with ``randomness="different"`` exactly the choice of the batched call (``"same"``: one
choice repeated in every slice; vmap's default ``"error"`` raises when ``solve_ratio``
is below 1, as for any random operation). A copied or unpickled pool holds its own
solutions and generator.

Example::

    >>> import torch, solvers
    >>> pool = SolutionPool(solvers.get("argmax"), solutions=torch.eye(3)[:1], seed=0)
    >>> rows, mask = pool.step(torch.tensor([[0.0, 2.0, 1.0]]))
    >>> rows  # the given solution and y*(θ̂)
    tensor([[1., 0., 0.],
            [0., 1., 0.]])
    >>> mask
    tensor([[True, True]])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from .. import _bridge, _handles
from .._checks import problem_name, runs_eagerly
from .._core import SolverModule, work_dtype
from .._options import OPTIONS
from .._random import RandomSource
from ._pool_rows import PoolRows, side_key

__all__ = ["SolutionPool", "POOL_OPTIONS"]

_O = OPTIONS
POOL_OPTIONS = ("pool", "solve_ratio", "max_pool", "seed", "generator")
"""The options of a :class:`SolutionPool`, which every loss on a pool declares."""

POOL_DEFAULTS = {"solve_ratio": 1.0}
"""A loss's pool solves every instance unless told otherwise (PyEPO's default)."""


def _names(side_names: str) -> list[str]:
    return side_names.split(",") if side_names else []


def _chosen(
    n: int, ratio: float, source: RandomSource | None, device: torch.device, same: int
) -> list[int]:
    """Flat indices of the instances solved exactly: ``⌈ρn⌉`` of ``n`` at random; with
    ``same`` slices (vmap's ``randomness="same"``) one choice repeated in each slice."""
    if ratio >= 1.0:
        return list(range(n))
    per_slice = n // same
    k = math.ceil(ratio * per_slice - 1e-9)
    if k == 0:
        return []
    generator = None if source is None else source.generator_for(device)
    where = device if generator is None else generator.device
    picked = sorted(torch.randperm(per_slice, generator=generator, device=where)[:k].tolist())
    return [s * per_slice + i for s in range(same) for i in picked]


def _full_mask(
    solutions: torch.Tensor, mask: torch.Tensor | None, theta: torch.Tensor, event_ndim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The step's solutions and its mask, all ``True`` where :func:`_pool_step` left it
    ``None`` (one feasible set)."""
    if mask is None:
        batch_shape = theta.shape[: theta.ndim - event_ndim]
        mask = torch.ones((*batch_shape, solutions.shape[0]), dtype=torch.bool, device=theta.device)
    return solutions, mask


def _pool_step_eager(
    theta: torch.Tensor,
    targets: torch.Tensor | None,
    side: list[torch.Tensor],
    side_names: str,
    solver: int,
    pool: int,
    source: int,
    solve_ratio: float,
    same: int,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The pool step itself (module docstring, steps 1–3): the body of the operator
    ``diffsolvers::pool_step``, called directly outside compiled programs and functorch
    transforms (the same computation without the dispatcher's cost). The mask is ``None``
    where every instance may use every solution (one feasible set: the losses then skip
    the masking; :func:`_full_mask` makes it)."""
    sol, rows, src = _handles.get(solver), _handles.get(pool), _handles.get(source)
    problem = problem_name(sol)
    cut = theta.ndim - sol.event_ndim
    batch_shape, event_shape = tuple(theta.shape[:cut]), tuple(theta.shape[cut:])
    n, d = math.prod(batch_shape), math.prod(event_shape)
    named = dict(zip(_names(side_names), side))
    per_instance = _bridge.flat_side(sol, named, batch_shape, event_shape)
    with rows.lock:
        rows.check_shape(event_shape, problem)
        group_list = (
            [rows.group(side_key(per_instance, i)) for i in range(n)] if per_instance else [0] * n
        )
        filled = rows.filled_groups()
        chosen = _chosen(n, solve_ratio, src, theta.device, same)
        if targets is not None or (not per_instance and 0 in filled):
            solve = chosen  # every instance's feasible set has a solution (its target)
        else:
            picked = set(chosen)
            solve = [i for i in range(n) if i in picked or group_list[i] not in filled]
        new, new_groups = [], []
        if targets is not None:  # the targets first: they join (or are found) before any
            new.append(targets.reshape(n, d))
            new_groups += group_list
            filled = filled | set(group_list)
        if solve:
            found = _bridge.solve_picked(sol, theta.reshape(n, *event_shape), per_instance, solve)
            new.append(found.reshape(len(solve), d).to(theta.dtype))
            new_groups += [group_list[i] for i in solve]
        if new:
            rows.add(torch.cat(new) if len(new) > 1 else new[0], new_groups, set(), problem)
        solutions, row_group = rows.snapshot(theta.device, theta.dtype)
    k = solutions.shape[0]
    solutions = solutions.reshape(k, *event_shape)
    if len(filled) == 1 and rows.group_sizes.keys() == filled:  # one feasible set: all allowed
        return solutions, None
    groups = torch.tensor(group_list, dtype=torch.int64, device=theta.device)
    return solutions, (groups[:, None] == row_group[None, :]).reshape(*batch_shape, k)


@torch.library.custom_op("diffsolvers::pool_step", mutates_args=())
def _pool_step(
    theta: torch.Tensor,
    targets: torch.Tensor | None,
    side: list[torch.Tensor],
    side_names: str,
    solver: int,
    pool: int,
    source: int,
    solve_ratio: float,
    same: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    # a compiled program owns the operator's outputs (it may reuse their memory): a copy
    rows, mask = _full_mask(
        *_pool_step_eager(
            theta, targets, side, side_names, solver, pool, source, solve_ratio, same
        ),
        theta,
        _handles.get(solver).event_ndim,
    )
    return rows.clone(), mask


@_pool_step.register_fake
def _(theta, targets, side, side_names, solver, pool, source, solve_ratio, same):
    event_ndim = _handles.get(solver).event_ndim
    cut = theta.ndim - event_ndim
    k = torch.library.get_ctx().new_dynamic_size()
    rows = theta.new_empty((k, *theta.shape[cut:]))
    return rows, theta.new_empty((*theta.shape[:cut], k), dtype=torch.bool)


def _pool_step_vmap(
    info, in_dims, theta, targets, side, side_names, solver, pool, source, solve_ratio, same
):
    """The vmapped axis becomes the first batch axis: one update of the pool; side data is
    brought to per-instance form slice by slice (:func:`diffsolvers._bridge.stack_side`)."""
    size = info.batch_size
    if 0.0 < solve_ratio < 1.0:
        if info.randomness == "error":
            raise RuntimeError(
                "diffsolvers: this loss chooses at random which instances to solve "
                "(solve_ratio < 1); call torch.func.vmap with randomness='different' (the "
                "choice of the batched call) or randomness='same' (one choice for every slice)"
            )
        if info.randomness == "same":
            same = same * size

    def batched(t, axis):
        if t is None:
            return None
        return t.movedim(axis, 0) if axis is not None else t.expand(size, *t.shape)

    sol = _handles.get(solver)
    theta_b = batched(theta, in_dims[0])
    cut = theta_b.ndim - sol.event_ndim
    side_b = list(side)
    if side:
        batch_shape, event_shape = theta_b.shape[1:cut], theta_b.shape[cut:]
        names = _names(side_names)
        side_b = _bridge.stack_side(sol, names, side, in_dims[2], size, batch_shape, event_shape)
    rows, mask = _pool_step(
        theta_b,
        batched(targets, in_dims[1]),
        side_b,
        side_names,
        solver,
        pool,
        source,
        solve_ratio,
        same,
    )
    return (rows, mask), (None, 0)


_pool_step.register_vmap(_pool_step_vmap)


def _as_solutions(value: Any, solver: Any) -> torch.Tensor | None:
    """Given solutions as a float64 tensor ``(K, *instance)`` (``None`` kept)."""
    value = _O["pool"].check(value)
    if value is None:
        return None
    event_ndim = solver.event_ndim
    if value.ndim < event_ndim or (value.ndim == event_ndim and value.numel() == 0):
        raise ValueError(
            f"{problem_name(solver)}: pool must hold solutions of {event_ndim} axis(es) each, "
            f"stacked as (K, *instance), got shape {tuple(value.shape)}"
        )
    expected = getattr(solver, "instance_shape", None)
    shape = tuple(value.shape[value.ndim - event_ndim :])
    if expected is not None and shape != tuple(expected):
        raise ValueError(
            f"{problem_name(solver)}: pool solutions have shape {shape}, the solver's "
            f"instances {tuple(expected)}"
        )
    return value.reshape(-1, *shape)


class SolutionPool(SolverModule):
    """A growing, deduplicated, bounded pool of solutions (see the module docstring).

    Args:
        solver: a :class:`solvers.Solver`, or any solver or function
            :func:`~diffsolvers.oracle.as_solver` accepts.
        solutions: known feasible solutions ``(K, *instance)`` the pool starts from (the
            training targets, as PyEPO's ``dataset``), or ``None``.
        solve_ratio: share ρ ∈ [0, 1] of each call's instances solved exactly (``None``:
            1, every instance, PyEPO's default).
        max_pool: the most solutions held; the oldest is replaced first once full.
        seed, generator: where the random choice of the solved instances comes from.

    Examples:
        >>> import torch, solvers
        >>> pool = SolutionPool(solvers.get("top_k", k=1), solve_ratio=0.5, seed=0)
        >>> _ = pool.step(torch.randn(4, 3))  # an empty pool: every instance is solved
        >>> 1 <= len(pool) <= 3, pool.solutions.shape[1]
        (True, 3)
    """

    def __init__(
        self,
        solver: Any,
        solutions: Any = _O["pool"].default,
        solve_ratio: float | None = POOL_DEFAULTS["solve_ratio"],
        max_pool: int = _O["max_pool"].default,
        seed: int | None = _O["seed"].default,
        generator: torch.Generator | None = _O["generator"].default,
    ) -> None:
        super().__init__(solver)
        ratio = _O["solve_ratio"].check(solve_ratio)
        self.solve_ratio = 1.0 if ratio is None else ratio  # None: every instance, as PyEPO
        self.max_pool = _O["max_pool"].check(max_pool)
        self._source = RandomSource(_O["seed"].check(seed), _O["generator"].check(generator))
        self._rows = PoolRows(self.max_pool)
        self._rekey()
        given = _as_solutions(solutions, self.solver)
        if given is not None:
            self.add(given)

    def _rekey(self) -> None:
        super()._rekey()
        self._rows_key = _handles.key(self._rows)
        self._source_key = _handles.key(self._source)

    @property
    def seed(self) -> int | None:
        return self._source.seed

    def manual_seed(self, seed: int) -> SolutionPool:
        """Restart the generator of the random choice from ``seed``."""
        self._source.manual_seed(seed)
        return self

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def solutions(self) -> torch.Tensor:
        """A copy of the pool's solutions, ``(K, *instance)`` in float64."""
        with self._rows.lock:
            device = self._rows.rows.device if self._rows.rows is not None else None
            rows, _ = self._rows.snapshot(device or torch.device("cpu"), torch.float64, copy=True)
            return rows.reshape(-1, *(self._rows.event_shape or (0,)))

    def add(self, solutions: Any) -> SolutionPool:
        """Add known feasible solutions ``(K, *instance)`` (for calls without per-call
        side data)."""
        given = _as_solutions(solutions, self.solver)
        with self._rows.lock:
            self._rows.check_shape(given.shape[1:], self.problem)
            self._rows.add(given.reshape(given.shape[0], -1), [0] * given.shape[0], set(), "")
        return self

    def extra_repr(self) -> str:
        return (
            f"solver={self.solver!r}, solve_ratio={self.solve_ratio}, "
            f"max_pool={self.max_pool}, solutions={len(self)}"
        )

    def step(
        self,
        theta: torch.Tensor,
        targets: torch.Tensor | None = None,
        side: Mapping[str, Any] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Update the pool with ``targets`` and the solutions of a share of the instances of
        ``theta`` (checked scores, shape ``(*batch, *instance)``), and return the pool's
        solutions ``(K, *instance)`` and the mask ``(*batch, K)`` of those each instance may
        use, both constants in θ's working dtype (no gradient)."""
        return self._step(theta, targets, side, all_allowed=False)

    def _step(
        self,
        theta: torch.Tensor,
        targets: torch.Tensor | None,
        side: Mapping[str, Any] | None,
        all_allowed: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`step`; with ``all_allowed``, the mask is ``None`` where every instance
        may use every solution (only in eager execution)."""
        work = theta.detach().to(work_dtype(theta.dtype))
        if targets is not None:
            targets = targets.detach().to(work.dtype)
        eager = runs_eagerly(work)
        solutions, mask = (_pool_step_eager if eager else _pool_step)(
            work,
            targets,
            _bridge.side_tensors(side),
            ",".join(side or {}),
            self._solver_key,
            self._rows_key,
            self._source_key,
            self.solve_ratio,
            1,
        )
        if all_allowed or not eager:
            return solutions, mask
        return _full_mask(solutions, mask, work, self.solver.event_ndim)
