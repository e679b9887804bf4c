"""Choose a differentiable solver by name, or bring your own.

    >>> import diffsolvers, solvers
    >>> layer = diffsolvers.layer("shortest_path", method="perturbed", sigma=0.5, n_samples=10)
    >>> loss = diffsolvers.loss("knapsack", weights=[3, 4, 5, 6], capacity=10, sigma=0.1)
    >>> mine = diffsolvers.layer(solvers.get("top_k", k=2), method="blackbox", lambda_=5.0)

``layer(problem, method, **options)`` and ``loss(problem, method, **options)`` build the
solver with :func:`solvers.get` and wrap it with a *method*. In place of the problem's
name, ``problem`` may be a ready solver or a function (anything
:func:`diffsolvers.oracle.as_solver` accepts: a :class:`solvers.Solver` or subclass, a
:class:`~diffsolvers.oracle.TorchFunctionSolver`, a NumPy function); then only method
options may follow, and a method whose assumptions the solver does not meet is refused
with the reason. The options are split in two:

* **method options**, declared by the method (for the perturbed methods: ``sigma``,
  ``n_samples``, ``noise``, ``seed``, ``generator``, ``control_variate``, ``inputs``,
  ``reduction``), plus ``backend`` (the solver backend) and ``solver`` (a ready
  :class:`solvers.Solver`, used instead of building one);
* everything else is a **solver parameter** passed to ``solvers.get(problem, backend,
  **params)`` (``neighbourhood``, ``n_nodes``/``edges``, ``weights``/``capacity``, ``k``...).

A method may add default solver parameters for some problems. The additive perturbed
methods build shortest-path solvers (``shortest_path``, ``shortest_path_graph``) with
``negative_costs="clamp"``: additive noise makes some perturbed costs ``c - εZ`` negative,
Dijkstra needs non-negative costs, so they are clamped at zero (on DAGs the graph solver
handles any sign and ignores the option). Give ``negative_costs="raise"`` to override, or
use the multiplicative methods, which keep costs non-negative.

New methods join with one :func:`register_method` call, which also declares the problems a
method is not meaningful for (with the reason, shown by :func:`not_meaningful`). Each
option's default, check and help text live in one table (:mod:`diffsolvers._options`);
:func:`available` lists every method's options with their defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from torch import nn

import solvers

from ._caching import SOLVE_RATIO, check_cache_ratio, with_cache
from ._options import OPTIONS
from .oracle import as_solver

__all__ = [
    "Method",
    "MethodRow",
    "register_method",
    "layer",
    "loss",
    "available",
    "not_meaningful",
    "methods",
    "method_info",
    "clamp_negative_costs",
    "NEGATIVE_COST_PROBLEMS",
]

KINDS = ("layer", "loss")
NEGATIVE_COST_PROBLEMS = ("shortest_path", "shortest_path_graph")
"""Problems whose solvers take ``negative_costs="raise"|"clamp"``."""
#: Options every method accepts; they are not passed to the solver.
REGISTRY_OPTIONS = ("backend", "solver")


@dataclass(frozen=True)
class Method:
    """A registered method.

    ``build(solver, problem=..., **options)`` returns the ``nn.Module``. For ``kind="layer"``
    it maps the prediction (and side data) to ``output``: ``"solution"`` (θ's shape) or
    ``"value"`` (one value per instance). For ``kind="loss"`` its forward is
    ``loss(prediction, target, **side)`` with ``target`` described by ``target``:
    ``"solution"`` (a solution ``y`` of θ's shape) or ``"costs"`` (the true costs ``c``).
    ``options`` names the accepted method options (all others go to the solver);
    ``not_meaningful`` maps a problem to the reason the method does not apply to it (or is
    a function ``problem -> reason or None``); ``solver_defaults(problem)`` gives default
    solver parameters. ``option_defaults`` overrides the table's default of some options
    (:mod:`diffsolvers._options`) for this method. ``calls_solver`` is false for a method
    whose module never calls the solver (two-stage regression); every other method takes
    ``solve_ratio`` (solution caching, :mod:`diffsolvers._caching`). A method that declares
    ``solve_ratio`` itself (``own_solve_ratio``: the losses on a solution pool) receives it
    in its ``build`` instead, and its solver is not wrapped.

    Examples:
        >>> info = method_info("blackbox")
        >>> info.kind, info.options, info.target
        ('layer', ('lambda_', 'inputs', 'solve_ratio'), 'solution')
    """

    name: str
    kind: str
    build: Callable[..., nn.Module]
    description: str
    options: tuple[str, ...] = ()
    output: str = "solution"
    target: str = "solution"
    not_meaningful: Mapping[str, str] | Callable[[str], str | None] = field(default_factory=dict)
    solver_defaults: Callable[[str], dict[str, Any]] | None = None
    reference: str = ""
    option_defaults: Mapping[str, Any] = field(default_factory=dict)
    calls_solver: bool = True
    own_solve_ratio: bool = False

    @property
    def defaults(self) -> dict[str, Any]:
        """Each option of the method with its default value."""
        return {
            name: self.option_defaults.get(name, OPTIONS[name].default if name in OPTIONS else None)
            for name in self.options
        }

    def help(self, name: str) -> str:
        """The help text of option ``name`` (from the option table; empty if it has none)."""
        return OPTIONS[name].help if name in OPTIONS else ""

    def reason_not_meaningful(self, problem: str) -> str | None:
        """Why this method does not apply to ``problem``, or ``None`` when it does."""
        if callable(self.not_meaningful):
            return self.not_meaningful(problem)
        return self.not_meaningful.get(problem)


class MethodRow(NamedTuple):
    """One row of :func:`available`: ``options`` maps each option to its default.

    Examples:
        >>> row = available()[0]
        >>> row.problem in ("argmax", "assignment"), row.kind in ("layer", "loss")
        (True, True)
    """

    problem: str
    method: str
    kind: str
    description: str
    options: dict[str, Any]


_METHODS: dict[str, Method] = {}


def register_method(
    name: str,
    kind: str,
    build: Callable[..., nn.Module],
    *,
    description: str,
    options: tuple[str, ...] | list[str] = (),
    output: str = "solution",
    target: str = "solution",
    not_meaningful: Mapping[str, str] | Callable[[str], str | None] | None = None,
    solver_defaults: Callable[[str], dict[str, Any]] | None = None,
    reference: str = "",
    option_defaults: Mapping[str, Any] | None = None,
    calls_solver: bool = True,
    replace: bool = False,
) -> Method:
    """Register a method (see :class:`Method` for the fields); returns it. A method that
    calls the solver (``calls_solver=True``) takes ``solve_ratio`` too: the registry wraps
    its solver with :func:`solvers.cached`, so its ``build`` never sees the option, unless
    ``options`` declares ``solve_ratio`` (the method applies it itself).

    Raises ``ValueError`` if ``name`` is taken (unless ``replace=True``) or a field is invalid.

    Examples:
        >>> from diffsolvers.layers.blackbox import BlackboxLayer
        >>> def build(solver, problem, **options):
        ...     return BlackboxLayer(solver, lambda_=100.0, **options)
        >>> _ = register_method("blackbox_strong", "layer", build, description="blackbox, λ = 100",
        ...                     options=("inputs",), replace=True)
        >>> layer("argmax", method="blackbox_strong").lambda_
        100.0
    """
    if kind not in KINDS:
        raise ValueError(f"method {name!r}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if output not in ("solution", "value"):
        raise ValueError(f"method {name!r}: output must be 'solution' or 'value', got {output!r}")
    if target not in ("solution", "costs"):
        raise ValueError(f"method {name!r}: target must be 'solution' or 'costs', got {target!r}")
    if name in _METHODS and not replace:
        raise ValueError(f"method {name!r} is already registered (pass replace=True)")
    clash = set(options) & set(REGISTRY_OPTIONS)
    if clash:
        raise ValueError(f"method {name!r}: options {sorted(clash)} are reserved by the registry")
    options = tuple(options)
    own_solve_ratio = SOLVE_RATIO in options
    if calls_solver and SOLVE_RATIO not in options:
        options = (*options, SOLVE_RATIO)
    stray = set(option_defaults or {}) - set(options)
    if stray:
        raise ValueError(f"method {name!r}: defaults given for undeclared options {sorted(stray)}")
    method = Method(
        name=name,
        kind=kind,
        build=build,
        description=description,
        options=tuple(options),
        output=output,
        target=target,
        not_meaningful=dict(not_meaningful or {})
        if not callable(not_meaningful)
        else not_meaningful,
        solver_defaults=solver_defaults,
        reference=reference,
        option_defaults=dict(option_defaults or {}),
        calls_solver=bool(calls_solver),
        own_solve_ratio=own_solve_ratio,
    )
    _METHODS[name] = method
    return method


def methods(kind: str | None = None) -> list[str]:
    """Names of the registered methods (of one ``kind`` if given), sorted.

    Examples:
        >>> "blackbox" in methods("layer"), "blackbox" in methods("loss")
        (True, False)
    """
    return sorted(n for n, m in _METHODS.items() if kind is None or m.kind == kind)


def method_info(name: str) -> Method:
    """The registered :class:`Method` ``name``; ``ValueError`` listing valid names otherwise.

    Examples:
        >>> method_info("fenchel_young").kind
        'loss'
    """
    if name not in _METHODS:
        raise ValueError(f"unknown method {name!r}; available methods: {', '.join(methods())}")
    return _METHODS[name]


def available() -> list[MethodRow]:
    """Every meaningful (problem, method) pair, with the method's kind, description and
    options (each with its default).

    >>> row = next(r for r in available() if r.method == "perturbed")
    >>> row.options["sigma"], row.options["n_samples"]
    (1.0, 3)
    """
    return [
        MethodRow(p, m.name, m.kind, m.description, m.defaults)
        for p in solvers.problems()
        for m in (_METHODS[n] for n in methods())
        if m.reason_not_meaningful(p) is None
    ]


def not_meaningful() -> list[tuple[str, str, str]]:
    """Every (problem, method, reason) pair where the method does not apply.

    Examples:
        >>> [(p, m) for p, m, _ in not_meaningful() if m == "hamming"]
        [('lp', 'hamming'), ('ranking', 'hamming')]
    """
    out = []
    for p in solvers.problems():
        for n in methods():
            reason = _METHODS[n].reason_not_meaningful(p)
            if reason is not None:
                out.append((p, n, reason))
    return out


def clamp_negative_costs(problem: str) -> dict[str, Any]:
    """Solver defaults for additive noise: ``negative_costs="clamp"`` for shortest paths.

    Examples:
        >>> clamp_negative_costs("shortest_path"), clamp_negative_costs("knapsack")
        ({'negative_costs': 'clamp'}, {})
    """
    return {"negative_costs": "clamp"} if problem in NEGATIVE_COST_PROBLEMS else {}


def _method(problem: str, method: str, kind: str) -> Method:
    """The registered method ``method`` of ``kind`` (``ValueError`` listing valid names)."""
    if method not in _METHODS:
        raise ValueError(
            f"unknown {kind} method {method!r}; available {kind} methods: "
            f"{', '.join(methods(kind))}"
        )
    m = _METHODS[method]
    if m.kind != kind:
        raise ValueError(
            f"{method!r} is a {m.kind} method: use diffsolvers.{m.kind}({problem!r}, "
            f"method={method!r}); available {kind} methods: {', '.join(methods(kind))}"
        )
    return m


def _check_ready_solver(m: Method, problem: str, solver: Any) -> None:
    """Refuse a ready solver whose settings break the method's assumptions: the solver
    parameters the method needs for ``problem`` (``solver_defaults``), such as
    ``negative_costs="clamp"`` of shortest paths under additive noise."""
    needed = m.solver_defaults(problem) if m.solver_defaults is not None else {}
    for name, value in needed.items():
        have = getattr(solver, name, value)
        if have != value and not getattr(solver, "is_dag", False):
            raise ValueError(
                f"{problem}: method {m.name!r} needs {name}={value!r} (e.g. θ perturbed or "
                f"moved by λ·∂L/∂y holds negative costs), but the given solver has "
                f"{name}={have!r}; build it with {name}={value!r}"
            )


def _check_solve_ratio(m: Method, options: dict[str, Any]) -> None:
    """Refuse ``solve_ratio`` for a method that calls no solver (nothing to cache)."""
    if SOLVE_RATIO in options and SOLVE_RATIO not in m.options:
        raise ValueError(
            f"method {m.name!r} calls no solver, so solve_ratio (solution caching) does not "
            f"apply to it"
        )


def _build(problem: Any, method: str, kind: str, options: dict[str, Any]) -> nn.Module:
    if not isinstance(problem, str):
        return _build_on_solver(problem, method, kind, options)
    if problem not in solvers.problems():
        raise ValueError(
            f"unknown problem {problem!r}; available problems: {', '.join(solvers.problems())}"
        )
    m = _method(problem, method, kind)
    reason = m.reason_not_meaningful(problem)
    if reason is not None:
        raise ValueError(f"method {method!r} is not meaningful for {problem!r}: {reason}")
    _check_solve_ratio(m, options)
    method_opts = {k: v for k, v in options.items() if k in m.options}
    solve_ratio = None if m.own_solve_ratio else method_opts.pop(SOLVE_RATIO, None)
    backend = options.get("backend")
    solver = options.get("solver")
    params = {k: v for k, v in options.items() if k not in m.options and k not in REGISTRY_OPTIONS}
    if solver is not None:
        solver = as_solver(solver)
        if params or backend is not None:
            raise ValueError(
                f"{problem}: give either a ready solver or solver parameters/backend, not both "
                f"(got {sorted(params) + (['backend'] if backend is not None else [])})"
            )
        if getattr(solver, "problem", None) != problem:
            raise ValueError(
                f"the given solver solves {getattr(solver, 'problem', None)!r}, not {problem!r}"
            )
        _check_ready_solver(m, problem, solver)
    else:
        if m.solver_defaults is not None:
            params = {**m.solver_defaults(problem), **params}
        try:
            solver = solvers.get(problem, backend=backend, **params)
        except TypeError as exc:
            raise TypeError(
                f"{problem}/{method}: could not build the solver with parameters "
                f"{sorted(params)} ({exc}); options of method {method!r} are: "
                f"{', '.join(m.options + REGISTRY_OPTIONS)}"
            ) from exc
    solver = with_cache(solver, check_cache_ratio(solve_ratio), method_opts)
    return m.build(solver, problem=problem, **method_opts)


def _build_on_solver(given: Any, method: str, kind: str, options: dict[str, Any]) -> nn.Module:
    """``layer(solver_or_function, method, **options)``: the method on a ready solver."""
    solver = as_solver(given)
    problem = getattr(solver, "problem", type(solver).__name__)
    m = _method(problem, method, kind)
    reason = m.reason_not_meaningful(problem)
    if reason is not None:
        raise ValueError(f"method {method!r} is not meaningful for {problem!r}: {reason}")
    _check_solve_ratio(m, options)
    others = sorted(set(options) - set(m.options))
    if others:
        raise TypeError(
            f"{problem}: option(s) {', '.join(map(repr, others))} do not apply to a ready "
            f"solver (solver parameters and backend are fixed when it is built); options of "
            f"method {method!r} are: {', '.join(m.options) or 'none'}"
        )
    _check_ready_solver(m, problem, solver)
    options = dict(options)
    ratio = None if m.own_solve_ratio else options.pop(SOLVE_RATIO, None)
    ratio = check_cache_ratio(ratio)
    return m.build(with_cache(solver, ratio, options), problem=problem, **options)


def layer(problem: Any, method: str = "perturbed", **options: Any) -> nn.Module:
    """A differentiable layer for ``problem`` by ``method`` (see the module docstring);
    ``problem`` is a name of :func:`solvers.problems` or a ready solver or function.

    Examples:
        >>> import torch
        >>> top2 = layer("top_k", method="perturbed", k=2, sigma=0.5, seed=0)
        >>> top2(torch.tensor([[0.1, 1.0, 0.9, -0.5]])).sum().item()
        2.0
    """
    return _build(problem, method, "layer", options)


def loss(problem: Any, method: str = "fenchel_young", **options: Any) -> nn.Module:
    """A loss module for ``problem`` by ``method`` (see the module docstring); ``problem``
    is a name of :func:`solvers.problems` or a ready solver or function.

    Examples:
        >>> import torch
        >>> fy = loss("argmax", method="fenchel_young", sigma=0.5, seed=0)
        >>> bool(fy(torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0]])) >= 0)
        True
    """
    return _build(problem, method, "loss", options)


def builder(cls: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """The ``build`` of a method whose module takes the solver and the method options:
    ``build(solver, problem=..., **options) = cls(solver, **options)``."""

    def build(solver: Any, problem: str, **options: Any) -> nn.Module:
        return cls(solver, **options)

    build.__name__ = f"build_{getattr(cls, '__name__', 'method')}"
    return build
