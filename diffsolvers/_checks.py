"""Argument and tensor checks shared by every layer and loss.

Each check raises a :class:`TypeError` (wrong kind of value) or :class:`ValueError` (right
kind, bad value) whose message names the problem and the argument, before any solver call;
the layers never let a bad input reach a solver, a reshape or a silent NaN.

Checks of shapes and types read no values and run in Python (:func:`check_shapes`). Checks
of values (NaN, infinity, the sign of shortest-path scores) run inside the custom operator
``diffsolvers::checked`` (:func:`checked`), on the data, so that a program compiled by
:func:`torch.compile` keeps them, with the same messages, without a graph break.

Example::

    >>> import torch, solvers
    >>> checked(torch.tensor([1.0, float("nan")]), "argmax: the prediction")
    Traceback (most recent call last):
    ...
    ValueError: argmax: the prediction contains NaN; all entries must be finite
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
import torch

from solvers.base import Solver, SolverInputError

__all__ = [
    "REDUCTIONS",
    "INPUTS",
    "check_choice",
    "check_positive",
    "check_count",
    "check_flag",
    "check_generator",
    "check_seed",
    "check_float",
    "check_shapes",
    "check_prediction",
    "checked",
    "checked_prediction",
    "warn_if_every_cost_negative",
    "check_finite",
    "all_finite",
    "as_target",
    "problem_name",
]


#: The ``reduction`` options of every loss: over the batch axes, or none.
REDUCTIONS = ("mean", "sum", "none")
#: What a layer's input means: scores θ (maximised) or costs ĉ (minimised, θ = -ĉ).
INPUTS = ("scores", "costs")


def check_choice(name: str, value: Any, choices: tuple) -> None:
    """``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")


def check_positive(name: str, value: Any) -> float:
    """``value`` (a Python or NumPy real number) as a positive finite float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_count(name: str, value: Any) -> int:
    """``value`` (a Python or NumPy integer) as an ``int >= 1``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_flag(name: str, value: Any) -> bool:
    """``value`` as a bool; only ``True``/``False`` (Python or NumPy) are accepted, so that
    a string such as ``"false"`` is not read as true."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_generator(generator: Any) -> torch.Generator | None:
    """``generator`` if it is ``None`` or a :class:`torch.Generator`."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
    return generator


#: The seeds :meth:`torch.Generator.manual_seed` accepts (negative ones wrap around 2^64).
SEED_RANGE = (-(2**63), 2**64 - 1)


def check_seed(seed: Any, *, optional: bool = True) -> int | None:
    """``seed`` as an ``int``: a Python or NumPy integer, not a bool, in :data:`SEED_RANGE`
    (the range :meth:`torch.Generator.manual_seed` accepts); ``None`` is kept if
    ``optional``."""
    if seed is None and optional:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        kind = "an integer or None" if optional else "an integer"
        raise TypeError(f"seed must be {kind}, got {seed!r}")
    lo, hi = SEED_RANGE
    if not lo <= seed <= hi:
        raise ValueError(f"seed must be in [-2**63, 2**64 - 1] (torch's seed range), got {seed}")
    return int(seed)


def problem_name(solver: Solver) -> str:
    """The solver's problem name, for messages (its class name if it has none)."""
    return getattr(solver, "problem", type(solver).__name__)


def check_float(x: Any, solver: Solver) -> None:
    """The cheap part of :func:`check_prediction` (no pass over the values): ``x`` is a real
    floating-point tensor on a real device. Enough before a sign flip whose result is then
    checked in full."""
    problem = problem_name(solver)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{problem}: the prediction must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{problem}: the prediction must be a real floating-point tensor, got {x.dtype}"
        )
    if x.device.type == "meta":
        raise ValueError(f"{problem}: the prediction is on the meta device (it holds no values)")


def check_shapes(x: Any, solver: Solver) -> tuple[torch.Size, torch.Size]:
    """The shape part of :func:`check_prediction` (no pass over the values): ``x`` is a
    real floating-point tensor on a real device with at least ``solver.event_ndim`` axes,
    non-empty instances of the solver's fixed instance shape (where it has one). Returns
    (batch shape, instance shape). Safe in a traced program: it reads shapes only."""
    problem = problem_name(solver)
    check_float(x, solver)
    event_ndim = solver.event_ndim
    if x.ndim < event_ndim:
        raise ValueError(
            f"{problem}: the prediction must have at least {event_ndim} axes (one instance has"
            f" {event_ndim}), got shape {tuple(x.shape)}"
        )
    cut = x.ndim - event_ndim
    batch_shape, event_shape = x.shape[:cut], x.shape[cut:]
    if math.prod(event_shape) == 0:
        raise ValueError(
            f"{problem}: an instance has no entries (instance shape {tuple(event_shape)}, "
            f"full shape {tuple(x.shape)})"
        )
    expected = getattr(solver, "instance_shape", None)
    if expected is not None and tuple(event_shape) != tuple(expected):
        raise SolverInputError(
            f"{problem}: each instance must have shape {tuple(expected)}, got trailing shape "
            f"{tuple(event_shape)} (full shape {tuple(x.shape)})"
        )
    return batch_shape, event_shape


def check_prediction(x: Any, solver: Solver) -> tuple[torch.Size, torch.Size]:
    """Check a model's prediction ``x`` for ``solver``; return (batch shape, instance shape).

    ``x`` must pass :func:`check_shapes` and hold finite entries. An empty batch is allowed
    (layers return an empty result, losses refuse a mean over it). Eager only (it reads
    the values on the host); the layers use :func:`checked_prediction` instead.
    """
    batch_shape, event_shape = check_shapes(x, solver)
    check_finite(x, f"{problem_name(solver)}: the prediction")
    return batch_shape, event_shape


def _clamps_negative_costs(solver: Solver) -> bool:
    """Whether ``solver`` clamps negative costs at zero (a grid or non-DAG graph solver
    built with ``negative_costs="clamp"``)."""
    return getattr(solver, "negative_costs", None) == "clamp" and not getattr(
        solver, "is_dag", False
    )


def warn_if_every_cost_negative(theta: torch.Tensor, event_ndim: int, problem: str) -> None:
    """Warn (``RuntimeWarning``) when some instance of the scores ``θ`` (shape
    ``(*batch, *instance)``, ``event_ndim`` instance axes) is positive throughout; called
    for solvers that clamp negative costs at zero (``negative_costs="clamp"``; not a DAG,
    where any sign is solved exactly).

    Every cost ``-θ`` of such an instance is negative, so all are clamped to zero and its
    path is the tie-breaking's, not a shortest one. Perturbation makes a few costs
    negative, never all of them; all of them is the sign of costs fed as scores, i.e. a
    missing ``inputs="costs"``.
    """
    cut = theta.ndim - event_ndim
    n = math.prod(theta.shape[:cut])
    if n == 0:
        return
    with torch.no_grad():
        positive = (theta.detach().reshape(n, -1) > 0).all(dim=1)
        count = int(positive.sum())
    if count:
        warnings.warn(
            f"{problem}: every cost of {count} of {n} instance(s) is negative "
            "(θ > 0 throughout) and negative costs are clamped at zero, so those paths are "
            "arbitrary; if the input holds costs, pass inputs='costs' (θ = -ĉ)",
            RuntimeWarning,
            stacklevel=2,
        )


def runs_eagerly(*tensors: torch.Tensor) -> bool:
    """Whether a custom operator's body may be called directly on ``tensors``: plain
    tensors, no program being compiled or traced, no functorch transform (vmap, grad)
    active. The operators exist for those; eagerly, the body computes the same without
    the dispatcher's cost."""
    if torch.compiler.is_compiling() or torch._C._functorch.peek_interpreter_stack() is not None:
        return False
    return all(type(t) is torch.Tensor for t in tensors)


@torch.library.custom_op("diffsolvers::checked", mutates_args=())
def _checked(t: torch.Tensor, what: str, clamp_event_ndim: int, problem: str) -> torch.Tensor:
    check_finite(t, what)
    if clamp_event_ndim >= 0:
        warn_if_every_cost_negative(t, clamp_event_ndim, problem)
    return t.clone()


@_checked.register_fake
def _(t, what, clamp_event_ndim, problem):
    return torch.empty_like(t)


def _checked_vmap(info, in_dims, t, what, clamp_event_ndim, problem):
    return _checked(t, what, clamp_event_ndim, problem), in_dims[0]


_checked.register_vmap(_checked_vmap)


class _CheckedFn(torch.autograd.Function):
    """The checking operator with the identity as gradient. (An autograd.Function rather
    than the operator's ``register_autograd``, which torch.func.grad does not support.)"""

    generate_vmap_rule = True

    @staticmethod
    def forward(t, what, clamp_event_ndim, problem):
        return _checked(t, what, clamp_event_ndim, problem)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None, None


def checked(t: torch.Tensor, what: str, *, solver: Solver | None = None) -> torch.Tensor:
    """``t`` (gradient: the identity; a copy inside compiled programs and transforms, whose
    operator may not return its input) that has been checked to hold no NaN and no
    infinity (``ValueError`` naming ``what`` otherwise). With a ``solver`` that clamps
    negative costs, ``t`` holds scores θ and an instance positive throughout warns
    (:func:`warn_if_every_cost_negative`).

    The check runs inside a custom operator, on the values, also in a program compiled by
    :func:`torch.compile` (where a Python ``if`` on the values would break the graph).
    """
    clamp = solver is not None and _clamps_negative_costs(solver)
    ndim = solver.event_ndim if clamp else -1
    problem = problem_name(solver) if solver is not None else ""
    if runs_eagerly(t):
        return _checked_eagerly(t, what, ndim, problem)
    return _CheckedFn.apply(t, what, ndim, problem)


def _checked_eagerly(t: torch.Tensor, what: str, clamp_event_ndim: int, problem: str):
    """:func:`checked` outside compiled programs and transforms: ``t`` itself (nothing here
    writes to it), after one pass over the values for both checks where it can: the range
    ``[min, max]`` shows a NaN or an infinity, and ``max <= 0`` rules out an instance
    positive throughout."""
    if t.dtype not in (torch.float32, torch.float64) or not t.numel():
        check_finite(t, what)
        if clamp_event_ndim >= 0:
            warn_if_every_cost_negative(t, clamp_event_ndim, problem)
        return t
    with torch.no_grad():
        low, high = torch.stack(torch.aminmax(t.detach())).tolist()
    if not (math.isfinite(low) and math.isfinite(high)):
        bad = "NaN" if torch.isnan(t).any() else "inf"
        raise ValueError(f"{what} contains {bad}; all entries must be finite")
    if clamp_event_ndim >= 0 and high > 0:
        warn_if_every_cost_negative(t, clamp_event_ndim, problem)
    return t


def checked_prediction(
    x: torch.Tensor, solver: Solver
) -> tuple[torch.Tensor, torch.Size, torch.Size]:
    """θ (``x`` as scores) checked in full: its shapes by :func:`check_shapes` and its values
    by :func:`checked` (finite; the sign warning of clamping shortest-path solvers).
    Returns the checked θ, its batch shape and instance shape."""
    batch_shape, event_shape = check_shapes(x, solver)
    return (
        checked(x, f"{problem_name(solver)}: the prediction", solver=solver),
        batch_shape,
        event_shape,
    )


def all_finite(t: torch.Tensor) -> bool:
    """Whether ``t`` holds no NaN and no infinity.

    For float32/float64 through ``aminmax`` (NaN propagates to both ends and an infinity
    shows at one), several times faster than ``isfinite(t).all()`` on CPU and one host sync
    on a GPU; other dtypes through ``isfinite``.
    """
    with torch.no_grad():
        if not t.numel() or not (t.is_floating_point() or t.is_complex()):
            return True
        if t.dtype in (torch.float32, torch.float64):
            return bool(torch.isfinite(torch.stack(torch.aminmax(t))).all())
        return bool(torch.isfinite(t).all())


def check_finite(t: torch.Tensor, what: str) -> None:
    """``ValueError`` naming ``what`` if ``t`` holds a NaN or an infinity."""
    if not all_finite(t):
        bad = "NaN" if torch.isnan(t).any() else "inf"
        raise ValueError(f"{what} contains {bad}; all entries must be finite")


def as_target(y: Any, like: torch.Tensor, problem: str, what: str = "target y") -> torch.Tensor:
    """A loss target (solution or true costs) as a tensor on ``like``'s device and dtype.

    It must be real (bool, integer or float), finite, of ``like``'s shape and must not
    require grad: the losses treat targets as constants and would otherwise drop their
    gradient silently.
    """
    if isinstance(y, torch.Tensor):
        if y.requires_grad:
            raise ValueError(
                f"{problem}: the {what} requires grad; targets are constants of the loss "
                "(pass it .detach()ed)"
            )
        t = y
    else:
        try:
            t = torch.as_tensor(np.asarray(y))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{problem}: the {what} could not be read as a tensor: {exc}") from exc
    if t.is_complex():
        raise TypeError(f"{problem}: the {what} must hold real numbers, got {t.dtype}")
    if t.device.type == "meta":
        raise ValueError(f"{problem}: the {what} is on the meta device (it holds no values)")
    if t.shape != like.shape:
        raise ValueError(
            f"{problem}: the {what} has shape {tuple(t.shape)}, the prediction has shape "
            f"{tuple(like.shape)}; they must match"
        )
    return checked(t.to(device=like.device, dtype=like.dtype), f"{problem}: the {what}")
