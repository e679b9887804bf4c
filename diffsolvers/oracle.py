r"""Bring your own oracle: a torch function as a solver, and the one rule that turns
whatever a user passes (a problem's solver, a solver class, a NumPy or torch function)
into a solver.

**A torch function that stays on the device.** :func:`from_torch_function` wraps
``fn(θ) -> y*(θ)`` working on tensors (a ``torch.topk`` top-k, a user's CUDA kernel): the
layers call it on θ's device, with no copy to the host and back. The output is checked as
for NumPy functions (:func:`solvers.from_function`): a real tensor of θ's shape on θ's
device with finite entries, or a clear error naming the function.

**What is accepted as a solver** (:func:`as_solver`), by every layer and loss class and by
:func:`diffsolvers.layer` / :func:`diffsolvers.loss` in place of a problem name:

* a :class:`solvers.Solver` instance, or any object with ``solve`` and ``event_ndim``;
* a :class:`solvers.Solver` subclass, built with no arguments;
* a :class:`TorchFunctionSolver` (from :func:`from_torch_function`);
* a plain callable, taken as a batched NumPy function on vectors,
  ``solvers.from_function(fn)``; wrap it yourself for anything else (per-instance calls,
  threads, grids: ``event_ndim=2``).

Example::

    >>> import torch, diffsolvers
    >>> def top2(theta):  # (B, n) -> (B, n) on θ's device
    ...     return torch.zeros_like(theta).scatter(-1, theta.topk(2, dim=-1).indices, 1.0)
    >>> solver = diffsolvers.from_torch_function(top2, problem="top2")
    >>> layer = diffsolvers.PerturbedOptimizer(solver, sigma=2.0, n_samples=100, seed=0)
    >>> layer(torch.tensor([[3.0, 2.0, 0.0, -3.0]]))
    tensor([[0.9100, 0.7500, 0.3200, 0.0200]])

Reference: google-research/perturbations (``perturbed(func)``), jaxopt
(``make_perturbed_fun``) and InferOpt.jl, which wrap any function the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

import solvers
from solvers.base import Solver, SolverInputError

__all__ = ["TorchFunctionSolver", "from_torch_function", "as_solver"]


class TorchFunctionSolver:
    """A torch function ``fn(θ, **side) -> y*(θ)`` as a solver that stays on θ's device.

    Args:
        fn: the oracle on tensors. With ``batched=True`` it takes ``(B, *instance)`` and
            returns solutions of that shape; with ``batched=False`` it takes one instance.
        event_ndim: the number of trailing axes of one instance.
        batched: see ``fn``.
        problem: the problem's name, for messages and the method registry.
        instance_shape: a fixed instance shape (``None``: any).
        side_inputs: names of per-instance side tensors (leading with θ's batch axes).

    ``solve(θ, **side)`` takes θ with any number of leading batch axes (none: one instance)
    and returns ``y`` of θ's shape, dtype and device.

    >>> import torch
    >>> best = TorchFunctionSolver(lambda t: torch.nn.functional.one_hot(t.argmax(-1), 3),
    ...                            problem="best")
    >>> best.solve(torch.tensor([[0.2, 0.9, 0.1]]))
    tensor([[0., 1., 0.]])
    """

    backend = "torch"
    solves_tensors = True

    def __init__(
        self,
        fn: Callable[..., torch.Tensor],
        *,
        event_ndim: int = 1,
        batched: bool = True,
        problem: str | None = None,
        instance_shape: Sequence[int] | None = None,
        side_inputs: Sequence[str] = (),
    ) -> None:
        # The NumPy wrapper checks the same arguments with the same messages.
        spec = solvers.from_function(
            fn,
            event_ndim=event_ndim,
            batched=batched,
            problem=problem,
            instance_shape=instance_shape,
            side_inputs=side_inputs,
        )
        self.fn = fn
        self.name = spec.name
        self.problem = spec.problem
        self.event_ndim = spec.event_ndim
        self.batched = spec.batched
        self.instance_shape = spec.instance_shape
        self.side_inputs = spec.side_inputs

    def __repr__(self) -> str:
        how = "batched" if self.batched else "per instance"
        return f"TorchFunctionSolver({self.name}, problem={self.problem!r}, {how})"

    def solve(self, theta: torch.Tensor, **side: torch.Tensor) -> torch.Tensor:
        """``y*(θ)`` for every instance of ``θ`` (any number of leading batch axes)."""
        theta = torch.as_tensor(theta)
        if not theta.is_floating_point():
            theta = theta.to(torch.float64)
        if theta.ndim < self.event_ndim:
            raise SolverInputError(
                f"{self.problem}: θ must have at least {self.event_ndim} axes (one instance "
                f"has {self.event_ndim}), got shape {tuple(theta.shape)}"
            )
        cut = theta.ndim - self.event_ndim
        batch_shape, event_shape = tuple(theta.shape[:cut]), tuple(theta.shape[cut:])
        if self.instance_shape is not None and event_shape != self.instance_shape:
            raise SolverInputError(
                f"{self.problem}: each instance of θ must have shape {self.instance_shape}, "
                f"got trailing shape {event_shape} (full shape {tuple(theta.shape)})"
            )
        side = self._check_side(side, batch_shape, event_shape)
        n = math.prod(batch_shape)
        flat = theta.reshape(n, *event_shape)
        flat_side = {k: v.reshape(n, *v.shape[len(batch_shape) :]) for k, v in side.items()}
        if n == 0:
            return torch.zeros_like(theta)
        if self.batched:
            y = self._checked(self.fn(flat, **flat_side), flat, flat.shape, "the batch")
        else:
            y = torch.stack(
                [
                    self._checked(
                        self.fn(flat[i], **{k: v[i] for k, v in flat_side.items()}),
                        flat,
                        event_shape,
                        f"instance {i}",
                    )
                    for i in range(n)
                ]
            )
        return y.reshape(theta.shape)

    __call__ = solve

    def _checked(self, out: Any, theta: torch.Tensor, shape: Sequence[int], where: str):
        who = f"{self.problem}: the function {self.name}"
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"{who} returned {type(out).__name__} for {where}; a torch function solver "
                "returns a tensor (use solvers.from_function for a NumPy function)"
            )
        if out.is_complex():
            raise TypeError(
                f"{who} returned a tensor of dtype {out.dtype} for {where}; a solution holds "
                "real numbers"
            )
        if tuple(out.shape) != tuple(shape):
            raise SolverInputError(
                f"{who} returned shape {tuple(out.shape)} for {where} of shape {tuple(shape)};"
                " it must return one solution of θ's shape"
                + (" per instance" if self.batched else "")
            )
        if out.device != theta.device:
            raise SolverInputError(
                f"{who} returned a tensor on {out.device} for θ on {theta.device}; it must stay "
                "on θ's device"
            )
        out = out.detach().to(theta.dtype)
        if out.numel() and not bool(torch.isfinite(out).all()):
            bad = "NaN" if bool(torch.isnan(out).any()) else "inf"
            raise SolverInputError(f"{who} returned {bad} for {where}; solutions must be finite")
        return out

    def _check_side(
        self, side: dict[str, Any], batch_shape: tuple[int, ...], event_shape: tuple[int, ...]
    ) -> dict[str, torch.Tensor]:
        unknown = set(side) - set(self.side_inputs)
        if unknown:
            allowed = ", ".join(self.side_inputs) or "none"
            raise TypeError(
                f"{self.problem}: unexpected side input(s) {sorted(unknown)}; allowed: {allowed}"
            )
        out = {}
        for name, value in side.items():
            t = torch.as_tensor(value)
            if tuple(t.shape[: len(batch_shape)]) != tuple(batch_shape):
                raise SolverInputError(
                    f"{self.problem}: side input {name!r} has shape {tuple(t.shape)}; it must "
                    f"lead with θ's batch shape {tuple(batch_shape)} (one entry per instance)"
                )
            out[name] = t
        return out


def from_torch_function(
    fn: Callable[..., torch.Tensor],
    *,
    event_ndim: int = 1,
    batched: bool = True,
    problem: str | None = None,
    instance_shape: Sequence[int] | None = None,
    side_inputs: Sequence[str] = (),
) -> TorchFunctionSolver:
    """Wrap a torch function as a :class:`TorchFunctionSolver` (see its arguments).

    >>> import torch
    >>> def top2(theta):  # stays on θ's device
    ...     return torch.zeros_like(theta).scatter(-1, theta.topk(2, dim=-1).indices, 1.0)
    >>> from_torch_function(top2, problem="top2").solve(torch.tensor([3.0, 1.0, 2.0]))
    tensor([1., 0., 1.])
    """
    return TorchFunctionSolver(
        fn,
        event_ndim=event_ndim,
        batched=batched,
        problem=problem,
        instance_shape=instance_shape,
        side_inputs=side_inputs,
    )


def as_solver(obj: Any) -> Any:
    """``obj`` as a solver (see the module docstring); ``TypeError`` for anything else.

    >>> import numpy as np
    >>> as_solver(lambda t: np.eye(t.shape[-1])[t.argmax(-1)])
    FunctionSolver(<lambda>, problem='<lambda>', batched)
    >>> as_solver(solvers.get("argmax"))
    ArgmaxSolver(problem='argmax', backend='numpy')
    """
    if isinstance(obj, type) and issubclass(obj, Solver):
        return obj()
    if hasattr(obj, "solve") and hasattr(obj, "event_ndim"):
        return obj
    if isinstance(obj, str):
        raise TypeError(
            f"solver must be a solvers.Solver or a function, got the name {obj!r}: build it "
            f"with solvers.get({obj!r}), or use diffsolvers.layer({obj!r}, ...)"
        )
    if callable(obj) and not isinstance(obj, type):
        return solvers.from_function(obj)
    raise TypeError(
        f"solver must be a solvers.Solver, a Solver subclass, a TorchFunctionSolver or a "
        f"function θ -> y*(θ), got {type(obj).__name__}"
    )
