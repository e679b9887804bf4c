"""The generic ``lp`` backend: any problem stated as an :class:`~solvers.base.LPForm`.

For one instance ``θ`` it solves

    max ⟨c, x⟩   s.t.   A_eq x = b_eq,   A_ub x <= b_ub,   lower <= x <= upper,
                        x_i ∈ ℤ where integrality[i],

with ``c = form.objective_vector(θ)`` (``θ`` scattered onto the variables ``y_index``) and
returns ``y = x[y_index]``. The solver is chosen from the form:

* no integrality flags: OR-Tools GLOP (primal/dual simplex). A simplex method returns a
  basic optimal solution, i.e. a vertex, so when ``form.integral_polytope`` holds (a totally
  unimodular system with integral data, the Birkhoff polytope...) the answer is integral;
* integrality flags: a MIP solver through ``pywraplp``: SCIP when this OR-Tools build has
  it (it does from 9.x on PyPI), else CBC, else CP-SAT (pywraplp scales float coefficients
  to integers for CP-SAT itself). The relative MIP gap is set to 0 so that the optimum is
  exact, not within the default 1e-4.

Scaling. GLOP's and the MIP solvers' tolerances are absolute, so ``c`` is handed to them as
``c / 2^e``, with ``e`` from ``max|c| = m·2^e``, ``m ∈ [1/2, 1)``: the scaled objective has
``max|c / 2^e| ∈ [1/2, 1)``. Since ``argmax ⟨c, x⟩ = argmax ⟨c/σ, x⟩`` for every ``σ > 0``,
the optimum set is unchanged, and a power of two keeps the division exact in floating point
(bar underflow of entries below ``2^-1022·2^e``, negligible next to ``max|c|``). ``θ`` is
scaled the same way before it is scattered onto the variables, so sums of entries that
share a variable cannot overflow. An all-zero ``c`` is passed as it is (any feasible point
is optimal).

Limit: dynamic range. Scaling fixes the magnitude of ``θ``, not its spread: the solvers'
tolerances (about ``1e-9``) then apply relative to ``max|θ|``, so entries below roughly
``1e-9·max|θ|`` can be ignored and the answer can be suboptimal (e.g. a knapsack with
values ``[1e10, 1, 2]`` may leave out the small items that still fit). This backend is not
made exact there; instead it emits one :class:`RuntimeWarning` per call when some instance
has ``max|θ| / min nonzero |θ|`` above ``1e9`` (:data:`DYNAMIC_RANGE_LIMIT`). Use the
problem's exact backend for such ``θ``.

Where the polytope is declared integral or the variable is required to be integral, the
solution entry is checked to be integral (within ``1e-6`` relative) and rounded, so ``y``
has exactly integral entries; anything else is a solver failure and raises.

:class:`LPSolver` makes a solver from a user's ``(A, b, bounds, integrality)``;
:class:`LPBackedSolver` solves any registered problem through its ``lp_form`` (the
``"lp"`` backend that :func:`solvers.registry.register` derives), to cross-check fast
solvers against a general one.

Reference: Schrijver, *Theory of Linear and Integer Programming* (1986), ch. 8 and 19
(vertices of polyhedra, total unimodularity).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver import pywraplp

from .base import LPForm, Solver, SolverInputError, as_array
from .registry import register

__all__ = ["LPBackedSolver", "LPSolver", "solve_lp_form"]

_MIP_BACKENDS = ("SCIP", "CBC", "CP_SAT")
_INT_TOL = 1e-6

#: Above this ``max|θ| / min nonzero |θ|`` within one instance the answer may be suboptimal
#: (module docstring), and :func:`warn_dynamic_range` warns.
DYNAMIC_RANGE_LIMIT = 1e9

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
            f"(max|θ| / min nonzero |θ| in one instance), above {DYNAMIC_RANGE_LIMIT:.0e}: "
            "the LP/MIP tolerances are relative to max|θ|, so the small entries may be "
            "ignored and the answer may be suboptimal; use the problem's exact backend",
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


class _Model:
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


def solve_lp_form(form: LPForm, theta_instance: Any) -> np.ndarray:
    """``y = x*[y_index]`` with ``x* = argmax ⟨c(θ), x⟩`` over ``form``, for ONE instance.

    ``theta_instance`` has shape ``form.instance_shape``. The result is float64, with
    exactly integral entries where the form declares an integral polytope or integer
    variables. Raises :class:`~solvers.base.SolverInputError` when the problem is
    infeasible or unbounded (the message names the solver status).

    Examples:
        >>> import numpy as np, solvers
        >>> form = solvers.get("top_k", k=2).lp_form(4)
        >>> solve_lp_form(form, np.array([0.1, 1.0, 0.9, -0.5]))
        array([0., 1., 1., 0.])
    """
    if not isinstance(form, LPForm):
        raise TypeError(f"lp: expected an LPForm, got {type(form).__name__}")
    y = _Model(form).solve(theta_instance)
    warn_dynamic_range(as_array(theta_instance, "θ", "lp")[None], "lp", stacklevel=2)
    return y


class LPSolver(Solver):
    """A solver for a user-given linear (or mixed-integer) program.

    Either pass a ready :class:`~solvers.base.LPForm`, ``LPSolver(form)``, or its pieces::

        solvers.get("lp", A_eq=A, b_eq=b, upper=np.ones(n), integrality=..., y_shape=(n,))

    Without ``y_index``, ``y`` is the first ``prod(y_shape)`` LP variables reshaped to
    ``y_shape`` (default: all variables, shape ``(n_vars,)``); further variables are
    auxiliary. ``n_vars`` is read from the matrices or bounds. A form with neither
    integrality flags nor ``integral_polytope=True`` is a plain LP and ``y`` may be
    fractional. Like every use of this backend, it warns (:class:`RuntimeWarning`) when
    an instance's ``max|θ| / min nonzero |θ|`` exceeds ``1e9``, where the answer may be
    suboptimal (module docstring, "Limit").

    Examples:
        >>> import numpy as np
        >>> lp = LPSolver(A_eq=np.ones((1, 3)), b_eq=[1.0], upper=np.ones(3),
        ...                integral_polytope=True)
        >>> lp.solve(np.array([0.2, 0.7, 0.1]))
        array([0., 1., 0.])
    """

    problem = "lp"
    backend = "ortools"

    def __init__(
        self,
        form: LPForm | None = None,
        *,
        A_eq: Any = None,
        b_eq: Any = None,
        A_ub: Any = None,
        b_ub: Any = None,
        lower: Any = None,
        upper: Any = None,
        integrality: Any = None,
        y_shape: int | tuple[int, ...] | None = None,
        y_index: Any = None,
        integral_polytope: bool = False,
        description: str = "",
    ) -> None:
        pieces = {
            "A_eq": A_eq,
            "b_eq": b_eq,
            "A_ub": A_ub,
            "b_ub": b_ub,
            "lower": lower,
            "upper": upper,
            "integrality": integrality,
            "y_shape": y_shape,
            "y_index": y_index,
        }
        given = sorted(k for k, v in pieces.items() if v is not None)
        if form is not None:
            if not isinstance(form, LPForm):
                raise TypeError(f"lp: form must be an LPForm, got {type(form).__name__}")
            if given or integral_polytope:
                raise ValueError(f"lp: pass either form or its pieces, not both (got {given})")
        else:
            form = _form_from_pieces(
                integral_polytope=integral_polytope, description=description, **pieces
            )
        self.form = form
        self.event_ndim = len(form.instance_shape)
        self.instance_shape = form.instance_shape

    def __repr__(self) -> str:
        f = self.form
        return (
            f"LPSolver(n_vars={f.n_vars}, eq={f.A_eq.shape[0]}, ub={f.A_ub.shape[0]}, "
            f"integer={int(f.integrality.sum())}, y_shape={f.instance_shape})"
        )

    def lp_form(self, shape: Any = None, **side: Any) -> LPForm:
        return self.form

    def _solve_batch(self, theta: np.ndarray) -> np.ndarray:
        warn_dynamic_range(theta, self.problem, stacklevel=3)  # the caller of solve()
        model = _Model(self.form, self.problem)
        return np.stack([model.solve(t) for t in theta])


def _form_from_pieces(
    *,
    A_eq: Any,
    b_eq: Any,
    A_ub: Any,
    b_ub: Any,
    lower: Any,
    upper: Any,
    integrality: Any,
    y_shape: int | tuple[int, ...] | None,
    y_index: Any,
    integral_polytope: bool,
    description: str,
) -> LPForm:
    b_eq, b_ub, lower, upper, integrality, y_index = (
        None if value is None else as_array(value, name, "lp")
        for name, value in (
            ("b_eq", b_eq),
            ("b_ub", b_ub),
            ("lower", lower),
            ("upper", upper),
            ("integrality", integrality),
            ("y_index", y_index),
        )
    )
    for mat_name, mat, rhs_name, rhs in (
        ("A_eq", A_eq, "b_eq", b_eq),
        ("A_ub", A_ub, "b_ub", b_ub),
    ):
        if (mat is None) != (rhs is None):
            raise ValueError(f"lp: {mat_name} and {rhs_name} must be given together")
    sizes = {}
    for name, mat in (("A_eq", A_eq), ("A_ub", A_ub)):
        if mat is not None:
            try:
                shape = np.shape(mat) if not sp.issparse(mat) else mat.shape
            except ValueError as exc:  # a ragged list of rows
                raise ValueError(
                    f"lp: {name} must be a 2-D matrix with rows of equal length"
                ) from exc
            if len(shape) != 2:
                raise ValueError(f"lp: {name} must be a 2-D matrix, got shape {shape}")
            sizes[name] = shape[1]
    for name, vec in (("lower", lower), ("upper", upper), ("integrality", integrality)):
        if vec is not None:
            sizes[name] = np.size(vec)
    if not sizes:
        raise ValueError("lp: give a constraint matrix or bounds so that n_vars is known")
    if len(set(sizes.values())) > 1:
        raise ValueError(f"lp: the number of variables disagrees between the pieces: {sizes}")
    n_vars = next(iter(sizes.values()))
    if y_shape is not None:
        y_shape = _check_y_shape(y_shape)
    if y_index is None:
        if y_shape is None:
            y_shape = (n_vars,)
        n_y = math.prod(y_shape)
        if n_y > n_vars:
            raise ValueError(f"lp: y_shape {y_shape} needs {n_y} variables, only {n_vars} exist")
        y_index = np.arange(n_y).reshape(y_shape)
    elif y_shape is not None and y_index.shape != y_shape:
        raise ValueError(f"lp: y_index has shape {y_index.shape}, y_shape says {y_shape}")
    try:
        return LPForm(
            n_vars=n_vars,
            y_index=y_index,
            A_eq=A_eq,
            b_eq=b_eq,
            A_ub=A_ub,
            b_ub=b_ub,
            lower=lower,
            upper=upper,
            integrality=integrality,
            integral_polytope=integral_polytope,
            description=description or "user-given linear program",
        )
    except (TypeError, ValueError) as exc:  # LPForm's checks of dtypes, NaN and inf
        raise type(exc)(f"lp: {exc}") from exc


def _check_y_shape(y_shape: Any) -> tuple[int, ...]:
    """``y_shape`` (an int, or a tuple, list or integer array of them) as a tuple of ints
    ``>= 0`` (0 gives an empty ``y``). Floats, strings and bools are a :class:`TypeError`,
    not truncated or parsed."""
    if isinstance(y_shape, np.ndarray):
        y_shape = y_shape.tolist()
    dims = tuple(y_shape) if isinstance(y_shape, (tuple, list)) else (y_shape,)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(
                f"lp: y_shape must be an integer or a tuple of integers, got {y_shape!r}"
            )
        if d < 0:
            raise ValueError(f"lp: y_shape must have sizes >= 0, got {y_shape!r}")
    return tuple(int(d) for d in dims)


class LPBackedSolver(Solver):
    """Any solver's problem solved through its :meth:`~solvers.base.Solver.lp_form`.

    Same ``problem``, ``event_ndim``, ``instance_shape``, side inputs and input checks as
    ``base``; backend ``"lp"``. Each instance is solved by :func:`solve_lp_form`; without
    side data the form depends only on the instance shape, so it is built once per shape
    and the loaded model is re-solved for every instance of the batch.

    Not exact for ``θ`` of wide dynamic range: when ``max|θ| / min nonzero |θ|`` of an
    instance exceeds ``1e9`` the solvers' tolerances may ignore the small entries, and a
    :class:`RuntimeWarning` is emitted once per call (module docstring, "Limit").

    Examples:
        >>> import numpy as np, solvers
        >>> reference = LPBackedSolver(solvers.get("assignment"))
        >>> reference.solve(np.array([[1.0, 2.0], [3.0, 1.0]]))
        array([[0., 1.],
               [1., 0.]])
    """

    backend = "lp"

    def __init__(self, base: Solver) -> None:
        if not isinstance(base, Solver):
            raise TypeError(f"lp: LPBackedSolver wraps a Solver, got {type(base).__name__}")
        self.base = base
        self.problem = base.problem
        self.event_ndim = base.event_ndim
        self.instance_shape = base.instance_shape
        self.side_inputs = base.side_inputs
        self._forms: dict[tuple[int, ...], LPForm] = {}

    def __repr__(self) -> str:
        return f"LPBackedSolver({self.base!r})"

    def validate(self, theta: Any) -> np.ndarray:
        return self.base.validate(theta)

    def _check_side(
        self, side: dict[str, Any], batch_shape: tuple[int, ...], event_shape: tuple[int, ...]
    ) -> dict:
        return self.base._check_side(side, batch_shape, event_shape)

    def lp_form(self, shape: Any = None, **side: Any) -> LPForm:
        return self.base.lp_form(shape=shape, **side)

    def _form(self, shape: tuple[int, ...], side: dict[str, np.ndarray]) -> LPForm:
        if not side and shape in self._forms:
            return self._forms[shape]
        form = self.base.lp_form(shape=shape, **side)
        if form.instance_shape != shape:
            raise SolverInputError(
                f"{self.problem}: lp_form returned y of shape {form.instance_shape} for "
                f"instances of shape {shape}"
            )
        if not side:
            self._forms[shape] = form
        return form

    def _solve_batch(self, theta: np.ndarray, **side: np.ndarray) -> np.ndarray:
        warn_dynamic_range(theta, self.problem, stacklevel=3)  # the caller of solve()
        shape = tuple(theta.shape[1:])
        if not side:
            model = _Model(self._form(shape, {}), self.problem)
            return np.stack([model.solve(t) for t in theta])
        out = []
        for b, t in enumerate(theta):
            form = self._form(shape, {k: v[b] for k, v in side.items()})
            out.append(_Model(form, self.problem).solve(t))
        return np.stack(out)


register(
    "lp",
    "ortools",
    LPSolver,
    "user-given LP/MIP (A_eq, b_eq, A_ub, b_ub, bounds, integrality) via OR-Tools GLOP/SCIP",
    default=True,
    lp_backend=False,
)
