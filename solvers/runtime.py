"""The parallel runtime: where every batched kernel of the zoo runs, and on how many threads.

Each batch kernel (one ``prange`` loop over the instances) is compiled twice by
:func:`parallel_kernel`: with Numba's ``parallel=True`` and as a plain loop. Every call picks
one of the two::

    threads = 1                 the batch is small, the process is a fork child or a
                                DataLoader worker, another Python thread is inside a
                                parallel solve, or the budget is 1
    threads = 1                 the kernel's last parallel call ran slower than one thread,
                                for a hold as long as the time it lost (see :mod:`._stalls`)
    threads = min(budget, free) otherwise, ``free`` = usable cores - runnable threads of
                                other processes (sampled at each call, see :mod:`._load`)
    budget  = set_threads(n) if called, else max(1, usable cores // LOCAL_WORLD_SIZE)

Why each rule (measured in ``benchmarks/threads.py``, written up in ``docs/threads.md``):
a parallel solve of a training batch lasts about a millisecond, less than a scheduler time
slice, so one worker thread that waits for a busy core stalls the whole call (4-6× slower
than one thread); GNU OpenMP's thread pool does not survive ``fork`` (a forked DataLoader
worker hangs or aborts); Numba's ``workqueue`` layer aborts the process when two Python
threads enter it at once. One thread is never worse than the machine's free share, so
that is the fallback of every rule.

Example::

    >>> from solvers import runtime
    >>> runtime.budget() >= 1           # threads a solve may use in this process
    True
    >>> runtime.set_threads(1)          # every solve in one thread from now on
    1
    >>> runtime.set_threads(None) == runtime.budget()   # back to the budget
    True

References: Numba's threading layers
(https://numba.readthedocs.io/en/stable/user/threading-layer.html); the OpenMP 5.2
specification, ``OMP_WAIT_POLICY``; torchrun's ``LOCAL_WORLD_SIZE``.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

import numba
from numba import njit

from . import _load
from ._stalls import StallGuard

__all__ = [
    "ParallelKernel",
    "adaptive",
    "budget",
    "kernels",
    "local_world_size",
    "parallel_kernel",
    "set_threads",
    "stats",
    "threads_for",
    "usable_cores",
]

_PID = os.getpid()  # a process whose pid differs was forked after this import
_explicit: int | None = None  # set_threads(n); None = the budget
_adaptive = True  # fewer threads when other processes want the cores
_pool = threading.Lock()  # held by the Python thread inside a parallel kernel
_counts = {"serial": 0, "parallel": 0}
_kernels: list[ParallelKernel] = []


_cores: tuple[int, int, int] | None = None  # (pid, usable, system), read once per process


def _core_counts() -> tuple[int, int]:
    global _cores
    if _cores is None or _cores[0] != os.getpid():
        usable = _read_usable_cores()
        _cores = (os.getpid(), usable, max(usable, os.cpu_count() or 1))
    return _cores[1], _cores[2]


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota.

    ``os.sched_getaffinity`` where available (``os.cpu_count`` otherwise), and
    ``ceil(quota / period)`` of ``/sys/fs/cgroup/cpu.max`` when a quota is set. Read once
    per process.

    Examples:
        >>> import os
        >>> from solvers import runtime
        >>> 1 <= runtime.usable_cores() <= (os.cpu_count() or 1)
        True
    """
    return _core_counts()[0]


def _read_usable_cores() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = _load.cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def local_world_size() -> int:
    """Processes of this job on this machine: ``LOCAL_WORLD_SIZE``, else ``WORLD_SIZE``
    (both set by torchrun; ranks spread over machines make the second an overestimate,
    hence a safe one), else 1.

    Examples:
        >>> from solvers import runtime
        >>> runtime.local_world_size() >= 1      # 1 outside torchrun
        True
    """
    for name in ("LOCAL_WORLD_SIZE", "WORLD_SIZE"):
        value = os.environ.get(name, "").strip()
        if value:
            try:
                size = int(value)
            except ValueError:
                size = 0
            if size < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            return size
    return 1


_world = [-1e9, 1]  # [time read, local_world_size()]: the environment, re-read every second


def budget() -> int:
    """Threads a solve of this process may use: the value given to :func:`set_threads`,
    else ``max(1, usable_cores() // local_world_size())``, capped by Numba's pool size
    (``NUMBA_NUM_THREADS``).

    N ranks of one job on C cores thus get C/N threads each (at least 1). The environment
    is read at most once a second (and by every :func:`set_threads`).

    Examples:
        >>> from solvers import runtime
        >>> 1 <= runtime.budget() <= runtime.usable_cores()
        True
    """
    if _explicit is not None:
        n = _explicit
    else:
        now = time.monotonic()
        if now - _world[0] > 1.0:
            _world[:] = [now, local_world_size()]
        n = usable_cores() // _world[1]
    return max(1, min(n, numba.config.NUMBA_NUM_THREADS))


def set_threads(n: int | None) -> int:
    """Use at most ``n`` threads per solve from now on (``None``: back to :func:`budget`'s
    default); returns the budget in force. Numba's own setting for the calling thread
    follows, so ``numba.get_num_threads()`` reports it.

    Examples:
        >>> from solvers import runtime
        >>> runtime.set_threads(1)
        1
        >>> runtime.set_threads(None) == runtime.budget()
        True
    """
    global _explicit
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"threads must be a positive integer or None, got {n!r}")
    _explicit = n
    _world[:] = [time.monotonic(), local_world_size()]
    threads = budget()
    if _may_use_pool():
        _start_pool()
        numba.set_num_threads(threads)
    return threads


def adaptive(enabled: bool | None = None) -> bool:
    """Whether a solve takes only the cores other processes leave free (default: yes);
    ``adaptive(False)`` uses the whole budget whatever the load (the other rules stay).
    Returns the setting in force.

    Examples:
        >>> from solvers import runtime
        >>> runtime.adaptive()
        True
        >>> runtime.adaptive(False), runtime.adaptive(True)
        (False, True)
    """
    global _adaptive
    if enabled is not None:
        if not isinstance(enabled, bool):
            raise TypeError(f"adaptive takes True, False or None, got {enabled!r}")
        _adaptive = enabled
    return _adaptive


def kernels() -> list[ParallelKernel]:
    """Every kernel built by :func:`parallel_kernel` so far (in import order).

    Examples:
        >>> import solvers
        >>> from solvers import runtime
        >>> "grid_dijkstra_batch" in {k.__name__ for k in runtime.kernels()}
        True
    """
    return list(_kernels)


def stats() -> dict[str, int]:
    """How many kernel calls ran serially and in parallel in this process (a copy).

    Examples:
        >>> import numpy as np, solvers
        >>> from solvers import runtime
        >>> before = runtime.stats()
        >>> _ = solvers.get("shortest_path").solve(-np.ones((2, 3, 3)))
        >>> after = runtime.stats()
        >>> sum(after.values()) - sum(before.values())
        1
    """
    return dict(_counts)


def _in_fork_child() -> bool:
    return os.getpid() != _PID


def _in_dataloader_worker() -> bool:
    """Whether this process is a torch DataLoader worker (looked up, never imported:
    the zoo does not depend on torch). Torch runs its own ops in one thread there."""
    data = sys.modules.get("torch.utils.data")
    info = getattr(data, "get_worker_info", None)
    return info is not None and info() is not None


def _may_use_pool() -> bool:
    return not _in_fork_child() and not _in_dataloader_worker()


def threads_for(size: int, min_size: int = 0) -> int:
    """Threads the next call of a kernel on ``size`` entries would get (1 = the serial
    kernel), without taking the pool: the rules of the module docstring, except the
    one about other Python threads.

    Examples:
        >>> from solvers import runtime
        >>> runtime.threads_for(10, min_size=2048)      # too small for the pool
        1
        >>> 1 <= runtime.threads_for(10**6) <= runtime.budget()
        True
    """
    if size < min_size or not _may_use_pool():
        return 1
    n = budget()
    if n > 1 and _adaptive:
        n = min(n, _load.free_cores(*_core_counts(), spinning=_recent_workers()))
    return max(1, n)


_last_parallel = {"end": -1e9, "workers": 0}

#: Seconds after a parallel call that did not stall during which the next call of the same
#: kernel, in the same process, takes the same number of threads without a new look at the
#: load, once QUIET_LOOKS looks in a row have found the cores free (the look costs about
#: 6 µs, 7% of a B = 70 grid solve; a training step's solves are far apart, a tight loop's
#: are not). The streak keeps a neighbour that is away for an instant from being taken for
#: a quiet machine: measured with two processes solving at once, reusing after any clean
#: call raised the worst run from 1.18 to 1.54 times one thread.
REUSE = 1e-3
QUIET_LOOKS = 3


def _recent_workers() -> int:
    """Worker threads of this process's last parallel call that may still be spinning:
    OpenMP (unless its wait policy is passive) and TBB keep their workers busy-waiting for
    a few milliseconds after a parallel region; ``workqueue``'s sleep at once."""
    if time.perf_counter() - _last_parallel["end"] >= _load.SPIN_WINDOW:
        return 0
    layer = numba.threading_layer()
    passive = os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"
    if layer == "workqueue" or (layer == "omp" and passive):
        return 0
    return _last_parallel["workers"]


_started = False


def _start_pool() -> None:
    """Start Numba's threading layer once (Numba's choice unless the user set one)."""
    global _started
    if not _started:
        numba.get_num_threads()  # launches the layer
        _started = True


class ParallelKernel:
    """A batch kernel compiled parallel and serial; calling it runs one of the two.

    ``kernel(*args)`` solves on ``threads_for(args[0].size)`` threads: the ``parallel``
    dispatcher (Numba ``parallel=True``) with that many threads, or the ``serial`` one
    (``prange`` as a plain loop; the same answers, tested). ``guard`` times the calls and
    holds the kernel serial for a while after a parallel call that ran slower than one
    thread (:mod:`solvers._stalls`). Within :data:`REUSE` seconds of a parallel call that
    did not stall, once :data:`QUIET_LOOKS` looks in a row found the cores free, the next
    call keeps its thread count without looking at the load again.

    Examples:
        >>> from solvers import _shortest_path_kernels as kernels
        >>> kernel = kernels.grid_dijkstra_batch
        >>> kernel.parallel.targetoptions["parallel"], kernel.serial.targetoptions.get("parallel")
        (True, None)
    """

    def __init__(self, fn: Callable[..., Any], min_size: int, cache: bool = True) -> None:
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__doc__ = fn.__doc__
        self.__module__ = fn.__module__
        self.min_size = min_size
        self.parallel = njit(parallel=True, cache=cache)(fn)
        # Numba's cache files are named by qualname: the twin needs a name of its own.
        twin = types.FunctionType(
            fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__, fn.__closure__
        )
        twin.__qualname__ = fn.__qualname__ + "_serial"
        twin.__module__ = fn.__module__
        twin.__doc__ = fn.__doc__
        self.serial = njit(cache=cache)(twin)
        self.guard = StallGuard()
        self._reuse: tuple[float, int, int] = (-1e300, 0, 1)  # (until, pid, threads)
        self._quiet = 0  # looks in a row that found the cores free
        _kernels.append(self)

    def __repr__(self) -> str:
        return f"<parallel kernel {self.__module__}.{self.__qualname__}>"

    def __call__(self, *args: Any) -> Any:
        size = int(args[0].size)
        start = time.perf_counter()
        reuse = self._reuse
        if (
            start < reuse[0]
            and self._quiet >= QUIET_LOOKS
            and reuse[1] == os.getpid()
            and size >= self.min_size
        ):
            threads = reuse[2]  # right after a clean parallel call on a quiet machine
        else:
            threads = threads_for(size, self.min_size)
            self._quiet = self._quiet + 1 if threads > 1 else 0
        if threads > 1 and self.guard.allows_parallel(start) and _pool.acquire(blocking=False):
            try:
                _start_pool()
                if numba.get_num_threads() != threads:  # reading is cheaper than setting
                    numba.set_num_threads(threads)
                _counts["parallel"] += 1
                start = time.perf_counter()
                out = self.parallel(*args)
                end = time.perf_counter()
                _last_parallel["end"] = end
                _last_parallel["workers"] = threads - 1
                stalled = self.guard.record_parallel(end - start, size, threads, end)
                if stalled:
                    self._reuse, self._quiet = (-1e300, 0, 1), 0
                else:
                    self._reuse = (end + REUSE, os.getpid(), threads)
                return out
            finally:
                _pool.release()
        _counts["serial"] += 1
        out = self.serial(*args)
        self.guard.record_serial(time.perf_counter() - start, size)
        return out


def parallel_kernel(fn: Callable[..., Any] | None = None, *, min_size: int = 0, cache: bool = True):
    """Decorator: compile a batch kernel parallel and serial (:class:`ParallelKernel`).

    ``min_size``: batches whose first argument has fewer entries run serially (starting
    the pool costs more than solving a few small instances). ``cache``: Numba's on-disk
    cache (needs the function to live in a file).

    Examples:
        >>> import numpy as np
        >>> from numba import prange
        >>> @parallel_kernel(min_size=2048, cache=False)
        ... def row_max_batch(theta):
        ...     y = np.empty(theta.shape[0])
        ...     for b in prange(theta.shape[0]):
        ...         y[b] = theta[b].max()
        ...     return y
        >>> row_max_batch(np.array([[1.0, 3.0], [2.0, 0.0]]))
        array([3., 2.])
    """
    if fn is None:
        return lambda f: ParallelKernel(f, min_size, cache)
    return ParallelKernel(fn, min_size, cache)
