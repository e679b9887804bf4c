"""Exact optima of pure integer programs with float objectives, level by level.

The objective ``c`` is kept exactly as ``R + ρ·2^E`` (:class:`solvers._lp_exact._Objective`)
and handed to an integer-programming solver a few dozen bits at a time. Level ``k``
maximises the integer objective ``C_k`` (``Σ_j |C_kj| (u_j - l_j) <= 2^bits``) and records
its optimum ``V_k``. Any optimum ``x*`` of the exact objective satisfies

    C_k·x* >= V_k - W_k,      W_k = Σ_j |f_j| (u_j - l_j),

with ``f`` the remainder the level did not see (``|f_j| <= 1/2``), because the remainder of
``x*`` can make up at most ``W_k`` against the level's optimum. Level ``k+1`` therefore adds
the exact constraint ``C_k·x + t_k = V_k`` with an integer slack ``0 <= t_k <= ⌊W_k⌋`` (or
``C_k·x = V_k`` when ``W_k < 1``: the optimum is then lexicographic) and maximises
``-2^Δ t_k + F_{k+1}·x``, the next bits of the same objective. A level whose remainder is
zero had the whole objective, and its optimum is exact.

Two solvers run the levels. SCIP (through ``pywraplp``, the faster on the weak LP
relaxations of flow formulations) sees integer objectives of at most ``2^24``, with its
relative feasibility tolerance set to ``1e-9``: its tolerances stay below one unit, and it
detects the integral objective and rounds its dual bound, so its optimum is exact; the
answer is rounded and checked for exact feasibility against every row and window in
integer arithmetic. CP-SAT, exact by construction (int64 arithmetic throughout), takes
about ``2^40`` per level and is the fallback. Both raise
:class:`~solvers._lp_exact.NotCertified` when a check fails.
"""

from __future__ import annotations

import math

import numpy as np

from ._lp_exact import _MAX_LEVELS, IntegerForm, NotCertified, _Objective
from .base import SolverInputError

__all__ = ["ExactIntegerProgram"]

_BITS = {"SCIP": 24, "CP_SAT": 40}  # Σ_j |C_j|·(u_j - l_j) per level
_ROUND_TOL = 1e-6


class _ScipModel:
    """The operations the levels need, on a pywraplp SCIP model."""

    def __init__(self) -> None:
        from ortools.linear_solver import pywraplp

        self.pywraplp = pywraplp
        self.solver = pywraplp.Solver.CreateSolver("SCIP")
        if self.solver is None:
            raise NotCertified("SCIP is not available in this OR-Tools build")
        self.params = pywraplp.MPSolverParameters()
        self.params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, 0.0)
        # relative feasibility 1e-9 on rows of at most 2^24: less than one unit off
        self.solver.SetSolverSpecificParametersAsString("numerics/feastol = 1e-9\n")
        self.vars: list = []

    def new_int(self, lo: int, hi: int):
        var = self.solver.IntVar(float(lo), float(hi), "")
        self.vars.append(var)
        return var

    def add(self, terms: list, coefs: list[int], lo: float, hi: float) -> None:
        row = self.solver.RowConstraint(lo, hi, "")
        for var, coef in zip(terms, coefs):
            if coef:
                row.SetCoefficient(var, float(coef))

    def maximize(self, terms: list, coefs: list[int]) -> None:
        objective = self.solver.Objective()
        objective.Clear()
        for var, coef in zip(terms, coefs):
            objective.SetCoefficient(var, float(coef))
        objective.SetMaximization()

    def solve(self) -> str:
        status = self.solver.Solve(self.params)
        return {
            self.pywraplp.Solver.OPTIMAL: "optimal",
            self.pywraplp.Solver.INFEASIBLE: "infeasible",
        }.get(status, f"status {status}")

    def values(self, terms: list) -> np.ndarray:
        raw = np.array([v.solution_value() for v in terms], dtype=np.float64)
        out = np.rint(raw)
        if np.any(np.abs(raw - out) > _ROUND_TOL * np.maximum(1.0, np.abs(out))):
            raise NotCertified("SCIP returned a non-integral point")
        return out.astype(np.int64)

    def hint(self, terms: list, values: list[int]) -> None:
        """No hint: SCIP keeps every hint as a partial solution and runs out of room."""


class _CpSatModel:
    """The operations the levels need, on a CP-SAT model (one worker: deterministic)."""

    def __init__(self) -> None:
        from ortools.sat.python import cp_model

        self.cp_model = cp_model
        self.model = cp_model.CpModel()
        self.solver = cp_model.CpSolver()
        self.solver.parameters.num_workers = 1

    def new_int(self, lo: int, hi: int):
        return self.model.NewIntVar(int(lo), int(hi), "")

    def add(self, terms: list, coefs: list[int], lo: float, hi: float) -> None:
        expr = self.cp_model.LinearExpr.WeightedSum(terms, coefs)
        if lo == hi:
            self.model.Add(expr == int(lo))
        else:
            self.model.Add(expr <= int(hi))

    def maximize(self, terms: list, coefs: list[int]) -> None:
        self.model.Maximize(self.cp_model.LinearExpr.WeightedSum(terms, coefs))

    def solve(self) -> str:
        status = self.solver.Solve(self.model)
        if status == self.cp_model.OPTIMAL:
            return "optimal"
        if status == self.cp_model.INFEASIBLE:
            return "infeasible"
        return self.solver.StatusName(status)

    def values(self, terms: list) -> np.ndarray:
        return np.array([self.solver.Value(v) for v in terms], dtype=np.int64)

    def hint(self, terms: list, values: list[int]) -> None:
        self.model.ClearHints()
        for var, value in zip(terms, values):
            self.model.AddHint(var, int(value))


class ExactIntegerProgram:
    """Exact ``argmax ⟨c, x⟩`` over a pure integer program with integer data, by levels of
    ``solver`` (``"SCIP"`` or ``"CP_SAT"``; module docstring).

    Needs every variable flagged integral (or an integral polytope, whose optimum over its
    integer points is the same) and finite bounds on every variable.
    """

    def __init__(self, iform: IntegerForm, solver: str = "SCIP") -> None:
        form = iform.form
        if not (form.integrality.all() or form.integral_polytope):
            raise NotCertified("continuous variables")
        if not iform.bounded(np.arange(iform.n_vars)):
            raise NotCertified("integer programs need finite bounds on every variable")
        self.iform = iform
        self.solver_name = solver
        self.bits = _BITS[solver]

    def _model(self):
        iform = self.iform
        model = _ScipModel() if self.solver_name == "SCIP" else _CpSatModel()
        xs = [model.new_int(int(lo), int(hi)) for lo, hi in zip(iform.lower, iform.upper)]
        for mat, rhs, equal in ((iform.A_eq, iform.b_eq, True), (iform.A_ub, iform.b_ub, False)):
            for r in range(mat.shape[0]):
                span = slice(mat.indptr[r], mat.indptr[r + 1])
                terms = [xs[j] for j in mat.indices[span].tolist()]
                lo = float(rhs[r]) if equal else -math.inf
                model.add(terms, mat.data[span].tolist(), lo, float(rhs[r]))
        return model, xs

    def solve(self, c: np.ndarray, problem: str) -> np.ndarray:
        """The exact optimum ``x`` (float64, integral) for the objective ``c`` (n_vars,)."""
        iform = self.iform
        model, xs = self._model()
        columns = iform.objective_vars
        width = (iform.upper - iform.lower)[columns]
        objective = _Objective(c)
        slack = None  # (t_k, ⌊W_k⌋) of the module docstring, in the current level's units
        windows = []  # (terms as indices into xs + slacks, coefs, value): checked exactly
        slacks: list = []
        terms = [xs[j] for j in columns.tolist()]
        for level in range(_MAX_LEVELS):
            span = float(width.sum()) + (slack[1] if slack is not None else 0.0)
            top = objective.top_exponent(columns, 1.0 if slack is not None else 0.0)
            delta = 0 if top is None else self.bits - top - math.frexp(max(span, 1.0))[1]
            if level and delta < 1:
                raise NotCertified("the objective leaves no room for another level")
            coefs = objective.advance(delta)[columns].tolist()
            level_terms = list(terms)
            if slack is not None:
                level_terms.append(slack[0])
                coefs.append(-(2**delta))
            model.maximize(level_terms, coefs)
            status = model.solve()
            if status != "optimal":
                if status == "infeasible" and level == 0:
                    raise SolverInputError(
                        f"{problem}: the MIP ({self.solver_name}, {iform.n_vars} variables) "
                        "has no optimal solution: INFEASIBLE"
                    )
                raise NotCertified(f"{self.solver_name} {status}")
            x = model.values(xs)
            slack_values = model.values(slacks) if slacks else np.zeros(0, dtype=np.int64)
            self._check(x, slack_values, windows)
            if objective.exhausted(columns):
                return x.astype(np.float64)
            level_values = [*x[columns].tolist(), *([int(slack_values[-1])] if slack else [])]
            best = sum(a * b for a, b in zip(coefs, level_values))  # exact, Python integers
            window = objective.window(width, columns)
            model.hint(xs, x.tolist())
            slack_index = len(slacks) - 1 if slack is not None else None
            if window < 1.0:  # no remainder can make up one unit: the optimum is lexicographic
                model.add(level_terms, coefs, best, best)
                windows.append((columns, slack_index, None, coefs, best))
                slack = None
            else:
                t = model.new_int(0, int(window))
                slacks.append(t)
                model.add([*level_terms, t], [*coefs, 1], best, best)
                windows.append((columns, slack_index, len(slacks) - 1, coefs, best))
                slack = (t, float(int(window)))
        raise NotCertified(f"no exact optimum after {_MAX_LEVELS} levels")

    def _check(self, x: np.ndarray, slack_values: np.ndarray, windows: list) -> None:
        """Exact feasibility of ``x`` for the rows, bounds and every level window."""
        if not self.iform.feasible(x):
            raise NotCertified(f"{self.solver_name}'s point is not exactly feasible")
        for columns, prev, own, coefs, best in windows:
            values = x[columns].tolist()
            if prev is not None:
                values.append(int(slack_values[prev]))
            total = sum(a * b for a, b in zip(coefs, values))
            if own is not None:
                total += int(slack_values[own])
                if not 0 <= slack_values[own]:
                    raise NotCertified("a window slack is negative")
            if total != best:
                raise NotCertified(f"{self.solver_name}'s point leaves a level's window")
