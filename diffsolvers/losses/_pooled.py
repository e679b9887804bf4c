r"""What the losses on a solution pool share: building the pool, and the objective values
of its solutions under the predicted and the true scores.

A pool loss is built on a :class:`~diffsolvers.losses.pool.SolutionPool` (to share one
pool between losses) or on a solver with the pool's options, which builds the pool:
``NCELoss(solver, solve_ratio=0.05, pool=y_train)`` is
``NCELoss(SolutionPool(solver, solutions=y_train, solve_ratio=0.05))``.

Each call updates the pool (:meth:`SolutionPool.step`) and returns, per instance ``i``,
the scores ``s_ik = ⟨θ̂_i, w_k⟩`` of the pool's solutions ``w_k`` under the prediction,
differentiable in θ̂, and the mask of the solutions instance ``i`` may use; the losses are
plain torch expressions of these, so autograd gives their exact derivatives on the pool of
the call (the pool itself is a constant of the call).

Example::

    >>> import torch, solvers
    >>> from diffsolvers.losses.contrastive import NCELoss
    >>> loss = NCELoss(solvers.get("argmax"), pool=torch.eye(3))
    >>> loss.pool.solve_ratio, len(loss.pool)
    (1.0, 3)
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._core import reduce, work_dtype
from .._options import OPTIONS
from .pool import POOL_DEFAULTS, POOL_OPTIONS, SolutionPool

__all__ = ["PoolLoss", "PoolScores"]

_O = OPTIONS


def _given(name: str, value: Any) -> bool:
    """Whether ``value`` differs from the option's default (``None`` compared by identity)."""
    default = POOL_DEFAULTS.get(name, _O[name].default)
    if default is None or value is None:
        return value is not default
    return bool(value != default)


class PoolScores:
    """One call's view of the pool, flattened to ``N`` instances of ``D`` entries.

    ``theta_hat`` the checked prediction as scores (input dtype) and ``batch_shape``;
    ``flat`` (N, D) θ̂ in the working dtype, differentiable; ``solutions`` (K, D) and
    ``mask`` (N, K) constants (``None``: every instance may use every solution, and the
    masking is skipped); ``scores`` (N, K) ``⟨θ̂_i, w_k⟩``, computed on first use;
    ``count`` (N,) the number of solutions each instance may use.
    """

    def __init__(
        self,
        theta_hat: torch.Tensor,
        batch_shape: torch.Size,
        flat: torch.Tensor,
        solutions: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> None:
        self.theta_hat, self.batch_shape = theta_hat, batch_shape
        self.flat, self.solutions, self.mask = flat, solutions, mask
        self._scores: torch.Tensor | None = None  # computed on first use (not a
        self._count: torch.Tensor | None = None  # cached_property: its lock stops dynamo)

    @property
    def scores(self) -> torch.Tensor:
        if self._scores is None:
            self._scores = self.flat @ self.solutions.T
        return self._scores

    @property
    def count(self) -> torch.Tensor:
        if self._count is None:
            if self.mask is None:
                n, k = self.flat.shape[0], self.solutions.shape[0]
                self._count = torch.full((n,), k, dtype=torch.int64, device=self.flat.device)
            else:
                self._count = self.mask.sum(-1)
        return self._count

    def of(self, theta: torch.Tensor) -> torch.Tensor:
        """``⟨θ_i, w_k⟩`` (N, K) for other scores ``θ`` of θ̂'s shape (the true θ)."""
        flat = theta.to(self.flat.dtype).reshape(self.flat.shape)
        return flat @ self.solutions.T

    def masked(self, values: torch.Tensor, fill: float) -> torch.Tensor:
        """``values`` (N, K) where the mask allows, ``fill`` elsewhere."""
        if self.mask is None:
            return values
        return torch.where(self.mask, values, torch.full_like(values, fill))

    def mean_solution(self) -> torch.Tensor:
        """``(1/|S_i|) Σ_{k allowed} w_k`` (N, D), a constant (zero where none is allowed)."""
        if self.mask is None:
            return self.solutions.mean(0).expand_as(self.flat)
        allowed = self.mask.to(self.solutions.dtype)
        return (allowed @ self.solutions) / self.count.clamp(min=1)[:, None]

    def finish(self, values: torch.Tensor, reduction: str, problem: str) -> torch.Tensor:
        """Per-instance ``values`` (N,) in θ̂'s shape and dtype, reduced."""
        out = values.reshape(self.batch_shape).to(self.theta_hat.dtype)
        return reduce(out, reduction, problem)


class PoolLoss(nn.Module):
    """The base of the losses on a solution pool (module docstring).

    Args:
        solver: a :class:`~diffsolvers.losses.pool.SolutionPool`, or a solver (anything
            :func:`~diffsolvers.oracle.as_solver` accepts), which builds one with the
            pool options ``pool`` (its first solutions), ``solve_ratio``, ``max_pool``,
            ``seed`` and ``generator``.
        inputs: ``"scores"`` (the prediction is θ̂) or ``"costs"`` (ĉ, θ̂ = -ĉ).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch axes.
    """

    def __init__(
        self,
        solver: Any,
        pool: Any = _O["pool"].default,
        solve_ratio: float | None = POOL_DEFAULTS["solve_ratio"],
        max_pool: int = _O["max_pool"].default,
        seed: int | None = _O["seed"].default,
        generator: torch.Generator | None = _O["generator"].default,
        inputs: str = _O["inputs"].default,
        reduction: str = _O["reduction"].default,
    ) -> None:
        super().__init__()
        self.inputs = _O["inputs"].check(inputs)
        self.reduction = _O["reduction"].check(reduction)
        options = dict(
            zip(POOL_OPTIONS, (pool, solve_ratio, max_pool, seed, generator), strict=True)
        )
        owner = type(self).__name__
        if isinstance(solver, SolutionPool):
            given = sorted(name for name, value in options.items() if _given(name, value))
            if given:
                raise TypeError(
                    f"{owner}: options {given} belong to the pool; give them to the "
                    "SolutionPool, or give the solver with the options instead of the pool"
                )
            self.pool = solver
        elif isinstance(solver, nn.Module):
            raise TypeError(
                f"{owner} takes a SolutionPool or a solver, got {type(solver).__name__}"
            )
        else:
            options["solutions"] = options.pop("pool")
            self.pool = SolutionPool(solver, **options)

    @property
    def solver(self) -> Any:
        return self.pool.solver

    @property
    def problem(self) -> str:
        return self.pool.problem

    def manual_seed(self, seed: int) -> PoolLoss:
        """Restart the pool's generator (the random choice of the solved instances)."""
        self.pool.manual_seed(seed)
        return self

    def extra_repr(self) -> str:
        return f"inputs={self.inputs!r}, reduction={self.reduction!r}"

    def _prediction(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
        """θ̂ from the prediction ``x``, checked in full, and its batch shape."""
        return self.pool._prediction(x, self.inputs)

    def _pool_scores(
        self,
        theta_hat: torch.Tensor,
        batch_shape: torch.Size,
        targets: torch.Tensor | None,
        side: dict,
    ) -> PoolScores:
        """Update the pool with ``targets`` (checked solutions or ``None``) and a share of
        the instances of θ̂ (checked), and score the pool's solutions."""
        work = theta_hat.to(work_dtype(theta_hat.dtype))
        solutions, mask = self.pool._step(work, targets, side, all_allowed=True)
        n = math.prod(batch_shape)
        d = math.prod(work.shape[len(batch_shape) :])
        k = solutions.shape[0]
        return PoolScores(
            theta_hat,
            batch_shape,
            work.reshape(n, d),
            solutions.reshape(k, d),
            None if mask is None else mask.reshape(n, k),
        )
