"""How busy the machine is right now: free cores from the kernel's count of runnable threads.

``/proc/loadavg``'s fourth field is ``running/total``: the threads of the whole system that
are running or waiting for a core at this instant (the averages before it are useless here:
they lag by seconds). With ``C`` cores ours out of ``K`` in the system::

    others = running - 1 - spinning     (1: the calling thread; spinning: our own pool's
                                          workers still busy-waiting after the last call)
    free   = C - max(0, others - (K - C))    (others fill the cores that are not ours first)

Reading it costs about 2 µs (the file stays open). Where it does not exist (not Linux),
every core counts as free.

Example::

    >>> free_cores(2, 2)      # on an idle 2-core machine
    2
"""

from __future__ import annotations

import os

__all__ = ["SPIN_WINDOW", "cgroup_cpu_quota", "free_cores", "running_threads"]

#: Seconds after a parallel call during which its workers may still be busy-waiting
#: (GNU OpenMP's default spin count lasts a few milliseconds).
SPIN_WINDOW = 0.05

_fd: int | None = None
_pid: int | None = None


def running_threads() -> int | None:
    """Runnable threads of the whole system now (``/proc/loadavg``), or None if unknown."""
    global _fd, _pid
    try:
        if _fd is None or _pid != os.getpid():
            _fd, _pid = os.open("/proc/loadavg", os.O_RDONLY | os.O_CLOEXEC), os.getpid()
        return int(os.pread(_fd, 128, 0).split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return None


def free_cores(usable: int, system: int, spinning: int = 0) -> int:
    """Cores out of ``usable`` (of ``system`` in the machine) that no other process's thread
    wants right now (0 to ``usable``); ``spinning``: this process's own workers that may
    still be busy-waiting."""
    running = running_threads()
    if running is None:
        return usable
    others = running - 1 - spinning - max(0, system - usable)
    return max(0, usable - max(0, others))


def cgroup_cpu_quota() -> float | None:
    """CPUs allowed by a cgroup v2 quota (``cpu.max``: ``quota period``), None if unlimited."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return None
