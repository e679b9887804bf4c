"""Exact optima of integer linear programs with floating-point objectives, for the ``lp`` backend.

LP and MIP solvers compare objective values within absolute tolerances (about ``1e-7``
after scaling ``max|c|`` to 1), so an objective whose entries span many orders of magnitude
is solved only approximately: entries below the tolerance are ignored. Both engines here
remove that limit for *integer programs with integer data* (every variable integral at
the optimum, integer constraint coefficients, bounds and right-hand sides). They never
hand a solver more than a few dozen bits of objective at once, and they refine the answer
level by level in exact integer arithmetic.

Exact objective. Every finite float is a dyadic rational, so the objective ``c`` is kept
as ``R + ρ·2^E`` per variable: ``R`` integers, ``ρ`` floats whose scaled values
``ρ·2^E`` lie in ``[-1/2, 1/2]``, ``E`` a common exponent. A level multiplies by a power
of two ``2^Δ``, rounds ``ρ·2^(E+Δ)`` to integers ``F`` and keeps the exact remainder
``ρ - F·2^-(E+Δ)`` (both steps are exact in floating point), so the solver sees the
integer objective ``C = 2^Δ R + F`` with ``|C|`` at most ``2^bits``. A level whose
remainder is zero on every free variable had the whole objective: its optimum is exact.

Engine for integral polytopes (GLOP; :class:`ExactIntegralLP`). With ``|C| <= 2^20`` the
simplex optimum is checked with exact integer duals: GLOP's duals ``u`` are rounded to
integers and ``r = C - Aᵀu`` (reduced costs) is computed in int64; ``x`` is optimal for
``C`` when every variable with ``r_j > 0`` is at its upper bound, every one with
``r_j < 0`` at its lower bound, and inequality duals are ``>= 0`` and vanish on slack rows
(LP duality; Schrijver 1986, §7.9). For any integral feasible ``x'``,

    (C + f)ᵀ(x' - x) <= -|r_k|·|x'_k - x_k| + W,     W = Σ_j |f_j| (u_j - l_j),

with ``f = ρ·2^E`` the remainder, so a variable with ``|r_k| > W`` keeps its value ``x_k``
in every integral optimum and is fixed; an inequality with dual ``u_i > W`` is tight in
every integral optimum and becomes an equality (a face of an integral polytope is
integral). The next level's objective is ``r + A_ineqᵀ u_ineq + f`` on what is left
(equality duals add a constant there), whose integer part is at most about ``W`` instead
of ``max|c|``: each level resolves about ``20 - log2(W)`` more bits of ``c``. This is
reduced-cost fixing (Nemhauser and Wolsey, *Integer and Combinatorial Optimization*,
1988, §II.5.5) turned into an exact refinement.

Engine for pure integer programs (:mod:`solvers._ip_exact`, SCIP then CP-SAT): a sequence
of integer programs, each keeping the previous level's optimum within the exact window that
the remaining bits of the objective allow.

Each engine raises :class:`NotCertified` when its preconditions fail (a non-integral
vertex, duals that do not verify, no progress); the caller then falls back to the plain
floating-point solve and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .base import LPForm, SolverInputError

__all__ = ["ExactIntegralLP", "IntegerForm", "NotCertified", "exact_engines"]

_LP_BITS = 20  # |C| <= 2^20 per GLOP level: integer reduced costs far above its tolerances
_INT_SAFE = 2.0**53  # integer data (coefficients × bounds) must stay exact in float64
_MAX_LEVELS = 400  # 1,100 bits of float64 range at >= 3 bits a level, with room to spare
_ROUND_TOL = 1e-6  # a GLOP value this close to an integer is that integer


class NotCertified(Exception):
    """The exact engine could not certify an optimum (its preconditions do not hold)."""


@dataclass(frozen=True)
class IntegerForm:
    """An :class:`~solvers.base.LPForm` restated with integer data, for the exact engines.

    Rows are scaled by powers of two (exact) until their coefficients are integers;
    ``b_ub`` is rounded down (exact for integer ``x``) and rows with ``b_ub = +inf``
    dropped; bounds are rounded inwards. ``objective_vars`` are the variables ``θ`` lands
    on. ``int_data`` tells whether every coefficient times every bound stays below
    ``2^53`` (so int64 sums are exact).
    """

    form: LPForm
    A_eq: sp.csr_matrix
    b_eq: np.ndarray
    A_ub: sp.csr_matrix
    b_ub: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    objective_vars: np.ndarray

    @property
    def n_vars(self) -> int:
        return self.form.n_vars

    @classmethod
    def from_form(cls, form: LPForm) -> IntegerForm | None:
        """The integer restatement, or ``None`` when the data are not integral (after
        exact power-of-two row scaling) or too large for exact int64 arithmetic, or when
        ``θ`` lands twice on one variable (the objective would be a rounded sum)."""
        if np.unique(form.y_index).size != form.y_index.size:
            return None
        lower = np.ceil(form.lower)
        upper = np.floor(form.upper)
        if np.any(lower > upper):
            return None
        a_eq, b_eq = _integer_rows(form.A_eq, form.b_eq, upper_bound=False)
        keep = np.isfinite(form.b_ub)
        a_ub, b_ub = _integer_rows(form.A_ub[keep], form.b_ub[keep], upper_bound=True)
        if a_eq is None or a_ub is None:
            return None
        bound = np.maximum(np.abs(lower), np.abs(upper))
        bound = np.where(np.isfinite(bound), bound, 0.0)  # checked where a solver needs it
        for mat, rhs in ((a_eq, b_eq), (a_ub, b_ub)):
            if rhs.size and np.abs(rhs).max() >= _INT_SAFE:
                return None
            if mat.nnz:
                if (abs(mat) @ bound).max() >= _INT_SAFE:
                    return None
        return cls(
            form=form,
            A_eq=a_eq,
            b_eq=b_eq,
            A_ub=a_ub,
            b_ub=b_ub,
            lower=lower,
            upper=upper,
            objective_vars=np.unique(form.y_index),
        )

    def bounded(self, columns: np.ndarray) -> bool:
        """Whether every variable in ``columns`` has finite bounds."""
        return bool(np.all(np.isfinite(self.lower[columns]) & np.isfinite(self.upper[columns])))

    def feasible(self, x: np.ndarray) -> bool:
        """Exact feasibility of the integer point ``x`` (int64)."""
        ok = bool(np.all(x >= self.lower) and np.all(x <= self.upper))
        if self.A_eq.shape[0]:
            ok &= bool(np.array_equal(self.A_eq @ x, self.b_eq))
        if self.A_ub.shape[0]:
            ok &= bool(np.all(self.A_ub @ x <= self.b_ub))
        return ok


def _integer_rows(
    mat: sp.csr_matrix, rhs: np.ndarray, upper_bound: bool
) -> tuple[sp.csr_matrix | None, np.ndarray | None]:
    """Rows scaled by the smallest power of two that makes their coefficients integers
    (exact), as int64; ``rhs`` scaled alike and rounded down for ``<=`` rows. ``(None,
    None)`` when a row would leave the exact integer range or an equality row's
    right-hand side is not an integer after scaling."""
    mat = sp.csr_matrix(mat)
    shift = np.zeros(mat.shape[0], dtype=np.int64)
    for r in range(mat.shape[0]):
        shift[r] = _fraction_bits(mat.data[mat.indptr[r] : mat.indptr[r + 1]])
    row_of_entry = np.repeat(np.arange(mat.shape[0]), np.diff(mat.indptr))
    data = np.ldexp(mat.data, shift[row_of_entry])
    scaled_rhs = np.ldexp(rhs, shift)
    if (data.size and np.abs(data).max() >= _INT_SAFE) or not np.all(np.isfinite(scaled_rhs)):
        return None, None
    if upper_bound:
        scaled_rhs = np.floor(scaled_rhs)
    elif not np.array_equal(scaled_rhs, np.floor(scaled_rhs)):
        return None, None
    out = sp.csr_matrix((data.astype(np.int64), mat.indices, mat.indptr), shape=mat.shape)
    return out, scaled_rhs.astype(np.int64)


def _fraction_bits(values: np.ndarray) -> int:
    """The smallest ``k >= 0`` with ``values·2^k`` all integers (finite floats)."""
    values = values[values != 0]
    if not values.size:
        return 0
    mantissa, exponent = np.frexp(values)  # values = mantissa · 2^exponent, |m| ∈ [1/2, 1)
    bits = 0
    for m, e in zip(mantissa.tolist(), exponent.tolist()):
        digits = int(abs(m) * 2**53)  # exact: a 53-bit integer
        trailing = (digits & -digits).bit_length() - 1
        bits = max(bits, 53 - int(e) - trailing)
    return bits


class _Objective:
    """The exact objective ``R + ρ·2^E`` of the module docstring, on ``n`` variables."""

    def __init__(self, c: np.ndarray) -> None:
        self.R = np.zeros(c.shape[0], dtype=np.int64)
        self.rho = c.astype(np.float64).copy()
        self.E = 0

    def fraction(self, columns: np.ndarray | slice = slice(None)) -> np.ndarray:
        """The scaled remainder ``ρ·2^E`` (floats, exact where representable)."""
        return np.ldexp(self.rho[columns], self.E)

    def top_exponent(self, columns: np.ndarray | slice = slice(None), other: float = 0.0):
        """The binary exponent ``e`` with ``max(|R|, |ρ·2^E|, other) ∈ [2^(e-1), 2^e)``, read
        off the exponents (no ``ρ·2^E`` is formed, so nothing underflows); ``None`` when
        the objective is zero."""
        exponents = []
        rho_top = float(np.abs(self.rho[columns]).max(initial=0))
        if rho_top:
            exponents.append(math.frexp(rho_top)[1] + self.E)
        int_top = max(float(np.abs(self.R).max(initial=0)), other)
        if int_top:
            exponents.append(math.frexp(int_top)[1])
        return max(exponents) if exponents else None

    def advance(self, delta: int) -> np.ndarray:
        """Multiply by ``2^Δ``: ``R ← 2^Δ R`` and the remainder's integer part ``F`` moves
        out of ``ρ``; returns ``C = 2^Δ R + F`` (int64), the level's objective."""
        self.E += delta
        if self.R.any():  # delta keeps max|R|·2^Δ within the level's bits, so int64 holds it
            if delta < 0:
                raise NotCertified("an integer objective cannot be scaled down exactly")
            self.R = self.R * 2**delta
        rounded = np.rint(self.fraction())
        self.rho = self.rho - np.ldexp(rounded, -self.E)
        return self.R + rounded.astype(np.int64)

    def window(self, width: np.ndarray, columns: np.ndarray) -> float:
        """An upper bound on ``Σ_j |ρ_j 2^E| (u_j - l_j)`` over ``columns``."""
        terms = np.abs(self.fraction(columns)) * width
        return math.fsum(terms.tolist()) * (1.0 + 1e-12) + 1e-300 * terms.size

    def exhausted(self, columns: np.ndarray) -> bool:
        return not np.any(self.rho[columns])


class ExactIntegralLP:
    """Exact ``argmax ⟨c, x⟩`` over an integral polytope with integer data (GLOP levels).

    Needs ``form.integral_polytope`` (every vertex integral, auxiliary variables too), no
    integrality flags, and finite bounds on the objective's variables.
    """

    def __init__(self, iform: IntegerForm) -> None:
        from ortools.linear_solver import pywraplp

        form = iform.form
        if form.integrality.any() or not form.integral_polytope:
            raise NotCertified("not an integral polytope without integer variables")
        if not iform.bounded(iform.objective_vars):
            raise NotCertified("the objective's variables need finite bounds")
        self.iform = iform
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        inf = self.solver.infinity()
        self.lower = np.where(np.isfinite(iform.lower), iform.lower, -inf)
        self.upper = np.where(np.isfinite(iform.upper), iform.upper, inf)
        self.vars = [
            self.solver.NumVar(float(lo), float(hi), f"x{i}")
            for i, (lo, hi) in enumerate(zip(self.lower, self.upper))
        ]
        self.eq_rows = self._add_rows(iform.A_eq, iform.b_eq, iform.b_eq)
        self.ub_rows = self._add_rows(iform.A_ub, np.full(iform.b_ub.shape, -inf), iform.b_ub)
        self.A_eqT = iform.A_eq.T.tocsr()
        self.A_ubT = iform.A_ub.T.tocsr()

    def _add_rows(self, mat: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray) -> list:
        rows = []
        for r in range(mat.shape[0]):
            row = self.solver.RowConstraint(float(lo[r]), float(hi[r]), "")
            for k in range(mat.indptr[r], mat.indptr[r + 1]):
                row.SetCoefficient(self.vars[mat.indices[k]], float(mat.data[k]))
            rows.append(row)
        return rows

    def _reset(self) -> None:
        for var, lo, hi in zip(self.vars, self.lower, self.upper):
            var.SetBounds(float(lo), float(hi))
        for row, b in zip(self.ub_rows, self.iform.b_ub):
            row.SetBounds(-self.solver.infinity(), float(b))

    def solve(self, c: np.ndarray, problem: str) -> np.ndarray:
        """The exact optimum ``x`` (float64, integral) for the objective ``c`` (n_vars,)."""
        from ortools.linear_solver import pywraplp

        iform = self.iform
        self._reset()
        objective = _Objective(c)
        free = np.ones(iform.n_vars, dtype=bool)
        tight = np.zeros(iform.b_ub.shape[0], dtype=bool)
        width = (iform.upper - iform.lower)[iform.objective_vars]
        for level in range(_MAX_LEVELS):
            top = objective.top_exponent()
            delta = 0 if top is None else _LP_BITS - top
            if level and delta < 1:
                raise NotCertified("the reduced costs leave no room for another level")
            C = objective.advance(delta)
            coeffs = self.solver.Objective()
            for var, coef in zip(self.vars, np.where(free, C, 0).tolist()):
                coeffs.SetCoefficient(var, float(coef))
            coeffs.SetMaximization()
            status = self.solver.Solve()
            if status != pywraplp.Solver.OPTIMAL:
                if level == 0:
                    return None  # infeasible or unbounded: the float path reports it
                raise NotCertified(f"GLOP status {status} on a refinement level")
            x = self._integral_point(problem)
            duals_eq = _integral_duals([row.dual_value() for row in self.eq_rows])
            duals_ub = _integral_duals([row.dual_value() for row in self.ub_rows])
            reduced = np.where(free, C, 0) - self.A_eqT @ duals_eq - self.A_ubT @ duals_ub
            self._check_optimal(x, reduced, duals_ub, tight, free)
            columns = iform.objective_vars[free[iform.objective_vars]]
            if objective.exhausted(columns):
                return x.astype(np.float64)
            window = objective.window(width[free[iform.objective_vars]], columns)
            fix = free & (np.abs(reduced) > window)
            for j in np.flatnonzero(fix).tolist():
                self.vars[j].SetBounds(float(x[j]), float(x[j]))
            free &= ~fix
            close = ~tight & (duals_ub > window)
            for i in np.flatnonzero(close).tolist():
                self.ub_rows[i].SetBounds(float(iform.b_ub[i]), float(iform.b_ub[i]))
            tight |= close
            # the next objective: equality and tight rows add a constant on what is left
            objective.R = np.where(free, reduced + self.A_ubT @ np.where(tight, 0, duals_ub), 0)
            objective.rho[~free] = 0.0
            if objective.top_exponent() is None:  # what is left all ties: x is optimal
                return x.astype(np.float64)
        raise NotCertified(f"no exact optimum after {_MAX_LEVELS} levels")

    def _integral_point(self, problem: str) -> np.ndarray:
        values = np.array([v.solution_value() for v in self.vars], dtype=np.float64)
        x = np.rint(values)
        err = np.abs(values - x) / np.maximum(1.0, np.abs(x))
        if err.max(initial=0.0) > _ROUND_TOL:  # a face of an integral polytope is integral
            raise SolverInputError(
                f"{problem}: GLOP returned a non-integral solution (max relative distance to "
                f"an integer {err.max():.3g}) where the LP form declares an integral "
                "polytope; check the form"
            )
        x = x.astype(np.int64)
        if not self.iform.feasible(x):
            raise NotCertified("the rounded vertex is not exactly feasible")
        return x

    def _check_optimal(
        self,
        x: np.ndarray,
        reduced: np.ndarray,
        duals_ub: np.ndarray,
        tight: np.ndarray,
        free: np.ndarray,
    ) -> None:
        """LP optimality of ``x`` for the level objective, in exact integer arithmetic."""
        lo, hi = self.iform.lower, self.iform.upper
        wrong = free & (((reduced > 0) & (x != hi)) | ((reduced < 0) & (x != lo)))
        if self.A_ubT.shape[1]:
            slack = self.iform.b_ub - self.iform.A_ub @ x
            bad_rows = ~tight & ((duals_ub < 0) | ((duals_ub > 0) & (slack != 0)))
        else:
            bad_rows = np.zeros(0, dtype=bool)
        if wrong.any() or bad_rows.any():
            raise NotCertified("the rounded duals do not certify the vertex")


def _integral_duals(values: list[float]) -> np.ndarray:
    duals = np.rint(np.asarray(values, dtype=np.float64).reshape(-1))
    if np.any(np.abs(duals) >= _INT_SAFE):
        raise NotCertified("duals beyond the exact integer range")
    return duals.astype(np.int64)


def exact_engines(form: LPForm) -> list:
    """The exact engines that apply to ``form``, in the order to try them: GLOP levels for
    an integral polytope (fast), then integer-program levels with SCIP, then with CP-SAT
    (:mod:`solvers._ip_exact`). Empty when the data are not integral or a bound is missing
    (module docstring)."""
    iform = IntegerForm.from_form(form)
    if iform is None:
        return []
    from ._ip_exact import ExactIntegerProgram

    engines = []
    for make in (
        ExactIntegralLP,
        lambda f: ExactIntegerProgram(f, "SCIP"),
        lambda f: ExactIntegerProgram(f, "CP_SAT"),
    ):
        try:
            engines.append(make(iform))
        except NotCertified:
            continue
    return engines
