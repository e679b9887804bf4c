"""Integer handles for the Python objects the custom operators use.

A torch custom operator takes tensors, numbers, booleans and strings only, so the solver,
the noise distribution and the random source of a layer reach the operators of
:mod:`diffsolvers._bridge` and :mod:`diffsolvers._random` as integers: :func:`key` gives an
object its handle (the same object always gets the same one) and :func:`get` finds the
object again when the operator runs, eagerly and on real tensors, also inside a graph
compiled by :func:`torch.compile`.

**Lifetime.** The table holds weak references: the module that owns a solver keeps it
alive, and the handle is dropped with the object. An object that cannot be weakly
referenced is held until the end of the process. A copied or unpickled module holds new
objects, which get new handles (:meth:`diffsolvers._core.SolverModule.__setstate__`).
A backward pass that calls the solver again (blackbox, I-MLE) may run after its module is
gone: its autograd context keeps the solver alive (:func:`hold`). A graph compiled by
:func:`torch.compile` does not: its module must live until its backward has run.

Example::

    >>> from diffsolvers import _handles
    >>> import solvers
    >>> argmax = solvers.get("argmax")
    >>> _handles.get(_handles.key(argmax)) is argmax
    True
"""

from __future__ import annotations

import itertools
import threading
import weakref
from typing import Any

__all__ = ["key", "get", "hold", "NONE"]

#: The handle of "no object" (e.g. torch's default generator instead of a layer's own).
NONE = -1

_lock = threading.RLock()  # re-entrant: a weakref callback may run inside key()
_counter = itertools.count(1)
_objects: dict[int, Any] = {}  # handle -> weakref.ref (or the object itself)
_by_id: dict[int, int] = {}  # id(object) -> handle


def _forget(handle: int, object_id: int) -> None:
    with _lock:
        _objects.pop(handle, None)
        if _by_id.get(object_id) == handle:
            del _by_id[object_id]


def key(obj: Any) -> int:
    """The handle of ``obj`` (``NONE`` for ``None``), registering it on first use."""
    if obj is None:
        return NONE
    with _lock:
        handle = _by_id.get(id(obj))
        if handle is not None and _resolve(handle) is obj:
            return handle
        handle, object_id = next(_counter), id(obj)
        try:
            ref: Any = weakref.ref(obj, lambda _: _forget(handle, object_id))
        except TypeError:  # not weakly referenceable: keep it
            ref = obj
        _objects[handle] = ref
        _by_id[object_id] = handle
        return handle


def _resolve(handle: int) -> Any:
    ref = _objects.get(handle)
    return ref() if isinstance(ref, weakref.ref) else ref


def get(handle: int) -> Any:
    """The object registered under ``handle`` (``None`` for ``NONE``).

    ``RuntimeError`` if it no longer exists (its owner was garbage-collected).
    """
    if handle == NONE:
        return None
    obj = _resolve(handle)
    if obj is None:
        raise RuntimeError(
            f"diffsolvers: object handle {handle} no longer refers to a live object (the "
            "module that owned it was deleted while a compiled graph still used it)"
        )
    return obj


def hold(ctx: Any, *handles: int) -> None:
    """Keep the objects of ``handles`` alive as long as the autograd context ``ctx`` (whose
    backward will use the handles), in place of those held before. Eager only: a traced
    program skips it."""
    import torch

    if not torch.compiler.is_compiling():
        ctx.held_objects = tuple(get(handle) for handle in handles)
