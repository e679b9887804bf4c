r"""Regret metrics of decisions: how much worse the decisions taken on predicted costs are
than the optimal ones, measured on the true costs (as in PyEPO and the Warcraft literature).

    regret(ŷ, y; c) = ⟨c, ŷ⟩ - ⟨c, y⟩,      normalised: Σ_b regret_b / Σ_b |⟨c_b, y_b⟩|.

Reference: Elmachtoub & Grigas, "Smart 'Predict, then Optimize'", Management Science 2022;
Tang & Khalil, "PyEPO: A PyTorch-based End-to-End Predict-then-Optimize Library", 2022.

Example::

    >>> import torch
    >>> from diffsolvers.metrics import regret
    >>> regret(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 3.0]]))
    tensor([2.])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from solvers.base import Solver

from . import _bridge
from ._checks import as_target, check_finite, check_prediction
from ._core import costs_to_theta
from .oracle import as_solver

__all__ = ["regret", "normalized_regret", "decision_regret"]


def _real_tensor(value: Any, name: str, fn: str) -> torch.Tensor:
    """A metric input as a tensor of real numbers (bool, integer or float): a tensor as it
    is, anything else (a NumPy array, a list) through :func:`numpy.asarray` on the CPU.
    ``TypeError`` naming the argument ``name`` of ``fn`` otherwise."""
    if isinstance(value, torch.Tensor):
        t = value
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{fn}: {name} could not be read as an array: {exc}") from exc
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{fn}: {name} must hold real numbers, got {type(value).__name__} of dtype "
                f"{arr.dtype}"
            )
        try:
            t = torch.as_tensor(arr)
        except (TypeError, RuntimeError) as exc:
            raise TypeError(f"{fn}: {name} could not be read as a tensor: {exc}") from exc
    if t.is_complex():
        raise TypeError(f"{fn}: {name} must hold real numbers, got {t.dtype}")
    if t.device.type == "meta":
        raise ValueError(f"{fn}: {name} is on the meta device (it holds no values)")
    return t


def _regret_inputs(
    fn: str, y_pred: Any, y_true: Any, costs: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The inputs of a regret metric as real, finite tensors of one shape with the batch
    axis first; arrays join the device of the first tensor among them."""
    named = {"y_pred": y_pred, "y_true": y_true, "costs": costs}
    device = next((v.device for v in named.values() if isinstance(v, torch.Tensor)), None)
    ts = {k: _real_tensor(v, k, fn) for k, v in named.items()}
    if device is not None:
        ts = {k: v if isinstance(named[k], torch.Tensor) else v.to(device) for k, v in ts.items()}
    shapes = {k: tuple(v.shape) for k, v in ts.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(f"{fn}: y_pred, y_true and costs must have one shape, got {listed}")
    if ts["costs"].ndim < 1:
        raise ValueError(f"{fn}: expected a batch axis first, got 0-dimensional inputs")
    check_finite(ts["costs"], f"{fn}: the costs")
    check_finite(ts["y_pred"], f"{fn}: y_pred")
    check_finite(ts["y_true"], f"{fn}: y_true")
    return ts["y_pred"], ts["y_true"], ts["costs"]


def _per_instance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``⟨a, b⟩`` per instance, the batch being the first axis (an empty batch gives an
    empty tensor)."""
    return (a * b).reshape(a.shape[0], math.prod(a.shape[1:])).sum(1)


def regret(y_pred: Any, y_true: Any, costs: Any) -> torch.Tensor:
    """Per-instance regret ``⟨c, ŷ⟩ - ⟨c, y⟩`` (batch on the first axis), >= 0 when ``y``
    is optimal for the true costs ``c``. For a maximisation problem pass ``c = -θ``.

    Tensors, NumPy arrays or lists of real numbers, all of one shape; an empty batch gives
    an empty tensor.

    Examples:
        >>> import torch
        >>> y_pred, y_true = torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]])
        >>> regret(y_pred, y_true, torch.tensor([[1.0, 3.0]]))
        tensor([2.])
    """
    y_pred, y_true, costs = _regret_inputs("regret", y_pred, y_true, costs)
    return _per_instance(costs, y_pred) - _per_instance(costs, y_true)


def normalized_regret(y_pred: Any, y_true: Any, costs: Any) -> torch.Tensor:
    """Normalised regret of a batch, ``Σ_b regret_b / Σ_b |⟨c_b, y_b⟩|`` (as in PyEPO and
    the Warcraft literature); a scalar tensor. Inputs as :func:`regret`; an empty batch
    (a ratio 0/0) or a zero true objective raises ``ValueError``.

    Examples:
        >>> import torch
        >>> costs = torch.tensor([[1.0, 3.0], [2.0, 2.0]])
        >>> y_pred = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
        >>> normalized_regret(y_pred, torch.tensor([[1.0, 0.0], [1.0, 0.0]]), costs)
        tensor(0.6667)
    """
    fn = "normalized_regret"
    y_pred, y_true, costs = _regret_inputs(fn, y_pred, y_true, costs)
    if costs.shape[0] == 0:
        raise ValueError(f"{fn}: an empty batch (no instances) has no normalised regret (0/0)")
    true = _per_instance(costs, y_true)
    denom = true.abs().sum()
    if denom == 0:
        raise ValueError(f"{fn}: the true objective is zero for the whole batch")
    return (_per_instance(costs, y_pred) - true).sum() / denom


def decision_regret(
    solver: Solver,
    costs_pred: torch.Tensor,
    costs_true: torch.Tensor,
    *,
    normalized: bool = True,
    **side: Any,
) -> torch.Tensor:
    """Regret of the decisions ``y*(-ĉ)`` taken on predicted costs, measured on true costs.

    ``costs_pred`` and ``costs_true`` have shape ``(B, *instance)`` (exactly one batch axis:
    pass ``c[None]`` for a single instance): tensors, NumPy arrays or lists of real
    numbers. Returns the normalised regret (a scalar; ``ValueError`` for an empty batch) or,
    with ``normalized=False``, the per-instance regrets, shape ``(B,)`` (empty for ``B = 0``).

    Examples:
        >>> import torch, solvers
        >>> argmin = solvers.get("argmax")  # costs enter as θ = -c: the cheapest entry
        >>> true = torch.tensor([[1.0, 3.0, 2.0]])
        >>> decision_regret(argmin, torch.tensor([[5.0, 0.0, 4.0]]), true)  # cost 3 instead of 1
        tensor(2.)
    """
    solver = as_solver(solver)
    costs_pred, costs_true = _common_float(costs_pred, costs_true)
    check_prediction(costs_pred, solver)
    if costs_pred.ndim != solver.event_ndim + 1:
        raise ValueError(
            f"decision_regret: the costs must have shape (B, *instance) with one batch axis "
            f"before the {solver.event_ndim} instance axes of {solver.problem}, got shape "
            f"{tuple(costs_pred.shape)} (for one instance pass costs[None])"
        )
    costs_true = as_target(costs_true, costs_pred, solver.problem, "true costs")
    if normalized and costs_pred.shape[0] == 0:
        raise ValueError(
            "decision_regret: normalized=True over an empty batch (no instances) is 0/0; "
            "normalized=False gives the per-instance regrets (an empty tensor)"
        )
    with torch.no_grad():
        both = torch.stack([costs_to_theta(costs_pred), costs_to_theta(costs_true)])
        y_pred, y_true = _bridge.solve(solver, both, side, what="the costs")
        if normalized:
            return normalized_regret(y_pred, y_true, costs_true)
        return regret(y_pred, y_true, costs_true)


def _common_float(a: Any, b: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The costs of :func:`decision_regret`, detached, in their promoted dtype (float64 if
    both are integral), on ``a``'s device; ``TypeError`` naming the one that is not real."""
    a = _real_tensor(a, "costs_pred", "decision_regret").detach()
    b = _real_tensor(b, "costs_true", "decision_regret").detach()
    dtype = torch.promote_types(a.dtype, b.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    return a.to(dtype), b.to(device=a.device, dtype=dtype)
