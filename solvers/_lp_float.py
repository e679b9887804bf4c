"""The floating-point path of the ``lp`` backend: a form solved as given by GLOP or a MIP
solver, for the forms the exact engines of :mod:`solvers._lp_exact` do not cover.

``c`` is handed to the solvers as ``c / 2^e`` (``max|c| = m·2^e``, ``m ∈ [1/2, 1)``:
exact, the optimum set unchanged). Their tolerances are absolute, so they resolve
differences between solutions only down to a fraction of ``max|θ|``; one
:class:`RuntimeWarning` per call flags instances whose entries span more than
:data:`DYNAMIC_RANGE_LIMIT` (measured with ``benchmarks/lp_float_range.py``; see
:mod:`solvers.lp`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver import pywraplp

from .base import LPForm, SolverInputError, as_array

__all__ = ["DYNAMIC_RANGE_LIMIT", "FloatModel", "warn_dynamic_range"]

_MIP_BACKENDS = ("SCIP", "CBC", "CP_SAT")
_INT_TOL = 1e-6

#: Above this ``max|θ| / min nonzero |θ|`` within one instance, an answer of the
#: floating-point path may be suboptimal (module docstring), and :func:`warn_dynamic_range`
#: warns.
DYNAMIC_RANGE_LIMIT = 1e4

_STATUS_NAMES = {
    pywraplp.Solver.OPTIMAL: "OPTIMAL",
    pywraplp.Solver.FEASIBLE: "FEASIBLE (not proven optimal)",
    pywraplp.Solver.INFEASIBLE: "INFEASIBLE",
    pywraplp.Solver.UNBOUNDED: "UNBOUNDED",
    pywraplp.Solver.ABNORMAL: "ABNORMAL (infeasible, unbounded or numerically troubled)",
    pywraplp.Solver.MODEL_INVALID: "MODEL_INVALID",
    pywraplp.Solver.NOT_SOLVED: "NOT_SOLVED",
}


def _create_solver(mip: bool) -> tuple[pywraplp.Solver, str]:
    names = _MIP_BACKENDS if mip else ("GLOP",)
    for name in names:
        solver = pywraplp.Solver.CreateSolver(name)
        if solver is not None:
            return solver, name
    raise RuntimeError(f"lp: none of the OR-Tools solvers {names} is available in this build")


def warn_dynamic_range(theta: np.ndarray, problem: str, stacklevel: int = 2) -> None:
    """One :class:`RuntimeWarning` when an instance of the finite batch ``θ`` (B, ...) has
    ``max|θ| / min nonzero |θ|`` above :data:`DYNAMIC_RANGE_LIMIT` (module docstring)."""
    if theta.size == 0:
        return
    mag = np.abs(theta.reshape(theta.shape[0], -1), dtype=np.float64)
    top = mag.max(axis=1)
    low = np.where(mag > 0, mag, np.inf).min(axis=1)
    with np.errstate(over="ignore"):  # a subnormal low entry: the ratio is inf, still > limit
        worst = float((top / low).max())
    if worst > DYNAMIC_RANGE_LIMIT:
        warnings.warn(
            f"{problem} (lp backend): θ spans a dynamic range of {worst:.3g} "
            f"(max|θ| / min nonzero |θ| in one instance), above {DYNAMIC_RANGE_LIMIT:.0e}, on "
            "an instance the exact engines do not cover (see solvers.lp): the LP/MIP "
            "tolerances are relative to max|θ|, so the small entries may be ignored and the "
            "answer may be suboptimal",
            RuntimeWarning,
            stacklevel=stacklevel + 1,
        )


def _unit_scale(v: np.ndarray) -> np.ndarray:
    """``v / 2^e`` with ``max|v| = m·2^e``, ``m ∈ [1/2, 1)``, so ``max|v / 2^e| ∈ [1/2, 1)``;
    an all-zero or empty ``v`` is returned unchanged. Exact for normal floats."""
    top = float(np.max(np.abs(v))) if v.size else 0.0
    if top == 0.0:
        return v
    return np.ldexp(v, -math.frexp(top)[1])


class FloatModel:
    """One LPForm loaded into a pywraplp solver; :meth:`solve` re-solves for a new ``c``."""

    def __init__(self, form: LPForm, problem: str = "lp") -> None:
        self.form = form
        self.problem = problem
        self.mip = bool(form.integrality.any())
        self.solver, self.solver_name = _create_solver(self.mip)
        inf = self.solver.infinity()
        lower = np.where(np.isneginf(form.lower), -inf, form.lower)
        upper = np.where(np.isposinf(form.upper), inf, form.upper)
        self.vars = [
            self.solver.IntVar(float(lo), float(hi), f"x{i}")
            if form.integrality[i]
            else self.solver.NumVar(float(lo), float(hi), f"x{i}")
            for i, (lo, hi) in enumerate(zip(lower, upper))
        ]
        self._add_rows(form.A_eq, form.b_eq, form.b_eq)
        self._add_rows(form.A_ub, np.full(form.b_ub.shape, -inf), form.b_ub)
        self.params = pywraplp.MPSolverParameters()
        if self.mip:
            self.params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, 0.0)
        # Entries of x that must come out integral: all of y on an integral polytope,
        # and every variable flagged as integer.
        self.round_mask = form.integrality.copy()
        if form.integral_polytope:
            self.round_mask[form.y_index.ravel()] = True

    def _add_rows(self, mat: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray) -> None:
        indptr, indices, data = mat.indptr, mat.indices, mat.data
        for r in range(mat.shape[0]):
            row = self.solver.RowConstraint(float(lo[r]), float(hi[r]), "")
            for k in range(indptr[r], indptr[r + 1]):
                if data[k] != 0.0:
                    row.SetCoefficient(self.vars[indices[k]], float(data[k]))

    def solve(self, theta_instance: np.ndarray) -> np.ndarray:
        theta = np.asarray(as_array(theta_instance, "θ", self.problem), dtype=np.float64)
        if theta.size and not np.isfinite(theta).all():
            raise SolverInputError(f"{self.problem}: θ contains NaN or inf")
        c = _unit_scale(self.form.objective_vector(_unit_scale(theta)))
        objective = self.solver.Objective()
        for var, coef in zip(self.vars, c):
            objective.SetCoefficient(var, float(coef))
        objective.SetMaximization()
        status = self.solver.Solve(self.params)
        if status != pywraplp.Solver.OPTIMAL:
            name = _STATUS_NAMES.get(status, f"status {status}")
            if status in (pywraplp.Solver.INFEASIBLE, pywraplp.Solver.ABNORMAL):
                # GLOP's presolve reports some unbounded LPs as infeasible: a feasible
                # point (zero objective) tells the two apart.
                objective.Clear()
                if self.solver.Solve(self.params) == pywraplp.Solver.OPTIMAL:
                    name = "UNBOUNDED (feasible, but the objective has no maximum)"
            raise SolverInputError(
                f"{self.problem}: the LP/MIP ({self.solver_name}, {self.form.n_vars} variables)"
                f" has no optimal solution: {name}"
            )
        x = np.array([v.solution_value() for v in self.vars], dtype=np.float64)
        return self._round(x)[self.form.y_index]

    def _round(self, x: np.ndarray) -> np.ndarray:
        xr = x[self.round_mask]
        if xr.size:
            rounded = np.round(xr)
            err = np.abs(xr - rounded) / np.maximum(1.0, np.abs(rounded))
            if err.max() > _INT_TOL:
                raise SolverInputError(
                    f"{self.problem}: {self.solver_name} returned a non-integral solution "
                    f"(max relative distance to an integer {err.max():.3g}) where the LP form "
                    "declares an integral polytope or integer variables; check the form"
                )
            x = x.copy()
            x[self.round_mask] = rounded + 0.0  # + 0.0 turns -0.0 into 0.0
        return x
