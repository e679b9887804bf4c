"""Choose a solver by name: ``solvers.get("shortest_path", backend="numba")``.

Each problem module registers its backends at import time with :func:`register`. The
problem's default backend also gets an ``"lp"`` backend for free: the same instance
structure, solved through its :class:`~solvers.base.LPForm` by the generic OR-Tools
backend of :mod:`solvers.lp` (used to cross-check fast solvers; it may be suboptimal when
the entries of ``θ`` span more than ``1e9``, see :mod:`solvers.lp`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import Solver

__all__ = [
    "SolverInfo",
    "register",
    "get",
    "available",
    "problems",
    "backends",
    "default_backend",
]


@dataclass(frozen=True)
class SolverInfo:
    """One registered (problem, backend) pair.

    Examples:
        >>> info = next(r for r in available() if r.problem == "assignment" and r.default)
        >>> info.backend
        'numba'
    """

    problem: str
    backend: str
    description: str
    default: bool

    def __str__(self) -> str:
        star = " (default)" if self.default else ""
        return f"{self.problem:<20} {self.backend + star:<18} {self.description}"


_FACTORIES: dict[str, dict[str, Callable[..., Solver]]] = {}
_INFOS: dict[str, dict[str, SolverInfo]] = {}
_DEFAULTS: dict[str, str] = {}
#: Parameter kinds of ``__init__(self, *args, **kwargs)``, which hands everything to its base.
_FORWARDING = [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD]


def register(
    problem: str,
    backend: str,
    factory: Callable[..., Solver],
    description: str,
    *,
    default: bool = False,
    lp_backend: bool = True,
) -> None:
    """Register ``factory(**params) -> Solver`` as ``backend`` of ``problem``.

    With ``default=True`` this backend is used when ``get`` is called without a backend,
    and (unless ``lp_backend=False``) an ``"lp"`` backend is derived from it.

    Examples:
        >>> import numpy as np
        >>> from solvers.ranking import ArgmaxSolver
        >>> class LastArgmax(ArgmaxSolver):
        ...     backend = "last"
        ...     def _solve_batch(self, theta):  # ties go to the highest index
        ...         return super()._solve_batch(theta[:, ::-1].copy())[:, ::-1]
        >>> register("argmax", "last", LastArgmax, "argmax, ties to the last", lp_backend=False)
        >>> get("argmax", backend="last").solve(np.array([2.0, 2.0, 1.0]))
        array([0., 1., 0.])
    """
    _check_name(problem, "problem")
    _check_name(backend, "backend", problem)
    _FACTORIES.setdefault(problem, {})[backend] = factory
    _INFOS.setdefault(problem, {})[backend] = SolverInfo(problem, backend, description, default)
    if default or problem not in _DEFAULTS:
        if problem in _DEFAULTS and default:
            old = _DEFAULTS[problem]
            info = _INFOS[problem][old]
            _INFOS[problem][old] = SolverInfo(problem, old, info.description, False)
        _DEFAULTS[problem] = backend
        _INFOS[problem][backend] = SolverInfo(problem, backend, description, True)
    if default and lp_backend and backend != "lp":

        def lp_factory(**params: Any) -> Solver:
            from .lp import LPBackedSolver

            return LPBackedSolver(factory(**params))

        lp_factory.__wrapped__ = factory  # it takes the options of the solver it wraps

        _FACTORIES[problem]["lp"] = lp_factory
        _INFOS[problem]["lp"] = SolverInfo(
            problem,
            "lp",
            f"{problem} through its LP form, solved by OR-Tools (reference, slow; may be "
            "suboptimal when |θ| spans more than 1e9, with a RuntimeWarning)",
            False,
        )


def problems() -> list[str]:
    """Names of the registered problems, sorted.

    Examples:
        >>> "shortest_path" in problems() and "lp" in problems()
        True
    """
    return sorted(_FACTORIES)


def backends(problem: str) -> list[str]:
    """Backends registered for ``problem``; raises ``ValueError`` for an unknown problem.

    Examples:
        >>> backends("spanning_tree")
        ['lp', 'networkx', 'numba', 'scipy']
    """
    _check_problem(problem)
    return sorted(_FACTORIES[problem])


def _check_name(name: Any, what: str, problem: str | None = None) -> None:
    """Names are strings; anything else (a list, say) is a ``TypeError``, not a lookup."""
    if not isinstance(name, str):
        where = f"{problem}: " if problem is not None else ""
        raise TypeError(
            f"{where}the {what} name must be a string, got {type(name).__name__} {name!r}"
        )


def _check_problem(problem: str) -> None:
    _check_name(problem, "problem")
    if problem not in _FACTORIES:
        raise ValueError(
            f"unknown problem {problem!r}; available problems: {', '.join(problems())}"
        )


def get(problem: str, backend: str | None = None, **params: Any) -> Solver:
    """Build the solver for ``problem`` with ``backend`` (its default when ``None``).

    ``params`` fix the instance structure (grid neighbourhood, graph, capacities...) and are
    passed to the backend's constructor. Unknown problem or backend names raise
    ``ValueError`` and unknown ``params`` raise ``TypeError``, each listing the valid ones.

    Examples:
        >>> import numpy as np
        >>> get("top_k", k=1).solve(np.array([1.0, 3.0, 2.0]))
        array([0., 1., 0.])
    """
    _check_problem(problem)
    if backend is None:
        backend = _DEFAULTS[problem]
    _check_name(backend, "backend", problem)
    if backend not in _FACTORIES[problem]:
        raise ValueError(
            f"unknown backend {backend!r} for problem {problem!r}; "
            f"available backends: {', '.join(backends(problem))}"
        )
    factory = _FACTORIES[problem][backend]
    _check_options(problem, backend, factory, params)
    return factory(**params)


def _check_options(
    problem: str, backend: str, factory: Callable[..., Solver], params: dict[str, Any]
) -> None:
    """Raise ``TypeError`` naming the ``params`` that ``factory`` does not accept."""
    accepted = _option_names(factory)
    if accepted is None:
        return
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(
            f"{problem}: unknown option(s) {', '.join(map(repr, unknown))} for backend "
            f"{backend!r}; accepted options: {', '.join(accepted) or 'none'}"
        )


def _option_names(factory: Callable[..., Solver]) -> list[str] | None:
    """The keyword arguments ``factory`` accepts, or ``None`` when it takes any (``**kw``).

    A class whose ``__init__(*args, **kwargs)`` only hands its arguments on to the base
    class takes the options of the first class up its MRO with an explicit signature.
    """
    target = inspect.unwrap(factory)
    candidates = target.__mro__ if isinstance(target, type) else (target,)
    for candidate in candidates:
        try:
            params = list(inspect.signature(candidate).parameters.values())
        except (TypeError, ValueError):  # no introspectable signature: leave it to the call
            return None
        if [p.kind for p in params] != _FORWARDING:
            break
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def available() -> list[SolverInfo]:
    """Every registered (problem, backend) pair with a one-line description.

    Examples:
        >>> ("knapsack", "ortools") in {(r.problem, r.backend) for r in available()}
        True
    """
    return [_INFOS[p][b] for p in problems() for b in sorted(_INFOS[p])]


def default_backend(problem: str) -> str:
    """The backend ``get`` uses for ``problem`` when none is named.

    Examples:
        >>> default_backend("shortest_path")
        'numba'
    """
    _check_problem(problem)
    return _DEFAULTS[problem]
