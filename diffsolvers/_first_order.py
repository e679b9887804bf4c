"""Refuse second derivatives through estimators that only give first derivatives.

The perturbation, blackbox and I-MLE backward passes return a first-order estimate computed
from stored samples; differentiating that estimate again (``create_graph=True`` followed by
a second backward, as a Hessian-vector product does) would silently give zero or a wrong
value, because the samples do not depend on θ in the graph. :func:`first_order_only` makes
such a second backward raise instead. Unlike :func:`torch.autograd.function.once_differentiable`
it also marks the gradient when the incoming gradient is a constant (a loss's ``1``), the
common case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["first_order_only"]


class _SecondOrderError(torch.autograd.Function):
    """Identity forward; its backward raises (the gradient it guards is first-order only)."""

    @staticmethod
    def forward(ctx, t, anchor, name):
        ctx.name = name
        return t.view_as(t)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(
            f"{ctx.name} gives first derivatives only: a second derivative through it (double "
            "backward, e.g. a Hessian-vector product) is not available"
        )


def first_order_only(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate an autograd ``Function.backward`` whose result must not be differentiated.

    The Function must save its differentiable input θ first (``ctx.save_for_backward(θ,
    ...)``, not detached): the guard node hangs on it, so a second backward towards θ (or
    anything θ came from) passes through the guard and raises."""
    name = backward.__qualname__.split(".")[0].lstrip("_")

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with torch.no_grad():
            out = backward(ctx, *grads)
        if not torch.is_grad_enabled():
            return out
        anchor = ctx.saved_tensors[0]
        outputs = out if isinstance(out, tuple) else (out,)
        marked = tuple(
            _SecondOrderError.apply(o, anchor, name) if isinstance(o, torch.Tensor) else o
            for o in outputs
        )
        return marked if isinstance(out, tuple) else marked[0]

    return wrapper
