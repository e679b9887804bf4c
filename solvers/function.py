r"""Bring your own oracle: a user's NumPy function as a :class:`~solvers.base.Solver`.

Any function that returns ``y*(θ) = argmax_{y ∈ Y} ⟨θ, y⟩`` becomes a batched solver,
usable wherever a solver of the zoo is (every differentiable method of :mod:`diffsolvers`):

* ``batched=True`` (default): ``fn(θ)`` takes a batch ``(B, *instance)`` and returns the
  solutions ``(B, *instance)``;
* ``batched=False``: ``fn(θ)`` takes one instance ``(*instance)`` and returns its solution;
  the solver loops over the batch for you, on ``threads`` worker threads if asked (an
  OR-Tools or Gurobi call releases the GIL, so instances are solved in parallel).

The solver maximises, as every solver here does: a minimisation oracle with costs ``c``
is called with ``θ = -c`` (wrap it: ``lambda theta: my_min_oracle(-theta)``). Its output is
checked: a real array of θ's shape (per instance: of the instance's shape) with finite
entries, or a clear error naming the function. Exceptions raised by the function itself
reach the caller unchanged.

Per-instance side data (say, a capacity per example) is declared with ``side_inputs``: the
arrays lead with θ's batch axes, and ``fn`` receives them as keyword arguments (the whole
batch's, or one instance's with ``batched=False``). Data shared by every instance belongs
in the function itself (a closure or :func:`functools.partial`).

Example::

    >>> import numpy as np, solvers
    >>> def top2(theta):  # (B, n) -> (B, n): the two best items of each instance
    ...     y = np.zeros_like(theta)
    ...     np.put_along_axis(y, np.argsort(-theta, axis=-1)[:, :2], 1.0, axis=-1)
    ...     return y
    >>> solver = solvers.from_function(top2, problem="top2")
    >>> solver.solve(np.array([[0.1, 0.5, 0.3], [3.0, 2.0, 1.0]]))
    array([[0., 1., 1.],
           [1., 1., 0.]])

Reference: the "bring your own oracle" interfaces of google-research/perturbations,
jaxopt (``make_perturbed_fun``) and InferOpt.jl, which all wrap any function.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .base import Solver, SolverInputError, as_array

__all__ = ["FunctionSolver", "from_function", "function_name"]


def function_name(fn: Any) -> str:
    """A readable name of ``fn`` for messages: its qualified name, else its ``repr``.

    >>> function_name(len)
    'len'
    """
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) else repr(fn)


class FunctionSolver(Solver):
    """A user's function as a batched solver (see the module docstring).

    Args:
        fn: the oracle, ``fn(θ, **side) -> y`` on NumPy arrays.
        event_ndim: the number of trailing axes of one instance (1 for a vector, 2 for a
            grid).
        batched: whether ``fn`` takes a batch ``(B, *instance)`` (``True``) or one
            instance (``False``, looped over the batch).
        threads: with ``batched=False``, solve instances on this many worker threads
            (``None`` or 1: in the calling thread).
        problem: the problem's name, used in messages and by the method registry.
        instance_shape: a fixed instance shape to check θ against (``None``: any).
        side_inputs: names of per-instance side arrays ``fn`` accepts as keywords.

    >>> import numpy as np
    >>> best = FunctionSolver(lambda t: np.eye(3)[t.argmax()], batched=False, problem="best")
    >>> best.solve(np.array([[0.2, 0.9, 0.1], [5.0, 0.0, 1.0]]))
    array([[0., 1., 0.],
           [1., 0., 0.]])
    """

    backend = "function"

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        event_ndim: int = 1,
        batched: bool = True,
        threads: int | None = None,
        problem: str | None = None,
        instance_shape: Sequence[int] | None = None,
        side_inputs: Sequence[str] = (),
    ) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        if isinstance(event_ndim, bool) or not isinstance(event_ndim, (int, np.integer)):
            raise TypeError(f"event_ndim must be an integer >= 1, got {event_ndim!r}")
        if event_ndim < 1:
            raise ValueError(f"event_ndim must be an integer >= 1, got {event_ndim!r}")
        if not isinstance(batched, (bool, np.bool_)):
            raise TypeError(f"batched must be True or False, got {batched!r}")
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1
        ):
            raise ValueError(f"threads must be None or an integer >= 1, got {threads!r}")
        if problem is not None and (not isinstance(problem, str) or not problem):
            raise TypeError(f"problem must be a non-empty string, got {problem!r}")
        self.fn = fn
        self.name = function_name(fn)
        self.problem = problem or self.name
        self.event_ndim = int(event_ndim)
        self.batched = bool(batched)
        self.threads = None if threads is None else int(threads)
        if instance_shape is not None:
            instance_shape = tuple(int(s) for s in instance_shape)
            if len(instance_shape) != self.event_ndim:
                raise ValueError(
                    f"instance_shape {instance_shape} must have event_ndim={event_ndim} axes"
                )
        self.instance_shape = instance_shape
        self.side_inputs = tuple(side_inputs)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        how = "batched" if self.batched else f"per instance, threads={self.threads}"
        return f"FunctionSolver({self.name}, problem={self.problem!r}, {how})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_pool=None, _pool_pid=0)
        del state["_pool_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pool_lock = threading.Lock()

    # -- solving ----------------------------------------------------------------------------
    def _solve_batch(self, theta: np.ndarray, **side: np.ndarray) -> np.ndarray:
        if self.batched:
            y = self._array(self.fn(theta, **side), theta.shape, "the batch")
            self._check_finite(y, lambda: "the batch")
            return y.astype(theta.dtype, copy=False)
        shape, fn = theta.shape[1:], self.fn

        def one(i: int) -> np.ndarray:
            out = fn(theta[i], **{k: v[i] for k, v in side.items()}) if side else fn(theta[i])
            if type(out) is np.ndarray and out.shape == shape and out.dtype.kind in "biuf":
                return out  # the common case, checked without a call
            return self._array(out, shape, f"instance {i}")

        if self.threads is None or self.threads == 1 or theta.shape[0] == 1:
            y = np.stack([one(i) for i in range(theta.shape[0])])
        else:
            y = np.stack(list(self._executor().map(one, range(theta.shape[0]))))
        self._check_finite(y, lambda: f"instance {_first_bad(y)}")
        return y.astype(theta.dtype, copy=False)

    def _executor(self) -> ThreadPoolExecutor:
        """The worker pool, created on first use (and again in a forked child)."""
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix=self.problem)
                self._pool_pid = os.getpid()
            return self._pool

    @property
    def _who(self) -> str:
        return f"{self.problem}: the function {self.name}"

    def _array(self, out: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
        """``out`` as a real array of ``shape``, or an error naming the function and ``where``."""
        try:
            arr = as_array(out, "its result", self.problem)
        except TypeError as exc:
            raise TypeError(
                f"{self._who} returned {type(out).__name__} for {where}: {exc}"
            ) from None
        if arr.dtype.kind not in "biuf":
            got = "an array" if isinstance(out, np.ndarray) else type(out).__name__
            raise TypeError(
                f"{self._who} returned {got} of dtype {arr.dtype} for {where}; a solution holds "
                "real numbers (bool, integer or float)"
            )
        if arr.shape != tuple(shape):
            raise SolverInputError(
                f"{self._who} returned shape {arr.shape} for {where} of shape {tuple(shape)}; "
                "it must return one solution of θ's shape"
                + (" per instance" if self.batched else "")
            )
        return arr

    def _check_finite(self, y: np.ndarray, where: Callable[[], str]) -> None:
        """One pass over all the solutions (min and max propagate NaN and show ±inf)."""
        if y.dtype.kind == "f" and y.size and not np.isfinite([y.min(), y.max()]).all():
            bad = "NaN" if np.isnan(y).any() else "inf"
            raise SolverInputError(
                f"{self._who} returned {bad} for {where()}; solutions must be finite"
            )

    def _check_side(
        self, side: dict[str, Any], batch_shape: tuple[int, ...], event_shape: tuple[int, ...]
    ) -> dict:
        """Side arrays are per instance: they lead with θ's batch axes."""
        side = super()._check_side(side, batch_shape, event_shape)
        for name, arr in side.items():
            if tuple(arr.shape[: len(batch_shape)]) != tuple(batch_shape):
                raise SolverInputError(
                    f"{self.problem}: side input {name!r} has shape {arr.shape}; it must lead "
                    f"with θ's batch shape {tuple(batch_shape)} (one entry per instance)"
                )
        return side


def _first_bad(y: np.ndarray) -> int:
    """The first instance of ``y`` (B, ...) holding a NaN or an infinity."""
    return int(np.argmax(~np.isfinite(y.reshape(len(y), -1)).all(axis=1)))


def from_function(
    fn: Callable[..., Any],
    *,
    event_ndim: int = 1,
    batched: bool = True,
    threads: int | None = None,
    problem: str | None = None,
    instance_shape: Sequence[int] | None = None,
    side_inputs: Sequence[str] = (),
) -> FunctionSolver:
    """Wrap ``fn`` (NumPy in, NumPy out) as a :class:`FunctionSolver`; see its arguments.

    >>> import numpy as np, solvers
    >>> argmax = solvers.from_function(lambda t: np.eye(3)[t.argmax(-1)], problem="argmax3")
    >>> argmax.solve(np.array([0.2, 0.9, 0.1]))  # one instance in, one solution out
    array([0., 1., 0.])
    """
    return FunctionSolver(
        fn,
        event_ndim=event_ndim,
        batched=batched,
        threads=threads,
        problem=problem,
        instance_shape=instance_shape,
        side_inputs=side_inputs,
    )
