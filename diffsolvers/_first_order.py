"""Refuse second derivatives through estimators that only give first derivatives.

The perturbation, blackbox and I-MLE backward passes return a first-order estimate computed
from stored samples; differentiating that estimate again (``create_graph=True`` followed by
a second backward, as a Hessian-vector product or a meta-gradient does) would silently give
zero or a wrong value, because the samples do not depend on θ in the graph and the blackbox
and I-MLE estimates are not differentiable in the incoming gradient either.
:func:`first_order_only` makes such a second backward raise instead. Unlike
:func:`torch.autograd.function.once_differentiable` it also guards the gradient when the
incoming gradient is a constant (a loss's ``1``), the common case: the guard hangs on θ and
on every incoming gradient that requires grad, so a second backward towards any of them
meets it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["first_order_only", "first_order"]


class _SecondOrderError(torch.autograd.Function):
    """A copy of its first input; its backward raises (the gradient it guards is first-order
    only). The other inputs only tie it into the graph."""

    generate_vmap_rule = True

    @staticmethod
    def forward(t, name, *anchors):
        return t.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.name = inputs[1]

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(
            f"{ctx.name} gives first derivatives only: a second derivative through it (double "
            "backward, e.g. a Hessian-vector product) is not available"
        )


def first_order_only(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate an autograd ``Function.backward`` whose result must not be differentiated;
    ``name`` (e.g. ``"the blackbox gradient"``) appears in the error.

    The Function must save its differentiable input θ first (``ctx.save_for_backward(θ,
    ...)``, not detached). With ``create_graph=False`` (ordinary training) the wrapper only
    adds a ``torch.no_grad`` block around the backward."""

    def decorate(backward: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(backward)
        def wrapper(ctx, *grads):
            with torch.no_grad():
                out = backward(ctx, *grads)
            if not torch.is_grad_enabled():
                return out
            anchors = (ctx.saved_tensors[0],) + tuple(
                g for g in grads if isinstance(g, torch.Tensor) and g.requires_grad
            )
            outputs = out if isinstance(out, tuple) else (out,)
            guarded = tuple(
                _SecondOrderError.apply(o, name, *anchors) if isinstance(o, torch.Tensor) else o
                for o in outputs
            )
            return guarded if isinstance(out, tuple) else guarded[0]

        return wrapper

    return decorate


class _FirstOrderIdentity(torch.autograd.Function):
    """The identity, whose gradient is guarded by :func:`first_order_only`."""

    generate_vmap_rule = True

    @staticmethod
    def forward(t, name):
        return t.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.name = inputs[1]

    @staticmethod
    def backward(ctx, grad):
        return _guard(ctx, grad), None


def _guard(ctx, grad):
    return first_order_only(ctx.name)(lambda ctx, g: g)(ctx, grad)


def first_order(t: torch.Tensor, name: str) -> torch.Tensor:
    """``t`` itself, but the gradient that flows back through it may not be differentiated
    again: a second backward raises ``RuntimeError`` naming ``name``.

    For a value built by plain torch operations from θ and from random samples that do not
    depend on θ in the graph (the Fenchel-Young loss ``(1/M) Σ_m ⟨θ_m, y_m - y⟩``, the
    perturbed max): autograd gives its exact first derivative with those samples, and a
    second one, computed the same way, would be 0 where the true one is not.

        >>> x = torch.ones(2, requires_grad=True)
        >>> (g,) = torch.autograd.grad((first_order(x, "f") ** 2).sum(), x, create_graph=True)
        >>> g
        tensor([2., 2.], grad_fn=<_SecondOrderErrorBackward>)
    """
    return _FirstOrderIdentity.apply(t, name)
