"""The solver interface shared by every problem of the zoo.

Every solver computes a linear maximiser over a finite set of integer vectors,

    y*(θ) = argmax_{y ∈ Y} ⟨θ, y⟩,

where ``Y`` is the vertex set of the problem's polytope (paths, permutations, trees,
item sets). Minimisation problems with costs ``c`` enter as ``θ = -c`` through
:func:`costs_to_theta`, the single place where that sign flip happens.

Shapes. An *instance* of ``θ`` has ``event_ndim`` trailing axes (2 for a grid, 1 for an
edge vector). Any number of leading axes form the batch: ``solve`` accepts ``(*shape)``
(one instance, returned unbatched) or ``(B, *shape)``, and also ``(M, B, *shape)``.
The result has ``θ``'s shape and float dtype (float64 for integer input) with exactly
integral entries.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

__all__ = [
    "LPForm",
    "Solver",
    "SolverInputError",
    "SolverTimeLimitError",
    "costs_to_theta",
    "theta_to_costs",
    "as_array",
    "as_finite_float",
    "as_positive_finite",
    "as_theta",
    "check_path_sum",
]


class SolverInputError(ValueError):
    """Raised when a solver is given input it cannot solve (bad shape, NaN, negative costs...).

    Examples:
        >>> import numpy as np, solvers
        >>> try:
        ...     solvers.get("argmax").solve(np.array([1.0, np.nan]))
        ... except SolverInputError as error:
        ...     print(error)
        argmax: θ contains NaN; all scores must be finite
    """


class SolverTimeLimitError(RuntimeError):
    """Raised when a solver with a time limit stops before proving its answer optimal.

    Examples:
        >>> import numpy as np, solvers
        >>> knap = solvers.get("knapsack", backend="ortools", weights=[3, 4], capacity=5,
        ...                    time_limit=10.0)
        >>> try:
        ...     y = knap.solve(np.array([1.0, 2.0]))  # proven optimal well within 10 s
        ... except SolverTimeLimitError as error:
        ...     print("no packing proven optimal in time:", error)
        >>> y
        array([0., 1.])
    """


def costs_to_theta(costs: np.ndarray) -> np.ndarray:
    """Turn minimisation costs ``c`` into maximisation scores ``θ = -c``.

    This is the only place in :mod:`solvers` where a minimisation problem changes sign.

    Examples:
        >>> import numpy as np
        >>> costs_to_theta(np.array([1.0, 2.0]))
        array([-1., -2.])
    """
    return -np.asarray(costs)


def theta_to_costs(theta: np.ndarray) -> np.ndarray:
    """Inverse of :func:`costs_to_theta`: ``c = -θ``.

    Examples:
        >>> import numpy as np
        >>> theta_to_costs(np.array([-1.0, -2.0]))
        array([1., 2.])
    """
    return -np.asarray(theta)


def as_array(value: Any, name: str, problem: str = "solver") -> np.ndarray:
    """``value`` as a plain :class:`numpy.ndarray`: the conversion every input goes through
    before it is checked.

    NumPy subclasses would slip past the checks (a masked array's ``min`` and ``max`` skip
    its masked entries, NaN included; an ``np.matrix`` stays 2-D under ``reshape``), so
    they are viewed as plain arrays, and a masked array with masked entries raises
    :class:`SolverInputError` (the solvers have no notion of a missing entry). A tensor
    that requires grad (NumPy's conversion raises ``RuntimeError``; torch is not imported
    here) and anything else NumPy cannot convert raise :class:`TypeError` naming ``name``.

    Examples:
        >>> import numpy as np
        >>> as_array([1, 2], "θ").tolist()
        [1, 2]
        >>> try:
        ...     as_array(np.ma.masked_array([1.0, 2.0], mask=[0, 1]), "θ")
        ... except SolverInputError as error:
        ...     print("masked" in str(error))
        True
    """
    if type(value) is np.ndarray:
        return value
    if isinstance(value, np.ma.MaskedArray) and np.ma.is_masked(value):
        raise SolverInputError(
            f"{problem}: {name} is a masked array with masked entries "
            f"({np.ma.count_masked(value)} of {value.size}); the solvers ignore masks, so fill "
            f"them first ({name}.filled(value))"
        )
    try:
        return np.asarray(value)
    except RuntimeError as exc:
        if getattr(value, "requires_grad", False) or "requires grad" in str(exc):
            raise TypeError(
                f"{problem}: {name} is a tensor that requires grad; the solvers take NumPy "
                f"data and do not track gradients, so pass {name}.detach()"
            ) from None
        raise TypeError(
            f"{problem}: {name} could not be converted to a NumPy array: {exc}"
        ) from exc
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{problem}: {name} could not be converted to a NumPy array: {exc}"
        ) from exc


def as_finite_float(value: Any, name: str, problem: str = "solver") -> np.ndarray:
    """Side data (weights, capacities, demands) as a finite float64 array: :func:`as_array`,
    then ``TypeError`` for non-real dtypes and :class:`SolverInputError` for NaN or inf.

    Examples:
        >>> as_finite_float([1, 2], "weights", "knapsack").dtype
        dtype('float64')
        >>> try:
        ...     as_finite_float([1.0, float("nan")], "weights", "knapsack")
        ... except SolverInputError as error:
        ...     print(error)
        knapsack: weights contains NaN; it must be finite
    """
    arr = as_array(value, name, problem)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{problem}: {name} must be real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.size and not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise SolverInputError(f"{problem}: {name} contains {bad}; it must be finite")
    return arr


def as_positive_finite(
    value: Any, name: str, problem: str = "solver", what: str = "number"
) -> float:
    """An option that must be a positive finite real number (a scale, a time limit) as a
    float; :class:`SolverInputError` naming ``name`` otherwise, ``bool`` and strings
    included. ``what`` names the quantity in the message.

    Examples:
        >>> as_positive_finite(100, "weight_scale", "multi_knapsack")
        100.0
        >>> try:
        ...     as_positive_finite(0, "time_limit", "tsp", "number of seconds")
        ... except SolverInputError as error:
        ...     print(error)
        tsp: time_limit must be a positive finite number of seconds, got 0
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not np.isfinite(value)
        or value <= 0
    ):
        raise SolverInputError(f"{problem}: {name} must be a positive finite {what}, got {value!r}")
    return float(value)


def as_theta(
    theta: Any,
    event_ndim: int,
    *,
    instance_shape: tuple[int, ...] | None = None,
    problem: str = "solver",
    check_finite: bool = True,
) -> np.ndarray:
    """Validate ``θ`` and return it as a float array (float32 and float64 kept, else float64).

    ``θ`` is first made a plain array by :func:`as_array` (subclasses stripped, tensors
    that require grad refused). Raises :class:`TypeError` for non-numeric dtypes (object,
    complex, string) and :class:`SolverInputError` for too few axes, a wrong instance
    shape, NaN or inf.
    Integer and boolean input is converted to float64. ``check_finite=False`` leaves the
    NaN / inf check to a caller that scans ``θ`` anyway (see :func:`check_finite_range`).

    Examples:
        >>> as_theta([[1, 2, 3]], event_ndim=1).dtype
        dtype('float64')
    """
    arr = as_array(theta, "θ", problem)
    kind = arr.dtype.kind
    if kind in "biu":
        arr = arr.astype(np.float64)
    elif kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
    else:
        raise TypeError(
            f"{problem}: θ must be a real numeric array, got dtype {arr.dtype} "
            "(integer input is converted to float64; object, complex and string are rejected)"
        )
    if arr.ndim < event_ndim:
        raise SolverInputError(
            f"{problem}: θ must have at least {event_ndim} axes (one instance has {event_ndim}),"
            f" got shape {arr.shape}"
        )
    if instance_shape is not None and tuple(arr.shape[arr.ndim - event_ndim :]) != tuple(
        instance_shape
    ):
        raise SolverInputError(
            f"{problem}: each instance of θ must have shape {tuple(instance_shape)}, "
            f"got trailing shape {arr.shape[arr.ndim - event_ndim :]} (full shape {arr.shape})"
        )
    if check_finite:
        check_finite_range(arr, problem)
    return arr


def check_finite_range(arr: np.ndarray, problem: str = "solver") -> tuple[float, float]:
    """``(min θ, max θ)`` of a non-empty array, raising :class:`SolverInputError` on NaN or
    inf (min and max propagate NaN and show ±inf, without a temporary the size of θ)."""
    if not arr.size:
        return 0.0, 0.0
    lo, hi = float(arr.min()), float(arr.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise SolverInputError(f"{problem}: θ contains {bad}; all scores must be finite")
    return lo, hi


def check_path_sum(largest: float, terms: int, problem: str, values: str = "|θ|") -> None:
    """Raise :class:`SolverInputError` when a path's total cost, a sum of up to ``terms``
    entries of magnitude up to ``largest``, could overflow float64 to inf (the distances
    would then tie at inf and the path would be arbitrary). ``values`` names the entries in
    the message.

    Examples:
        >>> check_path_sum(1e300, 10, "shortest_path")  # 1e301 is finite: fine
        >>> try:
        ...     check_path_sum(1e308, 100, "shortest_path")
        ... except SolverInputError as error:
        ...     print("overflow" in str(error))
        True
    """
    if not np.isfinite(largest * terms):
        raise SolverInputError(
            f"{problem}: {values} up to {largest:g} would overflow the sum of a path's costs; "
            "rescale the costs"
        )


@dataclass(frozen=True)
class LPForm:
    """One instance's feasible set as a (mixed-integer) linear program in standard form.

    The solver's problem is ``max ⟨θ, y⟩`` over

        A_eq x = b_eq,   A_ub x <= b_ub,   lower <= x <= upper,   x_i ∈ ℤ where integrality[i],

    with ``y = x[y_index]``: ``y_index`` has the instance shape of ``θ`` and holds, for each
    entry of ``y``, the index of the LP variable that equals it. LP variables that are not
    entries of ``y`` are auxiliary (flows, permutation matrices...) and have zero objective.
    ``integral_polytope`` states that the LP relaxation already has integral vertices, in
    every variable, auxiliary ones included (so a simplex solver such as GLOP suffices);
    otherwise a MIP solver is needed.

    Defaults: no rows, ``lower = 0``, ``upper = +inf``, no integer variables. ``n_vars`` is
    an integer ``>= 0``, ``y_index`` holds whole numbers (integer dtype, or floats such as
    ``2.0``), ``integrality`` booleans or 0/1 numbers. The matrices and vectors must hold
    real numbers (bool, integer or float dtypes; anything else is a
    :class:`TypeError`) and no NaN (:class:`ValueError`). Infinite entries are allowed only
    where they mean something: ``lower = -inf`` and ``upper = +inf`` (no bound) and
    ``b_ub = +inf`` (a row that never binds); ``A_eq``, ``A_ub`` and ``b_eq`` are finite.

    Examples:
        >>> import numpy as np
        >>> form = LPForm(n_vars=3, y_index=np.arange(3), A_eq=np.ones((1, 3)), b_eq=[1.0],
        ...               upper=np.ones(3), integral_polytope=True)
        >>> form.is_feasible(np.array([0.0, 1.0, 0.0])), form.is_feasible(np.array([1.0, 1.0, 0.0]))
        (True, False)
    """

    n_vars: int
    y_index: np.ndarray
    A_eq: sp.csr_matrix | None = None
    b_eq: np.ndarray | None = None
    A_ub: sp.csr_matrix | None = None
    b_ub: np.ndarray | None = None
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    integrality: np.ndarray | None = None
    integral_polytope: bool = False
    description: str = field(default="", compare=False)

    #: The one infinite value each piece may hold, with its meaning; other pieces are finite.
    _INFINITY_ALLOWED: ClassVar[dict[str, tuple[float, str]]] = {
        "b_ub": (np.inf, "a row that never binds"),
        "lower": (-np.inf, "no lower bound"),
        "upper": (np.inf, "no upper bound"),
    }

    def __post_init__(self) -> None:
        n = self._count("n_vars", self.n_vars)
        object.__setattr__(self, "n_vars", n)
        object.__setattr__(self, "y_index", self._indices("y_index", self.y_index))
        if self.y_index.size and (self.y_index.min() < 0 or self.y_index.max() >= n):
            raise ValueError("LPForm: y_index refers to variables outside 0..n_vars-1")
        for mat_name, rhs_name in (("A_eq", "b_eq"), ("A_ub", "b_ub")):
            self._set_rows(mat_name, rhs_name, n)
        lower = np.zeros(n) if self.lower is None else self._real_vector("lower", self.lower)
        upper = np.full(n, np.inf) if self.upper is None else self._real_vector("upper", self.upper)
        integ = (
            np.zeros(n, dtype=bool)
            if self.integrality is None
            else self._flags("integrality", self.integrality)
        )
        for name, arr in (("lower", lower), ("upper", upper), ("integrality", integ)):
            if arr.shape != (n,):
                raise ValueError(f"LPForm: {name} must have shape ({n},), got {arr.shape}")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        object.__setattr__(self, "integrality", integ)

    def _set_rows(self, mat_name: str, rhs_name: str, n: int) -> None:
        """Store ``A`` as a float64 CSR matrix and ``b`` as a float64 vector (none: 0 rows)."""
        mat = getattr(self, mat_name)
        rhs = getattr(self, rhs_name)
        if mat is None:
            object.__setattr__(self, mat_name, sp.csr_matrix((0, n)))
            object.__setattr__(self, rhs_name, np.zeros(0))
            return
        mat = sp.csr_matrix(self._real(mat_name, mat), dtype=np.float64)
        self._check_entries(mat_name, mat.data)
        rhs = self._real_vector(rhs_name, rhs).reshape(-1)
        if mat.shape[1] != n or mat.shape[0] != rhs.shape[0]:
            raise ValueError(
                f"LPForm: {mat_name} has shape {mat.shape} and {rhs_name} has {rhs.shape[0]}"
                f" entries; expected ({rhs.shape[0]}, {n})"
            )
        object.__setattr__(self, mat_name, mat)
        object.__setattr__(self, rhs_name, rhs)

    @staticmethod
    def _count(name: str, value: Any) -> int:
        """``value`` as a Python int ``>= 0``; an int-like is required (no float, no bool)."""
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"LPForm: {name} must be an integer, got {value!r}")
        if value < 0:
            raise ValueError(f"LPForm: {name} must be >= 0, got {value}")
        return int(value)

    @staticmethod
    def _indices(name: str, value: Any) -> np.ndarray:
        """``value`` as an int64 array of indices: integer dtype, or floats that are whole
        numbers (``1.0``, never truncated from ``1.9``)."""
        arr = as_array(value, name, "LPForm")
        kind = arr.dtype.kind
        if kind not in "iuf":
            raise TypeError(f"LPForm: {name} must hold integer indices, got dtype {arr.dtype}")
        if kind == "f":
            whole = np.isfinite(arr) & (arr == np.floor(arr))
            if not whole.all():
                raise ValueError(
                    f"LPForm: {name} must hold integer indices, got {arr[~whole][0].item()!r}"
                )
        return arr.astype(np.int64)

    @staticmethod
    def _flags(name: str, value: Any) -> np.ndarray:
        """``value`` as a bool array: booleans, or numbers that are all 0 or 1 (a string such
        as ``"no"`` is a :class:`TypeError`, not a true flag)."""
        arr = as_array(value, name, "LPForm")
        if arr.dtype.kind == "b":
            return arr
        if arr.dtype.kind not in "iuf":
            raise TypeError(
                f"LPForm: {name} must hold booleans or 0/1 numbers, got dtype {arr.dtype}"
            )
        bad = arr[(arr != 0) & (arr != 1)]
        if bad.size:
            raise ValueError(
                f"LPForm: {name} must hold booleans or 0/1 numbers, got {bad[0].item()!r}"
            )
        return arr != 0

    @classmethod
    def _real_vector(cls, name: str, value: Any) -> np.ndarray:
        """``value`` as a float64 array whose entries pass :meth:`_check_entries`."""
        arr = np.asarray(cls._real(name, value), dtype=np.float64)
        cls._check_entries(name, arr)
        return arr

    @staticmethod
    def _real(name: str, value: Any) -> Any:
        """``value`` (a SciPy sparse matrix, or as a NumPy array) if its dtype is real."""
        if not sp.issparse(value):
            value = as_array(value, name, "LPForm")
        if value.dtype.kind not in "biuf":
            raise TypeError(
                f"LPForm: {name} must hold real numbers (bool, integer or float dtype), "
                f"got dtype {value.dtype}"
            )
        return value

    @classmethod
    def _check_entries(cls, name: str, values: np.ndarray) -> None:
        """Reject NaN, and every infinity but the one :data:`_INFINITY_ALLOWED` gives ``name``."""
        if np.isnan(values).any():
            raise ValueError(f"LPForm: {name} contains NaN; LP data must be real numbers")
        allowed, meaning = cls._INFINITY_ALLOWED.get(name, (0.0, ""))
        bad = values[np.isinf(values) & (values != allowed)]
        if bad.size:
            rule = f"only {allowed:+} ({meaning}) is allowed" if meaning else "it must be finite"
            raise ValueError(f"LPForm: {name} contains {bad[0]:+}; {rule}")

    @property
    def instance_shape(self) -> tuple[int, ...]:
        return tuple(self.y_index.shape)

    def objective_vector(self, theta: np.ndarray) -> np.ndarray:
        """The LP objective ``c`` (to maximise) for one instance ``θ``."""
        theta = np.asarray(as_array(theta, "θ", "LPForm"), dtype=np.float64)
        if theta.shape != self.instance_shape:
            raise SolverInputError(
                f"LPForm: θ has shape {theta.shape}, the form expects {self.instance_shape}"
            )
        c = np.zeros(self.n_vars)
        np.add.at(c, self.y_index.ravel(), theta.ravel())
        return c

    def is_feasible(self, x: np.ndarray, tol: float = 1e-7) -> bool:
        """Whether the LP point ``x`` satisfies every constraint (within ``tol``)."""
        x = np.asarray(as_array(x, "x", "LPForm"), dtype=np.float64)
        ok = bool(np.all(x >= self.lower - tol) and np.all(x <= self.upper + tol))
        if self.A_eq.shape[0]:
            ok &= bool(np.all(np.abs(self.A_eq @ x - self.b_eq) <= tol))
        if self.A_ub.shape[0]:
            ok &= bool(np.all(self.A_ub @ x - self.b_ub <= tol))
        if self.integrality.any():
            xi = x[self.integrality]
            ok &= bool(np.all(np.abs(xi - np.round(xi)) <= tol))
        return ok


class Solver(ABC):
    """A batched linear maximisation oracle ``y*(θ) = argmax_{y∈Y} ⟨θ, y⟩``.

    Subclasses set ``problem``, ``backend`` and ``event_ndim`` and implement
    :meth:`_solve_batch` on a validated ``(B, *instance_shape)`` array. They fix the
    instance structure (grid neighbourhood, graph, capacities) in ``__init__`` and are
    stateless afterwards: ``solve`` is a pure function of its inputs.

    Side data that varies per instance (knapsack weights per example, say) is passed to
    ``solve`` as keyword arrays whose leading axes match ``θ``'s batch axes; solvers that
    accept such data list the names in ``side_inputs``.

    Examples:
        >>> import numpy as np
        >>> class Sign(Solver):
        ...     problem, backend, event_ndim = "sign", "numpy", 1
        ...     def _solve_batch(self, theta):
        ...         return (theta > 0).astype(theta.dtype)
        >>> Sign().solve(np.array([[1.0, -2.0], [0.5, 3.0]]))
        array([[1., 0.],
               [1., 1.]])
    """

    problem: ClassVar[str] = "solver"
    backend: ClassVar[str] = "base"
    event_ndim: ClassVar[int] = 1
    side_inputs: ClassVar[tuple[str, ...]] = ()

    #: Fixed instance shape, or ``None`` when it is read from ``θ``.
    instance_shape: tuple[int, ...] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(problem={self.problem!r}, backend={self.backend!r})"

    # -- public API -------------------------------------------------------------------
    def validate(self, theta: Any) -> np.ndarray:
        """``θ`` checked and converted as :func:`as_theta` does (subclasses add checks)."""
        return as_theta(
            theta, self.event_ndim, instance_shape=self.instance_shape, problem=self.problem
        )

    def solve(self, theta: Any, **side: Any) -> np.ndarray:
        """Return ``y*(θ)`` for every instance of ``θ`` (any number of leading batch axes)."""
        arr = self.validate(theta)
        batch_shape = arr.shape[: arr.ndim - self.event_ndim]
        event_shape = arr.shape[arr.ndim - self.event_ndim :]
        side = self._check_side(side, batch_shape, event_shape)
        n_batch = math.prod(batch_shape)  # not -1: instances may have zero entries
        flat = np.ascontiguousarray(arr.reshape((n_batch, *event_shape)))
        flat_side = {k: v.reshape((n_batch, *v.shape[len(batch_shape) :])) for k, v in side.items()}
        if flat.shape[0] == 0:
            return np.zeros(arr.shape, dtype=arr.dtype)
        y = self._solve_batch(flat, **flat_side)
        return np.asarray(y, dtype=arr.dtype).reshape(arr.shape)

    __call__ = solve

    def objective(self, theta: Any, y: Any) -> np.ndarray:
        """``⟨θ, y⟩`` per instance (sum over the instance axes)."""
        theta = np.asarray(as_array(theta, "θ", self.problem), dtype=np.float64)
        y = np.asarray(as_array(y, "y", self.problem), dtype=np.float64)
        if theta.shape != y.shape:
            raise SolverInputError(
                f"{self.problem}: θ and y must have the same shape, got {theta.shape} and {y.shape}"
            )
        axes = tuple(range(theta.ndim - self.event_ndim, theta.ndim))
        return (theta * y).sum(axis=axes)

    def lp_form(self, shape: Any = None, **side: Any) -> LPForm:
        """The feasible set of one instance as an :class:`LPForm`.

        ``shape`` is the instance shape of ``θ`` (needed where it is not fixed at
        construction, e.g. a grid or a ranking); ``side`` holds one instance's side data.
        """
        raise NotImplementedError(f"{type(self).__name__} does not provide an LP form")

    # -- for subclasses ---------------------------------------------------------------
    @abstractmethod
    def _solve_batch(self, theta: np.ndarray, **side: np.ndarray) -> np.ndarray:
        """Solve a validated, C-contiguous ``(B, *instance_shape)`` batch (``B >= 1``)."""

    def _check_side(
        self, side: dict[str, Any], batch_shape: tuple[int, ...], event_shape: tuple[int, ...]
    ) -> dict:
        """Check per-instance side data against θ's batch and instance shapes (checked even
        for an empty batch); the default accepts none."""
        unknown = set(side) - set(self.side_inputs)
        if unknown:
            allowed = ", ".join(self.side_inputs) or "none"
            raise TypeError(
                f"{self.problem}: unexpected side input(s) {sorted(unknown)}; allowed: {allowed}"
            )
        return {k: as_array(v, k, self.problem) for k, v in side.items()}
