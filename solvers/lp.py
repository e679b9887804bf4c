"""The generic ``lp`` backend: any problem stated as an :class:`~solvers.base.LPForm`.

For one instance ``θ`` it solves

    max ⟨c, x⟩   s.t.   A_eq x = b_eq,   A_ub x <= b_ub,   lower <= x <= upper,
                        x_i ∈ ℤ where integrality[i],

with ``c = form.objective_vector(θ)`` (``θ`` scattered onto the variables ``y_index``) and
returns ``y = x[y_index]``.

Exactness. Integer programs with integer data are solved exactly, whatever the magnitudes
and spread of ``θ`` (:mod:`solvers._lp_exact`): every registered problem's form is one.
The form qualifies when ``θ`` lands on distinct variables, the constraint rows become
integer after an exact power-of-two scaling (``b_ub`` is then rounded down, which keeps
the integer points) and either

* it declares an integral polytope and no integer variables: GLOP solves a short sequence
  of integer objectives of at most 20 bits, each optimum certified by exact integer duals
  and refined by reduced-cost fixing (typically one to three GLOP solves); or
* every variable is integral (flags, or an integral polytope) with finite bounds: SCIP
  (CP-SAT as a fallback) solves a sequence of integer programs of at most 24 (40) bits
  each, each level keeping the previous one's optimum within the exact window the
  remaining bits allow, and every answer is checked for exact feasibility
  (:mod:`solvers._ip_exact`).

Being exact costs time: typically one to three solves per instance instead of one; a
spanning tree of the complete graph on 14 nodes with ``θ`` over 80 binary orders takes
seconds (its flow formulation is a weak MIP).

Floating-point path. Other forms (a fractional LP, continuous variables in a MIP,
non-integer or huge data, an unbounded objective variable), and the rare instance whose
exact refinement cannot be certified, are solved in floating point as they are given:

* no integrality flags: OR-Tools GLOP (primal/dual simplex). A simplex method returns a
  basic optimal solution, i.e. a vertex, so when ``form.integral_polytope`` holds (a totally
  unimodular system with integral data, the Birkhoff polytope...) the answer is integral;
* integrality flags: a MIP solver through ``pywraplp``: SCIP when this OR-Tools build has
  it (it does from 9.x on PyPI), else CBC, else CP-SAT (pywraplp scales float coefficients
  to integers for CP-SAT itself). The relative MIP gap is set to 0 so that the optimum is
  exact, not within the default 1e-4.

``c`` is handed to them as ``c / 2^e``, with ``e`` from ``max|c| = m·2^e``,
``m ∈ [1/2, 1)`` (exact; the optimum set is unchanged). Their tolerances are absolute,
so they resolve differences between solutions only down to a fraction of ``max|θ|``:
measured with ``benchmarks/lp_float_range.py`` on registered problems forced through this
path, the first suboptimal answers appear when solutions differ by about ``1e-5·max|θ|``
(ranking, spanning tree), and when small entries of ``θ`` span ``1e4`` to ``1e5`` times
less than the largest; none were seen below. This path therefore emits one
:class:`RuntimeWarning` per call when an instance it solved has ``max|θ| / min nonzero |θ|``
above ``1e4`` (:data:`DYNAMIC_RANGE_LIMIT`); near-ties among large entries (``θ`` of a
narrow range whose optimal and second-best solutions differ by less than ``1e-5·max|θ|``)
are not detected. Where the polytope is declared integral or the variable is required to be
integral, the solution entry is checked to be integral (within ``1e-6`` relative) and
rounded, so ``y`` has exactly integral entries; anything else is a solver failure and
raises.

:class:`LPSolver` makes a solver from a user's ``(A, b, bounds, integrality)``;
:class:`LPBackedSolver` solves any registered problem through its ``lp_form`` (the
``"lp"`` backend that :func:`solvers.registry.register` derives), to cross-check fast
solvers against a general one.

Reference: Schrijver, *Theory of Linear and Integer Programming* (1986), ch. 7, 8 and 19
(duality, vertices of polyhedra, total unimodularity).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _lp_float
from ._lp_exact import NotCertified, exact_engines
from ._lp_float import FloatModel, warn_dynamic_range
from .base import LPForm, Solver, SolverInputError, as_array
from .registry import register

__all__ = ["DYNAMIC_RANGE_LIMIT", "LPBackedSolver", "LPSolver", "solve_lp_form"]

DYNAMIC_RANGE_LIMIT = _lp_float.DYNAMIC_RANGE_LIMIT
"""Above this ``max|θ| / min nonzero |θ|`` within one instance, an answer of the
floating-point path may be suboptimal, and that path warns (module docstring); the exact
engines, which every registered problem's form uses, need no limit."""


class _Model:
    """One LPForm made ready to solve: its exact engines (:mod:`solvers._lp_exact`) and,
    loaded on first use, a pywraplp model for the floating-point path."""

    def __init__(self, form: LPForm, problem: str = "lp") -> None:
        self.form = form
        self.problem = problem
        self.engines = exact_engines(form)
        self._float: FloatModel | None = None

    def solve(self, theta_instance: np.ndarray) -> tuple[np.ndarray, bool]:
        """``(y, certified)``: ``y`` for one instance, and whether an exact engine
        certified it optimal (else it comes from the floating-point path)."""
        theta = np.asarray(as_array(theta_instance, "θ", self.problem), dtype=np.float64)
        if theta.size and not np.isfinite(theta).all():
            raise SolverInputError(f"{self.problem}: θ contains NaN or inf")
        if self.engines:
            c = self.form.objective_vector(theta)
            for engine in self.engines:
                try:
                    x = engine.solve(c, self.problem)
                except NotCertified:
                    continue
                if x is not None:
                    return x[self.form.y_index] + 0.0, True
                break  # no optimum at all: the floating-point path says why
        if self._float is None:
            self._float = FloatModel(self.form, self.problem)
        return self._float.solve(theta), False


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
    y, certified = _Model(form).solve(theta_instance)
    if not certified:
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
    fractional. Integer programs with integer data are solved exactly; other forms go
    through the floating-point path, which warns (:class:`RuntimeWarning`) when an
    instance's ``max|θ| / min nonzero |θ|`` exceeds ``1e4`` (module docstring).

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
        model = _Model(self.form, self.problem)
        return _solve_all(theta, [model] * theta.shape[0], self.problem)


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

    Every registered problem's form is an integer program with integer data, solved
    exactly for any ``θ`` (module docstring, "Exactness").

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
        shape = tuple(theta.shape[1:])
        if not side:
            models = [_Model(self._form(shape, {}), self.problem)] * theta.shape[0]
        else:
            models = [
                _Model(self._form(shape, {k: v[b] for k, v in side.items()}), self.problem)
                for b in range(theta.shape[0])
            ]
        return _solve_all(theta, models, self.problem)


def _solve_all(theta: np.ndarray, models: list[_Model], problem: str) -> np.ndarray:
    """Solve instance ``b`` of ``θ`` with ``models[b]``; one dynamic-range warning for the
    instances that no exact engine certified (module docstring, "Exactness")."""
    out, uncertified = [], []
    for b, (t, model) in enumerate(zip(theta, models)):
        y, certified = model.solve(t)
        out.append(y)
        if not certified:
            uncertified.append(b)
    if uncertified:
        warn_dynamic_range(theta[uncertified], problem, stacklevel=4)  # the caller of solve()
    return np.stack(out)


register(
    "lp",
    "ortools",
    LPSolver,
    "user-given LP/MIP (A_eq, b_eq, A_ub, b_ub, bounds, integrality) via OR-Tools GLOP/SCIP",
    default=True,
    lp_backend=False,
)
