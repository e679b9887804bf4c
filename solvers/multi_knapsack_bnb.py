"""Multi-dimensional 0-1 knapsack by branch and bound: the backend for large capacities.

The dynamic program of :mod:`solvers.multi_knapsack` costs ``n·Π_k (C_k + 1)``, whatever
the values: PyEPO's 2-D knapsack with weights on a grid of 0.01 (``weight_scale=100``,
capacities 2,000) needs 128 million cells per instance. A depth-first branch and bound
with Dantzig bounds per resource (:mod:`solvers._multi_knapsack_bnb_kernels`) costs what
the values make it cost instead: a few hundred nodes for such an instance, microseconds,
against milliseconds for CP-SAT. Its worst case is exponential, so the search of one
instance is capped at ``max_nodes`` nodes (default 10 million); an instance that reaches
the cap raises :class:`SolverInputError` naming the ``numba`` (DP) and ``ortools`` backends.

Same problem, side data, integer rounding (``weight_scale``) and LP form as the other
backends (:mod:`solvers.multi_knapsack`). The packing is optimal for the integer instance;
its value is compared in float64, so for values that are not integers a packing within
rounding of the optimum (``n·2^-52·Σ|θ|``) may stand in for it.

Example::

    >>> import solvers
    >>> knap = solvers.get(
    ...     "multi_knapsack", backend="branch_and_bound",
    ...     weights=[[2.5, 1.2, 1.3], [1.0, 2.1, 2.2]], capacity=[4.0, 3.5], weight_scale=10,
    ... )
    >>> knap.solve([1.0, 2.0, 3.0])   # items 1 and 2 would need 4.3 units of resource 2
    array([1., 0., 1.])

Reference: Kellerer, Pferschy and Pisinger, *Knapsack Problems*, Springer 2004, ch. 9.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._multi_knapsack_bnb_kernels import multi_knapsack_bnb, multi_knapsack_bnb_batch
from .base import SolverInputError
from .multi_knapsack import _NAME, _check_value_sum, _MultiKnapsackBase
from .registry import register

__all__ = ["MultiKnapsackBranchBoundSolver", "DEFAULT_MAX_NODES"]

DEFAULT_MAX_NODES = 10_000_000
"""Default cap on the nodes searched for one instance."""


class MultiKnapsackBranchBoundSolver(_MultiKnapsackBase):
    """Multi-dimensional 0-1 knapsack by depth-first branch and bound (Numba, parallel batch).

    Parameters: ``weights`` (m, n) and ``capacity`` (scalar or (m,)), both optional (else
    per call); ``weight_scale`` for fractional weights; ``max_nodes`` caps the search of
    one instance (module docstring).

    Examples:
        >>> solver = MultiKnapsackBranchBoundSolver(weights=[[2, 1, 1], [1, 2, 2]], capacity=[3, 3])
        >>> solver.solve([1.0, 2.0, 3.0])
        array([1., 0., 1.])
    """

    backend = "branch_and_bound"

    def __init__(
        self,
        weights: Any = None,
        capacity: Any = None,
        *,
        weight_scale: float | None = None,
        max_nodes: int = DEFAULT_MAX_NODES,
    ) -> None:
        super().__init__(weights, capacity, weight_scale=weight_scale)
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)):
            raise TypeError(f"{_NAME}: max_nodes must be an int, got {max_nodes!r}")
        if max_nodes < 1:
            raise SolverInputError(f"{_NAME}: max_nodes must be >= 1, got {max_nodes}")
        self.max_nodes = int(max_nodes)

    def _solve_batch(self, theta: np.ndarray, weights: np.ndarray, capacity: np.ndarray):
        w, c = self._integer_instance(weights, capacity)
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        _check_value_sum(theta)
        if theta.shape[0] == 1:  # one instance: skip the parallel region's start-up cost
            y = np.zeros(theta.shape)
            nodes = np.array([multi_knapsack_bnb(theta[0], w[0], c[0], y[0], self.max_nodes)])
        else:
            y, nodes = multi_knapsack_bnb_batch(theta, w, c, self.max_nodes)
        stopped = np.flatnonzero(nodes > self.max_nodes)
        if stopped.size:
            raise SolverInputError(
                f"{_NAME}: the branch and bound of instance {int(stopped[0])} reached "
                f"max_nodes={self.max_nodes} without proving optimality; use backend='numba' "
                "(DP, when n·Π(C_k+1) is small), backend='ortools' (CP-SAT), or raise max_nodes"
            )
        return y


register(
    _NAME,
    "branch_and_bound",
    MultiKnapsackBranchBoundSolver,
    "multi-dimensional 0-1 knapsack, exact Numba branch and bound with Dantzig bounds per "
    "resource, parallel batch, for large capacities; params weights, capacity (or per call), "
    "weight_scale, max_nodes",
)
