"""OR-Tools CP-SAT plumbing shared by the exact CP-SAT backends (TSP, multi-dimensional
knapsack): options, the integer objective, and one solve with its time limit.

CP-SAT takes integer objective coefficients. :func:`integer_objective` multiplies one
instance's scores by the power of two ``s = 2^e`` that brings the sum of the objective's
``|coefficients|`` into ``[2^49, 2^50)`` (far inside the ``2^60`` CP-SAT accepts) and
rounds: integer scores whose absolute values sum to at most ``2^49`` are kept exactly, and
otherwise the solution is optimal for the rounded scores, each within ``1/(2s)`` of the
true one, so its true objective is within ``k/s <= k·2^-49·Σ|θ|`` of the optimum when
solutions have at most ``k`` nonzero entries: the order of the rounding of a
floating-point sum of the scores. (Scaling the largest score to ``2^40`` instead lost
scores below ``2^-41·max|θ|``, which float sums still resolve.)

Status. ``OPTIMAL`` is returned as it is. When the time limit stops the search with a
solution that is not proven optimal (``FEASIBLE``), ``on_time_limit="warn"`` (default)
returns it with one :class:`RuntimeWarning` per call, and ``"raise"`` raises
:class:`RuntimeError`; no solution at all (``UNKNOWN``) always raises.

Reference: Perron, Didier and Gay, "The CP-SAT-LP solver", CP 2023 (invited talk);
OR-Tools documentation, ``ortools.sat.python.cp_model``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import SolverInputError, as_positive_finite

__all__ = ["CpSatOptions", "integer_objective", "solve_model", "TimeLimitReport"]

_OBJECTIVE_BITS = 50  # Σ|coefficients| in [2^49, 2^50)
ON_TIME_LIMIT = ("warn", "raise")


@dataclass(frozen=True)
class CpSatOptions:
    """Checked CP-SAT options: seconds per instance, search workers, what a time-out does."""

    time_limit: float = 60.0
    num_workers: int = 1
    on_time_limit: str = "warn"

    @classmethod
    def checked(
        cls, problem: str, time_limit: Any, num_workers: Any, on_time_limit: Any
    ) -> CpSatOptions:
        """The options, or a clear error naming ``problem`` and the bad option."""
        time_limit = as_positive_finite(time_limit, "time_limit", problem, "number of seconds")
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)):
            raise TypeError(f"{problem}: num_workers must be an int, got {num_workers!r}")
        if num_workers < 1:
            raise SolverInputError(f"{problem}: num_workers must be >= 1, got {num_workers}")
        if on_time_limit not in ON_TIME_LIMIT:
            raise SolverInputError(
                f"{problem}: on_time_limit must be one of {', '.join(ON_TIME_LIMIT)}, "
                f"got {on_time_limit!r}"
            )
        return cls(time_limit, int(num_workers), on_time_limit)

    def solver(self, **parameters: Any) -> Any:
        """A ``CpSolver`` with these options and the given extra parameters."""
        from ortools.sat.python import cp_model

        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = self.time_limit
        solver.parameters.num_workers = self.num_workers
        for name, value in parameters.items():
            setattr(solver.parameters, name, value)
        return solver


def integer_objective(scores: np.ndarray, terms: int) -> np.ndarray:
    """``round(scores · 2^e)`` as int64, with ``2^e`` bringing the objective's
    ``Σ|coefficients|`` into ``[2^49, 2^50)``; ``terms`` counts the objective's terms (each
    score may weigh several, e.g. both arcs of a TSP edge); all zeros stay zeros."""
    scores = np.asarray(scores, dtype=np.float64)
    top = float(np.abs(scores).max()) if scores.size else 0.0
    if top == 0.0:
        return np.zeros(scores.shape, dtype=np.int64)
    shift = -math.frexp(top)[1]  # the largest score scaled into [1/2, 1): no overflow below
    total = math.fsum(np.abs(np.ldexp(scores, shift)).tolist()) * max(terms, 1) / scores.size
    e = shift + _OBJECTIVE_BITS - math.frexp(total)[1]
    return np.round(np.ldexp(scores, e)).astype(np.int64)


class TimeLimitReport:
    """Collects the instances of one call whose search the time limit stopped."""

    def __init__(self, problem: str, options: CpSatOptions) -> None:
        self.problem = problem
        self.options = options
        self.stopped: list[int] = []

    def warn(self) -> None:
        """One :class:`RuntimeWarning` naming the instances that were not proven optimal."""
        if self.stopped:
            shown = ", ".join(map(str, self.stopped[:5])) + (
                ", ..." if len(self.stopped) > 5 else ""
            )
            warnings.warn(
                f"{self.problem} (CP-SAT): the time limit of {self.options.time_limit:g} s "
                f"stopped the search on {len(self.stopped)} instance(s) (flat index {shown}); "
                "their solutions are feasible but not proven optimal. Raise time_limit, or "
                "pass on_time_limit='raise' to make this an error",
                RuntimeWarning,
                stacklevel=4,
            )


def solve_model(model: Any, solver: Any, report: TimeLimitReport, instance: int) -> None:
    """Solve ``model`` with ``solver``; raise or record as the module docstring says."""
    from ortools.sat.python import cp_model

    status = solver.solve(model)
    if status == cp_model.OPTIMAL:
        return
    name = solver.status_name(status)
    if status == cp_model.FEASIBLE:
        if report.options.on_time_limit == "raise":
            raise RuntimeError(
                f"{report.problem} (CP-SAT): instance {instance} was not proven optimal within "
                f"the time limit of {report.options.time_limit:g} s (status {name}, objective "
                f"{solver.objective_value:g}, bound {solver.best_objective_bound:g}); raise "
                "time_limit"
            )
        report.stopped.append(instance)
        return
    if status == cp_model.INFEASIBLE:
        raise SolverInputError(f"{report.problem} (CP-SAT): instance {instance} is infeasible")
    limit = report.options.time_limit
    reason = f"; the time limit of {limit:g} s was reached" if status == cp_model.UNKNOWN else ""
    raise RuntimeError(
        f"{report.problem} (CP-SAT): no solution for instance {instance} (status {name}{reason})"
    )
