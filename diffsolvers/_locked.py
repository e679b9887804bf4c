"""Objects whose state a lock guards, and that still copy and pickle.

A lock cannot be pickled (nor deep-copied), and a copy must not share its original's lock:
:class:`Locked` leaves the lock out of the pickled state and gives every copy or unpickled
object a lock of its own.

Example::

    >>> import copy
    >>> from diffsolvers._random import RandomSource   # a Locked object
    >>> source = RandomSource(seed=0)
    >>> clone = copy.deepcopy(source)
    >>> clone.seed, clone._lock is not source._lock
    (0, True)
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["Locked"]


class Locked:
    """Base of objects guarded by a lock in the attribute ``_lock_name`` (default
    ``_lock``), made by ``_lock_factory`` (default :func:`threading.Lock`; a subclass that
    re-enters sets :class:`threading.RLock`). ``__init__`` of a subclass calls
    :meth:`_new_lock`; a subclass that also migrates old pickled states extends
    :meth:`__setstate__` after calling it."""

    _lock_name = "_lock"
    _lock_factory = staticmethod(threading.Lock)

    def _new_lock(self) -> None:
        setattr(self, self._lock_name, self._lock_factory())

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop(self._lock_name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._new_lock()
